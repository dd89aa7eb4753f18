//! [`MetricsCollector`]: the 30 families on one registry, with a typed method
//! for each, and its builder.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::Error;
use crate::cardinality::{Admission, DEFAULT_CARDINALITY_LIMIT, Family};
use crate::catalogue::{self as cat, FamilySpec};
use crate::clock::Clock;
use crate::guards::{
    DatabaseGuard, DatabaseHandles, MessageGuard, MessageHandles, RequestGuard, RequestHandles,
};
use crate::labels::{CircuitState, LabelValue, ReplayStatus, RequestStatus};

/// The process-wide metrics of the platform: one method per metric family.
///
/// Get the global one with [`metrics()`](crate::metrics), or build one on a
/// registry of your own with [`MetricsCollector::builder`]:
///
/// ```
/// use insa_metrics::MetricsCollector;
///
/// let registry = prometheus::Registry::new();
/// let collector = MetricsCollector::builder()
///     .registry(registry.clone())
///     .cardinality_limit(100)
///     .build()?;
/// collector.record_cache_hit("orchestrator");
/// assert!(collector.encode_text().contains("insa_cache_hits_total{cache_type=\"orchestrator\"} 1"));
/// # Ok::<(), insa_metrics::Error>(())
/// ```
///
/// Label arguments take anything that implements [`LabelValue`]: `&str`,
/// `String`, or a typed label such as [`AgentType`](crate::AgentType). Values
/// are bounded: an empty value becomes `unknown`, one over 128 bytes is cut,
/// and once a family holds [`cardinality_limit`](CollectorBuilder::cardinality_limit)
/// series, new label sets share one series labelled `__overflow__` and are
/// counted in `insa_metrics_label_overflow_total{family}`.
pub struct MetricsCollector {
    registry: Registry,
    requests: Family<IntCounterVec>,
    request_duration: Family<HistogramVec>,
    request_size: Family<HistogramVec>,
    response_size: Family<HistogramVec>,
    cache_hits: Family<IntCounterVec>,
    cache_misses: Family<IntCounterVec>,
    cache_size: Family<IntGaugeVec>,
    cache_evictions: Family<IntCounterVec>,
    bus_messages: Family<IntCounterVec>,
    bus_queue_depth: Family<IntGaugeVec>,
    bus_processing: Family<HistogramVec>,
    worker_health: Family<IntGaugeVec>,
    worker_active: Family<IntGaugeVec>,
    worker_queue: Family<IntGaugeVec>,
    worker_restarts: Family<IntCounterVec>,
    retry_attempts: Family<IntCounterVec>,
    retry_success: Family<IntCounterVec>,
    breaker_state: Family<IntGaugeVec>,
    breaker_transitions: Family<IntCounterVec>,
    dead_letter_size: Family<IntGaugeVec>,
    dead_letter_replays: Family<IntCounterVec>,
    db_operations: Family<IntCounterVec>,
    db_duration: Family<HistogramVec>,
    db_pool_size: Family<IntGaugeVec>,
    db_errors: Family<IntCounterVec>,
    active_sessions: IntGauge,
    session_duration: Histogram,
    session_messages: Family<IntCounterVec>,
    session_cleanup: Family<IntCounterVec>,
    system_info: Family<IntGaugeVec>,
    system_info_lock: Mutex<()>,
    /// `insa_metrics_invalid_label_values_total`, for values the families
    /// cannot judge (see [`count_invalid_label_value`](Self::count_invalid_label_value)).
    invalid_label_values: IntCounterVec,
    cardinality_limit: usize,
    clock: Clock,
}

impl fmt::Debug for MetricsCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsCollector")
            .field("cardinality_limit", &self.cardinality_limit)
            .finish_non_exhaustive()
    }
}

/// Builds a [`MetricsCollector`].
#[derive(Debug, Clone)]
#[must_use]
pub struct CollectorBuilder {
    registry: Option<Registry>,
    cardinality_limit: usize,
    process_metrics: Option<bool>,
}

