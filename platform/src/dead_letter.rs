//! A dead letter queue per agent: failed messages wait there and are replayed a bounded number of times.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use insa_metrics::{MetricsCollector, ReplayStatus, metrics};

/// A message that failed, with why and how often it was replayed.
#[derive(Debug, Clone)]
pub struct DeadLetter<T> {
    /// The message.
    pub item: T,
    /// Why it was dead-lettered (the last failure).
    pub reason: &'static str,
    /// Replays tried so far.
    pub replays: u32,
}

/// What one replay round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Messages processed on replay.
    pub succeeded: usize,
    /// Replays that failed again (the message went back, or was discarded).
    pub failed: usize,
    /// Messages dropped after their last replay failed.
    pub discarded: usize,
}

/// The dead letter queue of one agent; `insa_dead_letter_queue_size{agent_type}`
/// follows its length.
#[derive(Debug)]
pub struct DeadLetterQueue<T> {
    agent_type: &'static str,
    max_replays: u32,
    items: Mutex<VecDeque<DeadLetter<T>>>,
    metrics: &'static MetricsCollector,
}

impl<T: Clone> DeadLetterQueue<T> {
    /// An empty queue for `agent_type`; a message is dropped once
    /// `max_replays` replays of it failed.
    #[must_use]
    pub fn new(agent_type: &'static str, max_replays: u32) -> Self {
        Self::with_collector(agent_type, max_replays, metrics())
    }

    /// An empty queue recording into `metrics`.
    #[must_use]
    pub fn with_collector(
        agent_type: &'static str,
        max_replays: u32,
        metrics: &'static MetricsCollector,
    ) -> Self {
        metrics.update_dead_letter_queue_size(agent_type, 0);
        DeadLetterQueue {
            agent_type,
            max_replays,
            items: Mutex::new(VecDeque::new()),
            metrics,
        }
    }

    /// Messages waiting.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no message waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Dead-letters `item`.
    pub fn push(&self, item: T, reason: &'static str) {
        let mut items = self.lock();
        items.push_back(DeadLetter {
            item,
            reason,
            replays: 0,
        });
        self.publish(items.len());
    }

    /// Replays every message waiting now through `process`: a success leaves
    /// the queue, a failure goes back (or is discarded after `max_replays`).
    /// Each replay counts in `insa_dead_letter_replay_total{status}`.
    pub async fn replay<F, Fut, E>(&self, mut process: F) -> ReplayReport
    where
        F: FnMut(T) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: insa_metrics::ClassifyError,
    {
        let batch: Vec<DeadLetter<T>> = self.lock().drain(..).collect();
        self.publish(0);
        let mut report = ReplayReport::default();
        for mut letter in batch {
            match process(letter.item.clone()).await {
                Ok(()) => {
                    report.succeeded += 1;
                    self.metrics
                        .record_dead_letter_replay(ReplayStatus::Success);
                }
                Err(error) => {
                    report.failed += 1;
                    self.metrics
                        .record_dead_letter_replay(ReplayStatus::Failure);
                    letter.replays += 1;
                    letter.reason = error.error_type();
                    if letter.replays >= self.max_replays {
                        report.discarded += 1;
                    } else {
                        let mut items = self.lock();
                        items.push_back(letter);
                        self.publish(items.len());
                    }
                }
            }
        }
        report
    }

    fn publish(&self, len: usize) {
        self.metrics
            .update_dead_letter_queue_size(self.agent_type, i64::try_from(len).unwrap_or(i64::MAX));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<DeadLetter<T>>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{collector, sample};

    #[tokio::test]
    async fn replays_keep_failures_until_discarded() {
        let m = collector();
        let dlq = DeadLetterQueue::with_collector("agent", 2, m);
        dlq.push(1u32, "deadlock");
        dlq.push(2u32, "foreign_key");
        assert_eq!(
            sample(
                &m.encode_text(),
                "insa_dead_letter_queue_size{agent_type=\"agent\"}"
            ),
            2.0
        );

        // 1 succeeds, 2 keeps failing.
        let process = |n: u32| async move { if n == 1 { Ok(()) } else { Err("foreign_key") } };
        let first = dlq.replay(process).await;
        assert_eq!(
            first,
            ReplayReport {
                succeeded: 1,
                failed: 1,
                discarded: 0
            }
        );
        assert_eq!(dlq.len(), 1);
        let second = dlq.replay(process).await;
        assert_eq!(
            second,
            ReplayReport {
                succeeded: 0,
                failed: 1,
                discarded: 1
            }
        );
        assert!(dlq.is_empty());

        let text = m.encode_text();
        assert_eq!(
            sample(&text, "insa_dead_letter_replay_total{status=\"success\"}"),
            1.0
        );
        assert_eq!(
            sample(&text, "insa_dead_letter_replay_total{status=\"failure\"}"),
            2.0
        );
        assert_eq!(
            sample(&text, "insa_dead_letter_queue_size{agent_type=\"agent\"}"),
            0.0
        );
    }
}
