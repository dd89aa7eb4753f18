//! Instrumented fns on many threads: their series are striped per thread,
//! and the scrape sums the stripes exactly, with scrapes running.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use insa_metrics::{track_message_processing, track_request_metrics};

const THREADS: usize = 8;
const PER_THREAD: usize = 50_000;

#[track_request_metrics("striped_agent")]
fn handle(i: usize) -> Result<usize, std::io::Error> {
    if i.is_multiple_of(5) {
        Err(std::io::Error::other("rejected input"))
    } else {
        Ok(i)
    }
}

#[track_message_processing("striped_agent")]
fn process() {}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn call_sites_on_8_threads_count_exactly_with_scrapes_running() {
    let recording = AtomicBool::new(true);
    thread::scope(|s| {
        s.spawn(|| {
            while recording.load(Ordering::Relaxed) {
                let text = insa_metrics::get_metrics_text();
                let in_flight = sample(
                    &text,
                    r#"insa_worker_active_requests{worker_name="striped_agent"}"#,
                )
                .unwrap_or(0.0);
                assert!((0.0..=THREADS as f64).contains(&in_flight), "{in_flight}");
            }
        });
        let recorders: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    for i in 0..PER_THREAD {
                        let _ = handle(i);
                        process();
                    }
                })
            })
            .collect();
        for recorder in recorders {
            recorder.join().unwrap();
        }
        recording.store(false, Ordering::Relaxed);
    });
    let text = insa_metrics::get_metrics_text();
    let total = (THREADS * PER_THREAD) as f64;
    let status = |status: &str| {
        sample(
            &text,
            &format!(
                r#"insa_agent_requests_total{{agent_type="striped_agent",status="{status}"}}"#
            ),
        )
    };
    assert_eq!(status("success"), Some(total * 0.8));
    assert_eq!(status("error"), Some(total * 0.2));
    let count = r#"insa_agent_request_duration_seconds_count{agent_type="striped_agent"}"#;
    assert_eq!(sample(&text, count), Some(total));
    let messages =
        r#"insa_message_bus_processing_duration_seconds_count{agent_type="striped_agent"}"#;
    assert_eq!(sample(&text, messages), Some(total));
    let in_flight = r#"insa_worker_active_requests{worker_name="striped_agent"}"#;
    assert_eq!(sample(&text, in_flight), Some(0.0));
}
