//! The process-wide collector and the free functions of the public API.

use std::sync::OnceLock;

use crate::Error;
use crate::collector::{CollectorBuilder, MetricsCollector};

static GLOBAL: OnceLock<MetricsCollector> = OnceLock::new();

/// The process-wide collector, built on first use with the default settings
/// (its own registry, cardinality limit 1000, process metrics).
pub fn metrics() -> &'static MetricsCollector {
    GLOBAL.get_or_init(|| {
        CollectorBuilder::default()
            .build()
            .expect("a fresh registry accepts the catalogue")
    })
}

impl CollectorBuilder {
    /// Builds the collector and makes it the one [`metrics()`] returns.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyInitialized`] when `metrics()` was already used (or
    /// installed), [`Error::Registration`] as for [`build`](Self::build).
    ///
    /// A refused install registers nothing on the builder's registry.
    pub fn install(self) -> Result<&'static MetricsCollector, Error> {
        if GLOBAL.get().is_some() {
            return Err(Error::AlreadyInitialized);
        }
        let collector = self.build()?;
        // Another thread may have set the global since the check above.
        if let Err(refused) = GLOBAL.set(collector) {
            refused.unregister();
            return Err(Error::AlreadyInitialized);
        }
        GLOBAL.get().ok_or(Error::AlreadyInitialized)
    }
}

/// Sets `insa_system_info{version,environment,platform} 1` on the global
/// collector; calling it again replaces the series.
pub fn initialize_metrics(version: &str, environment: &str) {
    metrics().set_system_info(version, environment);
}

/// The global collector's registry in the Prometheus text exposition format
/// 0.0.4.
#[must_use]
pub fn get_metrics_text() -> String {
    metrics().encode_text()
}