impl Default for CollectorBuilder {
    fn default() -> Self {
        CollectorBuilder {
            registry: None,
            cardinality_limit: DEFAULT_CARDINALITY_LIMIT,
            process_metrics: None,
        }
    }
}

impl CollectorBuilder {
    /// Registers the families on this registry instead of a new one.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The most series one labelled family holds before new label sets fold
    /// into its overflow series (default 1000; at least 1).
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.cardinality_limit = limit.max(1);
        self
    }

    /// Whether to register the `process_*` metrics (Linux). By default they
    /// are registered on a new registry, and not on one given with
    /// [`registry`](Self::registry), which may already have them.
    pub fn process_metrics(mut self, enabled: bool) -> Self {
        self.process_metrics = Some(enabled);
        self
    }

    /// Builds the collector and registers every family.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyRegistered`], naming the family, when the registry
    /// already holds a family of the same name; nothing stays registered then.
    pub fn build(self) -> Result<MetricsCollector, Error> {
        let registry_given = self.registry.is_some();
        let registry = self.registry.unwrap_or_default();
        let limit = self.cardinality_limit;
        let overflow_total = IntCounterVec::new(
            Opts::new(
                cat::LABEL_OVERFLOW_TOTAL.name,
                cat::LABEL_OVERFLOW_TOTAL.help,
            ),
            cat::LABEL_OVERFLOW_TOTAL.labels,
        )?;
        let invalid_total = IntCounterVec::new(
            Opts::new(
                cat::INVALID_LABEL_VALUES_TOTAL.name,
                cat::INVALID_LABEL_VALUES_TOTAL.help,
            ),
            cat::INVALID_LABEL_VALUES_TOTAL.labels,
        )?;
        let mut collectors: Vec<Pending> = vec![
            Pending::of(cat::LABEL_OVERFLOW_TOTAL.name, &overflow_total),
            Pending::of(cat::INVALID_LABEL_VALUES_TOTAL.name, &invalid_total),
        ];
        let mut family = FamilyFactory {
            limit,
            overflow_total: &overflow_total,
            invalid_total: &invalid_total,
            collectors: &mut collectors,
        };
        let active_sessions = IntGauge::new(
            cat::ACTIVE_SESSIONS_TOTAL.name,
            cat::ACTIVE_SESSIONS_TOTAL.help,
        )?;
        let session_duration = Histogram::with_opts(
            HistogramOpts::new(
                cat::SESSION_DURATION_SECONDS.name,
                cat::SESSION_DURATION_SECONDS.help,
            )
            .buckets(cat::SESSION_DURATION_SECONDS.buckets.to_vec()),
        )?;
        let collector = MetricsCollector {
            requests: family.make(&cat::AGENT_REQUESTS_TOTAL),
            request_duration: family.make(&cat::AGENT_REQUEST_DURATION_SECONDS),
            request_size: family.make(&cat::AGENT_REQUEST_SIZE_BYTES),
            response_size: family.make(&cat::AGENT_RESPONSE_SIZE_BYTES),
            cache_hits: family.make(&cat::CACHE_HITS_TOTAL),
            cache_misses: family.make(&cat::CACHE_MISSES_TOTAL),
            cache_size: family.make(&cat::CACHE_SIZE_ENTRIES),
            cache_evictions: family.make(&cat::CACHE_EVICTIONS_TOTAL),
            bus_messages: family.make(&cat::MESSAGE_BUS_MESSAGES_TOTAL),
            bus_queue_depth: family.make(&cat::MESSAGE_BUS_QUEUE_DEPTH),
            bus_processing: family.make(&cat::MESSAGE_BUS_PROCESSING_DURATION_SECONDS),
            worker_health: family.make(&cat::WORKER_HEALTH_STATUS),
            worker_active: family.make(&cat::WORKER_ACTIVE_REQUESTS),
            worker_queue: family.make(&cat::WORKER_QUEUE_SIZE),
            worker_restarts: family.make(&cat::WORKER_RESTARTS_TOTAL),
            retry_attempts: family.make(&cat::RETRY_ATTEMPTS_TOTAL),
            retry_success: family.make(&cat::RETRY_SUCCESS_TOTAL),
            breaker_state: family.make(&cat::CIRCUIT_BREAKER_STATE),
            breaker_transitions: family.make(&cat::CIRCUIT_BREAKER_TRANSITIONS_TOTAL),
            dead_letter_size: family.make(&cat::DEAD_LETTER_QUEUE_SIZE),
            dead_letter_replays: family.make(&cat::DEAD_LETTER_REPLAY_TOTAL),
            db_operations: family.make(&cat::DATABASE_OPERATIONS_TOTAL),
            db_duration: family.make(&cat::DATABASE_OPERATION_DURATION_SECONDS),
            db_pool_size: family.make(&cat::DATABASE_CONNECTION_POOL_SIZE),
            db_errors: family.make(&cat::DATABASE_ERRORS_TOTAL),
            session_messages: family.make(&cat::SESSION_MESSAGES_TOTAL),
            session_cleanup: family.make(&cat::SESSION_CLEANUP_TOTAL),
            system_info: family.make(&cat::SYSTEM_INFO),
            active_sessions,
            session_duration,
            system_info_lock: Mutex::new(()),
            invalid_label_values: invalid_total.clone(),
            cardinality_limit: limit,
            clock: Clock::new(),
            registry: registry.clone(),
        };
        collectors.push(Pending::of(
            cat::ACTIVE_SESSIONS_TOTAL.name,
            &collector.active_sessions,
        ));
        collectors.push(Pending::of(
            cat::SESSION_DURATION_SECONDS.name,
            &collector.session_duration,
        ));
        if self.process_metrics.unwrap_or(!registry_given) {
            collectors.extend(process_metrics());
        }
        register_all(&registry, collectors)?;
        Ok(collector)
    }
}

