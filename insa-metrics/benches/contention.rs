//! CPU per call of one instrumented fn shared by 1, 2 and 4 threads, against the same work written by hand on the peers.
//!
//! `insa_metrics` is a trivial fn under `#[track_request_metrics("sizing_agent")]`.
//! `prometheus` is the same work written by hand on `prometheus` handles
//! resolved once (an `IntCounter` per status, a `Histogram`, an `IntGauge`
//! in flight) in a lazily initialised `static`, as
//! `benches/macro_overhead.rs` writes it, timed with the macros' clock
//! (`quanta::Clock::raw` and `delta_as_nanos`); `prometheus_client` the same
//! on prometheus-client's `Counter`, `Histogram` and `Gauge`. `bare` is the
//! fn alone. Every thread calls the same fn, so they share its series.
//!
//! This machine has 2 cores shared with others, so the figure is thread CPU
//! time (`CLOCK_THREAD_CPUTIME_ID`), not wall time: each thread reads its
//! own CPU time around its calls once all threads are started, and the
//! benchmark reports the sum over threads divided by the calls of all
//! threads. With more threads than cores, the threads that run at the same
//! time still bounce the series' cache lines. How many ran at once depends
//! on what else the cores run: after each benchmark it prints the threads'
//! CPU time over the wall time of their loops (2.00 for two threads always
//! on a core each), also written to `target/bench-contention.json`.
//!
//! ```sh
//! cargo bench -p insa-metrics --bench contention -- --warm-up-time 1 --measurement-time 3
//! python3 scripts/bench_store.py
//! ```
#![allow(unsafe_code)] // libc: clock_gettime of the thread's CPU clock.

use std::hint::black_box;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::AtomicI64;
use std::sync::{Barrier, LazyLock, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use insa_metrics::{ClassifyError as _, track_request_metrics};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

/// The catalogue's buckets of `insa_agent_request_duration_seconds`.
const REQUEST_BUCKETS: [f64; 9] = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];
/// The statuses the hand-written versions count, in the order of their
/// handles.
const STATUSES: [&str; 4] = ["success", "error", "timeout", "cancelled"];
/// Threads sharing the fn.
const THREADS: [usize; 3] = [1, 2, 4];

/// A fn being measured: the bare one or an instrumented one.
type Sizing = fn(u64) -> Result<u64, io::Error>;

/// The work being measured: cheap, so the instrumentation dominates.
fn work(x: u64) -> Result<u64, io::Error> {
    let y = black_box(x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    if y == 0 {
        Err(io::Error::other("zero"))
    } else {
        Ok(y)
    }
}

/// The index of a result's status in [`STATUSES`].
#[inline]
fn status<T>(result: &Result<T, io::Error>) -> usize {
    match result {
        Ok(_) => 0,
        Err(error) if error.is_timeout() => 2,
        Err(_) => 1,
    }
}

#[track_request_metrics("sizing_agent")]
fn sizing_macro(x: u64) -> Result<u64, io::Error> {
    work(x)
}

/// `prometheus` handles resolved once.
struct PrometheusHandles {
    by_status: [prometheus::IntCounter; 4],
    duration: prometheus::Histogram,
    in_flight: prometheus::IntGauge,
    clock: quanta::Clock,
}

static PROMETHEUS: LazyLock<PrometheusHandles> = LazyLock::new(|| {
    let requests = prometheus::IntCounterVec::new(
        prometheus::Opts::new("insa_agent_requests_total", "requests"),
        &["agent_type", "status"],
    )
    .expect("a counter vec");
    let duration = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("insa_agent_request_duration_seconds", "duration")
            .buckets(REQUEST_BUCKETS.to_vec()),
        &["agent_type"],
    )
    .expect("a histogram vec");
    let in_flight = prometheus::IntGaugeVec::new(
        prometheus::Opts::new("insa_worker_active_requests", "in flight"),
        &["worker_name"],
    )
    .expect("a gauge vec");
    PrometheusHandles {
        by_status: STATUSES.map(|status| requests.with_label_values(&["sizing_agent", status])),
        duration: duration.with_label_values(&["sizing_agent"]),
        in_flight: in_flight.with_label_values(&["sizing_agent"]),
        clock: quanta::Clock::new(),
    }
});

