//! The metric catalogue: the one place that names the 30 families, their
//! types, labels, help texts and buckets.

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyKind {
    /// A monotonic counter (`_total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A histogram with fixed buckets.
    Histogram,
    /// An info metric: a gauge fixed at 1 whose labels carry the information.
    Info,
}

/// The declaration of one metric family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FamilySpec {
    /// The family name, as scraped.
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// The metric type.
    pub kind: FamilyKind,
    /// The label names, in order.
    pub labels: &'static [&'static str],
    /// Histogram bucket upper bounds, in the family's base unit; empty otherwise.
    pub buckets: &'static [f64],
}

const fn counter(
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
) -> FamilySpec {
    FamilySpec {
        name,
        help,
        kind: FamilyKind::Counter,
        labels,
        buckets: &[],
    }
}

const fn gauge(
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
) -> FamilySpec {
    FamilySpec {
        name,
        help,
        kind: FamilyKind::Gauge,
        labels,
        buckets: &[],
    }
}

const fn histogram(
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    buckets: &'static [f64],
) -> FamilySpec {
    FamilySpec {
        name,
        help,
        kind: FamilyKind::Histogram,
        labels,
        buckets,
    }
}

/// Buckets of `insa_agent_request_duration_seconds`: 100 ms to 2 min.
pub const REQUEST_DURATION_BUCKETS: &[f64] = &[0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];
/// Buckets of the payload size histograms: powers of 4 from 64 B to 16 MiB.
pub const PAYLOAD_SIZE_BUCKETS: &[f64] = &[
    64.0,
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
];
/// Buckets of `insa_message_bus_processing_duration_seconds`: 0.5 ms to 10 s.
pub const MESSAGE_PROCESSING_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of `insa_database_operation_duration_seconds`: 1 ms to 10 s.
pub const DATABASE_DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of `insa_session_duration_seconds`: 1 s to 4 h.
pub const SESSION_DURATION_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0,
];

/// 1. Requests handled by an agent, by outcome.
pub const AGENT_REQUESTS_TOTAL: FamilySpec = counter(
    "insa_agent_requests_total",
    "Total number of requests by agent type",
    &["agent_type", "status"],
);
/// 2. Request duration.
pub const AGENT_REQUEST_DURATION_SECONDS: FamilySpec = histogram(
    "insa_agent_request_duration_seconds",
    "Request duration in seconds",
    &["agent_type"],
    REQUEST_DURATION_BUCKETS,
);
/// 3. Request payload size.
pub const AGENT_REQUEST_SIZE_BYTES: FamilySpec = histogram(
    "insa_agent_request_size_bytes",
    "Request payload size in bytes",
    &["agent_type"],
    PAYLOAD_SIZE_BUCKETS,
);
/// 4. Response payload size.
pub const AGENT_RESPONSE_SIZE_BYTES: FamilySpec = histogram(
    "insa_agent_response_size_bytes",
    "Response payload size in bytes",
    &["agent_type"],
    PAYLOAD_SIZE_BUCKETS,
);
/// 5. Cache hits.
pub const CACHE_HITS_TOTAL: FamilySpec =
    counter("insa_cache_hits_total", "Cache hits", &["cache_type"]);
/// 6. Cache misses.
pub const CACHE_MISSES_TOTAL: FamilySpec =
    counter("insa_cache_misses_total", "Cache misses", &["cache_type"]);
