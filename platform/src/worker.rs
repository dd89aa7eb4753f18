//! The agent worker runtime: a task queue, bounded concurrency, health, cancellation and restarts.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use insa_metrics::metrics;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::error::WorkerError;

/// What a worker does with one task.
pub trait Handler: Send + Sync + 'static {
    /// The task taken from the queue.
    type Task: Send + 'static;
    /// The answer.
    type Output: Send + 'static;

    /// Processes one task.
    fn process(
        &self,
        task: Self::Task,
    ) -> impl Future<Output = Result<Self::Output, WorkerError>> + Send;
}

/// How a worker runs.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// The `worker_name` label (the agent type, as the request macro uses it).
    pub name: &'static str,
    /// The `worker_type` label.
    pub worker_type: &'static str,
    /// Tasks processed at once.
    pub concurrency: usize,
    /// Tasks that may wait in the queue.
    pub queue_capacity: usize,
    /// The worker is recycled after this many tasks (frees what the model
    /// runtime leaks, like a process pool's max tasks per child).
    pub max_tasks: u64,
    /// Consecutive failures after which the health check restarts the worker.
    pub failure_limit: u32,
    /// How long a restart takes (reloading the model, reconnecting).
    pub restart_time: Duration,
}

/// Why a worker restarted: the `reason` of `insa_worker_restarts_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartReason {
    /// Recycled after `max_tasks`.
    MaxTasks,
    /// The health check saw `failure_limit` consecutive failures.
    HealthCheck,
}

impl RestartReason {
    /// The label value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RestartReason::MaxTasks => "max_tasks",
            RestartReason::HealthCheck => "health_check",
        }
    }
}

type Reply<H> = oneshot::Sender<Result<<H as Handler>::Output, WorkerError>>;

struct Job<H: Handler> {
    task: H::Task,
    reply: Reply<H>,
    /// The submitter's span: the task runs in a child of it.
    span: tracing::Span,
}

/// The handle to a running worker: submit tasks, dropping the answer's
/// future cancels the task.
pub struct Worker<H: Handler> {
    config: WorkerConfig,
    tx: mpsc::Sender<Job<H>>,
}

impl<H: Handler> Clone for Worker<H> {
    fn clone(&self) -> Self {
        Worker {
            config: self.config,
            tx: self.tx.clone(),
        }
    }
}

impl<H: Handler> std::fmt::Debug for Worker<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.config.name)
            .field("queued", &self.queued())
            .finish_non_exhaustive()
    }
}

impl<H: Handler> Worker<H> {
    /// Starts the worker's supervisor on the current tokio runtime. It runs
    /// until every handle is dropped and the queue is drained.
    pub fn spawn(handler: H, config: WorkerConfig) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let supervisor = Supervisor {
            handler: Arc::new(handler),
            config,
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            failures: Arc::new(AtomicU32::new(0)),
        };
        let join = tokio::spawn(supervisor.run(rx));
        (Worker { config, tx }, join)
    }

    /// Tasks waiting for a free slot.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Queues `task` and waits for its answer. Dropping the returned future
    /// before it completes cancels the task (the worker drops it).
    ///
    /// # Errors
    ///
    /// The task's error, or [`WorkerError::Unavailable`] once the worker stopped.
    pub async fn submit(&self, task: H::Task) -> Result<H::Output, WorkerError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job {
                task,
                reply,
                span: tracing::Span::current(),
            })
            .await
            .map_err(|_| WorkerError::Unavailable)?;
        publish_queue(self.config.name, self.queued());
        answer.await.map_err(|_| WorkerError::Unavailable)?
    }
}

struct Supervisor<H: Handler> {
    handler: Arc<H>,
    config: WorkerConfig,
    slots: Arc<Semaphore>,
    failures: Arc<AtomicU32>,
}

impl<H: Handler> Supervisor<H> {
    async fn run(self, mut rx: mpsc::Receiver<Job<H>>) {
        let config = self.config;
        let m = metrics();
        m.update_worker_health(config.name, config.worker_type, true);
        publish_queue(config.name, 0);
        let mut processed = 0u64;
        while let Some(job) = rx.recv().await {
            publish_queue(config.name, rx.len());
            let Ok(slot) = Arc::clone(&self.slots).acquire_owned().await else {
                break;
            };
            let handler = Arc::clone(&self.handler);
            let failures = Arc::clone(&self.failures);
            let span = tracing::info_span!(parent: &job.span, "task", otel.name = config.name);
            tokio::spawn(
                async move {
                    run_job(&*handler, job, &failures).await;
                    drop(slot);
                }
                .instrument(span),
            );
            processed += 1;
            let reason = if self.failures.load(Ordering::Acquire) >= config.failure_limit {
                Some(RestartReason::HealthCheck)
            } else if processed >= config.max_tasks {
                Some(RestartReason::MaxTasks)
            } else {
                None
            };
            if let Some(reason) = reason {
                self.restart(reason).await;
                processed = 0;
            }
        }
        // Let the tasks in flight finish before reporting the worker gone.
        let _ = self.drain().await;
        m.update_worker_health(config.name, config.worker_type, false);
        publish_queue(config.name, 0);
    }

