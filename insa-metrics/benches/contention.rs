//! CPU per call of one instrumented fn shared by 1, 2 and 4 threads, against the same work written by hand on the peers.
//!
//! `insa_metrics` is a trivial fn under `#[track_request_metrics("sizing_agent")]`.
//! `prometheus` is the same work written by hand on `prometheus` handles
//! resolved once (an `IntCounter` per status, a `Histogram`, an `IntGauge`
//! in flight) in a lazily initialised `static`, as
//! `benches/macro_overhead.rs` writes it, timed with the macros' clock
//! (`quanta::Clock::raw` and `delta_as_nanos`); `prometheus_client` the same
//! on prometheus-client's `Counter`, `Histogram` and `Gauge`. `bare` is the
//! fn alone, and `shared_atomic` the fn and one `fetch_add` on one atomic
//! all threads share: a control of what one contended cache line costs.
//! Every thread calls the same fn, so they share its series.
//!
//! This machine has 2 cores shared with others, so the figure is thread CPU
//! time (`CLOCK_THREAD_CPUTIME_ID`), not wall time, summed over threads and
//! divided by their calls. The threads call in rounds of 2,000 calls that
//! they start together, each timed with its thread's CPU clock; only the
//! rounds during which the thread stayed on a core, and, with two threads or
//! more, another thread did too over most of it, are counted: the calls made
//! while another thread was making them. With more threads than cores, the
//! threads that run at the same time still bounce the series' cache lines.
//! Criterion's figure is per sample (a sample without any round counted
//! falls back on all its rounds); after each benchmark it also prints the
//! share of the rounds counted and the CPU time per call over the counted
//! rounds of all its samples, which `scripts/bench_store.py` shows (from
//! `target/bench-contention.json`). A low share means the cores were busy
//! with other work.
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};
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

/// A control: the work and one increment of one atomic that all threads
/// share, to tell whether the cores bounce a cache line at all here.
fn shared_atomic(x: u64) -> Result<u64, io::Error> {
    static SHARED: AtomicU64 = AtomicU64::new(0);
    SHARED.fetch_add(1, Ordering::Relaxed);
    work(x)
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

/// The rounds of the benchmark running, over all its samples (see
/// [`cpu_per_call`]).
#[derive(Debug, Default, Clone, Copy)]
struct Pool {
    rounds: u64,
    counted: u64,
    counted_cpu: Duration,
    counted_calls: u64,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    rounds: 0,
    counted: 0,
    counted_cpu: Duration::ZERO,
    counted_calls: 0,
});

/// Calls per thread in one round: about 70 µs instrumented, well under a
/// time slice.
const ROUND: u64 = 2_000;

/// Waits, yielding the core, until every thread has arrived at `round`.
fn start_round(arrived: &AtomicU64, threads: u64, round: u64) {
    arrived.fetch_add(1, Ordering::AcqRel);
    let all = (round + 1) * threads;
    while arrived.load(Ordering::Acquire) < all {
        thread::yield_now();
    }
}

/// One thread's round: when it ran, and the CPU time it took.
#[derive(Clone, Copy)]
struct Round {
    start: Instant,
    end: Instant,
    cpu: Duration,
    calls: u64,
}

impl Round {
    /// Whether the thread stayed on its core throughout.
    fn on_core(&self) -> bool {
        self.cpu.as_secs_f64() >= 0.9 * (self.end - self.start).as_secs_f64()
    }

    /// Whether `other` ran on its core over most of this round.
    fn overlapped_by(&self, other: &Round) -> bool {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        other.on_core()
            && end > start
            && (end - start).as_secs_f64() >= 0.9 * (self.end - self.start).as_secs_f64()
    }
}

