//! [`MetricsCollector`]: the families of the catalogue in one store, registered on a `prometheus` registry, with a typed method for each.

mod builder;
mod record;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use prometheus::Registry;

pub use builder::CollectorBuilder;
use builder::{Registered, unregister_all};

use crate::Error;
use crate::exposition::{self, Format};
use crate::guards::{DatabaseGuard, MessageGuard, RequestGuard};
use crate::handles::{DatabaseHandles, MessageHandles, RequestHandles};
use crate::labels::{LabelValue, ReplayStatus};
use crate::store::{Admission, HistogramHandle, SeriesHandle, Store, gather_others};

/// The process-wide metrics of the platform: one method per metric family.
///
/// Get the global one with [`metrics()`](crate::metrics), or build one on a
/// registry of your own with [`MetricsCollector::builder`].
///
/// # Examples
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
/// `String`, or a typed label such as [`AgentType`](crate::AgentType). Each
/// series is found by its exact label values. Values are bounded: an empty
/// value becomes `unknown`, one over 128 bytes is cut, and once a family
/// holds [`cardinality_limit`](CollectorBuilder::cardinality_limit) series,
/// new label sets share one series labelled `__overflow__` and are counted in
/// `insa_metrics_label_overflow_total{family}`, until idle series expire
/// ([`idle_timeout`](CollectorBuilder::idle_timeout)).
pub struct MetricsCollector {
    pub(crate) store: Arc<Store>,
    registry: Registry,
    registered: Mutex<Registered>,
    active_sessions: SeriesHandle,
    /// `insa_dead_letter_replay_total{status}`, one series per status, made
    /// at 0 with the collector: a dashboard's `rate()` has both from the
    /// start, and they never expire.
    dead_letter_replays: [SeriesHandle; ReplayStatus::ALL.len()],
    session_duration: HistogramHandle,
    system_info_lock: Mutex<()>,
    cardinality_limit: usize,
    /// The size of the last encoding, to allocate the next one at once.
    last_len: AtomicUsize,
}

impl fmt::Debug for MetricsCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsCollector")
            .field("cardinality_limit", &self.cardinality_limit)
            .finish_non_exhaustive()
    }
}

impl MetricsCollector {
    fn new(store: Arc<Store>, registry: Registry, registered: Registered, limit: usize) -> Self {
        let families = &store.families;
        MetricsCollector {
            active_sessions: families.active_sessions.handle(&[], Admission::Capped),
            dead_letter_replays: ReplayStatus::ALL.map(|status| {
                families
                    .dead_letter_replays
                    .handle(&[status.as_str()], Admission::Reserved)
            }),
            session_duration: families
                .session_duration
                .histogram_handle(&[], Admission::Capped),
            store,
            registry,
            registered: Mutex::new(registered),
            system_info_lock: Mutex::new(()),
            cardinality_limit: limit,
            last_len: AtomicUsize::new(16 * 1024),
        }
    }

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

    /// The registry in the text exposition format 0.0.4: this collector's
    /// families written straight from its store, merged in name order with
    /// the registry's other collectors (the `process_*` metrics, your own).
    /// On a registry that cannot be encoded (a collector of yours with an
    /// untyped family), the text is one comment line saying why.
    #[must_use]
    pub fn encode_text(&self) -> String {
        self.encode(Format::Text)
            .unwrap_or_else(|error| format!("# {error}\n"))
    }

    /// The registry in OpenMetrics 1.0 text, with exemplars.
    #[must_use]
    pub fn encode_openmetrics(&self) -> String {
        self.encode(Format::OpenMetrics)
            .unwrap_or_else(|error| format!("# {error}\n# EOF\n"))
    }

    /// The registry in `format`.
    ///
    /// # Errors
    ///
    /// [`Error::Encoding`] when another collector of the registry gives a
    /// family the formats cannot carry (untyped, or without samples or name).
    pub fn encode(&self, format: Format) -> Result<String, Error> {
        let mut out = String::with_capacity(self.last_len.load(Ordering::Relaxed) + 1024);
        self.encode_to(&mut out, format)?;
        self.last_len.store(out.len(), Ordering::Relaxed);
        Ok(out)
    }

    /// Writes the registry in `format` into `out`.
    ///
    /// # Errors
    ///
    /// As [`encode`](Self::encode), and when `out` fails.
    pub fn encode_to<W: fmt::Write>(&self, out: &mut W, format: Format) -> Result<(), Error> {
        let gathered = gather_others(&self.registry);
        exposition::check_gathered(&gathered).map_err(Error::Encoding)?;
        exposition::encode(out, &self.store, &gathered, format)
            .map_err(|_| Error::Encoding("the writer failed".to_owned()))
    }

