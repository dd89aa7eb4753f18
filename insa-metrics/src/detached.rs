//! Work that may block for long, or for ever, on a detached thread whose result the caller may stop waiting for.

use std::io;

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
