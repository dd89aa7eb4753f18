//! The benchmarks' shared workload: one catalogue family, the same series in insa-metrics and each peer.

use std::sync::atomic::AtomicI64;
use std::time::Duration;

use insa_metrics::MetricsCollector;
use prometheus::{Encoder as _, TextEncoder};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

/// `insa_database_operations_total{operation,table}`.
pub(crate) const COUNTER_NAME: &str = "insa_database_operations_total";
/// The same without the suffix prometheus-client appends to counters.
const COUNTER_BASE_NAME: &str = "insa_database_operations";
pub(crate) const COUNTER_HELP: &str = "Database operations";
/// `insa_database_operation_duration_seconds{operation,table}`.
pub(crate) const HISTOGRAM_NAME: &str = "insa_database_operation_duration_seconds";
pub(crate) const HISTOGRAM_HELP: &str = "Database operation duration in seconds";
/// The catalogue's buckets of the database duration (13).
pub(crate) const DATABASE_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const OPERATIONS: [&str; 4] = ["select", "insert", "update", "delete"];

/// Which family the series are of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `insa_database_operations_total`: one increment per series.
    Counter,
    /// `insa_database_operation_duration_seconds`: one observation per series.
    Histogram,
}

impl Kind {
    pub(crate) const ALL: [Kind; 2] = [Kind::Counter, Kind::Histogram];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// The labels of series `i`: four operations, then a new table every four.
pub(crate) fn label_set(i: usize) -> (&'static str, String) {
    (OPERATIONS[i % OPERATIONS.len()], format!("table_{}", i / 4))
}

/// The observation of series `i`: 0.5 ms to 20.5 ms, spread over buckets.
pub(crate) fn duration(i: usize) -> Duration {
    Duration::from_micros(500 + (i as u64).wrapping_mul(7919) % 20_000)
}

/// Lines that are samples, not comments.
pub(crate) fn samples(text: &str) -> usize {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .count()
}

/// A family an empty collector already shows (its self-metrics, its
/// label-less families), read from its text so that the peers can hold the
/// same series whatever the collector's internals.
#[derive(Debug)]
pub(crate) struct Fixed {
    name: String,
    help: String,
    kind: FixedKind,
    label_names: Vec<String>,
    /// The label values of each series.
    series: Vec<Vec<String>>,
    /// Upper bounds of a histogram's buckets, `+Inf` aside.
    buckets: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FixedKind {
    Counter,
    Gauge,
    Histogram,
}

/// The families of an empty collector's scrape.
pub(crate) fn fixed_families() -> Vec<Fixed> {
    let text = Ours::new(1).scrape();
    let mut families: Vec<Fixed> = Vec::new();
    let mut help = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = rest.split_once(' ').map_or("", |(_, h)| h).to_owned();
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            families.push(Fixed {
                name: name.to_owned(),
                help: std::mem::take(&mut help),
                kind: match kind {
                    "counter" => FixedKind::Counter,
                    "gauge" => FixedKind::Gauge,
                    "histogram" => FixedKind::Histogram,
                    other => panic!("unexpected family type {other}"),
                },
                label_names: Vec::new(),
                series: Vec::new(),
                buckets: Vec::new(),
            });
        } else if !line.is_empty() && !line.starts_with('#') {
            let family = families.last_mut().expect("a sample after its # TYPE");
            let series = line.split(' ').next().expect("a sample");
            let (sample, labels) = series.split_once('{').unwrap_or((series, "}"));
            let mut names = Vec::new();
            let mut values = Vec::new();
            let mut le = None;
            for pair in labels
                .trim_end_matches('}')
                .split("\",")
                .filter(|pair| !pair.is_empty())
            {
                let (name, value) = pair.split_once("=\"").expect("name=\"value\"");
                let value = value.trim_end_matches('"');
                if name == "le" {
                    le = Some(value.to_owned());
                } else {
                    names.push(name.to_owned());
                    values.push(value.to_owned());
                }
            }
            family.label_names = names;
            let first_of_series = match family.kind {
                FixedKind::Histogram => {
                    if let Some(le) = le.filter(|le| le != "+Inf") {
                        if family.series.is_empty() {
                            family.buckets.push(le.parse().expect("a bucket bound"));
                        }
                    }
                    sample.ends_with("_count")
                }
                _ => true,
            };
            if first_of_series {
                family.series.push(values);
            }
        }
    }
    families
}

