//! Label sets beyond the cardinality limit fold into one overflow series and
//! are counted; empty or huge label values are replaced and counted. Nothing
//! panics.

mod common;

use common::sample;
use insa_metrics::MetricsCollector;

const LIMIT: usize = 500;

fn collector() -> MetricsCollector {
    MetricsCollector::builder()
        .process_metrics(false)
        .cardinality_limit(LIMIT)
        .build()
        .unwrap()
}

#[test]
fn multi_label_families_fold_every_label() {
    let c = collector();
    for i in 0..LIMIT + 10 {
        c.record_message_sent("orchestrator", format!("agent_{i}"), "task");
    }
    let text = c.encode_text();
    let overflow = r#"insa_message_bus_messages_total{from_agent="__overflow__",message_type="__overflow__",to_agent="__overflow__"}"#;
    assert_eq!(sample(&text, overflow), Some(10.0));
}

#[test]
fn empty_and_huge_values_are_replaced_and_counted() {
    let c = collector();
    c.record_cache_hit("");
    c.record_cache_miss("x".repeat(10_000));
    c.record_cache_miss("x".repeat(20_000));
    let text = c.encode_text();
    assert_eq!(
        sample(&text, r#"insa_cache_hits_total{cache_type="unknown"}"#),
        Some(1.0)
    );
    let cut = format!(
        "insa_cache_misses_total{{cache_type=\"{}\"}}",
        "x".repeat(128)
    );
    assert_eq!(sample(&text, &cut), Some(2.0));
    let empty =
        r#"insa_metrics_invalid_label_values_total{family="insa_cache_hits_total",reason="empty"}"#;
    assert_eq!(sample(&text, empty), Some(1.0));
    let long = r#"insa_metrics_invalid_label_values_total{family="insa_cache_misses_total",reason="too_long"}"#;
    assert_eq!(sample(&text, long), Some(2.0));
}

/// A label set recorded by name as the overflow series' own is counted as
/// an overflow: the cap still holds, and the overflow series holds exactly
/// what `insa_metrics_label_overflow_total` counts.
#[test]
fn the_overflow_label_set_recorded_by_name_is_an_overflow() {
    let c = MetricsCollector::builder()
        .process_metrics(false)
        .cardinality_limit(2)
        .build()
        .unwrap();
    for value in ["__overflow__", "a", "b", "c", "__overflow__"] {
        c.record_cache_hit(value);
    }
    let text = c.encode_text();
    let series = text
        .lines()
        .filter(|line| line.starts_with("insa_cache_hits_total{"))
        .count();
    assert_eq!(series, 3, "a, b and the overflow series\n{text}");
    let overflow = r#"insa_cache_hits_total{cache_type="__overflow__"}"#;
    assert_eq!(sample(&text, overflow), Some(3.0));
    let counted = r#"insa_metrics_label_overflow_total{family="insa_cache_hits_total"}"#;
    assert_eq!(sample(&text, counted), Some(3.0));
}

/// Idle expiry on the real clock: a burst of junk, a wait past the timeout
/// with no scrape, then one scrape drops the junk and frees the cap.
#[test]
fn idle_junk_expires_on_the_real_clock() {
    let collector = MetricsCollector::builder()
        .process_metrics(false)
        .cardinality_limit(5)
        .idle_timeout(Some(std::time::Duration::from_secs(1)))
        .build()
        .unwrap();
    for junk in 0..20 {
        collector.record_cache_miss(format!("junk-{junk}"));
    }
    // A second of idle time, counted in whole seconds and never early: at
    // most three.
    std::thread::sleep(std::time::Duration::from_millis(3_100));
    let text = collector.encode_text();
    assert_eq!(
        sample(
            &text,
            r#"insa_metrics_series_expired_total{family="insa_cache_misses_total"}"#
        ),
        Some(5.0),
        "{text}"
    );
    collector.record_cache_miss("sizing");
    let text = collector.encode_text();
    assert_eq!(
        sample(&text, r#"insa_cache_misses_total{cache_type="sizing"}"#),
        Some(1.0)
    );
}
