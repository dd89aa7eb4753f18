//! Reading the global registry back in the macro tests.
//!
//! Each test uses its own agent label, as the tests of a binary share the
//! process-wide collector.
#![allow(dead_code, unreachable_pub)]

/// The value of one sample line, `name{labels}`, or 0 when absent.
pub fn sample(series: &str) -> f64 {
    insa_metrics::get_metrics_text()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// `insa_agent_requests_total{agent_type, status}`.
pub fn requests(agent: &str, status: &str) -> f64 {
    sample(&format!(
        r#"insa_agent_requests_total{{agent_type="{agent}",status="{status}"}}"#
    ))
}

/// The four statuses of `agent`: success, error, timeout, cancelled.
pub fn statuses(agent: &str) -> [f64; 4] {
    ["success", "error", "timeout", "cancelled"].map(|status| requests(agent, status))
}

/// `insa_agent_request_duration_seconds_count{agent_type}`.
pub fn timed(agent: &str) -> f64 {
    sample(&format!(
        r#"insa_agent_request_duration_seconds_count{{agent_type="{agent}"}}"#
    ))
}

/// `insa_worker_active_requests{worker_name}`.
pub fn in_flight(agent: &str) -> f64 {
    sample(&format!(
        r#"insa_worker_active_requests{{worker_name="{agent}"}}"#
    ))
}

/// Whether the series exists in the exposition at all.
pub fn exists(series: &str) -> bool {
    insa_metrics::get_metrics_text().lines().any(|line| {
        line.strip_prefix(series)
            .is_some_and(|rest| rest.starts_with(' '))
    })
}

/// A current-thread tokio runtime with the clock enabled.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime")
}