impl Fixed {
    fn register_prometheus(&self, registry: &prometheus::Registry) {
        let opts = prometheus::Opts::new(&self.name, &self.help);
        let names: Vec<&str> = self.label_names.iter().map(String::as_str).collect();
        let collector: Box<dyn prometheus::core::Collector> = match self.kind {
            FixedKind::Counter => {
                let vec = prometheus::IntCounterVec::new(opts, &names).expect("a counter vec");
                for values in &self.series {
                    vec.with_label_values(values);
                }
                Box::new(vec)
            }
            FixedKind::Gauge => {
                let vec = prometheus::IntGaugeVec::new(opts, &names).expect("a gauge vec");
                for values in &self.series {
                    vec.with_label_values(values);
                }
                Box::new(vec)
            }
            FixedKind::Histogram => {
                let opts = prometheus::HistogramOpts::from(opts).buckets(self.buckets.clone());
                let vec = prometheus::HistogramVec::new(opts, &names).expect("a histogram vec");
                for values in &self.series {
                    vec.with_label_values(values);
                }
                Box::new(vec)
            }
        };
        registry.register(collector).expect("registered");
    }

    fn register_client(&self, registry: &mut prometheus_client::registry::Registry) {
        let labels = |values: &Vec<String>| -> Vec<(String, String)> {
            self.label_names
                .iter()
                .cloned()
                .zip(values.iter().cloned())
                .collect()
        };
        match self.kind {
            FixedKind::Counter => {
                let family = Family::<Vec<(String, String)>, Counter>::default();
                for values in &self.series {
                    drop(family.get_or_create(&labels(values)));
                }
                let name = self.name.strip_suffix("_total").unwrap_or(&self.name);
                registry.register(name, &self.help, family);
            }
            FixedKind::Gauge => {
                let family = Family::<Vec<(String, String)>, Gauge<i64, AtomicI64>>::default();
                for values in &self.series {
                    drop(family.get_or_create(&labels(values)));
                }
                registry.register(&self.name, &self.help, family);
            }
            FixedKind::Histogram => {
                let family =
                    Family::<Vec<(String, String)>, Histogram, Buckets>::new_with_constructor(
                        Buckets(self.buckets.clone()),
                    );
                for values in &self.series {
                    drop(family.get_or_create(&labels(values)));
                }
                registry.register(&self.name, &self.help, family);
            }
        }
    }
}

/// Builds prometheus-client histograms with given buckets.
#[derive(Debug, Clone)]
struct Buckets(Vec<f64>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// insa-metrics through its public API.
pub(crate) struct Ours(MetricsCollector);

impl Ours {
    /// A collector that holds `series` series in one family.
    pub(crate) fn new(series: usize) -> Self {
        let collector = MetricsCollector::builder()
            .process_metrics(false)
            .cardinality_limit(series + 1)
            .build()
            .expect("a collector");
        Ours(collector)
    }

    pub(crate) fn record(&self, kind: Kind, i: usize) {
        let (operation, table) = label_set(i);
        match kind {
            Kind::Counter => self.0.record_database_operation(operation, table),
            Kind::Histogram => self
                .0
                .observe_database_duration(operation, table, duration(i)),
        }
    }

    pub(crate) fn scrape(&self) -> String {
        self.0.encode_text()
    }
}

/// `prometheus` 0.14: a vector per family on a registry, encoded by
/// `TextEncoder` over `Registry::gather()`.
pub(crate) struct Prometheus {
    registry: prometheus::Registry,
    counters: prometheus::IntCounterVec,
    histograms: prometheus::HistogramVec,
}

impl Prometheus {
    /// A registry with the family of `kind` and the `fixed` ones.
    pub(crate) fn new(kind: Kind, fixed: &[Fixed]) -> Self {
        let registry = prometheus::Registry::new();
        let labels = &["operation", "table"];
        let counters = prometheus::IntCounterVec::new(
            prometheus::Opts::new(COUNTER_NAME, COUNTER_HELP),
            labels,
        )
        .expect("a counter vec");
        let histograms = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new(HISTOGRAM_NAME, HISTOGRAM_HELP)
                .buckets(DATABASE_BUCKETS.to_vec()),
            labels,
        )
        .expect("a histogram vec");
        match kind {
            Kind::Counter => registry.register(Box::new(counters.clone())),
            Kind::Histogram => registry.register(Box::new(histograms.clone())),
        }
        .expect("registered");
        for family in fixed {
            family.register_prometheus(&registry);
        }
        Prometheus {
            registry,
            counters,
            histograms,
        }
    }

    pub(crate) fn record(&self, kind: Kind, i: usize) {
        let (operation, table) = label_set(i);
        match kind {
            Kind::Counter => self.counters.with_label_values(&[operation, &table]).inc(),
            Kind::Histogram => self
                .histograms
                .with_label_values(&[operation, &table])
                .observe(duration(i).as_secs_f64()),
        }
    }

    /// `TextEncoder` over `gather()`, into a buffer of `capacity` bytes.
    pub(crate) fn scrape(&self, capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(capacity);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encode");
        out
    }
}

