//! The exposition formats: text 0.0.4 and OpenMetrics 1.0, written from the store (and from the other collectors of a registry), and which one a scraper's `Accept` header asks for.

pub(crate) mod float;
mod lines;
mod negotiate;
mod proto_family;
mod store_family;

use std::fmt;

use prometheus::proto::MetricFamily;

pub use negotiate::negotiate;

use crate::store::Store;
use lines::Lines;

/// The `Content-Type` of the text exposition format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The `Content-Type` of OpenMetrics 1.0 text.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An exposition format.
///
/// # Examples
///
/// ```
/// use insa_metrics::Format;
///
/// let format = insa_metrics::negotiate(Some(
///     "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
/// ));
/// assert_eq!(format, Format::OpenMetrics);
/// assert_eq!(format.content_type(), "application/openmetrics-text; version=1.0.0; charset=utf-8");
/// assert_eq!(insa_metrics::negotiate(None), Format::Text);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Format {
    /// The Prometheus text exposition format 0.0.4.
    #[default]
    Text,
    /// OpenMetrics 1.0 text: counters' family names without `_total`,
    /// `# UNIT`, exemplars, `# EOF`.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// Writes the store's families and the `gathered` ones (both sorted by
/// name) merged in name order, in `format`.
pub(crate) fn encode<W: fmt::Write>(
    out: &mut W,
    store: &Store,
    gathered: &[MetricFamily],
    format: Format,
) -> fmt::Result {
    let mut lines = Lines {
        out,
        format,
        labels: String::with_capacity(256),
    };
    let mut unescaped = String::new();
    let mut ours = store.families_by_name().peekable();
    let mut theirs = gathered.iter().peekable();
    loop {
        match (ours.peek(), theirs.peek()) {
            (Some(family), Some(other)) if family.spec().name() > other.name() => {
                proto_family::write(&mut lines, other)?;
                theirs.next();
            }
            (Some(family), _) => {
                store_family::write(&mut lines, store, family, &mut unescaped)?;
                ours.next();
            }
            (None, Some(other)) => {
                proto_family::write(&mut lines, other)?;
                theirs.next();
            }
            (None, None) => break,
        }
    }
    lines.finish()
}

/// `Err` naming the first gathered family the formats cannot carry: one
/// without a name or samples, or untyped (`TextEncoder` refuses them too).
pub(crate) fn check_gathered(gathered: &[MetricFamily]) -> Result<(), String> {
    for family in gathered {
        if family.name().is_empty() {
            return Err("a metric family without a name".to_owned());
        }
        if family.get_metric().is_empty() {
            return Err(format!(
                "the metric family {} has no samples",
                family.name()
            ));
        }
        if family.get_field_type() == prometheus::proto::MetricType::UNTYPED {
            return Err(format!("the metric family {} is untyped", family.name()));
        }
    }
    Ok(())
}

/// Writes gathered families alone (a registry without a collector of ours).
#[cfg(any(feature = "server", feature = "push"))]
pub(crate) fn encode_gathered<W: fmt::Write>(
    out: &mut W,
    gathered: &[MetricFamily],
    format: Format,
) -> fmt::Result {
    let mut lines = Lines {
        out,
        format,
        labels: String::with_capacity(256),
    };
    for family in gathered {
        proto_family::write(&mut lines, family)?;
    }
    lines.finish()
}

#[cfg(test)]
mod tests;
