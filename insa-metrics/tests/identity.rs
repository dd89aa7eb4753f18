//! Every series is identified by its exact label values: two label sets
//! whose values run together into the same string are two series, in every
//! family with two or more labels.

mod common;

use std::time::Duration;

use common::{fresh_collector, sample};
use insa_metrics::{MetricsCollector, track_database_operation};

/// Records `first` once and `second` twice through `record`, then checks
/// each series holds its own count.
fn two_series(
    family: &str,
    labels: [&str; 2],
    first: [&str; 2],
    second: [&str; 2],
    record: impl Fn(&MetricsCollector, &str, &str),
) {
    let c = fresh_collector();
    record(&c, first[0], first[1]);
    record(&c, second[0], second[1]);
    record(&c, second[0], second[1]);
    let text = c.encode_text();
    let series = |values: [&str; 2]| {
        let mut pairs = [(labels[0], values[0]), (labels[1], values[1])];
        pairs.sort_unstable();
        format!(
            "{family}{{{}=\"{}\",{}=\"{}\"}}",
            pairs[0].0, pairs[0].1, pairs[1].0, pairs[1].1
        )
    };
    assert_eq!(
        sample(&text, &series(first)),
        Some(1.0),
        "{}\n{text}",
        series(first)
    );
    assert_eq!(
        sample(&text, &series(second)),
        Some(2.0),
        "{}\n{text}",
        series(second)
    );
}

#[test]
fn cache_evictions() {
    two_series(
        "insa_cache_evictions_total",
        ["cache_type", "reason"],
        ["ab", "c"],
        ["a", "bc"],
        |c, a, b| c.record_cache_eviction(a, b),
    );
}

#[test]
fn worker_health_and_restarts() {
    two_series(
        "insa_worker_restarts_total",
        ["worker_name", "reason"],
        ["w1", "0crash"],
        ["w10", "crash"],
        |c, a, b| c.record_worker_restart(a, b),
    );
    let c = fresh_collector();
    c.update_worker_health("sizing", "agent", true);
    c.update_worker_health("sizinga", "gent", false);
    let text = c.encode_text();
    let healthy = r#"insa_worker_health_status{worker_name="sizing",worker_type="agent"}"#;
    let unhealthy = r#"insa_worker_health_status{worker_name="sizinga",worker_type="gent"}"#;
    assert_eq!(sample(&text, healthy), Some(1.0));
    assert_eq!(sample(&text, unhealthy), Some(0.0));
}

#[test]
fn retry_attempts() {
    two_series(
        "insa_retry_attempts_total",
        ["agent_type", "retry_number"],
        ["worker1", "12"],
        ["worker11", "2"],
        |c, a, b| c.record_retry_attempt(a, b.parse().unwrap()),
    );
}

#[test]
fn database_operations_durations_and_errors() {
    two_series(
        "insa_database_operations_total",
        ["operation", "table"],
        ["selectu", "sers"],
        ["select", "users"],
        |c, a, b| c.record_database_operation(a, b),
    );
    two_series(
        "insa_database_operation_duration_seconds_count",
        ["operation", "table"],
        ["selectu", "sers"],
        ["select", "users"],
        |c, a, b| c.observe_database_duration(a, b, Duration::from_millis(3)),
    );
    two_series(
        "insa_database_errors_total",
        ["operation", "error_type"],
        ["insertt", "imeout"],
        ["insert", "timeout"],
        |c, a, b| c.record_database_error(a, b),
    );
}