/// Builds the families of one collector and gathers them for registration.
struct FamilyFactory<'a> {
    limit: usize,
    overflow_total: &'a IntCounterVec,
    invalid_total: &'a IntCounterVec,
    collectors: &'a mut Vec<Pending>,
}

impl FamilyFactory<'_> {
    fn make<V: crate::cardinality::MetricVec>(&mut self, spec: &'static FamilySpec) -> Family<V> {
        let family = Family::new(spec, self.limit, self.overflow_total, self.invalid_total);
        self.collectors.push(Pending {
            name: spec.name,
            collector: family.collector(),
            for_rollback: family.collector(),
        });
        family
    }
}

/// A collector to register, with a second handle to unregister it by.
struct Pending {
    name: &'static str,
    collector: Box<dyn Collector>,
    for_rollback: Box<dyn Collector>,
}

impl Pending {
    fn of<C: Collector + Clone + 'static>(name: &'static str, collector: &C) -> Self {
        Pending {
            name,
            collector: Box::new(collector.clone()),
            for_rollback: Box::new(collector.clone()),
        }
    }
}

/// Registers every collector, or none: on a clash the ones already
/// registered are unregistered and the error names the family.
fn register_all(registry: &Registry, pending: Vec<Pending>) -> Result<(), Error> {
    let mut done = Vec::with_capacity(pending.len());
    for Pending {
        name,
        collector,
        for_rollback,
    } in pending
    {
        // Every registration error is a clash on the name: the same
        // collector, or another one with other labels or help.
        if registry.register(collector).is_err() {
            for registered in done {
                let _ = registry.unregister(registered);
            }
            return Err(Error::AlreadyRegistered { family: name });
        }
        done.push(for_rollback);
    }
    Ok(())
}

#[cfg(all(feature = "process", target_os = "linux"))]
fn process_metrics() -> Option<Pending> {
    use prometheus::process_collector::ProcessCollector;
    Some(Pending {
        name: "process_*",
        collector: Box::new(ProcessCollector::for_self()),
        for_rollback: Box::new(ProcessCollector::for_self()),
    })
}

