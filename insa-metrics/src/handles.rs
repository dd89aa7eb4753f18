//! Handles: the series one kind of instrumented call records into, resolved
//! once, and how a call that ended is recorded (with its exemplar).

use std::sync::Arc;

use crate::clock::{Clock, Tick};
use crate::labels::RequestStatus;
use crate::outcome::{Outcome, SNAKE_CASE_BUFFER, snake_case};
use crate::store::{Admission, Exemplars, HistogramHandle, SeriesHandle, Store, thread_stripe};
use crate::trace::TraceContext;

/// A gauge's decrement, as the wrapping add the cells take.
const MINUS_ONE: u64 = u64::MAX;

/// The `status` values of `insa_agent_requests_total`, each with its series.
const STATUSES: usize = RequestStatus::ALL.len();

/// A counter series and its one exemplar slot.
#[derive(Debug, Clone)]
struct TracedCounter {
    cells: SeriesHandle,
    exemplars: Arc<Exemplars>,
}

/// A histogram series and an exemplar slot per bucket.
#[derive(Debug, Clone)]
struct TracedHistogram {
    cells: HistogramHandle,
    exemplars: Arc<Exemplars>,
}

impl TracedHistogram {
    fn new(cells: HistogramHandle) -> Self {
        let exemplars = cells.series().exemplars(cells.slots());
        TracedHistogram { cells, exemplars }
    }

    /// Observes a duration; offers its bucket an exemplar. Returns the trace
    /// context it was written with, if it was.
    #[inline]
    fn observe(&self, stripe: usize, nanos: u64, now: Tick, interval: u64) -> Option<TraceContext> {
        let bucket = self.cells.observe_in(stripe, nanos);
        self.exemplars.offer(bucket, nanos, now.raw(), interval)
    }
}

/// The series one request site records into, resolved once.
///
/// # Examples
///
/// ```
/// # let collector = insa_metrics::MetricsCollector::builder().process_metrics(false).build()?;
/// let handles = collector.request_handles("sizing_agent");
/// for _ in 0..3 {
///     let request = handles.start();
///     // … handle the request …
///     request.succeed();
/// }
/// assert!(collector.encode_text().contains(
///     r#"insa_agent_requests_total{agent_type="sizing_agent",status="success"} 3"#
/// ));
/// # Ok::<(), insa_metrics::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RequestHandles {
    by_status: [TracedCounter; STATUSES],
    duration: TracedHistogram,
    in_flight: SeriesHandle,
    clock: Clock,
    exemplar_interval: u64,
}

impl RequestHandles {
    /// The series of `agent`'s requests; every status is made, at 0.
    pub(crate) fn resolve(store: &Store, agent: &str, admission: Admission) -> Self {
        let families = &store.families;
        let by_status = RequestStatus::ALL.map(|status| {
            let cells = families
                .requests
                .handle(&[agent, status.as_str()], admission);
            let exemplars = cells.series().exemplars(1);
            TracedCounter { cells, exemplars }
        });
        RequestHandles {
            by_status,
            duration: TracedHistogram::new(
                families
                    .request_duration
                    .histogram_handle(&[agent], admission),
            ),
            in_flight: families.worker_active.handle(&[agent], admission),
            clock: store.clock.clone(),
            exemplar_interval: store.exemplar_interval(),
        }
    }

