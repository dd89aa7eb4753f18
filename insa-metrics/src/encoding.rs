//! The text exposition format 0.0.4.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus::proto::{Metric, MetricFamily, MetricType};
use prometheus::{Registry, TextEncoder};

/// The `Content-Type` of the text exposition format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The size of the last encoding, to allocate the next one at once.
static LAST_LEN: AtomicUsize = AtomicUsize::new(16 * 1024);

/// Gathers `registry` and encodes it as text, byte for byte as
/// `prometheus::TextEncoder` does, without its allocations per sample.
pub(crate) fn encode_text(registry: &Registry) -> String {
    let families = registry.gather();
    let mut text = String::with_capacity(LAST_LEN.load(Ordering::Relaxed) + 1024);
    if encode_families(&families, &mut text).is_none() {
        // Families `TextEncoder` rejects: let it report them.
        text.clear();
        // Encoding into a String only fails on invalid family data, which the
        // catalogue rules out; report it in the text rather than panic.
        if let Err(error) = TextEncoder::new().encode_utf8(&families, &mut text) {
            text.push_str(&format!("# encoding error: {error}\n"));
        }
    }
    LAST_LEN.store(text.len(), Ordering::Relaxed);
    text
}

/// Writes `families` into `out`; `None` for what `TextEncoder` would reject
/// or cannot encode (no metrics, no name, untyped).
fn encode_families(families: &[MetricFamily], out: &mut String) -> Option<()> {
    let mut labels = String::new();
    for family in families {
        let name = family.name();
        let kind = family.get_field_type();
        if family.get_metric().is_empty() || name.is_empty() || kind == MetricType::UNTYPED {
            return None;
        }
        let help = family.help();
        if !help.is_empty() {
            out.push_str("# HELP ");
            out.push_str(name);
            out.push(' ');
            escape_into(out, help, false);
            out.push('\n');
        }
        out.push_str("# TYPE ");
        out.push_str(name);
        out.push_str(match kind {
            MetricType::COUNTER => " counter\n",
            MetricType::GAUGE => " gauge\n",
            MetricType::SUMMARY => " summary\n",
            MetricType::HISTOGRAM => " histogram\n",
            MetricType::UNTYPED => " untyped\n",
        });
        for metric in family.get_metric() {
            labels.clear();
            for pair in metric.get_label() {
                labels.push(if labels.is_empty() { '{' } else { ',' });
                labels.push_str(pair.name());
                labels.push_str("=\"");
                escape_into(&mut labels, pair.value(), true);
                labels.push('"');
            }
            let sample = Sample {
                name,
                labels: &labels,
                metric,
            };
            match kind {
                MetricType::COUNTER => {
                    sample.write(out, "", None, metric.get_counter().get_value())
                }
                MetricType::GAUGE => sample.write(out, "", None, metric.get_gauge().get_value()),
                MetricType::HISTOGRAM => {
                    let histogram = metric.get_histogram();
                    let mut inf_seen = false;
                    for bucket in histogram.get_bucket() {
                        let bound = bucket.upper_bound();
                        sample.write(
                            out,
                            "_bucket",
                            Some(("le", Bound::Float(bound))),
                            bucket.cumulative_count() as f64,
                        );
                        inf_seen |= bound.is_sign_positive() && bound.is_infinite();
                    }
                    let count = histogram.get_sample_count() as f64;
                    if !inf_seen {
                        sample.write(out, "_bucket", Some(("le", Bound::Inf)), count);
                    }
                    sample.write(out, "_sum", None, histogram.get_sample_sum());
                    sample.write(out, "_count", None, count);
                }
                MetricType::SUMMARY => {
                    let summary = metric.get_summary();
                    for quantile in summary.get_quantile() {
                        sample.write(
                            out,
                            "",
                            Some(("quantile", Bound::Float(quantile.quantile()))),
                            quantile.value(),
                        );
                    }
                    sample.write(out, "_sum", None, summary.sample_sum());
                    sample.write(out, "_count", None, summary.sample_count() as f64);
                }
                MetricType::UNTYPED => return None,
            }
        }
    }
    Some(())
}

/// The value of the extra label of a bucket or quantile line.
#[derive(Clone, Copy)]
enum Bound {
    Float(f64),
    Inf,
}

/// One metric's name and rendered labels (`{a="x",b="y"`, unclosed).
struct Sample<'a> {
    name: &'a str,
    labels: &'a str,
    metric: &'a Metric,
}

impl Sample<'_> {
    fn write(&self, out: &mut String, suffix: &str, extra: Option<(&str, Bound)>, value: f64) {
        out.push_str(self.name);
        out.push_str(suffix);
        out.push_str(self.labels);
        match extra {
            Some((label, bound)) => {
                out.push(if self.labels.is_empty() { '{' } else { ',' });
                out.push_str(label);
                out.push_str("=\"");
                match bound {
                    Bound::Float(bound) => write_float(out, bound),
                    Bound::Inf => out.push_str("+Inf"),
                }
                out.push_str("\"}");
            }
            None if !self.labels.is_empty() => out.push('}'),
            None => {}
        }
        out.push(' ');
        write_float(out, value);
        let timestamp = self.metric.timestamp_ms();
        if timestamp != 0 {
            let _ = write!(out, " {timestamp}");
        }
        out.push('\n');
    }
}