/// The labels of the family in prometheus-client, as its docs write them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct DatabaseLabels {
    operation: String,
    table: String,
}

type HistogramFamily = Family<DatabaseLabels, Histogram, fn() -> Histogram>;

fn database_histogram() -> Histogram {
    Histogram::new(DATABASE_BUCKETS)
}

/// prometheus-client: a `Family` per family on its registry, encoded by
/// `prometheus_client::encoding::text::encode`.
pub(crate) struct PrometheusClient {
    registry: prometheus_client::registry::Registry,
    counters: Family<DatabaseLabels, Counter>,
    histograms: HistogramFamily,
}

impl PrometheusClient {
    /// A registry with the family of `kind` and the `fixed` ones.
    pub(crate) fn new(kind: Kind, fixed: &[Fixed]) -> Self {
        let mut registry = prometheus_client::registry::Registry::default();
        let counters = Family::<DatabaseLabels, Counter>::default();
        let histograms = HistogramFamily::new_with_constructor(database_histogram);
        match kind {
            Kind::Counter => registry.register(COUNTER_BASE_NAME, COUNTER_HELP, counters.clone()),
            Kind::Histogram => {
                registry.register(HISTOGRAM_NAME, HISTOGRAM_HELP, histograms.clone());
            }
        }
        for family in fixed {
            family.register_client(&mut registry);
        }
        PrometheusClient {
            registry,
            counters,
            histograms,
        }
    }

    pub(crate) fn record(&self, kind: Kind, i: usize) {
        let (operation, table) = label_set(i);
        let labels = DatabaseLabels {
            operation: operation.to_owned(),
            table,
        };
        match kind {
            Kind::Counter => {
                self.counters.get_or_create(&labels).inc();
            }
            Kind::Histogram => self
                .histograms
                .get_or_create(&labels)
                .observe(duration(i).as_secs_f64()),
        }
    }

    /// Its text encoder, into a buffer of `capacity` bytes.
    pub(crate) fn scrape(&self, capacity: usize) -> String {
        let mut out = String::with_capacity(capacity);
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("encode");
        out
    }
}

/// `metrics` with `metrics-exporter-prometheus`'s recorder, used as a local
/// recorder (no global install, no HTTP listener).
pub(crate) struct MetricsRs {
    recorder: metrics_exporter_prometheus::PrometheusRecorder,
    handle: metrics_exporter_prometheus::PrometheusHandle,
}

impl MetricsRs {
    pub(crate) fn new() -> Self {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&DATABASE_BUCKETS)
            .expect("buckets")
            .build_recorder();
        let handle = recorder.handle();
        MetricsRs { recorder, handle }
    }

    pub(crate) fn record(&self, kind: Kind, i: usize) {
        let (operation, table) = label_set(i);
        metrics::with_local_recorder(&self.recorder, || match kind {
            Kind::Counter => {
                metrics::counter!(COUNTER_NAME, "operation" => operation, "table" => table)
                    .increment(1);
            }
            Kind::Histogram => {
                metrics::histogram!(HISTOGRAM_NAME, "operation" => operation, "table" => table)
                    .record(duration(i).as_secs_f64());
            }
        });
    }

    pub(crate) fn scrape(&self) -> String {
        self.handle.render()
    }
}