    /// Starts a request: the in-flight gauge goes up until the guard drops.
    pub fn start(&self) -> crate::RequestGuard<'_> {
        crate::RequestGuard::borrowed(self)
    }

    /// Counts a request in flight, until [`record`](Self::record), and
    /// reads the clock it started at.
    #[inline]
    pub(crate) fn enter(&self) -> Tick {
        self.in_flight.add(0, 1);
        self.clock.now()
    }

    /// Records a request that started at `start` and ended with `outcome`:
    /// its status, its duration (a refused request has none) and its end in
    /// the in-flight gauge; with a trace context, an exemplar.
    #[inline]
    pub(crate) fn record(&self, outcome: Outcome, start: Tick) {
        let now = self.clock.now();
        let stripe = thread_stripe();
        let status = &self.by_status[status_index(outcome.status())];
        let traced = if outcome == Outcome::Rejected {
            status
                .exemplars
                .offer(0, 1, now.raw(), self.exemplar_interval)
        } else {
            let nanos = self.clock.nanos_between(start.raw(), now.raw());
            self.duration
                .observe(stripe, nanos, now, self.exemplar_interval)
        };
        status.cells.add_in(stripe, 0, 1);
        if let Some(trace) = traced {
            status
                .exemplars
                .offer_trace(0, trace, 1, now.raw(), self.exemplar_interval);
        }
        self.in_flight.add_in(stripe, 0, MINUS_ONE);
    }

    /// The clock the handles time with.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }
}

#[inline]
fn status_index(status: RequestStatus) -> usize {
    match status {
        RequestStatus::Success => 0,
        RequestStatus::Error => 1,
        RequestStatus::Timeout => 2,
        RequestStatus::Cancelled => 3,
        RequestStatus::Rejected => 4,
    }
}

/// The series one database operation site records into.
///
/// # Examples
///
/// ```
/// # let collector = insa_metrics::MetricsCollector::builder().process_metrics(false).build()?;
/// let handles = collector.database_handles("select", "users");
/// let rows: Result<u32, std::io::Error> = handles.start().finish(Ok(3));
/// assert_eq!(rows?, 3);
/// assert!(collector.encode_text().contains(
///     r#"insa_database_operations_total{operation="select",table="users"} 1"#
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DatabaseHandles {
    operations: SeriesHandle,
    duration: TracedHistogram,
    store: Arc<Store>,
    operation: Box<str>,
    exemplar_interval: u64,
}

impl DatabaseHandles {
    pub(crate) fn resolve(
        store: &Arc<Store>,
        operation: &str,
        table: &str,
        admission: Admission,
    ) -> Self {
        let families = &store.families;
        DatabaseHandles {
            operations: families
                .db_operations
                .handle(&[operation, table], admission),
            duration: TracedHistogram::new(
                families
                    .db_duration
                    .histogram_handle(&[operation, table], admission),
            ),
            operation: operation.into(),
            exemplar_interval: store.exemplar_interval(),
            store: Arc::clone(store),
        }
    }

    /// Starts a database operation.
    pub fn start(&self) -> crate::DatabaseGuard<'_> {
        crate::DatabaseGuard::borrowed(self)
    }

    /// Reads the clock an operation starts at.
    #[inline]
    pub(crate) fn now(&self) -> Tick {
        self.store.clock.now()
    }

    /// Records an operation that started at `start`: counted, timed (with an
    /// exemplar), and for an error or a panic counted by `error_type`.
    #[inline]
    pub(crate) fn record(&self, outcome: Outcome, start: Tick) {
        let now = self.store.clock.now();
        let stripe = thread_stripe();
        let nanos = self.store.clock.nanos_between(start.raw(), now.raw());
        self.duration
            .observe(stripe, nanos, now, self.exemplar_interval);
        self.operations.add_in(stripe, 0, 1);
        if let Some(error_type) = outcome.error_type() {
            self.record_error(error_type);
        }
    }

    /// Off the hot path: the error series is looked up by its `error_type`.
    #[cold]
    #[inline(never)]
    fn record_error(&self, error_type: &str) {
        let mut buffer = [0; SNAKE_CASE_BUFFER];
        let error_type = snake_case(error_type, &mut buffer);
        self.store
            .families
            .db_errors
            .inc(&[&self.operation, error_type]);
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.store.clock
    }
}

