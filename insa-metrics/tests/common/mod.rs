//! Helpers shared by the runtime's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use insa_metrics::{CircuitState, MetricsCollector, ReplayStatus, RequestStatus};

/// A collector on its own registry, so tests do not see each other's series.
pub fn fresh_collector() -> MetricsCollector {
    MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .expect("fresh registry")
}

/// Records one value into every family of the catalogue.
pub fn touch_every_family(c: &MetricsCollector) {
    c.record_request("sizing_agent", RequestStatus::Success);
    c.observe_request_duration("sizing_agent", Duration::from_millis(300));
    c.observe_request_size("sizing_agent", 2048);
    c.observe_response_size("sizing_agent", 100);
    c.record_cache_hit("orchestrator");
    c.record_cache_miss("orchestrator");
    c.update_cache_size("orchestrator", 42);
    c.record_cache_eviction("orchestrator", "capacity");
    c.record_message_sent("orchestrator", "sizing_agent", "task");
    c.update_queue_depth("sizing_agent", 3);
    c.observe_message_processing("orchestrator", Duration::from_millis(2));
    c.update_worker_health("sizing_agent", "sizing", true);
    c.update_active_requests("crm_agent", 0);
    c.update_worker_queue("sizing_agent", 5);
    c.record_worker_restart("crm_agent", "crash");
    c.record_retry_attempt("crm_agent", 1);
    c.record_retry_success("crm_agent");
    c.update_circuit_breaker_state("crm_agent", CircuitState::Closed);
    c.record_circuit_breaker_transition("crm_agent", CircuitState::Closed, CircuitState::Open);
    c.update_dead_letter_queue_size("crm_agent", 2);
    c.record_dead_letter_replay(ReplayStatus::Success);
    c.record_database_operation("select", "users");
    c.observe_database_duration("select", "users", Duration::from_millis(4));
    c.update_connection_pool_size("crm", 10);
    c.record_database_error("insert", "unique_violation");
    c.update_active_sessions(7);
    c.observe_session_duration(Duration::from_secs(90));
    c.record_session_message("chat");
    c.record_session_cleanup("expired");
    c.set_system_info("1.0.0", "test");
}

/// The value of the sample line `series` (name with labels) in `text`.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Runs `promtool check metrics` on `text` and returns its output lines.
pub fn promtool_check_metrics(text: &str) -> Vec<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "promtool not found: install Debian's `prometheus` package (./scripts/test.sh does)",
        );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .map(str::to_owned)
        .filter(|l| !l.trim().is_empty())
        .collect()
}