#[cfg(not(all(feature = "process", target_os = "linux")))]
fn process_metrics() -> Option<Pending> {
    None
}

/// `retry_number` label values without allocating for the usual small ones.
fn retry_number_label(n: u32, buf: &mut [u8; 10]) -> &str {
    const SMALL: [&str; 11] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
    if let Some(s) = SMALL.get(n as usize) {
        return s;
    }
    let mut i = buf.len();
    let mut n = n;
    while n > 0 {
        i -= 1;
        buf[i] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("overflow")
}

impl MetricsCollector {
    /// A builder for a collector on its own or a given registry.
    pub fn builder() -> CollectorBuilder {
        CollectorBuilder::default()
    }

    /// The registry the families are registered on.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The cardinality limit of each labelled family.
    #[must_use]
    pub fn cardinality_limit(&self) -> usize {
        self.cardinality_limit
    }

    /// Counts one bad label value of `family` in
    /// `insa_metrics_invalid_label_values_total{family,reason}`: the families
    /// count `empty` and `too_long` themselves; the macros' call sites count
    /// a typed label that is not snake_case (`not_snake_case`).
    pub(crate) fn count_invalid_label_value(&self, family: &str, reason: &str) {
        self.invalid_label_values
            .with_label_values(&[family, reason])
            .inc();
    }

    /// The registry in the Prometheus text exposition format 0.0.4.
    #[must_use]
    pub fn encode_text(&self) -> String {
        crate::encoding::encode_text(&self.registry)
    }

    // --- 1-4 and 13: agent requests -------------------------------------

    /// Counts a request: `insa_agent_requests_total{agent_type,status}`.
    pub fn record_request(&self, agent_type: impl LabelValue, status: RequestStatus) {
        self.requests
            .get(&[agent_type.as_label(), status.as_str()])
            .inc();
    }

    /// Observes `insa_agent_request_duration_seconds{agent_type}`.
    pub fn observe_request_duration(&self, agent_type: impl LabelValue, duration: Duration) {
        self.request_duration
            .get(&[agent_type.as_label()])
            .observe(duration.as_secs_f64());
    }

    /// Observes `insa_agent_request_size_bytes{agent_type}`.
    pub fn observe_request_size(&self, agent_type: impl LabelValue, bytes: u64) {
        #[allow(clippy::cast_precision_loss)] // sizes far below 2^52 bytes
        self.request_size
            .get(&[agent_type.as_label()])
            .observe(bytes as f64);
    }

    /// Observes `insa_agent_response_size_bytes{agent_type}`.
    pub fn observe_response_size(&self, agent_type: impl LabelValue, bytes: u64) {
        #[allow(clippy::cast_precision_loss)] // sizes far below 2^52 bytes
        self.response_size
            .get(&[agent_type.as_label()])
            .observe(bytes as f64);
    }

    /// The series a request of this agent records into, resolved once: keep
    /// it to record many requests without any lookup. Creates the series of
    /// every status with value 0, so `rate()` works before the first error.
    pub fn request_handles(&self, agent_type: impl LabelValue) -> RequestHandles {
        self.request_handles_with(agent_type.as_label(), Admission::Capped)
    }

    pub(crate) fn request_handles_with(&self, agent: &str, admission: Admission) -> RequestHandles {
        let by_status = [
            RequestStatus::Success,
            RequestStatus::Error,
            RequestStatus::Timeout,
            RequestStatus::Cancelled,
            RequestStatus::Rejected,
        ]
        .map(|s| self.requests.get_with(&[agent, s.as_str()], admission));
        RequestHandles::new(
            by_status,
            self.request_duration.get_with(&[agent], admission),
            self.worker_active.get_with(&[agent], admission),
            self.clock.clone(),
        )
    }

    /// Starts timing a request of `agent_type` (the scoped form of
    /// `#[track_request_metrics]`); it is recorded when the guard drops.
    pub fn start_request(&self, agent_type: impl LabelValue) -> RequestGuard<'static> {
        RequestGuard::new(Cow::Owned(self.request_handles(agent_type)))
    }

    // --- 5-8: cache --------------------------------------------------------

    /// Counts `insa_cache_hits_total{cache_type}`.
    pub fn record_cache_hit(&self, cache_type: impl LabelValue) {
        self.cache_hits.get(&[cache_type.as_label()]).inc();
    }

    /// Counts `insa_cache_misses_total{cache_type}`.
    pub fn record_cache_miss(&self, cache_type: impl LabelValue) {
        self.cache_misses.get(&[cache_type.as_label()]).inc();
    }

    /// Sets `insa_cache_size_entries{cache_type}`.
    pub fn update_cache_size(&self, cache_type: impl LabelValue, entries: i64) {
        self.cache_size.get(&[cache_type.as_label()]).set(entries);
    }

    /// Counts `insa_cache_evictions_total{cache_type,reason}`.
    pub fn record_cache_eviction(&self, cache_type: impl LabelValue, reason: impl LabelValue) {
        self.cache_evictions
            .get(&[cache_type.as_label(), reason.as_label()])
            .inc();
    }

    // --- 9-11: message bus -------------------------------------------------

    /// Counts `insa_message_bus_messages_total{from_agent,to_agent,message_type}`.
    pub fn record_message_sent(
        &self,
        from_agent: impl LabelValue,
        to_agent: impl LabelValue,
        message_type: impl LabelValue,
    ) {
        self.bus_messages
            .get(&[
                from_agent.as_label(),
                to_agent.as_label(),
                message_type.as_label(),
            ])
            .inc();
    }

    /// Sets `insa_message_bus_queue_depth{agent_type}`.
    pub fn update_queue_depth(&self, agent_type: impl LabelValue, depth: i64) {
        self.bus_queue_depth
            .get(&[agent_type.as_label()])
            .set(depth);
    }

    /// Observes `insa_message_bus_processing_duration_seconds{agent_type}`.
    pub fn observe_message_processing(&self, agent_type: impl LabelValue, duration: Duration) {
        self.bus_processing
            .get(&[agent_type.as_label()])
            .observe(duration.as_secs_f64());
    }

    /// The series message processing of this agent records into.
    pub fn message_handles(&self, agent_type: impl LabelValue) -> MessageHandles {
        self.message_handles_with(agent_type.as_label(), Admission::Capped)
    }

    pub(crate) fn message_handles_with(&self, agent: &str, admission: Admission) -> MessageHandles {
        MessageHandles::new(
            self.bus_processing.get_with(&[agent], admission),
            self.clock.clone(),
        )
    }

    /// Starts timing the processing of one message (the scoped form of
    /// `#[track_message_processing]`).
    pub fn start_message(&self, agent_type: impl LabelValue) -> MessageGuard<'static> {
        MessageGuard::owned(self.message_handles(agent_type))
    }

    // --- 12-15: workers ----------------------------------------------------

    /// Sets `insa_worker_health_status{worker_name,worker_type}` to 1 or 0.
    pub fn update_worker_health(
        &self,
        worker_name: impl LabelValue,
        worker_type: impl LabelValue,
        healthy: bool,
    ) {
        self.worker_health
            .get(&[worker_name.as_label(), worker_type.as_label()])
            .set(i64::from(healthy));
    }

    /// Sets `insa_worker_active_requests{worker_name}`.
    ///
    /// The request macro and [`start_request`](Self::start_request) keep this
    /// gauge exact themselves, raising and lowering it around each call: set
    /// it only for workers that are not instrumented that way, or the value
    /// set here is offset by the calls still in flight.
    pub fn update_active_requests(&self, worker_name: impl LabelValue, active: i64) {
        self.worker_active
            .get(&[worker_name.as_label()])
            .set(active);
    }

    /// Sets `insa_worker_queue_size{worker_name}`.
    pub fn update_worker_queue(&self, worker_name: impl LabelValue, queued: i64) {
        self.worker_queue.get(&[worker_name.as_label()]).set(queued);
    }

    /// Counts `insa_worker_restarts_total{worker_name,reason}`.
    pub fn record_worker_restart(&self, worker_name: impl LabelValue, reason: impl LabelValue) {
        self.worker_restarts
            .get(&[worker_name.as_label(), reason.as_label()])
            .inc();
    }

    // --- 16-21: resilience -------------------------------------------------

    /// Counts `insa_retry_attempts_total{agent_type,retry_number}`; the first
    /// retry is number 1.
    pub fn record_retry_attempt(&self, agent_type: impl LabelValue, retry_number: u32) {
        let mut buf = [0; 10];
        let number = retry_number_label(retry_number, &mut buf);
        self.retry_attempts
            .get(&[agent_type.as_label(), number])
            .inc();
    }

    /// Counts `insa_retry_success_total{agent_type}`: a call that succeeded
    /// after at least one retry.
    pub fn record_retry_success(&self, agent_type: impl LabelValue) {
        self.retry_success.get(&[agent_type.as_label()]).inc();
    }

    /// Sets `insa_circuit_breaker_state{agent_type}` (0 closed, 1 open, 2 half open).
    pub fn update_circuit_breaker_state(&self, agent_type: impl LabelValue, state: CircuitState) {
        self.breaker_state
            .get(&[agent_type.as_label()])
            .set(state.gauge_value());
    }

    /// Counts a transition in `insa_circuit_breaker_transitions_total` and sets
    /// the state gauge to `to`.
    pub fn record_circuit_breaker_transition(
        &self,
        agent_type: impl LabelValue,
        from: CircuitState,
        to: CircuitState,
    ) {
        let agent = agent_type.as_label();
        self.breaker_transitions
            .get(&[agent, from.as_str(), to.as_str()])
            .inc();
        self.update_circuit_breaker_state(agent, to);
    }

    /// Sets `insa_dead_letter_queue_size{agent_type}`.
    pub fn update_dead_letter_queue_size(&self, agent_type: impl LabelValue, size: i64) {
        self.dead_letter_size
            .get(&[agent_type.as_label()])
            .set(size);
    }

    /// Counts `insa_dead_letter_replay_total{status}`.
    pub fn record_dead_letter_replay(&self, status: ReplayStatus) {
        self.dead_letter_replays.get(&[status.as_str()]).inc();
    }

    // --- 22-25: database ---------------------------------------------------

    /// Counts `insa_database_operations_total{operation,table}`.
    pub fn record_database_operation(&self, operation: impl LabelValue, table: impl LabelValue) {
        self.db_operations
            .get(&[operation.as_label(), table.as_label()])
            .inc();
    }

    /// Observes `insa_database_operation_duration_seconds{operation,table}`.
    pub fn observe_database_duration(
        &self,
        operation: impl LabelValue,
        table: impl LabelValue,
        duration: Duration,
    ) {
        self.db_duration
            .get(&[operation.as_label(), table.as_label()])
            .observe(duration.as_secs_f64());
    }

    /// Sets `insa_database_connection_pool_size{database_name}`.
    pub fn update_connection_pool_size(&self, database_name: impl LabelValue, connections: i64) {
        self.db_pool_size
            .get(&[database_name.as_label()])
            .set(connections);
    }

    /// Counts `insa_database_errors_total{operation,error_type}`.
    pub fn record_database_error(&self, operation: impl LabelValue, error_type: impl LabelValue) {
        self.db_errors
            .get(&[operation.as_label(), error_type.as_label()])
            .inc();
    }

    /// The series a database operation records into, resolved once.
    pub fn database_handles(
        &self,
        operation: impl LabelValue,
        table: impl LabelValue,
    ) -> DatabaseHandles<'_> {
        self.database_handles_with(operation.as_label(), table.as_label(), Admission::Capped)
    }

    pub(crate) fn database_handles_with(
        &self,
        operation: &str,
        table: &str,
        admission: Admission,
    ) -> DatabaseHandles<'_> {
        DatabaseHandles::new(
            self.db_operations.get_with(&[operation, table], admission),
            self.db_duration.get_with(&[operation, table], admission),
            &self.db_errors,
            operation,
            self.clock.clone(),
        )
    }

    /// Starts timing a database operation (the scoped form of
    /// `#[track_database_operation]`).
    pub fn start_database_operation(
        &self,
        operation: impl LabelValue,
        table: impl LabelValue,
    ) -> DatabaseGuard<'_, '_> {
        DatabaseGuard::owned(self.database_handles(operation, table))
    }

    // --- 26-29: sessions ---------------------------------------------------

    /// Sets `insa_active_sessions_total`.
    pub fn update_active_sessions(&self, active: i64) {
        self.active_sessions.set(active);
    }

    /// A session started: `insa_active_sessions_total` goes up by one.
    pub fn session_started(&self) {
        self.active_sessions.inc();
    }

    /// A session ended after `duration`: the active gauge goes down by one and
    /// the duration is observed.
    pub fn session_ended(&self, duration: Duration) {
        self.active_sessions.dec();
        self.observe_session_duration(duration);
    }

    /// Observes `insa_session_duration_seconds`.
    pub fn observe_session_duration(&self, duration: Duration) {
        self.session_duration.observe(duration.as_secs_f64());
    }

    /// Counts `insa_session_messages_total{session_type}`.
    pub fn record_session_message(&self, session_type: impl LabelValue) {
        self.session_messages.get(&[session_type.as_label()]).inc();
    }

    /// Counts `insa_session_cleanup_total{reason}`.
    pub fn record_session_cleanup(&self, reason: impl LabelValue) {
        self.session_cleanup.get(&[reason.as_label()]).inc();
    }

    // --- 30: system info ---------------------------------------------------

    /// Sets `insa_system_info{version,environment,platform} 1`, replacing the
    /// series set before: the family holds exactly one series (the new one is
    /// set before the old one goes, so no scrape finds none).
    /// `platform` is the OS and architecture, e.g. `linux-x86_64`.
    pub fn set_system_info(&self, version: impl LabelValue, environment: impl LabelValue) {
        let platform = platform();
        let _serialised = self
            .system_info_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.system_info.keep_only(
            &[version.as_label(), environment.as_label(), &platform],
            |info| info.set(1),
        );
    }

    /// Series in the labelled family named `name` (the overflow series
    /// aside), or `None` for an unknown or unlabelled family.
    #[must_use]
    pub fn series_count(&self, name: &str) -> Option<usize> {
        self.families()
            .find(|(spec, _)| spec.name == name)
            .map(|(_, len)| len)
    }

    fn families(&self) -> impl Iterator<Item = (&'static FamilySpec, usize)> + '_ {
        macro_rules! each {
            ($($field:ident),+) => {
                [$((self.$field.spec(), self.$field.len())),+].into_iter()
            };
        }
        each!(
            requests,
            request_duration,
            request_size,
            response_size,
            cache_hits,
            cache_misses,
            cache_size,
            cache_evictions,
            bus_messages,
            bus_queue_depth,
            bus_processing,
            worker_health,
            worker_active,
            worker_queue,
            worker_restarts,
            retry_attempts,
            retry_success,
            breaker_state,
            breaker_transitions,
            dead_letter_size,
            dead_letter_replays,
            db_operations,
            db_duration,
            db_pool_size,
            db_errors,
            session_messages,
            session_cleanup,
            system_info
        )
    }
}

/// `<os>-<arch>` of this build, e.g. `linux-x86_64`.
#[must_use]
pub fn platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_numbers() {
        let mut buf = [0; 10];
        assert_eq!(retry_number_label(3, &mut buf), "3");
        assert_eq!(retry_number_label(1234, &mut buf), "1234");
        assert_eq!(retry_number_label(u32::MAX, &mut buf), "4294967295");
    }
}
