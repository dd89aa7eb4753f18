//! The cost of the attribute macros against a bare call and against the same
//! work written by hand with `prometheus` and label handles resolved once:
//! an in-flight gauge, a duration histogram and a counter by status.
//!
//! `cargo bench --bench macro_overhead -- --warm-up-time 1 --measurement-time 3`

use std::future::Future;
use std::hint::black_box;
use std::io;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
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

/// Handles resolved once, as a careful hand-written integration would.
struct Handles {
    by_status: [IntCounter; 4],
    duration: Histogram,
    in_flight: IntGauge,
    operations: IntCounter,
    db_duration: Histogram,
    db_errors: IntCounterVec,
    processing: Histogram,
}

impl Handles {
    fn new() -> Self {
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
        }
    }

    fn request<T>(&self, run: impl FnOnce() -> Result<T, io::Error>) -> Result<T, io::Error> {
        self.in_flight.inc();
        let start = Instant::now();
        let result = run();
        let status = match &result {
            Ok(_) => 0,
            Err(error) if error.is_timeout() => 2,
            Err(_) => 1,
        };
        self.duration.observe(start.elapsed().as_secs_f64());
        self.by_status[status].inc();
        self.in_flight.dec();
        result
    }

    fn database<T>(&self, run: impl FnOnce() -> Result<T, io::Error>) -> Result<T, io::Error> {
        let start = Instant::now();
        let result = run();
        self.db_duration.observe(start.elapsed().as_secs_f64());
        self.operations.inc();
        if let Err(error) = &result {
            self.db_errors
                .with_label_values(&["select", error.error_type()])
                .inc();
        }
        result
    }

    fn message<T>(&self, run: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let result = run();
        self.processing.observe(start.elapsed().as_secs_f64());
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

/// Polls a future that completes without waiting, as an executor would.
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

fn sync_fns(c: &mut Criterion) {
    let handles = Handles::new();
    let mut group = c.benchmark_group("sync");
    group.bench_function("bare", |b| b.iter(|| work(black_box(7))));
    group.bench_function("hand_written_request", |b| {
        b.iter(|| handles.request(|| work(black_box(7))));
    });
    group.bench_function("track_request_metrics", |b| {
        b.iter(|| request_macro(black_box(7)));
    });
    group.bench_function("hand_written_database", |b| {
        b.iter(|| handles.database(|| work(black_box(7))));
    });
    group.bench_function("track_database_operation", |b| {
        b.iter(|| database_macro(black_box(7)));
    });
    group.bench_function("hand_written_message", |b| {
        b.iter(|| handles.message(|| work(black_box(7))));
    });
    group.bench_function("track_message_processing", |b| {
        b.iter(|| message_macro(black_box(7)));
    });
    group.finish();
}

fn async_fns(c: &mut Criterion) {
    let handles = Handles::new();
    let mut group = c.benchmark_group("async");
    group.bench_function("bare", |b| b.iter(|| ready(bare_async(black_box(7)))));
    group.bench_function("hand_written_request", |b| {
        b.iter(|| ready(async { handles.request(|| work(black_box(7))) }));
    });
    group.bench_function("track_request_metrics", |b| {
        b.iter(|| ready(request_macro_async(black_box(7))));
    });
    group.bench_function("hand_written_database", |b| {
        b.iter(|| ready(async { handles.database(|| work(black_box(7))) }));
    });
    group.bench_function("track_database_operation", |b| {
        b.iter(|| ready(database_macro_async(black_box(7))));
    });
    group.bench_function("hand_written_message", |b| {
        b.iter(|| ready(async { handles.message(|| work(black_box(7))) }));
    });
    group.bench_function("track_message_processing", |b| {
        b.iter(|| ready(message_macro_async(black_box(7))));
    });
    group.finish();
}

criterion_group!(benches, sync_fns, async_fns);
criterion_main!(benches);
