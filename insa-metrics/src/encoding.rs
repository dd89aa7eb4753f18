//! What a server serves and a push sends: the global collector, a caller's collector, or a registry that is not a collector's (gathered).

use std::sync::Arc;

use prometheus::Registry;

use crate::exposition::{self, Format};
use crate::{Error, MetricsCollector};

/// The metrics behind a server or a push.
#[derive(Debug, Clone, Default)]
pub(crate) enum Source {
    /// The global collector behind [`metrics()`](crate::metrics).
    #[default]
    Global,
    /// A collector of the caller's: its own encoder (exemplars and `# UNIT`
    /// in OpenMetrics), with the other collectors of its registry.
    Collector(Arc<MetricsCollector>),
    /// A registry given as such: gathered, so a collector of this crate on
    /// it goes through the `prometheus` model (no exemplars, no `# UNIT`).
    Registry(Registry),
}

impl Source {
    /// The text of the metrics in `format`.
    pub(crate) fn encode(&self, format: Format) -> Result<String, Error> {
        match self {
            Source::Global => crate::metrics().encode(format),
            Source::Collector(collector) => collector.encode(format),
            Source::Registry(registry) => encode_registry(registry, format),
        }
    }
}

/// `registry` in `format`, gathered (so any collector of this crate on it
/// goes through the `prometheus` model, more slowly than its own encoder).
pub(crate) fn encode_registry(registry: &Registry, format: Format) -> Result<String, Error> {
    let gathered = registry.gather();
    exposition::check_gathered(&gathered).map_err(Error::Encoding)?;
    let mut out = String::new();
    exposition::encode_gathered(&mut out, &gathered, format)
        .map_err(|_| Error::Encoding("the writer failed".to_owned()))?;
    Ok(out)
}

/// `registry` in the text format 0.0.4; one comment line saying why when it
/// cannot be encoded.
#[cfg(test)]
pub(crate) fn encode_text(registry: &Registry) -> String {
    encode_registry(registry, Format::Text).unwrap_or_else(|error| format!("# {error}\n"))
}