/// `value` as `f64`'s `Display` writes it; integers below 2^53 take the
/// faster integer path, which prints the same digits.
fn write_float(out: &mut String, value: f64) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() < EXACT && !(value == 0.0 && value.is_sign_negative()) {
        let _ = write!(out, "{}", value as i64);
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Escapes `\` and newline (and `"` in label values) as the format requires.
fn escape_into(out: &mut String, value: &str, quotes: bool) {
    if !value
        .bytes()
        .any(|b| b == b'\\' || b == b'\n' || (quotes && b == b'"'))
    {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::core::{Collector, Desc};
    use prometheus::proto::{LabelPair, Quantile, Summary};
    use prometheus::{CounterVec, GaugeVec, HistogramOpts, HistogramVec, IntCounter, Opts};

    fn reference(registry: &Registry) -> String {
        TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap()
    }

    /// Summaries and timestamps, which only hand-made families have.
    struct Handmade(Vec<Desc>);

    impl Collector for Handmade {
        fn desc(&self) -> Vec<&Desc> {
            self.0.iter().collect()
        }

        fn collect(&self) -> Vec<MetricFamily> {
            let mut label = LabelPair::default();
            label.set_name("path".into());
            label.set_value("a\\b \"c\"\nd".into());
            let mut summary = Summary::default();
            summary.set_sample_count(7);
            summary.set_sample_sum(0.3);
            summary.set_quantile(
                [0.5, 0.99]
                    .into_iter()
                    .map(|q| {
                        let mut quantile = Quantile::default();
                        quantile.set_quantile(q);
                        quantile.set_value(q * 10.0);
                        quantile
                    })
                    .collect(),
            );
            let mut metric = Metric::from_label(vec![label]);
            metric.set_summary(summary);
            metric.set_timestamp_ms(1_700_000_000_123);
            let mut unlabelled = Metric::default();
            let mut summary = Summary::default();
            summary.set_sample_count(1);
            unlabelled.set_summary(summary);
            let mut family = MetricFamily::default();
            family.set_name("insa_test_summary".into());
            family.set_help("Help with \\ and\nnewline and \"quotes\"".into());
            family.set_field_type(MetricType::SUMMARY);
            family.set_metric(vec![unlabelled, metric]);
            vec![family]
        }
    }

    #[test]
    fn writes_what_text_encoder_writes() {
        let registry = Registry::new();
        let counters =
            CounterVec::new(Opts::new("insa_test_total", "Counts"), &["agent", "v"]).unwrap();
        let gauges = GaugeVec::new(Opts::new("insa_test_gauge", "Gauges"), &["k"]).unwrap();
        let histograms = HistogramVec::new(
            HistogramOpts::new("insa_test_seconds", "Durations")
                .buckets(vec![0.0005, 0.1, 1.0, 2.5, 1e6, 1e300]),
            &["op"],
        )
        .unwrap();
        let plain = IntCounter::new("insa_test_plain_total", "Plain").unwrap();
        registry.register(Box::new(counters.clone())).unwrap();
        registry.register(Box::new(gauges.clone())).unwrap();
        registry.register(Box::new(histograms.clone())).unwrap();
        registry.register(Box::new(plain.clone())).unwrap();
        registry
            .register(Box::new(Handmade(vec![
                Desc::new(
                    "insa_test_summary".into(),
                    "h".into(),
                    vec![],
                    Default::default(),
                )
                .unwrap(),
            ])))
            .unwrap();

        for (i, value) in [
            "sizing",
            "a\"b",
            "back\\slash",
            "new\nline",
            "ünïcödé ✓",
            "",
        ]
        .into_iter()
        .enumerate()
        {
            counters
                .with_label_values(&[value, "x"])
                .inc_by(i as f64 + 0.5);
            histograms.with_label_values(&[value]).observe(i as f64);
        }
        for (i, value) in [
            0.0,
            -0.0,
            1.0,
            -3.0,
            0.1,
            1e-7,
            1e21,
            9_007_199_254_740_993.0,
            -9_007_199_254_740_992.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
        ]
        .into_iter()
        .enumerate()
        {
            gauges.with_label_values(&[&format!("g{i:02}")]).set(value);
        }
        plain.inc_by(u64::MAX / 3);
        let families = registry.gather();
        let mut fast = String::new();
        encode_families(&families, &mut fast).expect("the fast path takes these families");
        assert_eq!(fast, reference(&registry));
        assert_eq!(encode_text(&registry), fast);
    }

    #[test]
    fn writes_the_catalogue_as_text_encoder_does() {
        let registry = Registry::new();
        let collector = crate::MetricsCollector::builder()
            .registry(registry.clone())
            .build()
            .unwrap();
        collector.set_system_info("1.0.0", "test");
        collector.record_cache_hit("orchestrator");
        collector.observe_request_size("sizing_agent", 5_000);
        collector.observe_session_duration(std::time::Duration::from_millis(1_500));
        // Process metrics change between two gathers: compare one gather.
        let families = registry.gather();
        let mut fast = String::new();
        encode_families(&families, &mut fast).unwrap();
        assert_eq!(
            fast,
            TextEncoder::new().encode_to_string(&families).unwrap()
        );
    }

    #[test]
    fn an_empty_registry_is_empty_text() {
        assert_eq!(encode_text(&Registry::new()), "");
    }
}
