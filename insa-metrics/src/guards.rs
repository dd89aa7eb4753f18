//! Scoped guards: a request, a database operation or a message being
//! processed, timed from creation and recorded exactly once, on `Drop`.

use std::borrow::Cow;
use std::time::Duration;

use prometheus::{Histogram, IntCounter, IntCounterVec, IntGauge};

use crate::cardinality::Family;
use crate::clock::{Clock, Tick};
use crate::labels::RequestStatus;
use crate::outcome::{ClassifyError, Outcome, SNAKE_CASE_BUFFER, snake_case};

/// The start time and the outcome, once known.
#[derive(Debug)]
struct Span {
    start: Tick,
    outcome: Option<Outcome>,
}

impl Span {
    #[inline]
    fn start(clock: &Clock) -> Self {
        Span {
            start: clock.now(),
            outcome: None,
        }
    }

    /// The outcome set, or what dropping without one means: a panic while
    /// unwinding, a cancellation otherwise.
    #[inline]
    fn take_outcome(&mut self) -> Outcome {
        self.outcome.take().unwrap_or_else(unfinished)
    }
}

/// What dropping a guard without an outcome means: a panic while unwinding,
/// a cancellation otherwise.
pub(crate) fn unfinished() -> Outcome {
    if std::thread::panicking() {
        Outcome::Panicked
    } else {
        Outcome::Cancelled
    }
}

/// Methods shared by the three guards.
macro_rules! outcome_setters {
    () => {
        /// Sets the outcome recorded when the guard drops.
        pub fn set_outcome(&mut self, outcome: Outcome) {
            self.span.outcome = Some(outcome);
        }

        /// Ends the guard now with this outcome.
        pub fn end(mut self, outcome: Outcome) {
            self.set_outcome(outcome);
        }

        /// Records a success.
        pub fn succeed(mut self) {
            self.set_outcome(Outcome::Success);
        }

        /// Records a failure with this error.
        pub fn fail<E: ClassifyError + ?Sized>(mut self, error: &E) {
            self.set_outcome(Outcome::of_error(error));
        }

        /// Records the outcome of `result` and hands it back.
        pub fn finish<T, E: ClassifyError>(mut self, result: Result<T, E>) -> Result<T, E> {
            self.set_outcome(Outcome::of_result(&result));
            result
        }

        /// Time since the guard was created.
        #[must_use]
        pub fn elapsed(&self) -> Duration {
            self.handles.clock.since(self.span.start)
        }
    };
}

/// The series one request site records into, resolved once.
#[derive(Debug, Clone)]
pub struct RequestHandles {
    by_status: [IntCounter; RequestStatus::ALL.len()],
    duration: Histogram,
    in_flight: IntGauge,
    clock: Clock,
}

impl RequestHandles {
    pub(crate) fn new(
        by_status: [IntCounter; RequestStatus::ALL.len()],
        duration: Histogram,
        in_flight: IntGauge,
        clock: Clock,
    ) -> Self {
        RequestHandles {
            by_status,
            duration,
            in_flight,
            clock,
        }
    }

    /// Starts a request: the in-flight gauge goes up until the guard drops.
    pub fn start(&self) -> RequestGuard<'_> {
        RequestGuard::new(Cow::Borrowed(self))
    }

    /// Counts a request in flight, until [`record`](Self::record), and
    /// reads the clock it started at.
    #[inline]
    pub(crate) fn enter(&self) -> Tick {
        self.in_flight.inc();
        self.clock.now()
    }

    #[inline]
    pub(crate) fn record(&self, outcome: Outcome, start: Tick) {
        // A refused call did not run: its duration would drag the latency down.
        if outcome != Outcome::Rejected {
            self.duration.observe(self.clock.seconds_since(start));
        }
        self.by_status[status_index(outcome.status())].inc();
        self.in_flight.dec();
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

/// One agent request in flight.
///
/// Dropping it records `insa_agent_requests_total{status}` and the duration,
/// and lowers `insa_worker_active_requests`. Without an outcome set, the drop
/// counts as `error` while a panic unwinds and `cancelled` otherwise — also
/// when a `?` leaves the scope before [`finish`](Self::finish): for code with
/// `?`, [`MetricsCollector::track_request`](crate::MetricsCollector::track_request)
/// reads the outcome from the `Result` instead.
#[derive(Debug)]
#[must_use = "a request is recorded when its guard drops; bind it to a variable"]
pub struct RequestGuard<'a> {
    handles: Cow<'a, RequestHandles>,
    span: Span,
}

