//! Families gathered from other collectors of a registry (the `process_*`
//! metrics, a user's own), written from `prometheus`' protobuf model.

use std::fmt;

use prometheus::proto::{MetricFamily, MetricType};

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
        let timestamp = metric.timestamp_ms();
        let value = |v: f64| {
            move |out: &mut W| {
                write_float(out, v)?;
                if timestamp != 0 {
                    write!(out, " {timestamp}")?;
                }
                Ok(())
            }
        };
        match kind {
            MetricType::COUNTER => {
                let sample_name = counter_sample(name, lines);
                lines.sample(
                    &sample_name,
                    "",
                    None,
                    value(metric.get_counter().get_value()),
                    None,
                )?;
            }
            MetricType::GAUGE => {
                lines.sample(name, "", None, value(metric.get_gauge().get_value()), None)?;
            }
            MetricType::HISTOGRAM => {
                let histogram = metric.get_histogram();
                let mut inf_seen = false;
                for bucket in histogram.get_bucket() {
                    let bound = bucket.upper_bound();
                    let mut le = String::new();
                    write_float(&mut le, bound)?;
                    #[allow(clippy::cast_precision_loss)] // what the format carries
                    let count = bucket.cumulative_count() as f64;
                    lines.sample(name, "_bucket", Some(("le", &le)), value(count), None)?;
                    inf_seen |= bound.is_sign_positive() && bound.is_infinite();
                }
                #[allow(clippy::cast_precision_loss)]
                let count = histogram.get_sample_count() as f64;
                if !inf_seen {
                    lines.sample(name, "_bucket", Some(("le", "+Inf")), value(count), None)?;
                }
                lines.sample(name, "_sum", None, value(histogram.get_sample_sum()), None)?;
                lines.sample(name, "_count", None, value(count), None)?;
            }
            MetricType::SUMMARY => {
                let summary = metric.get_summary();
                for quantile in summary.get_quantile() {
                    let mut q = String::new();
                    write_float(&mut q, quantile.quantile())?;
                    lines.sample(
                        name,
                        "",
                        Some(("quantile", &q)),
                        value(quantile.value()),
                        None,
                    )?;
                }
                lines.sample(name, "_sum", None, value(summary.sample_sum()), None)?;
                #[allow(clippy::cast_precision_loss)]
                let count = summary.sample_count() as f64;
                lines.sample(name, "_count", None, value(count), None)?;
            }
            MetricType::UNTYPED => return Err(fmt::Error),
        }
    }
    Ok(())
}

/// A counter's sample name: OpenMetrics needs the `_total` suffix, which
/// 0.0.4 leaves to the family's name.
fn counter_sample<W>(name: &str, lines: &Lines<'_, W>) -> String {
    match lines.format {
        super::Format::OpenMetrics if !name.ends_with("_total") => format!("{name}_total"),
        _ => name.to_owned(),
    }
}