    /// Unregisters every family from the registry (a refused install).
    pub(crate) fn unregister(&self) {
        let registered = std::mem::take(
            &mut *self
                .registered
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        unregister_all(&self.registry, registered);
    }

    /// The series a request of this agent records into, resolved once: keep
    /// it to record many requests without any lookup. Creates the series of
    /// every status with value 0, so `rate()` works before the first error.
    pub fn request_handles(&self, agent_type: impl LabelValue) -> RequestHandles {
        self.request_handles_with(agent_type.as_label(), Admission::Capped)
    }

    pub(crate) fn request_handles_with(&self, agent: &str, admission: Admission) -> RequestHandles {
        RequestHandles::resolve(&self.store, agent, admission)
    }

    /// Starts timing a request of `agent_type` (the scoped form of
    /// `#[track_request_metrics]`); it is recorded when the guard drops.
    pub fn start_request(&self, agent_type: impl LabelValue) -> RequestGuard<'static> {
        RequestGuard::owned(self.request_handles(agent_type))
    }

    /// The series message processing of this agent records into.
    pub fn message_handles(&self, agent_type: impl LabelValue) -> MessageHandles {
        self.message_handles_with(agent_type.as_label(), Admission::Capped)
    }

    pub(crate) fn message_handles_with(&self, agent: &str, admission: Admission) -> MessageHandles {
        MessageHandles::resolve(&self.store, agent, admission)
    }

