//! `prometheus` interop: each family of the store is a `Collector` a `prometheus::Registry` gathers, and the store's own encoder gathers the registry's other collectors without its own families.

use std::cell::Cell;
use std::sync::Arc;

use prometheus::Registry;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};

use super::{MAX_CELLS, Store, key};
use crate::catalogue::FamilyKind;
use crate::store::Family;

thread_local! {
    /// Set while the store's own encoder gathers a registry: its families
    /// then answer nothing, as it writes them itself.
    static GATHERING_OTHERS: Cell<bool> = const { Cell::new(false) };
}

/// The families of `registry` other than the store's, as `gather()` sorts
/// them (by name).
pub(crate) fn gather_others(registry: &Registry) -> Vec<MetricFamily> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            GATHERING_OTHERS.with(|flag| flag.set(false));
        }
    }
    GATHERING_OTHERS.with(|flag| flag.set(true));
    let _reset = Reset;
    registry.gather()
}

/// One family of a store, as a `prometheus` collector.
#[derive(Debug, Clone)]
pub(crate) struct FamilyCollector {
    store: Arc<Store>,
    index: usize,
    desc: Desc,
}

/// A collector for each family of `store`, with its name.
pub(crate) fn family_collectors(
    store: &Arc<Store>,
) -> Result<Vec<(&'static str, FamilyCollector)>, prometheus::Error> {
    store
        .families
        .all()
        .into_iter()
        .enumerate()
        .map(|(index, family)| {
            let spec = family.spec();
            let desc = Desc::new(
                spec.name().to_owned(),
                spec.help().to_owned(),
                spec.labels()
                    .iter()
                    .map(|&label| label.to_owned())
                    .collect(),
                Default::default(),
            )?;
            Ok((
                spec.name(),
                FamilyCollector {
                    store: Arc::clone(store),
                    index,
                    desc,
                },
            ))
        })
        .collect()
}

impl Collector for FamilyCollector {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        if GATHERING_OTHERS.with(Cell::get) {
            return Vec::new();
        }
        let all = self.store.families.all();
        all.get(self.index)
            .map_or_else(Vec::new, |family| vec![to_proto(family)])
    }
}

/// A family in `prometheus`' protobuf model, as its own vectors would give it.
fn to_proto(family: &Family) -> MetricFamily {
    let spec = family.spec();
    let mut proto = MetricFamily::default();
    proto.set_name(spec.name().to_owned());
    proto.set_help(spec.help().to_owned());
    proto.set_field_type(match spec.kind() {
        FamilyKind::Counter => MetricType::COUNTER,
        FamilyKind::Histogram => MetricType::HISTOGRAM,
        _ => MetricType::GAUGE,
    });
    let mut metrics = Vec::new();
    let _ = family.visit::<()>(|series| {
        let labels = family
            .sorted_labels()
            .zip(key::values(series.key()))
            .map(|(name, value)| {
                let mut pair = LabelPair::default();
                pair.set_name(name.to_owned());
                pair.set_value(value);
                pair
            })
            .collect();
        let mut metric = Metric::from_label(labels);
        let count = set_value(&mut metric, family, series);
        metrics.push(metric);
        Ok(count)
    });
    proto.set_metric(metrics);
    proto
}

/// Sets the value of `metric` from `series`; returns its count.
#[allow(clippy::cast_precision_loss)] // the protobuf model carries floats
fn set_value(metric: &mut Metric, family: &Family, series: &super::Series) -> u64 {
    match (family.spec().kind(), family.buckets()) {
        (FamilyKind::Histogram, Some(buckets)) => {
            let mut cells = [0; MAX_CELLS];
            let cells = series.read_all(&mut cells);
            let mut histogram = Histogram::default();
            let mut cumulative = 0;
            let mut proto_buckets = Vec::new();
            for (i, &bound) in family.spec().buckets().iter().enumerate() {
                cumulative += cells[i];
                let mut bucket = Bucket::default();
                bucket.set_upper_bound(bound);
                bucket.set_cumulative_count(cumulative);
                proto_buckets.push(bucket);
            }
            cumulative += cells[buckets.observation_cells() - 1];
            histogram.set_bucket(proto_buckets);
            histogram.set_sample_count(cumulative);
            histogram.set_sample_sum(buckets.to_base(series.read_sum(buckets.sum_cell())));
            metric.set_histogram(histogram);
            cumulative
        }
        (FamilyKind::Counter, _) => {
            let value = series.read(0);
            let mut counter = Counter::default();
            counter.set_value(value as f64);
            metric.set_counter(counter);
            value
        }
        _ => {
            #[allow(clippy::cast_possible_wrap)] // a gauge's cells are i64s
            let value = series.read(0) as i64;
            let mut gauge = Gauge::default();
            gauge.set_value(value as f64);
            metric.set_gauge(gauge);
            0
        }
    }
}
