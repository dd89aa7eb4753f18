//! The cost of the attribute macros against a bare call and against the same
//! work written by hand with `prometheus` and label handles resolved once:
//! an in-flight gauge, a duration histogram and a counter by status.
//!
//! The hand-written versions are what the `prometheus` docs show: plain fns
//! whose handles live in a lazily initialised `static`, here one struct of
//! handles resolved once, like the `static` behind each macro call site.
//! The baseline (`hand_written_*`) times with `std::time::Instant`, as
//! `prometheus`' own `Histogram::start_timer` does. A second copy of it
//! (`hand_written_tsc_*`) times with the clock the macros use, the TSC through
//! `quanta`: the macros' lead over the first is the clock, and the second
//! shows what is left.
//!
//! `cargo bench --bench macro_overhead -- --warm-up-time 1 --measurement-time 3`,
//! then `python3 scripts/bench_table.py` for the table with the ratios.

use std::future::Future;
use std::hint::black_box;
use std::io;
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use criterion::{Bencher, Criterion, criterion_group, criterion_main};
use insa_metrics::catalogue::{
    DATABASE_DURATION_BUCKETS, MESSAGE_PROCESSING_BUCKETS, REQUEST_DURATION_BUCKETS,
};
use insa_metrics::prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};
use insa_metrics::{
    ClassifyError, track_database_operation, track_message_processing, track_request_metrics,
};

