//! The typed recording methods of [`MetricsCollector`]: one or more per family of the catalogue, by label values.

use std::time::Duration;

use super::MetricsCollector;
use crate::catalogue;
use crate::labels::{CircuitState, LabelValue, ReplayStatus, RequestStatus};

/// A duration in nanoseconds, the unit duration histograms record in
/// (saturating after 584 years).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// `retry_number` label values without allocating for the usual small ones.
fn retry_number_label(n: u32, buf: &mut itoa::Buffer) -> &str {
    const SMALL: [&str; 11] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
    match SMALL.get(n as usize) {
        Some(small) => small,
        None => buf.format(n),
    }
}

impl MetricsCollector {
    // --- 1-4: agent requests ---------------------------------------------

    /// Counts a request: `insa_agent_requests_total{agent_type,status}`.
    pub fn record_request(&self, agent_type: impl LabelValue, status: RequestStatus) {
        self.store
            .families
            .requests
            .inc(&[agent_type.as_label(), status.as_str()]);
    }

    /// Observes `insa_agent_request_duration_seconds{agent_type}`.
    pub fn observe_request_duration(&self, agent_type: impl LabelValue, duration: Duration) {
        self.store
            .families
            .request_duration
            .observe(&[agent_type.as_label()], nanos(duration));
    }

    /// Observes `insa_agent_request_size_bytes{agent_type}`.
    pub fn observe_request_size(&self, agent_type: impl LabelValue, bytes: u64) {
        self.store
            .families
            .request_size
            .observe(&[agent_type.as_label()], bytes);
    }

    /// Observes `insa_agent_response_size_bytes{agent_type}`.
    pub fn observe_response_size(&self, agent_type: impl LabelValue, bytes: u64) {
        self.store
            .families
            .response_size
            .observe(&[agent_type.as_label()], bytes);
    }

    // --- 5-8: cache --------------------------------------------------------

    /// Counts `insa_cache_hits_total{cache_type}`.
    pub fn record_cache_hit(&self, cache_type: impl LabelValue) {
        self.store.families.cache_hits.inc(&[cache_type.as_label()]);
    }

    /// Counts `insa_cache_misses_total{cache_type}`.
    pub fn record_cache_miss(&self, cache_type: impl LabelValue) {
        self.store
            .families
            .cache_misses
            .inc(&[cache_type.as_label()]);
    }

    /// Sets `insa_cache_size_entries{cache_type}`.
    pub fn update_cache_size(&self, cache_type: impl LabelValue, entries: i64) {
        self.store
            .families
            .cache_size
            .set(&[cache_type.as_label()], entries);
    }

    /// Counts `insa_cache_evictions_total{cache_type,reason}`.
    pub fn record_cache_eviction(&self, cache_type: impl LabelValue, reason: impl LabelValue) {
        self.store
            .families
            .cache_evictions
            .inc(&[cache_type.as_label(), reason.as_label()]);
    }

    // --- 9-11: message bus -------------------------------------------------

    /// Counts `insa_message_bus_messages_total{from_agent,to_agent,message_type}`.
    pub fn record_message_sent(
        &self,
        from_agent: impl LabelValue,
        to_agent: impl LabelValue,
        message_type: impl LabelValue,
    ) {
        self.store.families.bus_messages.inc(&[
            from_agent.as_label(),
            to_agent.as_label(),
            message_type.as_label(),
        ]);
    }

    /// Sets `insa_message_bus_queue_depth{agent_type}`.
    pub fn update_queue_depth(&self, agent_type: impl LabelValue, depth: i64) {
        self.store
            .families
            .bus_queue_depth
            .set(&[agent_type.as_label()], depth);
    }

    /// Observes `insa_message_bus_processing_duration_seconds{agent_type}`.
    pub fn observe_message_processing(&self, agent_type: impl LabelValue, duration: Duration) {
        self.store
            .families
            .bus_processing
            .observe(&[agent_type.as_label()], nanos(duration));
    }

    // --- 12-15: workers ----------------------------------------------------

    /// Sets `insa_worker_health_status{worker_name,worker_type}` to 1 or 0.
    pub fn update_worker_health(
        &self,
        worker_name: impl LabelValue,
        worker_type: impl LabelValue,
        healthy: bool,
    ) {
        self.store.families.worker_health.set(
            &[worker_name.as_label(), worker_type.as_label()],
            i64::from(healthy),
        );
    }

    /// Sets `insa_worker_active_requests{worker_name}`.
    ///
    /// The request macro and [`start_request`](Self::start_request) keep this
    /// gauge exact themselves, raising and lowering it around each call: set
    /// it only for workers that are not instrumented that way, or the value
    /// set here is offset by the calls still in flight.
    pub fn update_active_requests(&self, worker_name: impl LabelValue, active: i64) {
        self.store
            .families
            .worker_active
            .set(&[worker_name.as_label()], active);
    }

    /// Sets `insa_worker_queue_size{worker_name}`.
    pub fn update_worker_queue(&self, worker_name: impl LabelValue, queued: i64) {
        self.store
            .families
            .worker_queue
            .set(&[worker_name.as_label()], queued);
    }

    /// Counts `insa_worker_restarts_total{worker_name,reason}`.
    pub fn record_worker_restart(&self, worker_name: impl LabelValue, reason: impl LabelValue) {
        self.store
            .families
            .worker_restarts
            .inc(&[worker_name.as_label(), reason.as_label()]);
    }

    // --- 16-21: resilience -------------------------------------------------

