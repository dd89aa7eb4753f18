//! `#[track_request_metrics]` on async fns, `-> impl Future` and async-trait.
//!
//! Outcomes, cancellation by `tokio::time::timeout` and `select!`, panics in
//! tasks, the in-flight gauge across awaits.

mod macro_support;

use std::future::Future;
use std::io;
use std::time::Duration;

use insa_metrics::track_request_metrics;
use macro_support::{in_flight, runtime, statuses, timed};
use tokio::time::{error::Elapsed, sleep, timeout};

#[track_request_metrics("async_outcomes")]
async fn fetch(delay_ms: u64, fail: bool) -> Result<u32, io::Error> {
    sleep(Duration::from_millis(delay_ms)).await;
    assert_eq!(in_flight("async_outcomes"), 1.0, "in flight across awaits");
    if fail {
        return Err(io::Error::from(io::ErrorKind::ConnectionRefused));
    }
    Ok(1)
}

#[test]
fn success_and_error() {
    runtime().block_on(async {
        fetch(1, false).await.unwrap();
        fetch(1, true).await.unwrap_err();
    });
    assert_eq!(statuses("async_outcomes"), [1.0, 1.0, 0.0, 0.0]);
    assert_eq!(in_flight("async_outcomes"), 0.0);
}

#[track_request_metrics("async_elapsed")]
async fn bounded(delay_ms: u64) -> Result<(), Elapsed> {
    timeout(
        Duration::from_millis(5),
        sleep(Duration::from_millis(delay_ms)),
    )
    .await?;
    Ok(())
}

#[test]
fn a_tokio_timeout_error_is_a_timeout() {
    runtime().block_on(async {
        bounded(0).await.unwrap();
        bounded(1_000).await.unwrap_err();
    });
    assert_eq!(statuses("async_elapsed"), [1.0, 0.0, 1.0, 0.0]);
}

#[track_request_metrics("async_cancelled")]
async fn slow() -> u8 {
    sleep(Duration::from_secs(60)).await;
    1
}

#[test]
fn a_dropped_future_is_cancelled() {
    runtime().block_on(async {
        assert!(timeout(Duration::from_millis(5), slow()).await.is_err());
        assert_eq!(in_flight("async_cancelled"), 0.0);
        tokio::select! {
            _ = slow() => unreachable!("the sleep wins"),
            () = sleep(Duration::from_millis(5)) => {}
        }
    });
    assert_eq!(statuses("async_cancelled"), [0.0, 0.0, 0.0, 2.0]);
    assert_eq!(timed("async_cancelled"), 2.0, "the time until cancellation");
    assert_eq!(in_flight("async_cancelled"), 0.0);
}

#[track_request_metrics("async_aborted")]
async fn wait_for(release: tokio::sync::oneshot::Receiver<()>) {
    release.await.ok();
}

#[test]
fn an_aborted_task_is_cancelled() {
    runtime().block_on(async {
        let (_release, wait) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(wait_for(wait));
        while in_flight("async_aborted") < 1.0 {
            tokio::task::yield_now().await;
        }
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
    });
    assert_eq!(statuses("async_aborted"), [0.0, 0.0, 0.0, 1.0]);
    assert_eq!(in_flight("async_aborted"), 0.0);
}

#[test]
fn a_future_never_polled_records_nothing() {
    drop(slow());
    #[track_request_metrics("async_never_polled")]
    async fn never() {}
    drop(never());
    assert_eq!(statuses("async_never_polled"), [0.0; 4]);
}

#[track_request_metrics("async_panic")]
async fn buggy() -> Result<u8, io::Error> {
    sleep(Duration::from_millis(1)).await;
    panic!("async worker bug");
}

#[test]
fn a_panic_in_a_task_is_an_error() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let joined = rt.block_on(async { tokio::spawn(buggy()).await });
    assert!(joined.unwrap_err().is_panic());
    assert_eq!(statuses("async_panic"), [0.0, 1.0, 0.0, 0.0]);
    assert_eq!(in_flight("async_panic"), 0.0);
}

/// Pending once, then ready.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

#[track_request_metrics("async_sibling_panics")]
async fn suspended_by_a_sibling() -> Result<u8, io::Error> {
    yield_once().await;
    Ok(1)
}