#[test]
fn message_bus_messages() {
    let c = fresh_collector();
    c.record_message_sent("ab", "c", "task");
    c.record_message_sent("a", "bc", "task");
    c.record_message_sent("a", "b", "ctask");
    c.record_message_sent("a", "b", "ctask");
    let text = c.encode_text();
    for (series, count) in [
        (r#"{from_agent="ab",message_type="task",to_agent="c"}"#, 1.0),
        (r#"{from_agent="a",message_type="task",to_agent="bc"}"#, 1.0),
        (r#"{from_agent="a",message_type="ctask",to_agent="b"}"#, 2.0),
    ] {
        let series = format!("insa_message_bus_messages_total{series}");
        assert_eq!(sample(&text, &series), Some(count), "{series}\n{text}");
    }
}

#[test]
fn requests_and_breaker_transitions_by_agent() {
    use insa_metrics::{CircuitState, RequestStatus};
    let c = fresh_collector();
    c.record_request("crm", RequestStatus::Error);
    c.record_request("crme", RequestStatus::Error);
    c.record_circuit_breaker_transition("a", CircuitState::Open, CircuitState::Closed);
    c.record_circuit_breaker_transition("ao", CircuitState::Open, CircuitState::Closed);
    let text = c.encode_text();
    let requests = |agent: &str| {
        format!(r#"insa_agent_requests_total{{agent_type="{agent}",status="error"}}"#)
    };
    assert_eq!(sample(&text, &requests("crm")), Some(1.0));
    assert_eq!(sample(&text, &requests("crme")), Some(1.0));
    let transitions = |agent: &str| {
        format!(
            r#"insa_circuit_breaker_transitions_total{{agent_type="{agent}",from_state="open",to_state="closed"}}"#
        )
    };
    assert_eq!(sample(&text, &transitions("a")), Some(1.0));
    assert_eq!(sample(&text, &transitions("ao")), Some(1.0));
}

#[test]
fn the_info_series_is_replaced_by_a_colliding_one() {
    let c = fresh_collector();
    c.set_system_info("1.0", "0prod");
    c.set_system_info("1.00", "prod");
    let text = c.encode_text();
    let info: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("insa_system_info{"))
        .collect();
    assert_eq!(info.len(), 1, "{text}");
    assert!(
        info[0].starts_with(r#"insa_system_info{environment="prod","#)
            && info[0].contains(r#"version="1.00""#),
        "{}",
        info[0]
    );
    // And back: the old one comes back as the only one.
    c.set_system_info("1.0", "0prod");
    let text = c.encode_text();
    let info: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("insa_system_info{"))
        .collect();
    assert_eq!(info.len(), 1, "{text}");
    assert!(info[0].contains(r#"environment="0prod""#), "{}", info[0]);
}

#[track_database_operation("selectu", "sers")]
fn select_u_sers() {}

#[track_database_operation("select", "users")]
fn select_users() {}

#[test]
fn macro_call_sites_whose_labels_run_together() {
    select_u_sers();
    select_users();
    select_users();
    let text = insa_metrics::get_metrics_text();
    let ops = |operation: &str, table: &str| {
        format!(r#"insa_database_operations_total{{operation="{operation}",table="{table}"}}"#)
    };
    assert_eq!(sample(&text, &ops("selectu", "sers")), Some(1.0));
    assert_eq!(sample(&text, &ops("select", "users")), Some(2.0));
}

/// A histogram's sum passes 64 bits (two observations of 2^63 bytes; a
/// sum of nanoseconds does after 584 years of summed time) and keeps
/// growing: it never wraps back towards 0, which Prometheus would take for a
/// counter reset.
#[test]
fn a_histogram_sum_past_64_bits_does_not_wrap() {
    let c = fresh_collector();
    c.observe_request_size("big", 1 << 63);
    c.observe_request_size("big", 1 << 63);
    c.observe_request_size("big", 1);
    let text = c.encode_text();
    let sum = sample(
        &text,
        "insa_agent_request_size_bytes_sum{agent_type=\"big\"}",
    );
    assert_eq!(sum, Some(18_446_744_073_709_551_617.0), "{text}");
    let count = sample(
        &text,
        "insa_agent_request_size_bytes_count{agent_type=\"big\"}",
    );
    assert_eq!(count, Some(3.0));
}
