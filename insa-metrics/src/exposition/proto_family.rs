//! Families gathered from other collectors of a registry (`process_*`, a user's own), written from `prometheus`' protobuf model.

use std::fmt;

use prometheus::proto::{Metric, MetricFamily, MetricType};

use super::Format;
use super::float::write_float;
use super::lines::Lines;

/// Writes `family` as `prometheus`' `TextEncoder` does (in 0.0.4); `Err` for
/// what it cannot encode: an untyped family, or one without name or samples.
pub(crate) fn write<W: fmt::Write>(lines: &mut Lines<'_, W>, family: &MetricFamily) -> fmt::Result {
    let name = family.name();
    let kind = family.get_field_type();
    let type_name = match kind {
        MetricType::COUNTER => "counter",
        MetricType::GAUGE => "gauge",
        MetricType::SUMMARY => "summary",
        MetricType::HISTOGRAM => "histogram",
        MetricType::UNTYPED => return Err(fmt::Error),
    };
    if family.get_metric().is_empty() || name.is_empty() {
        return Err(fmt::Error);
    }
    lines.header(name, family.help(), type_name, None)?;
    for metric in family.get_metric() {
        lines.clear_labels();
        for pair in metric.get_label() {
            lines.label(pair.name(), pair.value())?;
        }
        let value = Value {
            timestamp_ms: metric.timestamp_ms(),
            format: lines.format,
        };
        match kind {
            MetricType::COUNTER => {
                let sample_name = counter_sample(name, lines.format);
                let count = metric.get_counter().get_value();
                lines.sample(&sample_name, "", None, value.of(count), None)?;
            }
            MetricType::GAUGE => {
                let level = metric.get_gauge().get_value();
                lines.sample(name, "", None, value.of(level), None)?;
            }
            MetricType::HISTOGRAM => histogram(lines, name, metric, value)?,
            MetricType::SUMMARY => summary(lines, name, metric, value)?,
            MetricType::UNTYPED => return Err(fmt::Error),
        }
    }
    Ok(())
}

/// How a sample's value is written: the number, then the metric's timestamp
/// if it has one (milliseconds in 0.0.4, seconds in OpenMetrics).
#[derive(Clone, Copy)]
struct Value {
    timestamp_ms: i64,
    format: Format,
}

impl Value {
    fn of<W: fmt::Write>(self, v: f64) -> impl FnOnce(&mut W) -> fmt::Result {
        move |out: &mut W| {
            write_float(out, v)?;
            match (self.timestamp_ms, self.format) {
                (0, _) => Ok(()),
                (ms, Format::OpenMetrics) => {
                    let sign = if ms < 0 { "-" } else { "" };
                    let ms = ms.unsigned_abs();
                    write!(out, " {sign}{}.{:03}", ms / 1000, ms % 1000)
                }
                (ms, _) => write!(out, " {ms}"),
            }
        }
    }
}

/// A histogram's buckets (with `+Inf` added if missing), sum and count.
fn histogram<W: fmt::Write>(
    lines: &mut Lines<'_, W>,
    name: &str,
    metric: &Metric,
    value: Value,
) -> fmt::Result {
    let histogram = metric.get_histogram();
    let mut inf_seen = false;
    let mut le = String::new();
    for bucket in histogram.get_bucket() {
        let bound = bucket.upper_bound();
        le.clear();
        write_float(&mut le, bound)?;
        #[allow(clippy::cast_precision_loss)] // what the format carries
        let count = bucket.cumulative_count() as f64;
        lines.sample(name, "_bucket", Some(("le", &le)), value.of(count), None)?;
        inf_seen |= bound.is_sign_positive() && bound.is_infinite();
    }
    #[allow(clippy::cast_precision_loss)]
    let count = histogram.get_sample_count() as f64;
    if !inf_seen {
        lines.sample(name, "_bucket", Some(("le", "+Inf")), value.of(count), None)?;
    }
    lines.sample(
        name,
        "_sum",
        None,
        value.of(histogram.get_sample_sum()),
        None,
    )?;
    lines.sample(name, "_count", None, value.of(count), None)
}

/// A summary's quantiles, sum and count.
fn summary<W: fmt::Write>(
    lines: &mut Lines<'_, W>,
    name: &str,
    metric: &Metric,
    value: Value,
) -> fmt::Result {
    let summary = metric.get_summary();
    let mut q = String::new();
    for quantile in summary.get_quantile() {
        q.clear();
        write_float(&mut q, quantile.quantile())?;
        let extra = Some(("quantile", q.as_str()));
        lines.sample(name, "", extra, value.of(quantile.value()), None)?;
    }
    lines.sample(name, "_sum", None, value.of(summary.sample_sum()), None)?;
    #[allow(clippy::cast_precision_loss)]
    let count = summary.sample_count() as f64;
    lines.sample(name, "_count", None, value.of(count), None)
}

/// A counter's sample name: OpenMetrics needs the `_total` suffix, which
/// 0.0.4 leaves to the family's name.
fn counter_sample(name: &str, format: Format) -> String {
    match format {
        Format::OpenMetrics if !name.ends_with("_total") => format!("{name}_total"),
        _ => name.to_owned(),
    }
}