#[track_request_metrics("async_own_panic_on_a_thread")]
async fn panics_after_a_yield() -> Result<u8, io::Error> {
    yield_once().await;
    panic!("the body's own bug");
}

/// Polls `future` once on this thread, then panics with it pending (as a
/// sibling under `join!` would), or polls it to its end.
fn poll_then(future: impl Future<Output = Result<u8, io::Error>>, sibling_panics: bool) {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(future.as_mut().poll(&mut cx).is_pending());
    assert!(!sibling_panics, "a sibling panics");
    let _ = future.as_mut().poll(&mut cx);
}

#[test]
fn a_future_dropped_while_another_panics_is_cancelled() {
    let unwound = std::panic::catch_unwind(|| poll_then(suspended_by_a_sibling(), true));
    assert!(unwound.is_err());
    assert_eq!(statuses("async_sibling_panics"), [0.0, 0.0, 0.0, 1.0]);
    assert_eq!(in_flight("async_sibling_panics"), 0.0);
    // Its own panic, on a plain thread (no runtime catching it), is still one.
    let unwound = std::panic::catch_unwind(|| poll_then(panics_after_a_yield(), false));
    assert!(unwound.is_err());
    assert_eq!(
        statuses("async_own_panic_on_a_thread"),
        [0.0, 1.0, 0.0, 0.0]
    );
}

#[track_request_metrics("async_concurrent")]
async fn hold(release: tokio::sync::oneshot::Receiver<()>) {
    release.await.ok();
}

