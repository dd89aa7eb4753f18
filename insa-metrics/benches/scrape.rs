//! The cost of one scrape, side by side with the peers in one run.
//!
//! - `catalogue`: the series the `crm_backend` demo produces, as
//!   `get_metrics_text()` serves them, against `prometheus`' `TextEncoder`
//!   over the same registry (the collector registered on it with
//!   `CollectorBuilder::registry`).
//! - `scrape_counter` and `scrape_histogram`: 200, 10,000 and 100,000 series
//!   of `insa_database_operations_total{operation,table}` and of
//!   `insa_database_operation_duration_seconds{operation,table}` (13 buckets),
//!   the same label values and observations in each: `encode_text()`
//!   (`insa_metrics`), `TextEncoder` over `Registry::gather()` with the
//!   vectors built directly (`prometheus`), and prometheus-client's text
//!   encoder over a `Family` (`prometheus_client`). The peers also hold the
//!   families an empty collector already shows (its self-metrics and
//!   label-less families, read from its own text), so all three write the
//!   same samples; the output of `prometheus` is then byte for byte the
//!   collector's.
//!
//! ```sh
//! cargo bench -p insa-metrics --bench scrape -- --warm-up-time 1 --measurement-time 3
//! python3 scripts/bench_store.py
//! ```

#[allow(dead_code)]
mod common;

use std::hint::black_box;
use std::io::Write as _;
use std::time::Duration;

use common::{Kind, Ours, Prometheus, PrometheusClient, samples};
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use flate2::Compression;
use flate2::write::GzEncoder;
use insa_metrics::{
    AgentType, CircuitState, MetricsCollector, ReplayStatus, RequestStatus, get_metrics_text,
};
use prometheus::{Encoder, TextEncoder};

/// Series per family in the side-by-side groups.
const SIZES: [usize; 3] = [200, 10_000, 100_000];

const AGENTS: [AgentType; 3] = [AgentType::Sizing, AgentType::Crm, AgentType::Orchestrator];
const STATUSES: [RequestStatus; 4] = [
    RequestStatus::Success,
    RequestStatus::Error,
    RequestStatus::Timeout,
    RequestStatus::Cancelled,
];

/// The series the `crm_backend` demo produces: three agents, every status,
/// caches, the message bus, workers, retries, breakers, the database layer
/// and sessions.
fn record_platform_workload(m: &MetricsCollector) {
    m.set_system_info("1.0.0", "production");
    for (i, agent) in AGENTS.into_iter().enumerate() {
        for status in STATUSES {
            m.record_request(agent, status);
        }
        for millis in [50u64, 300, 900, 2_000, 7_000] {
            m.observe_request_duration(agent, Duration::from_millis(millis));
            m.observe_message_processing(agent, Duration::from_micros(millis * 10));
        }
        m.observe_request_size(agent, 2_048);
        m.observe_response_size(agent, 65_536);
        m.update_queue_depth(agent, 3);
        for retry in 1..=3 {
            m.record_retry_attempt(agent, retry);
        }
        m.record_retry_success(agent);
        m.update_circuit_breaker_state(agent, CircuitState::Closed);
        m.record_circuit_breaker_transition(agent, CircuitState::Closed, CircuitState::Open);
        m.record_circuit_breaker_transition(agent, CircuitState::Open, CircuitState::HalfOpen);
        m.update_dead_letter_queue_size(agent, 0);
        for to in AGENTS {
            for kind in ["task", "result"] {
                m.record_message_sent(agent, to, kind);
            }
        }
        let worker = agent.as_str();
        m.update_worker_health(worker, "agent", true);
        m.update_active_requests(worker, i as i64);
        m.update_worker_queue(worker, 0);
        m.record_worker_restart(worker, "crash");
    }
    for cache in ["orchestrator", "sizing", "crm"] {
        m.record_cache_hit(cache);
        m.record_cache_miss(cache);
        m.update_cache_size(cache, 128);
        m.record_cache_eviction(cache, "ttl");
        m.record_cache_eviction(cache, "capacity");
    }
    for operation in ["select", "insert", "update", "delete"] {
        for table in ["users", "accounts", "deals", "contacts", "tasks"] {
            m.record_database_operation(operation, table);
            m.observe_database_duration(operation, table, Duration::from_millis(4));
        }
        m.record_database_error(operation, "timeout");
    }
    m.update_connection_pool_size("crm", 10);
    m.record_dead_letter_replay(ReplayStatus::Success);
    m.record_dead_letter_replay(ReplayStatus::Failure);
    m.update_active_sessions(12);
    m.observe_session_duration(Duration::from_secs(600));
    for session in ["chat", "batch"] {
        m.record_session_message(session);
    }
    m.record_session_cleanup("expired");
}

