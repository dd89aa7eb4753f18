//! The cost of one record by run-time label values (`record_cache_hit`), side
//! by side with the peers' lookups by label in one run: `insa_metrics` with
//! idle expiry (the default: the record notes its time) and without it
//! (`idle_timeout(None)`), `prometheus`' `CounterVec::with_label_values`, and
//! prometheus-client's `Family::get_or_create`. Four label values in turn,
//! every series already made.
//!
//! ```sh
//! cargo bench -p insa-metrics --bench record_by_labels -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use insa_metrics::MetricsCollector;
use prometheus::{IntCounterVec, Opts};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

const VALUES: [&str; 4] = ["orchestrator", "crm", "sizing", "message_bus"];

fn collector(idle_timeout: Option<Duration>) -> MetricsCollector {
    let collector = MetricsCollector::builder()
        .process_metrics(false)
        .idle_timeout(idle_timeout)
        .build()
        .expect("a collector");
    for value in VALUES {
        collector.record_cache_hit(value);
    }
    collector
}

fn record_by_labels(c: &mut Criterion) {
    let mut group = c.benchmark_group("record_by_labels");
    let expiring = collector(Some(Duration::from_secs(3600)));
    let kept = collector(None);
    let vec = IntCounterVec::new(
        Opts::new("insa_cache_hits_total", "Cache hits"),
        &["cache_type"],
    )
    .expect("a counter vector");
    let family = Family::<Vec<(&'static str, &'static str)>, Counter>::default();
    for value in VALUES {
        vec.with_label_values(&[value]).inc();
        family.get_or_create(&vec![("cache_type", value)]).inc();
    }
    let mut i = 0usize;
    let mut next = || {
        i = i.wrapping_add(1);
        black_box(VALUES[i & 3])
    };
    group.bench_function("insa_metrics", |b| {
        b.iter(|| expiring.record_cache_hit(next()))
    });
    group.bench_function("insa_metrics_no_expiry", |b| {
        b.iter(|| kept.record_cache_hit(next()))
    });
    group.bench_function("prometheus", |b| {
        b.iter(|| vec.with_label_values(&[next()]).inc())
    });
    group.bench_function("prometheus_client", |b| {
        b.iter(|| family.get_or_create(&vec![("cache_type", next())]).inc())
    });
    group.finish();
}

criterion_group!(benches, record_by_labels);
criterion_main!(benches);