    /// Counts `insa_retry_attempts_total{agent_type,retry_number}`; the first
    /// retry is number 1.
    pub fn record_retry_attempt(&self, agent_type: impl LabelValue, retry_number: u32) {
        let mut buf = itoa::Buffer::new();
        let number = retry_number_label(retry_number, &mut buf);
        self.store
            .families
            .retry_attempts
            .inc(&[agent_type.as_label(), number]);
    }

    /// Counts `insa_retry_success_total{agent_type}`: a call that succeeded
    /// after at least one retry.
    pub fn record_retry_success(&self, agent_type: impl LabelValue) {
        self.store
            .families
            .retry_success
            .inc(&[agent_type.as_label()]);
    }

    /// Sets `insa_circuit_breaker_state{agent_type}` (0 closed, 1 open, 2 half open).
    pub fn update_circuit_breaker_state(&self, agent_type: impl LabelValue, state: CircuitState) {
        self.store
            .families
            .breaker_state
            .set(&[agent_type.as_label()], state.gauge_value());
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
        self.store
            .families
            .breaker_transitions
            .inc(&[agent, from.as_str(), to.as_str()]);
        self.update_circuit_breaker_state(agent, to);
    }

    /// Sets `insa_dead_letter_queue_size{agent_type}`.
    pub fn update_dead_letter_queue_size(&self, agent_type: impl LabelValue, size: i64) {
        self.store
            .families
            .dead_letter_size
            .set(&[agent_type.as_label()], size);
    }

    /// Counts `insa_dead_letter_replay_total{status}`.
    pub fn record_dead_letter_replay(&self, status: ReplayStatus) {
        // `ALL` lists the variants in declaration order.
        self.dead_letter_replays[status as usize].add(0, 1);
    }

    // --- 22-25: database ---------------------------------------------------

    /// Counts `insa_database_operations_total{operation,table}`.
    pub fn record_database_operation(&self, operation: impl LabelValue, table: impl LabelValue) {
        self.store
            .families
            .db_operations
            .inc(&[operation.as_label(), table.as_label()]);
    }

    /// Observes `insa_database_operation_duration_seconds{operation,table}`.
    pub fn observe_database_duration(
        &self,
        operation: impl LabelValue,
        table: impl LabelValue,
        duration: Duration,
    ) {
        self.store
            .families
            .db_duration
            .observe(&[operation.as_label(), table.as_label()], nanos(duration));
    }

    /// Sets `insa_database_connection_pool_size{database_name}`.
    pub fn update_connection_pool_size(&self, database_name: impl LabelValue, connections: i64) {
        self.store
            .families
            .db_pool_size
            .set(&[database_name.as_label()], connections);
    }

    /// Counts `insa_database_errors_total{operation,error_type}`.
    pub fn record_database_error(&self, operation: impl LabelValue, error_type: impl LabelValue) {
        self.store
            .families
            .db_errors
            .inc(&[operation.as_label(), error_type.as_label()]);
    }

    // --- 26-29: sessions ---------------------------------------------------

    /// Sets `insa_active_sessions_total`.
    pub fn update_active_sessions(&self, active: i64) {
        self.active_sessions.series().set(active);
    }

    /// A session started: `insa_active_sessions_total` goes up by one.
    pub fn session_started(&self) {
        self.active_sessions.add(0, 1);
    }

    /// A session ended after `duration`: the active gauge goes down by one and
    /// the duration is observed.
    pub fn session_ended(&self, duration: Duration) {
        self.active_sessions.add(0, u64::MAX);
        self.observe_session_duration(duration);
    }

    /// Observes `insa_session_duration_seconds`.
    pub fn observe_session_duration(&self, duration: Duration) {
        self.session_duration.observe(nanos(duration));
    }

    /// Counts `insa_session_messages_total{session_type}`.
    pub fn record_session_message(&self, session_type: impl LabelValue) {
        self.store
            .families
            .session_messages
            .inc(&[session_type.as_label()]);
    }

    /// Counts `insa_session_cleanup_total{reason}`.
    pub fn record_session_cleanup(&self, reason: impl LabelValue) {
        self.store
            .families
            .session_cleanup
            .inc(&[reason.as_label()]);
    }

    // --- 30: system info ---------------------------------------------------

    /// Sets `insa_system_info{version,environment,platform} 1`, replacing the
    /// series set before: the family holds exactly one series (the new one is
    /// set before the old one goes, so no scrape finds none).
    /// `platform` is the OS and architecture, e.g. `linux-x86_64`.
    pub fn set_system_info(&self, version: impl LabelValue, environment: impl LabelValue) {
        let platform = catalogue::platform();
        let _serialised = self
            .system_info_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.store.families.system_info.replace(&[
            version.as_label(),
            environment.as_label(),
            &platform,
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_numbers() {
        let mut buf = itoa::Buffer::new();
        assert_eq!(retry_number_label(3, &mut buf), "3");
        assert_eq!(retry_number_label(1234, &mut buf), "1234");
        assert_eq!(retry_number_label(u32::MAX, &mut buf), "4294967295");
    }

    #[test]
    fn both_replay_statuses_exist_at_zero_from_the_start() {
        for (i, status) in ReplayStatus::ALL.iter().enumerate() {
            assert_eq!(*status as usize, i, "{status}");
        }
        let collector = crate::MetricsCollector::builder()
            .process_metrics(false)
            .build()
            .unwrap();
        let text = collector.encode_text();
        for status in ["success", "failure"] {
            let line = format!("insa_dead_letter_replay_total{{status=\"{status}\"}} 0");
            assert!(text.contains(&line), "{line} missing from:\n{text}");
        }
        collector.record_dead_letter_replay(ReplayStatus::Failure);
        assert!(
            collector
                .encode_text()
                .contains("insa_dead_letter_replay_total{status=\"failure\"} 1")
        );
    }
}