/// The work being measured: cheap, so the instrumentation dominates.
fn work(x: u64) -> Result<u64, io::Error> {
    let y = black_box(x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    if y == 0 {
        Err(io::Error::other("zero"))
    } else {
        Ok(y)
    }
}

/// How a hand-written integration reads the time.
trait Stopwatch {
    type Start: Copy;
    fn start(&self) -> Self::Start;
    fn seconds_since(&self, start: Self::Start) -> f64;
}

/// `std::time::Instant`, as `Histogram::start_timer` uses it.
struct StdClock;

impl Stopwatch for StdClock {
    type Start = Instant;

    #[inline]
    fn start(&self) -> Instant {
        Instant::now()
    }

    #[inline]
    fn seconds_since(&self, start: Instant) -> f64 {
        start.elapsed().as_secs_f64()
    }
}

/// The TSC through `quanta`, the clock the macros time with.
struct TscClock(quanta::Clock);

impl Stopwatch for TscClock {
    type Start = u64;

    #[inline]
    fn start(&self) -> u64 {
        self.0.raw()
    }

    #[inline]
    #[allow(clippy::cast_precision_loss)]
    fn seconds_since(&self, start: u64) -> f64 {
        self.0.delta_as_nanos(start, self.0.raw()) as f64 / 1e9
    }
}

/// Handles resolved once, as a careful hand-written integration would.
struct Handles<C> {
    by_status: [IntCounter; 4],
    duration: Histogram,
    in_flight: IntGauge,
    operations: IntCounter,
    db_duration: Histogram,
    db_errors: IntCounterVec,
    processing: Histogram,
    clock: C,
}

impl<C: Stopwatch> Handles<C> {
    fn new(clock: C) -> Self {
        let requests = IntCounterVec::new(
            Opts::new("requests_total", "requests"),
            &["agent_type", "status"],
        )
        .unwrap();
        let duration = HistogramVec::new(
            HistogramOpts::new("duration_seconds", "duration")
                .buckets(REQUEST_DURATION_BUCKETS.to_vec()),
            &["agent_type"],
        )
        .unwrap();
        let in_flight =
            IntGaugeVec::new(Opts::new("in_flight", "in flight"), &["worker_name"]).unwrap();
        let operations = IntCounterVec::new(
            Opts::new("operations_total", "operations"),
            &["operation", "table"],
        )
        .unwrap();
        let db_duration = HistogramVec::new(
            HistogramOpts::new("db_duration_seconds", "duration")
                .buckets(DATABASE_DURATION_BUCKETS.to_vec()),
            &["operation", "table"],
        )
        .unwrap();
        let db_errors = IntCounterVec::new(
            Opts::new("db_errors_total", "errors"),
            &["operation", "error_type"],
        )
        .unwrap();
        let processing = HistogramVec::new(
            HistogramOpts::new("processing_seconds", "processing")
                .buckets(MESSAGE_PROCESSING_BUCKETS.to_vec()),
            &["agent_type"],
        )
        .unwrap();
        Handles {
            by_status: ["success", "error", "timeout", "cancelled"]
                .map(|status| requests.with_label_values(&["bench_hand", status])),
            duration: duration.with_label_values(&["bench_hand"]),
            in_flight: in_flight.with_label_values(&["bench_hand"]),
            operations: operations.with_label_values(&["select", "users"]),
            db_duration: db_duration.with_label_values(&["select", "users"]),
            db_errors,
            processing: processing.with_label_values(&["bench_hand"]),
            clock,
        }
    }

    fn request<T>(&self, run: impl FnOnce() -> Result<T, io::Error>) -> Result<T, io::Error> {
        self.in_flight.inc();
        let start = self.clock.start();
        let result = run();
        let status = match &result {
            Ok(_) => 0,
            Err(error) if error.is_timeout() => 2,
            Err(_) => 1,
        };
        self.duration.observe(self.clock.seconds_since(start));
        self.by_status[status].inc();
        self.in_flight.dec();
        result
    }

    /// The async form: the same work around an awaited body.
    async fn request_async<T>(
        &self,
        run: impl Future<Output = Result<T, io::Error>>,
    ) -> Result<T, io::Error> {
        self.in_flight.inc();
        let start = self.clock.start();
        let result = run.await;
        let status = match &result {
            Ok(_) => 0,
            Err(error) if error.is_timeout() => 2,
            Err(_) => 1,
        };
        self.duration.observe(self.clock.seconds_since(start));
        self.by_status[status].inc();
        self.in_flight.dec();
        result
    }

    async fn database_async<T>(
        &self,
        run: impl Future<Output = Result<T, io::Error>>,
    ) -> Result<T, io::Error> {
        let start = self.clock.start();
        let result = run.await;
        self.db_duration.observe(self.clock.seconds_since(start));
        self.operations.inc();
        if let Err(error) = &result {
            self.db_errors
                .with_label_values(&["select", error.error_type()])
                .inc();
        }
        result
    }

    async fn message_async<T>(&self, run: impl Future<Output = T>) -> T {
        let start = self.clock.start();
        let result = run.await;
        self.processing.observe(self.clock.seconds_since(start));
        result
    }

    fn database<T>(&self, run: impl FnOnce() -> Result<T, io::Error>) -> Result<T, io::Error> {
        let start = self.clock.start();
        let result = run();
        self.db_duration.observe(self.clock.seconds_since(start));
        self.operations.inc();
        if let Err(error) = &result {
            self.db_errors
                .with_label_values(&["select", error.error_type()])
                .inc();
        }
        result
    }

    fn message<T>(&self, run: impl FnOnce() -> T) -> T {
        let start = self.clock.start();
        let result = run();
        self.processing.observe(self.clock.seconds_since(start));
        result
    }
}

#[track_request_metrics("bench_request")]
fn request_macro(x: u64) -> Result<u64, io::Error> {
    work(x)
}

#[track_database_operation("select", "bench_users")]
fn database_macro(x: u64) -> Result<u64, io::Error> {
    work(x)
}

#[track_message_processing("bench_message")]
fn message_macro(x: u64) -> Result<u64, io::Error> {
    work(x)
}

async fn bare_async(x: u64) -> Result<u64, io::Error> {
    work(x)
}

#[track_request_metrics("bench_request_async")]
async fn request_macro_async(x: u64) -> Result<u64, io::Error> {
    work(x)
}

#[track_database_operation("select", "bench_users_async")]
async fn database_macro_async(x: u64) -> Result<u64, io::Error> {
    work(x)
}

#[track_message_processing("bench_message_async")]
async fn message_macro_async(x: u64) -> Result<u64, io::Error> {
    work(x)
}

/// The hand-written integration's handles, timed with `Instant`.
static STD_CLOCK: LazyLock<Handles<StdClock>> = LazyLock::new(|| Handles::new(StdClock));

/// The same handles, timed with the TSC.
static TSC_CLOCK: LazyLock<Handles<TscClock>> =
    LazyLock::new(|| Handles::new(TscClock(quanta::Clock::new())));

/// The hand-written versions of the instrumented fns above, on both clocks.
macro_rules! by_hand {
    ($($handles:ident: $request:ident, $database:ident, $message:ident,
       $request_async:ident, $database_async:ident, $message_async:ident;)+) => {$(
        fn $request(x: u64) -> Result<u64, io::Error> {
            $handles.request(|| work(x))
        }

        fn $database(x: u64) -> Result<u64, io::Error> {
            $handles.database(|| work(x))
        }

        fn $message(x: u64) -> Result<u64, io::Error> {
            $handles.message(|| work(x))
        }

        async fn $request_async(x: u64) -> Result<u64, io::Error> {
            $handles.request_async(async move { work(x) }).await
        }

        async fn $database_async(x: u64) -> Result<u64, io::Error> {
            $handles.database_async(async move { work(x) }).await
        }

        async fn $message_async(x: u64) -> Result<u64, io::Error> {
            $handles.message_async(async move { work(x) }).await
        }
    )+};
}

by_hand! {
    STD_CLOCK: request_std, database_std, message_std,
        request_std_async, database_std_async, message_std_async;
    TSC_CLOCK: request_tsc, database_tsc, message_tsc,
        request_tsc_async, database_tsc_async, message_tsc_async;
}

/// Polls a future that completes without waiting, as an executor would.
/// Inlined, so the future is built where it is polled, as in a task or a
/// parent future: the rows then compare the instrumentation, not how well
/// the optimiser elides one move of a future into a callee's frame.
#[inline(always)]
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the benchmarked futures never wait"),
    }
}

