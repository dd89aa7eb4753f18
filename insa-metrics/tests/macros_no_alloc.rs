//! The instrumented hot path allocates nothing: after the first call of each
//! site has resolved its handles, thousands of calls of every macro, sync and
//! async, make no allocation. Alone in its test binary, so the count sees no
//! other test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use insa_metrics::{track_database_operation, track_message_processing, track_request_metrics};

/// Counts allocations, process-wide.
struct CountingAlloc;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// Implementing `GlobalAlloc` takes `unsafe`; the library itself forbids it.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[track_request_metrics("no_alloc_agent")]
fn request(n: u64) -> Result<u64, io::Error> {
    if n.is_multiple_of(7) {
        return Err(io::Error::from(io::ErrorKind::TimedOut));
    }
    Ok(n * 2)
}

#[track_request_metrics("no_alloc_async_agent")]
async fn request_async(n: u64) -> Result<u64, io::Error> {
    if n.is_multiple_of(7) {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    Ok(n + 1)
}

#[track_database_operation("select", "no_alloc_table")]
fn select(n: u64) -> Result<u64, io::Error> {
    Ok(n)
}

#[track_message_processing("no_alloc_bus")]
async fn handle(n: u64) -> u64 {
    n ^ 1
}

/// Polls a future that never waits to completion, without a runtime.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn calls(from: u64, to: u64) -> u64 {
    let mut sum = 0;
    for n in from..to {
        sum += request(n).unwrap_or(0);
        sum += run(request_async(n)).unwrap_or(0);
        sum += select(n).unwrap_or(0);
        sum += run(handle(n));
    }
    sum
}

#[test]
fn instrumented_calls_allocate_nothing_once_their_site_is_resolved() {
    // The first call of each site resolves its handles (and allocates).
    std::hint::black_box(calls(1, 8));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    std::hint::black_box(calls(8, 10_008));
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(
        allocations, 0,
        "40,000 instrumented calls allocated {allocations} times"
    );

    let text = insa_metrics::get_metrics_text();
    assert!(
        text.contains(r#"insa_agent_requests_total{agent_type="no_alloc_agent",status="success"}"#)
    );
    assert!(text.contains(
        r#"insa_database_operations_total{operation="select",table="no_alloc_table"} 10007"#
    ));
}