fn sizing_prometheus(x: u64) -> Result<u64, io::Error> {
    let handles = &*PROMETHEUS;
    handles.in_flight.inc();
    let start = handles.clock.raw();
    let result = work(x);
    let nanos = handles.clock.delta_as_nanos(start, handles.clock.raw());
    #[allow(clippy::cast_precision_loss)]
    handles.duration.observe(nanos as f64 / 1e9);
    handles.by_status[status(&result)].inc();
    handles.in_flight.dec();
    result
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    agent_type: String,
    status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AgentLabels {
    agent_type: String,
}

/// prometheus-client handles resolved once.
struct ClientHandles {
    by_status: [Counter; 4],
    duration: prometheus_client::metrics::histogram::Histogram,
    in_flight: Gauge<i64, AtomicI64>,
    clock: quanta::Clock,
}

static CLIENT: LazyLock<ClientHandles> = LazyLock::new(|| {
    let requests = Family::<RequestLabels, Counter>::default();
    let duration = Family::<AgentLabels, prometheus_client::metrics::histogram::Histogram>::new_with_constructor(
        || prometheus_client::metrics::histogram::Histogram::new(REQUEST_BUCKETS),
    );
    let in_flight = Family::<AgentLabels, Gauge<i64, AtomicI64>>::default();
    let agent = AgentLabels {
        agent_type: "sizing_agent".to_owned(),
    };
    ClientHandles {
        by_status: STATUSES.map(|status| {
            requests.get_or_create_owned(&RequestLabels {
                agent_type: "sizing_agent".to_owned(),
                status: status.to_owned(),
            })
        }),
        duration: duration.get_or_create_owned(&agent),
        in_flight: in_flight.get_or_create_owned(&agent),
        clock: quanta::Clock::new(),
    }
});

fn sizing_client(x: u64) -> Result<u64, io::Error> {
    let handles = &*CLIENT;
    handles.in_flight.inc();
    let start = handles.clock.raw();
    let result = work(x);
    let nanos = handles.clock.delta_as_nanos(start, handles.clock.raw());
    #[allow(clippy::cast_precision_loss)]
    handles.duration.observe(nanos as f64 / 1e9);
    handles.by_status[status(&result)].inc();
    handles.in_flight.dec();
    result
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write to.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// Thread CPU time and wall time of the timed loops since the last
/// [`concurrency`], to tell how many threads really ran at once.
static SPENT: Mutex<(Duration, Duration)> = Mutex::new((Duration::ZERO, Duration::ZERO));

/// `iters` calls of `f` on each of `threads` threads, started together: the
/// CPU time of all threads divided by `threads`, so that criterion's
/// division by `iters` gives the CPU time per call.
fn cpu_per_call(threads: usize, iters: u64, f: Sizing) -> Duration {
    let barrier = Barrier::new(threads);
    let spans: Vec<(Duration, Instant, Instant)> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    let wall = Instant::now();
                    let start = thread_cpu();
                    for _ in 0..iters {
                        let _ = black_box(f(black_box(7)));
                    }
                    (thread_cpu() - start, wall, Instant::now())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a worker"))
            .collect()
    });
    let cpu: Duration = spans.iter().map(|span| span.0).sum();
    let first = spans.iter().map(|span| span.1).min().expect("a thread");
    let last = spans.iter().map(|span| span.2).max().expect("a thread");
    let mut spent = SPENT.lock().unwrap_or_else(PoisonError::into_inner);
    spent.0 += cpu;
    spent.1 += last - first;
    cpu / u32::try_from(threads).expect("a few threads")
}

/// How many threads ran at once on average since the last call: thread CPU
/// time over wall time (at most the number of cores).
fn concurrency() -> f64 {
    let mut spent = SPENT.lock().unwrap_or_else(PoisonError::into_inner);
    let (cpu, wall) = std::mem::take(&mut *spent);
    cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9)
}

/// `target/bench-contention.json`, from this executable's path
/// (`target/release/deps/contention-…`).
fn results_path() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.ancestors().nth(3)?.join("bench-contention.json"))
}

fn contention(c: &mut Criterion) {
    // Resolve every handle before timing anything.
    for f in [sizing_macro, sizing_prometheus, sizing_client] {
        let _ = f(7);
    }
    let fns: [(&str, Sizing); 4] = [
        ("bare", work),
        ("insa_metrics", sizing_macro),
        ("prometheus", sizing_prometheus),
        ("prometheus_client", sizing_client),
    ];
    let mut ran_at_once = serde_json::Map::new();
    let mut group = c.benchmark_group("contention");
    for threads in THREADS {
        for (name, f) in fns {
            concurrency();
            group.bench_function(BenchmarkId::new(name, threads), |b| {
                b.iter_custom(|iters| cpu_per_call(threads, iters, f));
            });
            let at_once = concurrency();
            println!("contention/{name}/{threads}: {at_once:.2} threads ran at once on average");
            ran_at_once.insert(format!("{name}/{threads}"), at_once.into());
        }
    }
    group.finish();
    if let Some(path) = results_path() {
        let json = serde_json::Value::Object(ran_at_once);
        if let Err(error) = std::fs::write(&path, format!("{json:#}\n")) {
            eprintln!("could not write {}: {error}", path.display());
        }
    }
}

criterion_group!(benches, contention);
criterion_main!(benches);
