//! Work that may block for long, or for ever, on a detached thread whose result the caller may stop waiting for.

use std::io;
#[cfg(feature = "push")]
use std::sync::atomic::{AtomicUsize, Ordering};

/// Why detached work gave no result.
#[derive(Debug)]
pub(crate) enum DetachedError {
    /// The work panicked (the panic message went to stderr, as usual).
    Panicked,
    /// No thread could be started.
    NoThread(io::Error),
}

/// Runs `work` on a new thread named `name`; dropping the returned future
/// stops waiting for it, and the thread ends whenever `work` does.
///
/// tokio's `spawn_blocking` would tie such work (a collector, bcrypt, a DNS
/// lookup, a file read) to the runtime: dropping a runtime waits for all of
/// its blocking tasks, so one stuck collector or DNS lookup would hold
/// `stop()` or `push()` for as long as it hangs. A thread of its own is
/// waited for by no one. Starting one and getting its result back costs
/// 60–80 µs on the shared 2-core VM (2,000 spawns, optimized), against
/// ~170 µs to encode the catalogue and milliseconds of bcrypt; callers
/// bound how many run at once.
pub(crate) async fn run<T, F>(name: &str, work: F) -> Result<T, DetachedError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            // The caller may be gone: then nobody wants the result.
            let _ = sender.send(work());
        })
        .map_err(DetachedError::NoThread)?;
    // A panic drops the sender without a value.
    receiver.await.map_err(|_| DetachedError::Panicked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_runtime_is_not_held_by_work_it_stopped_waiting_for() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let waited = runtime.block_on(async {
            let stuck = run("insa-metrics-test", || {
                std::thread::sleep(Duration::from_secs(30));
            });
            tokio::time::timeout(Duration::from_millis(50), stuck).await
        });
        assert!(waited.is_err());
        let dropped = Instant::now();
        drop(runtime);
        assert!(dropped.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn results_and_panics_come_back() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(
            runtime.block_on(run("insa-metrics-test", || 42)).unwrap(),
            42
        );
        let panicked = runtime.block_on(run("insa-metrics-test", || -> u8 { panic!("boom") }));
        assert!(matches!(panicked, Err(DetachedError::Panicked)));
    }
}

/// A cap on detached threads of one kind still running, abandoned ones
/// included: past it, the caller fails at once instead of adding another
/// thread that may be stuck.
#[cfg(feature = "push")]
#[derive(Debug)]
pub(crate) struct Cap {
    running: AtomicUsize,
    max: usize,
}

#[cfg(feature = "push")]
impl Cap {
    pub(crate) const fn new(max: usize) -> Cap {
        Cap {
            running: AtomicUsize::new(0),
            max,
        }
    }

    /// The most that may run at once.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// A slot, if fewer than the most are running; given back on drop (move
    /// it into the thread, so that it is given back when the work ends).
    pub(crate) fn take(&'static self) -> Option<CapSlot> {
        self.running
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| CapSlot(self))
    }
}

/// One running thread of a [`Cap`].
#[cfg(feature = "push")]
#[derive(Debug)]
pub(crate) struct CapSlot(&'static Cap);

#[cfg(feature = "push")]
impl Drop for CapSlot {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}