    /// Starts timing the processing of one message (the scoped form of
    /// `#[track_message_processing]`).
    pub fn start_message(&self, agent_type: impl LabelValue) -> MessageGuard<'static> {
        MessageGuard::owned(self.message_handles(agent_type))
    }

    /// The series a database operation records into, resolved once.
    pub fn database_handles(
        &self,
        operation: impl LabelValue,
        table: impl LabelValue,
    ) -> DatabaseHandles {
        self.database_handles_with(operation.as_label(), table.as_label(), Admission::Capped)
    }

    pub(crate) fn database_handles_with(
        &self,
        operation: &str,
        table: &str,
        admission: Admission,
    ) -> DatabaseHandles {
        DatabaseHandles::resolve(&self.store, operation, table, admission)
    }

    /// Starts timing a database operation (the scoped form of
    /// `#[track_database_operation]`).
    pub fn start_database_operation(
        &self,
        operation: impl LabelValue,
        table: impl LabelValue,
    ) -> DatabaseGuard<'static> {
        DatabaseGuard::owned(self.database_handles(operation, table))
    }

    /// Counts, in `insa_metrics_invalid_label_values_total{family,reason="not_snake_case"}`,
    /// a label value declared in code for `family` that is not snake_case.
    pub(crate) fn count_not_snake_case(&self, family: &str) {
        if let Some(family) = self
            .store
            .families
            .all()
            .into_iter()
            .find(|f| f.spec().name() == family)
        {
            family.count_not_snake_case();
        }
    }

    /// Series in the labelled family named `name` (the overflow series
    /// aside), or `None` for an unknown or unlabelled family.
    #[must_use]
    pub fn series_count(&self, name: &str) -> Option<usize> {
        self.store
            .families
            .all()
            .into_iter()
            .find(|family| family.spec().name() == name && !family.spec().labels().is_empty())
            .map(|family| family.len())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::IdleClock;

    fn sample(text: &str, series: &str) -> Option<u64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// A collector of 10 series per family whose idle series expire after
    /// 300 s of the returned clock.
    fn expiring_collector() -> (MetricsCollector, IdleClock) {
        let clock = IdleClock::manual();
        let collector = MetricsCollector::builder()
            .process_metrics(false)
            .cardinality_limit(10)
            .idle_timeout(Some(Duration::from_secs(300)))
            .idle_clock(clock.clone())
            .build()
            .unwrap();
        (collector, clock)
    }

    #[test]
    fn after_a_burst_of_junk_values_idle_series_expire_and_new_values_get_their_own() {
        let (collector, clock) = expiring_collector();
        collector.record_cache_hit("orchestrator");
        for junk in 0..50 {
            collector.record_cache_hit(format!("junk-{junk}"));
        }
        // 10 series, 41 records in the overflow series.
        let text = collector.encode_text();
        assert_eq!(collector.series_count("insa_cache_hits_total"), Some(10));
        let overflow = r#"insa_cache_hits_total{cache_type="__overflow__"}"#;
        let overflowed = r#"insa_metrics_label_overflow_total{family="insa_cache_hits_total"}"#;
        assert_eq!(sample(&text, overflow), Some(41));
        assert_eq!(sample(&text, overflowed), Some(41));

        // The real cache keeps recording; the junk goes quiet.
        clock.advance(Duration::from_secs(200));
        collector.record_cache_hit("orchestrator");
        let _ = collector.encode_text();
        clock.advance(Duration::from_secs(200));
        let text = collector.encode_text();
        assert!(
            text.contains(r#"cache_type="junk-0""#),
            "dropped after the scrape"
        );
        let expired = r#"insa_metrics_series_expired_total{family="insa_cache_hits_total"}"#;
        assert_eq!(sample(&text, expired), Some(9));

        collector.record_cache_hit("sizing");
        let text = collector.encode_text();
        assert_eq!(collector.series_count("insa_cache_hits_total"), Some(2));
        assert_eq!(
            sample(&text, r#"insa_cache_hits_total{cache_type="sizing"}"#),
            Some(1)
        );
        assert_eq!(
            sample(&text, r#"insa_cache_hits_total{cache_type="orchestrator"}"#),
            Some(2)
        );
        assert!(!text.contains("junk-"));
        // Nothing counted is lost from the overflow accounting.
        assert_eq!(sample(&text, overflow), Some(41));
        assert_eq!(sample(&text, overflowed), Some(41));
    }

    /// No scrape between the burst and the end of the wait: the first scrape
    /// after it drops the junk, since it is the records that are timed.
    #[test]
    fn a_burst_then_a_wait_then_one_scrape_frees_the_cap() {
        let (collector, clock) = expiring_collector();
        for junk in 0..50 {
            collector.record_cache_hit(format!("junk-{junk}"));
        }
        clock.advance(Duration::from_secs(302));
        let text = collector.encode_text();
        assert!(
            text.contains(r#"cache_type="junk-0""#),
            "written, then dropped"
        );
        let expired = r#"insa_metrics_series_expired_total{family="insa_cache_hits_total"}"#;
        assert_eq!(sample(&text, expired), Some(10));
        collector.record_cache_hit("sizing");
        let text = collector.encode_text();
        assert_eq!(
            sample(&text, r#"insa_cache_hits_total{cache_type="sizing"}"#),
            Some(1)
        );
        // The 40 folded records stay counted where they were.
        assert_eq!(
            sample(&text, r#"insa_cache_hits_total{cache_type="__overflow__"}"#),
            Some(40)
        );
    }

    #[test]
    fn call_site_series_gauges_and_unlabelled_families_never_expire() {
        let clock = IdleClock::manual();
        let collector = MetricsCollector::builder()
            .process_metrics(false)
            .idle_timeout(Some(Duration::from_secs(1)))
            .idle_clock(clock.clone())
            .build()
            .unwrap();
        let _site = collector.request_handles_with("sizing_agent", Admission::Reserved);
        collector.update_cache_size("orchestrator", 5);
        collector.observe_session_duration(Duration::from_secs(3));
        collector.set_system_info("1.0.0", "test");
        for _ in 0..3 {
            let _ = collector.encode_text();
            clock.advance(Duration::from_secs(10));
        }
        let text = collector.encode_text();
        assert!(text.contains(
            r#"insa_agent_requests_total{agent_type="sizing_agent",status="success"} 0"#
        ));
        assert!(text.contains(r#"insa_cache_size_entries{cache_type="orchestrator"} 5"#));
        assert!(text.contains("insa_session_duration_seconds_count 1"));
        assert!(text.contains("insa_system_info{"));
    }

    #[test]
    fn unregistering_frees_the_registry() {
        let registry = Registry::new();
        let first = MetricsCollector::builder()
            .registry(registry.clone())
            .build()
            .unwrap();
        first.unregister();
        assert!(registry.gather().is_empty());
        MetricsCollector::builder()
            .registry(registry)
            .build()
            .unwrap();
    }

    #[test]
    fn zero_limits_are_refused_at_build() {
        let error = MetricsCollector::builder()
            .cardinality_limit(0)
            .build()
            .unwrap_err();
        assert!(matches!(error, Error::CollectorConfig(_)), "{error}");
        let error = MetricsCollector::builder()
            .idle_timeout(Some(Duration::ZERO))
            .build()
            .unwrap_err();
        assert!(matches!(error, Error::CollectorConfig(_)), "{error}");
        let error = MetricsCollector::builder()
            .exemplar_interval(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(matches!(error, Error::CollectorConfig(_)), "{error}");
        assert!(error.to_string().contains("exemplar interval"), "{error}");
    }

    #[test]
    fn a_huge_exemplar_interval_means_one_exemplar_per_slot() {
        for interval in [Duration::MAX, Duration::from_secs(u64::MAX)] {
            let collector = MetricsCollector::builder()
                .process_metrics(false)
                .exemplar_interval(interval)
                .build()
                .unwrap();
            for byte in [0x11, 0x22] {
                let trace = crate::TraceContext::new([byte; 16], [byte; 8]).unwrap();
                let _scope = trace.enter();
                collector.start_request("sizing_agent").succeed();
            }
            let text = collector.encode_openmetrics();
            assert!(text.contains(&"11".repeat(16)), "{interval:?}: {text}");
            assert!(!text.contains(&"22".repeat(16)), "{interval:?}: {text}");
        }
    }
}