/// The series one message processing site records into.
///
/// # Examples
///
/// ```
/// # let collector = insa_metrics::MetricsCollector::builder().process_metrics(false).build()?;
/// let handles = collector.message_handles("orchestrator");
/// {
///     let _processing = handles.start();
///     // … process one message …
/// }
/// assert!(collector.encode_text().contains(
///     r#"insa_message_bus_processing_duration_seconds_count{agent_type="orchestrator"} 1"#
/// ));
/// # Ok::<(), insa_metrics::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MessageHandles {
    duration: TracedHistogram,
    clock: Clock,
    exemplar_interval: u64,
}

impl MessageHandles {
    pub(crate) fn resolve(store: &Store, agent: &str, admission: Admission) -> Self {
        MessageHandles {
            duration: TracedHistogram::new(
                store
                    .families
                    .bus_processing
                    .histogram_handle(&[agent], admission),
            ),
            clock: store.clock.clone(),
            exemplar_interval: store.exemplar_interval(),
        }
    }

    /// Reads the clock processing starts at.
    #[inline]
    pub(crate) fn now(&self) -> Tick {
        self.clock.now()
    }

    /// Observes the processing that started at `start`.
    #[inline]
    pub(crate) fn observe_since(&self, start: Tick) {
        let now = self.clock.now();
        let nanos = self.clock.nanos_between(start.raw(), now.raw());
        self.duration
            .observe(thread_stripe(), nanos, now, self.exemplar_interval);
    }

    /// Starts processing a message.
    #[inline]
    pub fn start(&self) -> crate::MessageGuard<'_> {
        crate::MessageGuard::borrowed(self)
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::MetricsCollector;

    /// Every exemplar of a scrape lies in its bucket: above the previous
    /// bound, at most its own.
    fn check_exemplars(text: &str) -> usize {
        let mut previous_bound = f64::NEG_INFINITY;
        let mut seen = 0;
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("insa_agent_request_duration_seconds_bucket{")
            else {
                previous_bound = f64::NEG_INFINITY;
                continue;
            };
            let le = rest
                .split("le=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let bound: f64 = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            if let Some((_, exemplar)) = line.split_once(" # {") {
                let value: f64 = exemplar.split(' ').nth(1).unwrap().parse().unwrap();
                assert!(value > previous_bound && value <= bound, "{line}");
                seen += 1;
            }
            previous_bound = bound;
        }
        seen
    }

    #[test]
    fn concurrent_observations_leave_every_exemplar_in_its_bucket() {
        let collector = MetricsCollector::builder()
            .process_metrics(false)
            .exemplar_interval(Duration::ZERO)
            .build()
            .unwrap();
        let striped = collector.request_handles_with("sizing_agent", Admission::Reserved);
        let compact = collector.request_handles("sizing_agent");
        let recording = AtomicBool::new(true);
        std::thread::scope(|s| {
            let scraper = s.spawn(|| {
                let mut seen = 0;
                while recording.load(Ordering::Relaxed) {
                    seen += check_exemplars(&collector.encode_openmetrics());
                }
                seen
            });
            let recorders: Vec<_> = (0..4u8)
                .map(|t| {
                    let handles = if t % 2 == 0 { &striped } else { &compact };
                    s.spawn(move || {
                        for i in 0..20_000u64 {
                            let trace = TraceContext::new([t + 1; 16], [t + 1; 8]).unwrap();
                            let _scope = trace.enter();
                            // Spread over every bucket, +Inf included.
                            let nanos = (i * 7_919 % 2_000) * 100_000_000 + u64::from(t);
                            let now = handles.clock.now();
                            handles.duration.observe(thread_stripe(), nanos, now, 0);
                        }
                    })
                })
                .collect();
            for recorder in recorders {
                recorder.join().unwrap();
            }
            recording.store(false, Ordering::Relaxed);
            assert!(scraper.join().unwrap() > 0, "no exemplar was seen");
        });
        assert_eq!(check_exemplars(&collector.encode_openmetrics()), 10);
    }
}