/// The CPU time per call of `f` on `threads` threads, times `iters`.
///
/// Each thread makes `iters` calls in rounds of [`ROUND`] calls that all
/// threads start together, and times each round with its thread's CPU
/// clock. The cores are shared with other work, so a thread is not always on
/// one: only the rounds that ran on a core throughout, and, with two threads
/// or more, alongside another thread's such round, are counted; these are
/// the calls made while another thread made them too. When none is, all are.
fn cpu_per_call(threads: usize, iters: u64, f: Sizing) -> Duration {
    let arrived = AtomicU64::new(0);
    let count = u64::try_from(threads).expect("a few threads");
    let rounds = iters.div_ceil(ROUND);
    let by_thread: Vec<Vec<Round>> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut timed = Vec::with_capacity(usize::try_from(rounds).unwrap_or(0));
                    for round in 0..rounds {
                        let calls = ROUND.min(iters - round * ROUND);
                        start_round(&arrived, count, round);
                        // The wall clock inside the CPU clock, so that a
                        // round on a core throughout has cpu >= end - start.
                        let cpu = thread_cpu();
                        let start = Instant::now();
                        for _ in 0..calls {
                            let _ = black_box(f(black_box(7)));
                        }
                        let end = Instant::now();
                        let cpu = thread_cpu() - cpu;
                        timed.push(Round {
                            start,
                            end,
                            cpu,
                            calls,
                        });
                    }
                    timed
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a worker"))
            .collect()
    });
    let (mut cpu, mut calls, mut counted) = (Duration::ZERO, 0, 0);
    let (mut all_cpu, mut all_calls) = (Duration::ZERO, 0);
    for (t, timed) in by_thread.iter().enumerate() {
        for (r, round) in timed.iter().enumerate() {
            all_cpu += round.cpu;
            all_calls += round.calls;
            let concurrent = threads == 1
                || by_thread
                    .iter()
                    .enumerate()
                    .any(|(u, other)| u != t && round.overlapped_by(&other[r]));
            if round.on_core() && concurrent {
                cpu += round.cpu;
                calls += round.calls;
                counted += 1;
            }
        }
    }
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    pool.rounds += rounds * count;
    pool.counted += counted;
    pool.counted_cpu += cpu;
    pool.counted_calls += calls;
    let (cpu, calls) = if calls > 0 {
        (cpu, calls)
    } else {
        (all_cpu, all_calls)
    };
    #[allow(clippy::cast_precision_loss)]
    Duration::from_secs_f64(cpu.as_secs_f64() / calls as f64 * iters as f64)
}

/// The rounds since the last call, if any ran.
fn take_pool() -> Option<Pool> {
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    let taken = std::mem::take(&mut *pool);
    (taken.rounds > 0).then_some(taken)
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
    let fns: [(&str, Sizing); 5] = [
        ("bare", work),
        ("shared_atomic", shared_atomic),
        ("insa_metrics", sizing_macro),
        ("prometheus", sizing_prometheus),
        ("prometheus_client", sizing_client),
    ];
    let mut counted = serde_json::Map::new();
    let mut group = c.benchmark_group("contention");
    for threads in THREADS {
        for (name, f) in fns {
            take_pool();
            group.bench_function(BenchmarkId::new(name, threads), |b| {
                b.iter_custom(|iters| cpu_per_call(threads, iters, f));
            });
            // None when the filter left this benchmark out.
            if let Some(pool) = take_pool() {
                #[allow(clippy::cast_precision_loss)]
                let share = pool.counted as f64 / pool.rounds as f64;
                #[allow(clippy::cast_precision_loss)]
                let per_call =
                    pool.counted_cpu.as_nanos() as f64 / pool.counted_calls.max(1) as f64;
                println!(
                    "contention/{name}/{threads}: {:.1} % of the rounds counted, \
                     {per_call:.1} ns per call over them",
                    share * 100.0
                );
                counted.insert(
                    format!("{name}/{threads}"),
                    serde_json::json!({
                        "counted": share,
                        "counted_calls": pool.counted_calls,
                        "cpu_per_call_ns": per_call,
                    }),
                );
            }
        }
    }
    group.finish();
    if let Some(path) = results_path() {
        let json = serde_json::Value::Object(counted);
        if let Err(error) = std::fs::write(&path, format!("{json:#}\n")) {
            eprintln!("could not write {}: {error}", path.display());
        }
    }
}

criterion_group!(benches, contention);
criterion_main!(benches);