    /// Marks the worker unhealthy, lets the tasks in flight finish, restarts
    /// it and marks it healthy again. Tasks queue meanwhile.
    async fn restart(&self, reason: RestartReason) {
        let m = metrics();
        let config = self.config;
        m.update_worker_health(config.name, config.worker_type, false);
        let drained = self.drain().await;
        m.record_worker_restart(config.name, reason.as_str());
        tokio::time::sleep(config.restart_time).await;
        self.failures.store(0, Ordering::Release);
        drop(drained);
        m.update_worker_health(config.name, config.worker_type, true);
    }

    /// Waits until no task is in flight; holds every slot until dropped.
    async fn drain(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let all = u32::try_from(self.config.concurrency.max(1)).unwrap_or(u32::MAX);
        self.slots.acquire_many(all).await.ok()
    }
}

/// Runs one task unless its submitter went away first (then the task's
/// future is dropped: a cancellation).
async fn run_job<H: Handler>(handler: &H, job: Job<H>, failures: &AtomicU32) {
    let Job {
        task, mut reply, ..
    } = job;
    let result = tokio::select! {
        result = handler.process(task) => result,
        () = reply.closed() => return,
    };
    match &result {
        Ok(_) | Err(WorkerError::InvalidInput(_)) => failures.store(0, Ordering::Release),
        Err(_) => {
            failures.fetch_add(1, Ordering::AcqRel);
        }
    }
    let _ = reply.send(result);
}

fn publish_queue(name: &str, queued: usize) {
    metrics().update_worker_queue(name, i64::try_from(queued).unwrap_or(i64::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;
    use insa_metrics::get_metrics_text;

    struct Echo;

    impl Handler for Echo {
        type Task = (u64, bool);
        type Output = u64;

        async fn process(&self, (n, fail): (u64, bool)) -> Result<u64, WorkerError> {
            tokio::time::sleep(Duration::from_millis(n)).await;
            if fail { Err(WorkerError::Model) } else { Ok(n) }
        }
    }

    fn config(name: &'static str) -> WorkerConfig {
        WorkerConfig {
            name,
            worker_type: "test",
            concurrency: 2,
            queue_capacity: 16,
            max_tasks: 4,
            failure_limit: 2,
            restart_time: Duration::from_millis(5),
        }
    }

    fn restarts(name: &str, reason: &str) -> bool {
        get_metrics_text().contains(&format!(
            "insa_worker_restarts_total{{reason=\"{reason}\",worker_name=\"{name}\"}}"
        ))
    }

    #[tokio::test]
    async fn answers_and_recycles_after_max_tasks() {
        let (worker, join) = Worker::spawn(Echo, config("worker_test_a"));
        for n in 1..=5 {
            assert_eq!(worker.submit((n, false)).await, Ok(n));
        }
        assert!(restarts("worker_test_a", "max_tasks"));
        assert!(get_metrics_text().contains(
            "insa_worker_health_status{worker_name=\"worker_test_a\",worker_type=\"test\"} 1"
        ));
        drop(worker);
        join.await.unwrap();
        assert!(get_metrics_text().contains(
            "insa_worker_health_status{worker_name=\"worker_test_a\",worker_type=\"test\"} 0"
        ));
    }

    #[tokio::test]
    async fn consecutive_failures_restart_the_worker() {
        let (worker, _join) = Worker::spawn(Echo, config("worker_test_b"));
        assert_eq!(worker.submit((1, true)).await, Err(WorkerError::Model));
        assert_eq!(worker.submit((1, true)).await, Err(WorkerError::Model));
        assert_eq!(worker.submit((1, false)).await, Ok(1));
        assert!(restarts("worker_test_b", "health_check"));
    }

    #[tokio::test]
    async fn a_dropped_submission_is_cancelled_and_frees_its_slot() {
        let (worker, _join) = Worker::spawn(Echo, config("worker_test_c"));
        let slow = tokio::time::timeout(Duration::from_millis(10), worker.submit((10_000, false)));
        assert!(slow.await.is_err());
        let slow = tokio::time::timeout(Duration::from_millis(10), worker.submit((10_000, false)));
        assert!(slow.await.is_err());
        // Both slots are free again: this finishes quickly.
        let fast = tokio::time::timeout(Duration::from_secs(2), worker.submit((1, false)));
        assert_eq!(fast.await, Ok(Ok(1)));
    }
}
