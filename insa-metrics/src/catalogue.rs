//! The metric catalogue: the one table that declares every family (name, type, labels, help, buckets), from which the specs and the store are made.

/// The type of a metric family.
///
/// # Examples
///
/// ```
/// use insa_metrics::catalogue::{AGENT_REQUESTS_TOTAL, FamilyKind};
///
/// assert_eq!(AGENT_REQUESTS_TOTAL.kind(), FamilyKind::Counter);
/// assert_eq!(FamilyKind::Counter.type_name(), "counter");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
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

impl FamilyKind {
    /// The `# TYPE` of the family in the text exposition format 0.0.4 (an
    /// info metric is exposed as a gauge).
    #[must_use]
    pub const fn type_name(self) -> &'static str {
        match self {
            FamilyKind::Counter => "counter",
            FamilyKind::Gauge | FamilyKind::Info => "gauge",
            FamilyKind::Histogram => "histogram",
        }
    }
}

/// The unit a family's name ends with, for OpenMetrics' `# UNIT`.
///
/// # Examples
///
/// ```
/// use insa_metrics::catalogue::{AGENT_REQUEST_DURATION_SECONDS, CACHE_HITS_TOTAL, Unit};
///
/// assert_eq!(AGENT_REQUEST_DURATION_SECONDS.unit(), Some(Unit::Seconds));
/// assert_eq!(CACHE_HITS_TOTAL.unit(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unit {
    /// `…_seconds`: durations, recorded in nanoseconds and exposed in seconds.
    Seconds,
    /// `…_bytes`: sizes.
    Bytes,
}

impl Unit {
    /// The unit as OpenMetrics names it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::Seconds => "seconds",
            Unit::Bytes => "bytes",
        }
    }
}

/// The declaration of one metric family.
///
/// # Examples
///
/// ```
/// use insa_metrics::catalogue::{DATABASE_OPERATION_DURATION_SECONDS as DB, FamilyKind};
///
/// assert_eq!(DB.name(), "insa_database_operation_duration_seconds");
/// assert_eq!(DB.kind(), FamilyKind::Histogram);
/// assert_eq!(DB.labels(), ["operation", "table"]);
/// assert_eq!(DB.buckets().first(), Some(&0.001));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct FamilySpec {
    name: &'static str,
    help: &'static str,
    kind: FamilyKind,
    labels: &'static [&'static str],
    buckets: &'static [f64],
}