impl<'a> RequestGuard<'a> {
    pub(crate) fn new(handles: Cow<'a, RequestHandles>) -> Self {
        let start = handles.enter();
        RequestGuard {
            handles,
            span: Span {
                start,
                outcome: None,
            },
        }
    }

    outcome_setters!();
}

impl Drop for RequestGuard<'_> {
    fn drop(&mut self) {
        let outcome = self.span.take_outcome();
        self.handles.record(outcome, self.span.start);
    }
}

/// The series one database operation site records into.
#[derive(Debug, Clone)]
pub struct DatabaseHandles<'c> {
    operations: IntCounter,
    duration: Histogram,
    errors: &'c Family<IntCounterVec>,
    operation: Box<str>,
    clock: Clock,
}

impl<'c> DatabaseHandles<'c> {
    pub(crate) fn new(
        operations: IntCounter,
        duration: Histogram,
        errors: &'c Family<IntCounterVec>,
        operation: &str,
        clock: Clock,
    ) -> Self {
        DatabaseHandles {
            operations,
            duration,
            errors,
            operation: operation.into(),
            clock,
        }
    }

    /// Starts a database operation.
    pub fn start(&self) -> DatabaseGuard<'_, 'c> {
        DatabaseGuard {
            handles: Cow::Borrowed(self),
            span: Span::start(&self.clock),
        }
    }

    /// Reads the clock an operation starts at.
    #[inline]
    pub(crate) fn now(&self) -> Tick {
        self.clock.now()
    }

    #[inline]
    pub(crate) fn record(&self, outcome: Outcome, start: Tick) {
        self.duration.observe(self.clock.seconds_since(start));
        self.operations.inc();
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
        self.errors.get(&[&self.operation, error_type]).inc();
    }
}

/// One database operation in flight.
///
/// Dropping it counts `insa_database_operations_total`, observes the duration
/// and, for an error or a panic, counts `insa_database_errors_total{error_type}`.
#[derive(Debug)]
#[must_use = "an operation is recorded when its guard drops; bind it to a variable"]
pub struct DatabaseGuard<'a, 'c> {
    handles: Cow<'a, DatabaseHandles<'c>>,
    span: Span,
}

impl<'a, 'c> DatabaseGuard<'a, 'c> {
    pub(crate) fn owned(handles: DatabaseHandles<'c>) -> Self {
        DatabaseGuard {
            span: Span::start(&handles.clock),
            handles: Cow::Owned(handles),
        }
    }

    outcome_setters!();
}

impl Drop for DatabaseGuard<'_, '_> {
    fn drop(&mut self) {
        let outcome = self.span.take_outcome();
        self.handles.record(outcome, self.span.start);
    }
}

/// The series one message processing site records into.
#[derive(Debug, Clone)]
pub struct MessageHandles {
    duration: Histogram,
    clock: Clock,
}

impl MessageHandles {
    pub(crate) fn new(duration: Histogram, clock: Clock) -> Self {
        MessageHandles { duration, clock }
    }

    /// Reads the clock processing starts at.
    #[inline]
    pub(crate) fn now(&self) -> Tick {
        self.clock.now()
    }

    /// Observes the processing that started at `start`.
    #[inline]
    pub(crate) fn observe_since(&self, start: Tick) {
        self.duration.observe(self.clock.seconds_since(start));
    }

    /// Starts processing a message.
    #[inline]
    pub fn start(&self) -> MessageGuard<'_> {
        MessageGuard {
            handles: Cow::Borrowed(self),
            span: Span::start(&self.clock),
        }
    }
}

/// One message being processed; dropping it observes
/// `insa_message_bus_processing_duration_seconds`, whatever the outcome.
#[derive(Debug)]
#[must_use = "processing is timed until the guard drops; bind it to a variable"]
pub struct MessageGuard<'a> {
    handles: Cow<'a, MessageHandles>,
    span: Span,
}

impl MessageGuard<'_> {
    pub(crate) fn owned(handles: MessageHandles) -> Self {
        MessageGuard {
            span: Span::start(&handles.clock),
            handles: Cow::Owned(handles),
        }
    }

    outcome_setters!();
}

impl Drop for MessageGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.handles.observe_since(self.span.start);
    }
}
