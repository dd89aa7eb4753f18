//! A misbehaving caller cannot grow memory without bound: 100,000 distinct
//! label values leave at most limit + 1 series. Alone in its test binary, so
//! the allocation count sees no other test.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use common::sample;
use insa_metrics::MetricsCollector;

/// Counts the bytes allocated and not yet freed, process-wide.
struct CountingAlloc;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// Implementing `GlobalAlloc` takes `unsafe`; the library itself forbids it.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const LIMIT: usize = 500;
const DISTINCT: usize = 100_000;

#[test]
fn a_hundred_thousand_values_leave_at_most_limit_plus_one_series_and_bounded_memory() {
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let c = MetricsCollector::builder()
        .process_metrics(false)
        .cardinality_limit(LIMIT)
        .build()
        .unwrap();
    for i in 0..LIMIT {
        c.record_cache_hit(format!("cache_{i}"));
    }
    let at_limit = LIVE_BYTES.load(Ordering::Relaxed);
    eprintln!(
        "collector with {LIMIT} cache_hits series: {} KiB live",
        (at_limit - before) / 1024
    );
    for i in LIMIT..DISTINCT {
        c.record_cache_hit(format!("cache_{i}"));
    }
    let after = LIVE_BYTES.load(Ordering::Relaxed);
    assert!(
        after - at_limit < 64 * 1024,
        "memory grew by {} bytes for {} folded label sets",
        after - at_limit,
        DISTINCT - LIMIT
    );

    let text = c.encode_text();
    let series = text
        .lines()
        .filter(|l| l.starts_with("insa_cache_hits_total{"))
        .count();
    assert_eq!(series, LIMIT + 1);
    assert_eq!(c.series_count("insa_cache_hits_total"), Some(LIMIT));
    let overflow = r#"insa_cache_hits_total{cache_type="__overflow__"}"#;
    assert_eq!(sample(&text, overflow), Some((DISTINCT - LIMIT) as f64));
    let folded = r#"insa_metrics_label_overflow_total{family="insa_cache_hits_total"}"#;
    assert_eq!(sample(&text, folded), Some((DISTINCT - LIMIT) as f64));
    // Existing series still record normally once the family is full.
    c.record_cache_hit("cache_7");
    assert_eq!(
        sample(
            &c.encode_text(),
            r#"insa_cache_hits_total{cache_type="cache_7"}"#
        ),
        Some(2.0)
    );
}