impl FamilySpec {
    const fn new(
        name: &'static str,
        help: &'static str,
        kind: FamilyKind,
        labels: &'static [&'static str],
        buckets: &'static [f64],
    ) -> Self {
        FamilySpec {
            name,
            help,
            kind,
            labels,
            buckets,
        }
    }

    /// The family name, as scraped in the text format 0.0.4.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The `# HELP` text.
    #[must_use]
    pub const fn help(&self) -> &'static str {
        self.help
    }

    /// The metric type.
    #[must_use]
    pub const fn kind(&self) -> FamilyKind {
        self.kind
    }

    /// The label names, in the order the recording methods take their values.
    #[must_use]
    pub const fn labels(&self) -> &'static [&'static str] {
        self.labels
    }

    /// Histogram bucket upper bounds, in the family's base unit; empty for
    /// other types.
    #[must_use]
    pub const fn buckets(&self) -> &'static [f64] {
        self.buckets
    }

    /// The unit the name ends with (before `_total`), if any.
    #[must_use]
    pub fn unit(&self) -> Option<Unit> {
        let stem = self.name.strip_suffix("_total").unwrap_or(self.name);
        if stem.ends_with("_seconds") {
            Some(Unit::Seconds)
        } else if stem.ends_with("_bytes") {
            Some(Unit::Bytes)
        } else {
            None
        }
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

/// The table of families: each written once, as
/// `field: CONSTANT = Kind("name", "help", [labels], buckets);`, handed to
/// `$declare`, which makes what it needs of it (the specs below, the store's
/// typed families in `store::families`). The catalogue of the SPEC comes
/// first, then the crate's self-metrics.
macro_rules! with_catalogue {
    ($declare:ident) => {
        $declare! {
            catalogue {
                /// 1. Requests handled by an agent, by outcome.
                requests: AGENT_REQUESTS_TOTAL = Counter(
                    "insa_agent_requests_total",
                    "Total number of requests by agent type",
                    ["agent_type", "status"], []);
                /// 2. Request duration.
                request_duration: AGENT_REQUEST_DURATION_SECONDS = Histogram(
                    "insa_agent_request_duration_seconds",
                    "Request duration in seconds",
                    ["agent_type"], REQUEST_DURATION_BUCKETS);
                /// 3. Request payload size.
                request_size: AGENT_REQUEST_SIZE_BYTES = Histogram(
                    "insa_agent_request_size_bytes",
                    "Request payload size in bytes",
                    ["agent_type"], PAYLOAD_SIZE_BUCKETS);
                /// 4. Response payload size.
                response_size: AGENT_RESPONSE_SIZE_BYTES = Histogram(
                    "insa_agent_response_size_bytes",
                    "Response payload size in bytes",
                    ["agent_type"], PAYLOAD_SIZE_BUCKETS);
                /// 5. Cache hits.
                cache_hits: CACHE_HITS_TOTAL = Counter(
                    "insa_cache_hits_total", "Cache hits", ["cache_type"], []);
                /// 6. Cache misses.
                cache_misses: CACHE_MISSES_TOTAL = Counter(
                    "insa_cache_misses_total", "Cache misses", ["cache_type"], []);
                /// 7. Cache size.
                cache_size: CACHE_SIZE_ENTRIES = Gauge(
                    "insa_cache_size_entries", "Entries currently in the cache",
                    ["cache_type"], []);
                /// 8. Cache evictions.
                cache_evictions: CACHE_EVICTIONS_TOTAL = Counter(
                    "insa_cache_evictions_total", "Cache evictions",
                    ["cache_type", "reason"], []);
                /// 9. Messages over the agent message bus.
                bus_messages: MESSAGE_BUS_MESSAGES_TOTAL = Counter(
                    "insa_message_bus_messages_total",
                    "Messages sent over the agent message bus",
                    ["from_agent", "to_agent", "message_type"], []);
                /// 10. Queue depth per agent.
                bus_queue_depth: MESSAGE_BUS_QUEUE_DEPTH = Gauge(
                    "insa_message_bus_queue_depth", "Messages waiting in an agent's queue",
                    ["agent_type"], []);
                /// 11. Time to process one message.
                bus_processing: MESSAGE_BUS_PROCESSING_DURATION_SECONDS = Histogram(
                    "insa_message_bus_processing_duration_seconds",
                    "Time to process one message in seconds",
                    ["agent_type"], MESSAGE_PROCESSING_BUCKETS);
                /// 12. Worker health: 1 healthy, 0 unhealthy.
                worker_health: WORKER_HEALTH_STATUS = Gauge(
                    "insa_worker_health_status", "Worker health (1 healthy, 0 unhealthy)",
                    ["worker_name", "worker_type"], []);
                /// 13. Requests in flight per worker.
                worker_active: WORKER_ACTIVE_REQUESTS = Gauge(
                    "insa_worker_active_requests", "Requests in flight", ["worker_name"], []);
                /// 14. Tasks waiting for a worker.
                worker_queue: WORKER_QUEUE_SIZE = Gauge(
                    "insa_worker_queue_size", "Tasks waiting for a worker", ["worker_name"], []);
                /// 15. Worker restarts.
                worker_restarts: WORKER_RESTARTS_TOTAL = Counter(
                    "insa_worker_restarts_total", "Worker restarts",
                    ["worker_name", "reason"], []);
                /// 16. Retry attempts, by attempt number.
                retry_attempts: RETRY_ATTEMPTS_TOTAL = Counter(
                    "insa_retry_attempts_total", "Retry attempts",
                    ["agent_type", "retry_number"], []);
                /// 17. Calls that succeeded after retrying.
                retry_success: RETRY_SUCCESS_TOTAL = Counter(
                    "insa_retry_success_total", "Calls that succeeded after retrying",
                    ["agent_type"], []);
                /// 18. Circuit breaker state: 0 closed, 1 open, 2 half open.
                breaker_state: CIRCUIT_BREAKER_STATE = Gauge(
                    "insa_circuit_breaker_state",
                    "Circuit breaker state (0 closed, 1 open, 2 half_open)",
                    ["agent_type"], []);
                /// 19. Circuit breaker transitions.
                breaker_transitions: CIRCUIT_BREAKER_TRANSITIONS_TOTAL = Counter(
                    "insa_circuit_breaker_transitions_total", "Circuit breaker state transitions",
                    ["agent_type", "from_state", "to_state"], []);
                /// 20. Dead letter queue size.
                dead_letter_size: DEAD_LETTER_QUEUE_SIZE = Gauge(
                    "insa_dead_letter_queue_size", "Messages in the dead letter queue",
                    ["agent_type"], []);
                /// 21. Dead letter replays.
                dead_letter_replays: DEAD_LETTER_REPLAY_TOTAL = Counter(
                    "insa_dead_letter_replay_total", "Dead letter replays", ["status"], []);
                /// 22. Database operations.
                db_operations: DATABASE_OPERATIONS_TOTAL = Counter(
                    "insa_database_operations_total", "Database operations",
                    ["operation", "table"], []);
                /// 23. Database operation duration.
                db_duration: DATABASE_OPERATION_DURATION_SECONDS = Histogram(
                    "insa_database_operation_duration_seconds",
                    "Database operation duration in seconds",
                    ["operation", "table"], DATABASE_DURATION_BUCKETS);
                /// 24. Connections in the pool.
                db_pool_size: DATABASE_CONNECTION_POOL_SIZE = Gauge(
                    "insa_database_connection_pool_size", "Connections in the pool",
                    ["database_name"], []);
                /// 25. Database errors.
                db_errors: DATABASE_ERRORS_TOTAL = Counter(
                    "insa_database_errors_total", "Database errors",
                    ["operation", "error_type"], []);
                /// 26. Sessions currently active (a gauge; the `_total` name is kept
                /// for compatibility).
                active_sessions: ACTIVE_SESSIONS_TOTAL = Gauge(
                    "insa_active_sessions_total", "Sessions currently active", [], []);
                /// 27. Session duration.
                session_duration: SESSION_DURATION_SECONDS = Histogram(
                    "insa_session_duration_seconds", "Session duration in seconds",
                    [], SESSION_DURATION_BUCKETS);
                /// 28. Messages exchanged in sessions.
                session_messages: SESSION_MESSAGES_TOTAL = Counter(
                    "insa_session_messages_total", "Messages exchanged in sessions",
                    ["session_type"], []);
                /// 29. Sessions cleaned up.
                session_cleanup: SESSION_CLEANUP_TOTAL = Counter(
                    "insa_session_cleanup_total", "Sessions cleaned up", ["reason"], []);
                /// 30. Build and environment information, a gauge fixed at 1.
                system_info: SYSTEM_INFO = Info(
                    "insa_system_info", "Build and environment information",
                    ["version", "environment", "platform"], []);
            }
            self_metrics {
                /// Self-metric: records folded into a family's overflow series.
                label_overflow: LABEL_OVERFLOW_TOTAL = Counter(
                    "insa_metrics_label_overflow_total",
                    "Records folded into the overflow series because the family reached its cardinality limit",
                    ["family"], []);
                /// Self-metric: label values replaced because they were empty,
                /// too long or not snake_case where the code declared them.
                invalid_label_values: INVALID_LABEL_VALUES_TOTAL = Counter(
                    "insa_metrics_invalid_label_values_total",
                    "Label values replaced because they were empty or too long, or declared in code and not snake_case",
                    ["family", "reason"], []);
                /// Self-metric: idle series dropped at a scrape.
                series_expired: SERIES_EXPIRED_TOTAL = Counter(
                    "insa_metrics_series_expired_total",
                    "Idle series dropped at a scrape after the idle timeout",
                    ["family"], []);
            }
        }
    };
}
pub(crate) use with_catalogue;

/// Declares the public [`FamilySpec`] constants and [`CATALOGUE`].
macro_rules! declare_specs {
    (
        catalogue { $($(#[$doc:meta])* $field:ident: $constant:ident = $kind:ident(
            $name:literal, $help:literal, [$($label:literal),*], $buckets:tt);)+ }
        self_metrics { $($(#[$sdoc:meta])* $sfield:ident: $sconstant:ident = $skind:ident(
            $sname:literal, $shelp:literal, [$($slabel:literal),*], $sbuckets:tt);)+ }
    ) => {
        $(
            $(#[$doc])*
            pub const $constant: FamilySpec = FamilySpec::new(
                $name, $help, FamilyKind::$kind, &[$($label),*], buckets!($buckets));
        )+
        $(
            $(#[$sdoc])*
            pub const $sconstant: FamilySpec = FamilySpec::new(
                $sname, $shelp, FamilyKind::$skind, &[$($slabel),*], buckets!($sbuckets));
        )+

        /// The families of the catalogue, in catalogue order.
        pub const CATALOGUE: &[&FamilySpec] = &[$(&$constant),+];

        /// The crate's own families about itself (label overflow, invalid
        /// values, expired series).
        pub const SELF_METRICS: &[&FamilySpec] = &[$(&$sconstant),+];
    };
}

/// The buckets of a table entry: `[]` for none, or a constant.
macro_rules! buckets {
    ([]) => {
        &[]
    };
    ($buckets:ident) => {
        $buckets
    };
}

with_catalogue!(declare_specs);

/// `<os>-<arch>` of this build, e.g. `linux-x86_64`: the `platform` label of
/// `insa_system_info`.
pub(crate) fn platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut names: Vec<_> = CATALOGUE
            .iter()
            .chain(SELF_METRICS)
            .map(|f| f.name())
            .collect();
        assert_eq!(CATALOGUE.len(), 30);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len() + SELF_METRICS.len());
        for family in CATALOGUE.iter().chain(SELF_METRICS) {
            assert!(family.name().starts_with("insa_"), "{}", family.name());
            assert!(family.labels().len() <= crate::store::MAX_LABELS);
            match family.kind() {
                FamilyKind::Counter => assert!(family.name().ends_with("_total")),
                FamilyKind::Histogram => {
                    assert!(!family.buckets().is_empty(), "{}", family.name());
                    assert!(family.unit().is_some(), "{}", family.name());
                }
                _ => assert!(family.buckets().is_empty()),
            }
            assert!(
                family.buckets().windows(2).all(|w| w[0] < w[1]),
                "{}",
                family.name()
            );
        }
    }

    #[test]
    fn payload_buckets_are_powers_of_four_from_64_bytes_to_16_mib() {
        let expected: Vec<f64> = (0..10).map(|k| 64.0 * 4f64.powi(k)).collect();
        assert_eq!(PAYLOAD_SIZE_BUCKETS, expected.as_slice());
        assert_eq!(PAYLOAD_SIZE_BUCKETS.last(), Some(&(16.0 * 1024.0 * 1024.0)));
    }

    #[test]
    fn units_come_from_the_name() {
        assert_eq!(AGENT_REQUEST_SIZE_BYTES.unit(), Some(Unit::Bytes));
        assert_eq!(ACTIVE_SESSIONS_TOTAL.unit(), None);
        assert_eq!(CACHE_SIZE_ENTRIES.unit(), None);
    }
}