#[test]
fn the_gauge_counts_futures_in_flight() {
    runtime().block_on(async {
        let (senders, tasks): (Vec<_>, Vec<_>) = (0..5)
            .map(|_| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                (tx, tokio::spawn(hold(rx)))
            })
            .unzip();
        tokio::task::yield_now().await;
        assert_eq!(in_flight("async_concurrent"), 5.0);
        for tx in senders {
            tx.send(()).unwrap();
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert_eq!(in_flight("async_concurrent"), 0.0);
    assert_eq!(statuses("async_concurrent"), [5.0, 0.0, 0.0, 0.0]);
}

/// The guard is created at the first poll, not when the fn is called.
#[allow(clippy::manual_async_fn)]
#[track_request_metrics("async_impl_future")]
fn deferred(fail: bool, delay: Duration) -> impl Future<Output = Result<u8, io::Error>> + Send {
    async move {
        sleep(delay).await;
        if fail {
            Err(io::Error::from(io::ErrorKind::TimedOut))?;
        }
        Ok(2)
    }
}

#[test]
fn impl_future_fns_are_instrumented_inside_the_async_block() {
    let future = deferred(false, Duration::from_millis(1));
    assert_eq!(in_flight("async_impl_future"), 0.0, "not started yet");
    runtime().block_on(async {
        assert_eq!(future.await.unwrap(), 2);
        deferred(true, Duration::ZERO).await.unwrap_err();
        let never_in_time = deferred(false, Duration::from_secs(60));
        assert!(
            timeout(Duration::from_millis(5), never_in_time)
                .await
                .is_err()
        );
    });
    assert_eq!(statuses("async_impl_future"), [1.0, 0.0, 1.0, 1.0]);
}

mod async_trait_methods {
    use super::*;
    use async_trait::async_trait;

    #[async_trait]
    pub(crate) trait Worker {
        async fn process(&self, task: u32) -> Result<u32, io::Error>;
        async fn reset(&mut self);
    }

    pub(crate) struct CrmAgent {
        pub(crate) calls: u32,
    }

    // `#[async_trait]` goes on the impl, the metrics attribute on the method:
    // async-trait expands first and the attribute instruments the async block
    // it produces.
    #[async_trait]
    impl Worker for CrmAgent {
        #[track_request_metrics("async_trait_crm")]
        async fn process(&self, task: u32) -> Result<u32, io::Error> {
            // Task 5 takes a minute: the test drops it on a timeout.
            sleep(Duration::from_millis(if task == 5 { 60_000 } else { 1 })).await;
            if task == 0 {
                return Err(io::Error::from(io::ErrorKind::InvalidInput));
            }
            Ok(task + self.calls)
        }

        #[track_request_metrics("async_trait_reset")]
        #[allow(clippy::unused_async)]
        async fn reset(&mut self) {
            self.calls = 0;
        }
    }

    #[async_trait(?Send)]
    pub(crate) trait LocalWorker {
        async fn local(&self) -> u32;
    }

    #[async_trait(?Send)]
    impl LocalWorker for CrmAgent {
        #[track_request_metrics("async_trait_local")]
        async fn local(&self) -> u32 {
            self.calls
        }
    }
}

#[test]
fn async_trait_methods_are_instrumented() {
    use async_trait_methods::{CrmAgent, LocalWorker, Worker};
    let mut agent = CrmAgent { calls: 1 };
    runtime().block_on(async {
        assert_eq!(agent.process(1).await.unwrap(), 2);
        agent.process(0).await.unwrap_err();
        assert!(
            timeout(Duration::from_millis(5), agent.process(5))
                .await
                .is_err()
        );
        agent.reset().await;
        assert_eq!(agent.local().await, 0);
    });
    assert_eq!(statuses("async_trait_crm"), [1.0, 1.0, 0.0, 1.0]);
    assert_eq!(statuses("async_trait_reset"), [1.0, 0.0, 0.0, 0.0]);
    assert_eq!(statuses("async_trait_local"), [1.0, 0.0, 0.0, 0.0]);
}

#[test]
fn instrumented_futures_stay_send() {
    fn assert_send<T: Send>(_: &T) {}
    let future = fetch(0, false);
    assert_send(&future);
    drop(future);
}

/// Native async fns in traits, and borrowed return types.
trait Directory {
    fn names(&self) -> &[String];

    #[track_request_metrics("async_native_trait")]
    async fn first(&self) -> Option<&str> {
        tokio::task::yield_now().await;
        self.names().first().map(String::as_str)
    }
}

struct Contacts(Vec<String>);

impl Directory for Contacts {
    fn names(&self) -> &[String] {
        &self.0
    }
}

impl Contacts {
    #[track_request_metrics("async_borrowed_return")]
    async fn last(&self) -> Result<&str, io::Error> {
        tokio::task::yield_now().await;
        let last = self.0.last().ok_or(io::ErrorKind::NotFound)?;
        Ok(last)
    }
}

#[test]
fn native_async_trait_methods_and_borrowed_returns() {
    let contacts = Contacts(vec!["ada".to_owned(), "grace".to_owned()]);
    runtime().block_on(async {
        assert_eq!(contacts.first().await, Some("ada"));
        assert_eq!(contacts.last().await.unwrap(), "grace");
        Contacts(Vec::new()).last().await.unwrap_err();
    });
    assert_eq!(statuses("async_native_trait"), [1.0, 0.0, 0.0, 0.0]);
    assert_eq!(statuses("async_borrowed_return"), [1.0, 1.0, 0.0, 0.0]);
}

async fn bare_with_buffer(buffer: [u8; 256]) -> usize {
    tokio::task::yield_now().await;
    buffer.len()
}

#[track_request_metrics("async_future_size")]
async fn tracked_with_buffer(buffer: [u8; 256]) -> usize {
    tokio::task::yield_now().await;
    buffer.len()
}

#[test]
fn an_instrumented_future_is_the_bare_one_plus_the_guard() {
    // The body's inner `async move` takes the arguments over: they are not
    // stored once more. What is added is the guard (a reference and a
    // clock reading) and the state of the outer future.
    let bare = size_of_val(&bare_with_buffer([0; 256]));
    let tracked = size_of_val(&tracked_with_buffer([0; 256]));
    let guard = size_of::<insa_metrics::__private::RequestCall>();
    assert!(
        tracked <= bare + 2 * guard,
        "bare future {bare} bytes, instrumented {tracked} bytes"
    );
}

async fn bare_without_await(buffer: [u8; 256]) -> usize {
    buffer.len()
}

#[track_request_metrics("async_future_size_no_await")]
async fn tracked_without_await(buffer: [u8; 256]) -> usize {
    buffer.len()
}

#[test]
fn an_async_fn_that_never_awaits_runs_its_body_in_place() {
    // Nothing is held across an `.await`: the guard lives in the one poll.
    let bare = size_of_val(&bare_without_await([0; 256]));
    let tracked = size_of_val(&tracked_without_await([0; 256]));
    assert_eq!(tracked, bare);
    let len = runtime().block_on(tracked_without_await([0; 256]));
    assert_eq!(len, 256);
    assert_eq!(statuses("async_future_size_no_await"), [1.0, 0.0, 0.0, 0.0]);
}