fn text_encoder(registry: &prometheus::Registry) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * 1024);
    TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .expect("encode");
    out
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(text.as_bytes()).expect("gzip");
    encoder.finish().expect("gzip")
}

/// The demo's series on the global collector, registered on a registry of
/// our own so that `TextEncoder` encodes the same families.
fn catalogue(c: &mut Criterion) {
    let registry = prometheus::Registry::new();
    let global = MetricsCollector::builder()
        .registry(registry.clone())
        .process_metrics(false)
        .install()
        .expect("the first collector");
    record_platform_workload(global);
    let text = get_metrics_text();
    println!(
        "catalogue: {} series, {} bytes, {} bytes gzipped, identical to TextEncoder: {}",
        samples(&text),
        text.len(),
        gzip(&text).len(),
        text.as_bytes() == text_encoder(&registry).as_slice()
    );
    let mut group = c.benchmark_group("catalogue");
    group.bench_function("get_metrics_text", |b| b.iter(get_metrics_text));
    group.bench_function("prometheus_TextEncoder", |b| {
        b.iter(|| text_encoder(black_box(&registry)))
    });
    group.bench_function("get_metrics_text+gzip", |b| {
        b.iter(|| gzip(&get_metrics_text()))
    });
    group.finish();
}

/// `series` series of `kind` in each implementation, and one scrape of each.
fn side_by_side(c: &mut Criterion, kind: Kind) {
    let fixed = common::fixed_families();
    let mut group = c.benchmark_group(format!("scrape_{}", kind.name()));
    for series in SIZES {
        let ours = Ours::new(series);
        let prometheus = Prometheus::new(kind, &fixed);
        let client = PrometheusClient::new(kind, &fixed);
        for i in 0..series {
            ours.record(kind, i);
            prometheus.record(kind, i);
            client.record(kind, i);
        }
        // Each encoder starts from a buffer of the size of its output, as
        // `encode_text()` does from the size of its last one.
        let text = ours.scrape();
        let prometheus_len = prometheus.scrape(0).len();
        let client_text = client.scrape(0);
        let client_len = client_text.len();
        let prometheus_text = String::from_utf8(prometheus.scrape(prometheus_len)).expect("utf-8");
        println!(
            "{} x{series}: samples {} / {} / {} (insa_metrics / prometheus / prometheus_client), \
             bytes {} / {} / {}, insa_metrics identical to TextEncoder: {}",
            kind.name(),
            samples(&text),
            samples(&prometheus_text),
            samples(&client_text),
            text.len(),
            prometheus_len,
            client_len,
            text == prometheus_text,
        );
        drop((text, client_text));
        if series >= 10_000 {
            group.sampling_mode(SamplingMode::Flat);
            group.sample_size(10);
        } else {
            group.sampling_mode(SamplingMode::Auto);
            group.sample_size(50);
        }
        group.bench_function(BenchmarkId::new("insa_metrics", series), |b| {
            b.iter(|| black_box(&ours).scrape())
        });
        group.bench_function(BenchmarkId::new("prometheus", series), |b| {
            b.iter(|| black_box(&prometheus).scrape(prometheus_len))
        });
        group.bench_function(BenchmarkId::new("prometheus_client", series), |b| {
            b.iter(|| black_box(&client).scrape(client_len))
        });
        // A store that dropped idle series while it was measured would have
        // written less than the peers.
        let after = samples(&ours.scrape());
        if after != samples(&prometheus_text) {
            println!("WARNING: insa_metrics now writes {after} samples, not the peers' count");
        }
    }
    group.finish();
}

fn counters(c: &mut Criterion) {
    side_by_side(c, Kind::Counter);
}

fn histograms(c: &mut Criterion) {
    side_by_side(c, Kind::Histogram);
}

criterion_group!(benches, catalogue, counters, histograms);
criterion_main!(benches);