/// Times `f` after one call: the first call resolves the handles and builds
/// the collector (the macros' global one, the hand-written statics, the
/// clock's calibration), a one-time cost that would otherwise be spread over
/// the calls timed (heavily so under callgrind, which makes few).
fn timed<O>(b: &mut Bencher<'_>, mut f: impl FnMut() -> O) {
    black_box(f());
    b.iter(f);
}

fn sync_fns(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync");
    group.bench_function("bare", |b| timed(b, || work(black_box(7))));
    group.bench_function("hand_written_request", |b| {
        timed(b, || request_std(black_box(7)));
    });
    group.bench_function("hand_written_tsc_request", |b| {
        timed(b, || request_tsc(black_box(7)));
    });
    group.bench_function("track_request_metrics", |b| {
        timed(b, || request_macro(black_box(7)));
    });
    group.bench_function("hand_written_database", |b| {
        timed(b, || database_std(black_box(7)));
    });
    group.bench_function("hand_written_tsc_database", |b| {
        timed(b, || database_tsc(black_box(7)));
    });
    group.bench_function("track_database_operation", |b| {
        timed(b, || database_macro(black_box(7)));
    });
    group.bench_function("hand_written_message", |b| {
        timed(b, || message_std(black_box(7)));
    });
    group.bench_function("hand_written_tsc_message", |b| {
        timed(b, || message_tsc(black_box(7)));
    });
    group.bench_function("track_message_processing", |b| {
        timed(b, || message_macro(black_box(7)));
    });
    group.finish();
}

fn async_fns(c: &mut Criterion) {
    let mut group = c.benchmark_group("async");
    group.bench_function("bare", |b| timed(b, || ready(bare_async(black_box(7)))));
    group.bench_function("hand_written_request", |b| {
        timed(b, || ready(request_std_async(black_box(7))));
    });
    group.bench_function("hand_written_tsc_request", |b| {
        timed(b, || ready(request_tsc_async(black_box(7))));
    });
    group.bench_function("track_request_metrics", |b| {
        timed(b, || ready(request_macro_async(black_box(7))));
    });
    group.bench_function("hand_written_database", |b| {
        timed(b, || ready(database_std_async(black_box(7))));
    });
    group.bench_function("hand_written_tsc_database", |b| {
        timed(b, || ready(database_tsc_async(black_box(7))));
    });
    group.bench_function("track_database_operation", |b| {
        timed(b, || ready(database_macro_async(black_box(7))));
    });
    group.bench_function("hand_written_message", |b| {
        timed(b, || ready(message_std_async(black_box(7))));
    });
    group.bench_function("hand_written_tsc_message", |b| {
        timed(b, || ready(message_tsc_async(black_box(7))));
    });
    group.bench_function("track_message_processing", |b| {
        timed(b, || ready(message_macro_async(black_box(7))));
    });
    group.finish();
}

criterion_group!(benches, sync_fns, async_fns);
criterion_main!(benches);