/// 7. Cache size.
pub const CACHE_SIZE_ENTRIES: FamilySpec = gauge(
    "insa_cache_size_entries",
    "Entries currently in the cache",
    &["cache_type"],
);
/// 8. Cache evictions.
pub const CACHE_EVICTIONS_TOTAL: FamilySpec = counter(
    "insa_cache_evictions_total",
    "Cache evictions",
    &["cache_type", "reason"],
);
/// 9. Messages over the agent message bus.
pub const MESSAGE_BUS_MESSAGES_TOTAL: FamilySpec = counter(
    "insa_message_bus_messages_total",
    "Messages sent over the agent message bus",
    &["from_agent", "to_agent", "message_type"],
);
/// 10. Queue depth per agent.
pub const MESSAGE_BUS_QUEUE_DEPTH: FamilySpec = gauge(
    "insa_message_bus_queue_depth",
    "Messages waiting in an agent's queue",
    &["agent_type"],
);
/// 11. Time to process one message.
pub const MESSAGE_BUS_PROCESSING_DURATION_SECONDS: FamilySpec = histogram(
    "insa_message_bus_processing_duration_seconds",
    "Time to process one message in seconds",
    &["agent_type"],
    MESSAGE_PROCESSING_BUCKETS,
);
/// 12. Worker health: 1 healthy, 0 unhealthy.
pub const WORKER_HEALTH_STATUS: FamilySpec = gauge(
    "insa_worker_health_status",
    "Worker health (1 healthy, 0 unhealthy)",
    &["worker_name", "worker_type"],
);
/// 13. Requests in flight per worker.
pub const WORKER_ACTIVE_REQUESTS: FamilySpec = gauge(
    "insa_worker_active_requests",
    "Requests in flight",
    &["worker_name"],
);
/// 14. Tasks waiting for a worker.
pub const WORKER_QUEUE_SIZE: FamilySpec = gauge(
    "insa_worker_queue_size",
    "Tasks waiting for a worker",
    &["worker_name"],
);
/// 15. Worker restarts.
pub const WORKER_RESTARTS_TOTAL: FamilySpec = counter(
    "insa_worker_restarts_total",
    "Worker restarts",
    &["worker_name", "reason"],
);
/// 16. Retry attempts, by attempt number.
pub const RETRY_ATTEMPTS_TOTAL: FamilySpec = counter(
    "insa_retry_attempts_total",
    "Retry attempts",
    &["agent_type", "retry_number"],
);
/// 17. Calls that succeeded after retrying.
pub const RETRY_SUCCESS_TOTAL: FamilySpec = counter(
    "insa_retry_success_total",
    "Calls that succeeded after retrying",
    &["agent_type"],
);
/// 18. Circuit breaker state: 0 closed, 1 open, 2 half open.
pub const CIRCUIT_BREAKER_STATE: FamilySpec = gauge(
    "insa_circuit_breaker_state",
    "Circuit breaker state (0 closed, 1 open, 2 half_open)",
    &["agent_type"],
);
/// 19. Circuit breaker transitions.
pub const CIRCUIT_BREAKER_TRANSITIONS_TOTAL: FamilySpec = counter(
    "insa_circuit_breaker_transitions_total",
    "Circuit breaker state transitions",
    &["agent_type", "from_state", "to_state"],
);
/// 20. Dead letter queue size.
pub const DEAD_LETTER_QUEUE_SIZE: FamilySpec = gauge(
    "insa_dead_letter_queue_size",
    "Messages in the dead letter queue",
    &["agent_type"],
);
/// 21. Dead letter replays.
pub const DEAD_LETTER_REPLAY_TOTAL: FamilySpec = counter(
    "insa_dead_letter_replay_total",
    "Dead letter replays",
    &["status"],
);
/// 22. Database operations.
pub const DATABASE_OPERATIONS_TOTAL: FamilySpec = counter(
    "insa_database_operations_total",
    "Database operations",
    &["operation", "table"],
);
/// 23. Database operation duration.
pub const DATABASE_OPERATION_DURATION_SECONDS: FamilySpec = histogram(
    "insa_database_operation_duration_seconds",
    "Database operation duration in seconds",
    &["operation", "table"],
    DATABASE_DURATION_BUCKETS,
);
/// 24. Connections in the pool.
pub const DATABASE_CONNECTION_POOL_SIZE: FamilySpec = gauge(
    "insa_database_connection_pool_size",
    "Connections in the pool",
    &["database_name"],
);
/// 25. Database errors.
pub const DATABASE_ERRORS_TOTAL: FamilySpec = counter(
    "insa_database_errors_total",
    "Database errors",
    &["operation", "error_type"],
);
/// 26. Sessions currently active (a gauge; the `_total` name is kept for compatibility).
pub const ACTIVE_SESSIONS_TOTAL: FamilySpec = gauge(
    "insa_active_sessions_total",
    "Sessions currently active",
    &[],
);
/// 27. Session duration.
pub const SESSION_DURATION_SECONDS: FamilySpec = histogram(
    "insa_session_duration_seconds",
    "Session duration in seconds",
    &[],
    SESSION_DURATION_BUCKETS,
);
/// 28. Messages exchanged in sessions.
pub const SESSION_MESSAGES_TOTAL: FamilySpec = counter(
    "insa_session_messages_total",
    "Messages exchanged in sessions",
    &["session_type"],
);
/// 29. Sessions cleaned up.
pub const SESSION_CLEANUP_TOTAL: FamilySpec = counter(
    "insa_session_cleanup_total",
    "Sessions cleaned up",
    &["reason"],
);
/// 30. Build and environment information, a gauge fixed at 1.
pub const SYSTEM_INFO: FamilySpec = FamilySpec {
    name: "insa_system_info",
    help: "Build and environment information",
    kind: FamilyKind::Info,
    labels: &["version", "environment", "platform"],
    buckets: &[],
};

