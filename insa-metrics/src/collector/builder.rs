//! [`CollectorBuilder`]: a collector's registry, limits, idle expiry and exemplar interval, checked at `build()`; registration all or nothing.

use std::sync::Arc;
use std::time::Duration;

use prometheus::Registry;
use prometheus::core::Collector;

use super::MetricsCollector;
use crate::Error;
use crate::clock::Clock;
use crate::store::{
    DEFAULT_CARDINALITY_LIMIT, DEFAULT_EXEMPLAR_INTERVAL, DEFAULT_IDLE_TIMEOUT, IdleClock,
    Settings, Store, family_collectors,
};

/// Builds a [`MetricsCollector`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use insa_metrics::MetricsCollector;
///
/// let registry = prometheus::Registry::new();
/// let collector = MetricsCollector::builder()
///     .registry(registry.clone())
///     .cardinality_limit(100)
///     .idle_timeout(Some(Duration::from_secs(600)))
///     .build()?;
/// collector.record_cache_hit("orchestrator");
/// // `prometheus` users see the same families through the registry.
/// assert!(registry.gather().iter().any(|f| f.name() == "insa_cache_hits_total"));
/// # Ok::<(), insa_metrics::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct CollectorBuilder {
    registry: Option<Registry>,
    cardinality_limit: usize,
    process_metrics: Option<bool>,
    idle_timeout: Option<Duration>,
    exemplar_interval: Duration,
    #[cfg(test)]
    idle_clock: Option<IdleClock>,
}

impl Default for CollectorBuilder {
    fn default() -> Self {
        CollectorBuilder {
            registry: None,
            cardinality_limit: DEFAULT_CARDINALITY_LIMIT,
            process_metrics: None,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            exemplar_interval: DEFAULT_EXEMPLAR_INTERVAL,
            #[cfg(test)]
            idle_clock: None,
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
    /// into its overflow series (default 1000; 0 is refused by `build()`).
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.cardinality_limit = limit;
        self
    }

    /// Whether to register the `process_*` metrics (Linux, feature `process`).
    /// By default they are registered on a new registry, and not on one given
    /// with [`registry`](Self::registry), which may already have them.
    pub fn process_metrics(mut self, enabled: bool) -> Self {
        self.process_metrics = Some(enabled);
        self
    }

    /// How long a counter or histogram series with run-time label values may
    /// go without a record before a scrape drops it, so that a family's cardinality
    /// limit recovers after a burst of junk values (default one hour; `None`
    /// keeps every series). Series of macro call sites, series a handle holds,
    /// families without labels, gauges and the info metric never expire.
    /// Idle time is kept in whole seconds: a series is never dropped before
    /// its timeout, and may outlive it by up to two seconds and a scrape
    /// interval.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The least time between two exemplars of one histogram bucket (or of
    /// one `insa_agent_requests_total` series): default 1 s. It bounds the
    /// cost of exemplars (at most one update per bucket per interval), so
    /// zero is refused by `build()`; a huge interval (up to
    /// [`Duration::MAX`]) means practically never after a slot's first one.
    pub fn exemplar_interval(mut self, interval: Duration) -> Self {
        self.exemplar_interval = interval;
        self
    }

    /// Idle expiry reads this clock instead of real time (tests).
    #[cfg(test)]
    pub(crate) fn idle_clock(mut self, clock: IdleClock) -> Self {
        self.idle_clock = Some(clock);
        self
    }

    /// Builds the collector and registers every family.
    ///
    /// # Errors
    ///
    /// [`Error::CollectorConfig`] for a cardinality limit, idle timeout or
    /// exemplar interval of zero; [`Error::AlreadyRegistered`], naming the family, when the
    /// registry already holds a family of the same name (nothing stays
    /// registered then).
    pub fn build(self) -> Result<MetricsCollector, Error> {
        if self.cardinality_limit == 0 {
            return Err(Error::CollectorConfig(
                "the cardinality limit must be at least 1",
            ));
        }
        if self.idle_timeout == Some(Duration::ZERO) {
            return Err(Error::CollectorConfig(
                "an idle timeout of zero would drop series between two scrapes: use None to keep them",
            ));
        }
        if self.exemplar_interval.is_zero() {
            return Err(Error::CollectorConfig(
                "the exemplar interval must be more than 0: it bounds the exemplar updates of a bucket",
            ));
        }
        let settings = Settings {
            limit: self.cardinality_limit,
            idle_timeout: self.idle_timeout,
            #[cfg(test)]
            idle_clock: self.idle_clock.unwrap_or_else(IdleClock::real),
            #[cfg(not(test))]
            idle_clock: IdleClock::real(),
        };
        let store = Arc::new(Store::new(&settings, self.exemplar_interval, Clock::new()));
        let registry_given = self.registry.is_some();
        let registry = self.registry.unwrap_or_default();
        let mut pending: Vec<Registration> = family_collectors(&store)?
            .into_iter()
            .map(|(name, collector)| Registration::of(name, collector))
            .collect();
        if self.process_metrics.unwrap_or(!registry_given) {
            pending.extend(process_metrics());
        }
        let registered = register_all(&registry, pending)?;
        Ok(MetricsCollector::new(
            store,
            registry,
            registered,
            settings.limit,
        ))
    }
}

/// A collector to register, with a second handle to unregister it by.
pub(super) struct Registration {
    name: &'static str,
    collector: Box<dyn Collector>,
    for_unregister: Box<dyn Collector>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Registration {
    fn of<C: Collector + Clone + 'static>(name: &'static str, collector: C) -> Self {
        Registration {
            name,
            for_unregister: Box::new(collector.clone()),
            collector: Box::new(collector),
        }
    }
}

/// The handles to unregister a collector's families by.
pub(super) type Registered = Vec<Box<dyn Collector>>;

/// Registers every collector, or none: on a clash the ones already
/// registered are unregistered and the error names the family.
fn register_all(registry: &Registry, pending: Vec<Registration>) -> Result<Registered, Error> {
    let mut done = Vec::with_capacity(pending.len());
    for Registration {
        name,
        collector,
        for_unregister,
    } in pending
    {
        // Every registration error is a clash on the name: the same
        // collector, or another one with other labels or help.
        if registry.register(collector).is_err() {
            unregister_all(registry, done);
            return Err(Error::AlreadyRegistered { family: name });
        }
        done.push(for_unregister);
    }
    Ok(done)
}

/// Unregisters what [`register_all`] registered.
pub(super) fn unregister_all(registry: &Registry, registered: Registered) {
    for collector in registered {
        let _ = registry.unregister(collector);
    }
}

#[cfg(all(feature = "process", target_os = "linux"))]
fn process_metrics() -> Option<Registration> {
    use prometheus::process_collector::ProcessCollector;
    Some(Registration {
        name: "process_*",
        collector: Box::new(ProcessCollector::for_self()),
        for_unregister: Box::new(ProcessCollector::for_self()),
    })
}

#[cfg(not(all(feature = "process", target_os = "linux")))]
fn process_metrics() -> Option<Registration> {
    None
}
