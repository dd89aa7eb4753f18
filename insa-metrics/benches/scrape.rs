//! The cost of one scrape: `get_metrics_text()` against the `prometheus`
//! crate's `TextEncoder` on the same registry, for the catalogue with a
//! realistic number of series and for 10,000 series.
//!
//! ```sh
//! cargo bench --bench scrape
//! ```

use std::hint::black_box;
use std::io::Write as _;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use flate2::Compression;
use flate2::write::GzEncoder;
use insa_metrics::{
    AgentType, CircuitState, MetricsCollector, ReplayStatus, RequestStatus, get_metrics_text,
    metrics,
};
use prometheus::{Encoder, TextEncoder};

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

fn series(text: &str) -> usize {
    text.lines().filter(|line| !line.starts_with('#')).count()
}

fn scrape(c: &mut Criterion) {
    // The catalogue: the global collector, as `get_metrics_text()` serves it
    // (no process metrics, so both encoders see the same registry state).
    let global = MetricsCollector::builder()
        .process_metrics(false)
        .install()
        .expect("the first collector");
    record_platform_workload(global);
    let text = get_metrics_text();
    assert_eq!(text.as_bytes(), text_encoder(metrics().registry()));
    println!(
        "catalogue: {} series, {} bytes, {} bytes gzipped",
        series(&text),
        text.len(),
        gzip(&text).len()
    );
    let mut group = c.benchmark_group("catalogue");
    group.bench_function("get_metrics_text", |b| b.iter(get_metrics_text));
    group.bench_function("prometheus_TextEncoder", |b| {
        b.iter(|| text_encoder(black_box(metrics().registry())))
    });
    group.bench_function("gather_only", |b| {
        b.iter(|| black_box(metrics().registry()).gather())
    });
    group.bench_function("get_metrics_text+gzip", |b| {
        b.iter(|| gzip(&get_metrics_text()))
    });
    group.finish();

    // 10,000 series: 100 operations × 100 tables on its own registry.
    let big = MetricsCollector::builder()
        .process_metrics(false)
        .cardinality_limit(10_000)
        .build()
        .expect("a collector");
    for operation in 0..100 {
        for table in 0..100 {
            big.record_database_operation(format!("op_{operation}"), format!("table_{table}"));
        }
    }
    let text = big.encode_text();
    assert_eq!(text.as_bytes(), text_encoder(big.registry()));
    println!(
        "10k: {} series, {} bytes, {} bytes gzipped",
        series(&text),
        text.len(),
        gzip(&text).len()
    );
    let mut group = c.benchmark_group("10k_series");
    group.sample_size(20);
    group.bench_function("get_metrics_text", |b| b.iter(|| big.encode_text()));
    group.bench_function("prometheus_TextEncoder", |b| {
        b.iter(|| text_encoder(black_box(big.registry())))
    });
    group.bench_function("gather_only", |b| {
        b.iter(|| black_box(big.registry()).gather())
    });
    group.finish();
}

criterion_group!(benches, scrape);
criterion_main!(benches);
