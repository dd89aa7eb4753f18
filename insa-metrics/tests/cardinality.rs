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