/// The 30 families, in catalogue order.
pub const CATALOGUE: [&FamilySpec; 30] = [
    &AGENT_REQUESTS_TOTAL,
    &AGENT_REQUEST_DURATION_SECONDS,
    &AGENT_REQUEST_SIZE_BYTES,
    &AGENT_RESPONSE_SIZE_BYTES,
    &CACHE_HITS_TOTAL,
    &CACHE_MISSES_TOTAL,
    &CACHE_SIZE_ENTRIES,
    &CACHE_EVICTIONS_TOTAL,
    &MESSAGE_BUS_MESSAGES_TOTAL,
    &MESSAGE_BUS_QUEUE_DEPTH,
    &MESSAGE_BUS_PROCESSING_DURATION_SECONDS,
    &WORKER_HEALTH_STATUS,
    &WORKER_ACTIVE_REQUESTS,
    &WORKER_QUEUE_SIZE,
    &WORKER_RESTARTS_TOTAL,
    &RETRY_ATTEMPTS_TOTAL,
    &RETRY_SUCCESS_TOTAL,
    &CIRCUIT_BREAKER_STATE,
    &CIRCUIT_BREAKER_TRANSITIONS_TOTAL,
    &DEAD_LETTER_QUEUE_SIZE,
    &DEAD_LETTER_REPLAY_TOTAL,
    &DATABASE_OPERATIONS_TOTAL,
    &DATABASE_OPERATION_DURATION_SECONDS,
    &DATABASE_CONNECTION_POOL_SIZE,
    &DATABASE_ERRORS_TOTAL,
    &ACTIVE_SESSIONS_TOTAL,
    &SESSION_DURATION_SECONDS,
    &SESSION_MESSAGES_TOTAL,
    &SESSION_CLEANUP_TOTAL,
    &SYSTEM_INFO,
];

/// Self-metric: label sets folded into a family's overflow series.
pub const LABEL_OVERFLOW_TOTAL: FamilySpec = counter(
    "insa_metrics_label_overflow_total",
    "Records folded into the overflow series because the family reached its cardinality limit",
    &["family"],
);
/// Self-metric: label values replaced because they were empty or too long,
/// and typed labels of the attribute macros that are not snake_case.
pub const INVALID_LABEL_VALUES_TOTAL: FamilySpec = counter(
    "insa_metrics_invalid_label_values_total",
    "Label values replaced because they were empty or too long, or macro labels not in snake_case",
    &["family", "reason"],
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut names: Vec<_> = CATALOGUE.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 30);
        for family in CATALOGUE {
            assert!(family.name.starts_with("insa_"), "{}", family.name);
            let counter_suffix = family.name.ends_with("_total");
            match family.kind {
                FamilyKind::Counter => assert!(counter_suffix, "{}", family.name),
                FamilyKind::Histogram => assert!(!family.buckets.is_empty(), "{}", family.name),
                _ => {}
            }
            assert!(
                family.buckets.windows(2).all(|w| w[0] < w[1]),
                "{}",
                family.name
            );
        }
    }

    #[test]
    fn payload_buckets_are_powers_of_four_from_64_bytes_to_16_mib() {
        let expected: Vec<f64> = (0..10).map(|k| 64.0 * 4f64.powi(k)).collect();
        assert_eq!(PAYLOAD_SIZE_BUCKETS, expected.as_slice());
        assert_eq!(PAYLOAD_SIZE_BUCKETS.last(), Some(&(16.0 * 1024.0 * 1024.0)));
    }
}
