//! Concurrent increments are exact.

mod common;

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use common::{fresh_collector, sample};

const THREADS: usize = 8;
const PER_THREAD: usize = 100_000;

#[test]
fn counter_increments_from_8_threads_are_exact() {
    let c = fresh_collector();
    let barrier = Barrier::new(THREADS);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..PER_THREAD {
                    c.record_cache_hit("orchestrator");
                }
            });
        }
    });
    let text = c.encode_text();
    assert_eq!(
        sample(&text, r#"insa_cache_hits_total{cache_type="orchestrator"}"#),
        Some(800_000.0)
    );
}

#[test]
fn histogram_count_from_8_threads_is_exact() {
    let c = fresh_collector();
    let handles = c.message_handles("orchestrator");
    let barrier = Barrier::new(THREADS);
    thread::scope(|s| {
        for t in 0..THREADS {
            let handles = &handles;
            let c = &c;
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for i in 0..PER_THREAD {
                    // Half through the cached handles, half through the lookup path.
                    if (i + t) % 2 == 0 {
                        drop(handles.start());
                    } else {
                        c.observe_message_processing("orchestrator", Duration::from_micros(700));
                    }
                }
            });
        }
    });
    let text = c.encode_text();
    let count = r#"insa_message_bus_processing_duration_seconds_count{agent_type="orchestrator"}"#;
    assert_eq!(sample(&text, count), Some(800_000.0));
    let inf = r#"insa_message_bus_processing_duration_seconds_bucket{agent_type="orchestrator",le="+Inf"}"#;
    assert_eq!(sample(&text, inf), Some(800_000.0));
}

#[test]
fn request_guards_from_8_threads_leave_exact_counts_and_no_in_flight() {
    let c = fresh_collector();
    let handles = c.request_handles("sizing_agent");
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for i in 0..PER_THREAD / 10 {
                    let guard = handles.start();
                    if i % 4 == 0 {
                        guard.fail(&std::io::Error::other("boom"));
                    } else {
                        guard.succeed();
                    }
                }
            });
        }
    });
    let text = c.encode_text();
    let total = (THREADS * PER_THREAD / 10) as f64;
    let ok = r#"insa_agent_requests_total{agent_type="sizing_agent",status="success"}"#;
    let err = r#"insa_agent_requests_total{agent_type="sizing_agent",status="error"}"#;
    assert_eq!(sample(&text, ok), Some(total * 0.75));
    assert_eq!(sample(&text, err), Some(total * 0.25));
    assert_eq!(
        sample(
            &text,
            r#"insa_worker_active_requests{worker_name="sizing_agent"}"#
        ),
        Some(0.0)
    );
}

/// Checks a scrape mid-flight: every histogram's cumulative buckets never
/// go down, and `+Inf` equals `_count`.
fn check_consistent(text: &str) {
    let mut previous = 0.0;
    let mut inf = None;
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap();
        if series.contains("_bucket{") {
            if series.contains("le=\"+Inf\"") {
                inf = Some(value);
            }
            assert!(value >= previous, "{line} after {previous}");
            previous = value;
        } else if series.contains("_count") {
            assert_eq!(inf.take(), Some(value), "{line}");
            previous = 0.0;
        }
    }
}

#[test]
fn counts_and_sums_are_exact_with_scrapes_running() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let c = fresh_collector();
    let requests = c.request_handles("crm_agent");
    let recording = AtomicBool::new(true);
    let scrapes = AtomicUsize::new(0);
    thread::scope(|s| {
        s.spawn(|| {
            while recording.load(Ordering::Relaxed) {
                check_consistent(&c.encode_text());
                scrapes.fetch_add(1, Ordering::Relaxed);
            }
        });
        let recorders: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..PER_THREAD / 4 {
                        c.observe_message_processing("orchestrator", Duration::from_micros(700));
                        c.record_cache_hit("orchestrator");
                        requests.start().succeed();
                    }
                })
            })
            .collect();
        for recorder in recorders {
            recorder.join().unwrap();
        }
        recording.store(false, Ordering::Relaxed);
    });
    assert!(scrapes.load(Ordering::Relaxed) > 0);
    let text = c.encode_text();
    let n = (THREADS * PER_THREAD / 4) as f64;
    let count = r#"insa_message_bus_processing_duration_seconds_count{agent_type="orchestrator"}"#;
    let sum = r#"insa_message_bus_processing_duration_seconds_sum{agent_type="orchestrator"}"#;
    assert_eq!(sample(&text, count), Some(n));
    // 200,000 × 700 µs, summed in integer nanoseconds: exact.
    assert_eq!(sample(&text, sum), Some(140.0));
    assert_eq!(
        sample(&text, r#"insa_cache_hits_total{cache_type="orchestrator"}"#),
        Some(n)
    );
    let ok = r#"insa_agent_requests_total{agent_type="crm_agent",status="success"}"#;
    assert_eq!(sample(&text, ok), Some(n));
    let in_flight = r#"insa_worker_active_requests{worker_name="crm_agent"}"#;
    assert_eq!(sample(&text, in_flight), Some(0.0));
}
