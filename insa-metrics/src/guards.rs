//! Scoped guards: a request, a database operation or a message being processed, timed from creation and recorded exactly once, on `Drop`.

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use crate::__private::Polled;
use crate::clock::Tick;
use crate::handles::{DatabaseHandles, MessageHandles, RequestHandles};
use crate::outcome::{ClassifyError, Outcome};

/// What dropping a guard without an outcome means: a cancellation when its
/// async body is `suspended` (between two polls: dropped then, even while a
/// sibling future's panic unwinds, under `join!` on one thread), a panic
/// while unwinding otherwise, a cancellation otherwise.
pub(crate) fn unfinished(suspended: bool) -> Outcome {
    if std::thread::panicking() && !suspended {
        Outcome::Panicked
    } else {
        Outcome::Cancelled
    }
}

/// Methods of the guards whose outcome is recorded: requests and database
/// operations.
macro_rules! outcome_setters {
    () => {
        /// Sets the outcome recorded when the guard drops.
        pub fn set_outcome(&mut self, outcome: Outcome) {
            self.outcome = Some(outcome);
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

        /// `body`, marking this guard suspended between its polls.
        pub(crate) fn polled<F: Future>(&mut self, body: F) -> Polled<'_, F> {
            Polled::new(&mut self.suspended, body)
        }

        /// Time since the guard was created.
        #[must_use]
        pub fn elapsed(&self) -> Duration {
            self.handles.clock().since(self.start)
        }
    };
}

/// One agent request in flight.
///
/// Dropping it records `insa_agent_requests_total{status}` and the duration,
/// and lowers `insa_worker_active_requests`. Without an outcome set, the drop
/// counts as `error` while a panic unwinds and `cancelled` otherwise — also
/// when a `?` leaves the scope before [`finish`](Self::finish): for code with
/// `?`, [`MetricsCollector::track_request`](crate::MetricsCollector::track_request)
/// reads the outcome from the `Result` instead.
///
/// # Examples
///
/// ```
/// use insa_metrics::Outcome;
/// # let collector = insa_metrics::MetricsCollector::builder().process_metrics(false).build()?;
/// let request = collector.start_request("crm_agent");
/// // … refused by an open circuit breaker …
/// request.end(Outcome::Rejected);
/// assert!(collector.encode_text().contains(
///     r#"insa_agent_requests_total{agent_type="crm_agent",status="rejected"} 1"#
/// ));
/// # Ok::<(), insa_metrics::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a request is recorded when its guard drops; bind it to a variable"]
pub struct RequestGuard<'a> {
    handles: Cow<'a, RequestHandles>,
    start: Tick,
    outcome: Option<Outcome>,
    /// Between two polls of the body of `track_…_async`.
    suspended: bool,
}

impl<'a> RequestGuard<'a> {
    fn new(handles: Cow<'a, RequestHandles>) -> Self {
        RequestGuard {
            start: handles.enter().tick(),
            handles,
            outcome: None,
            suspended: false,
        }
    }

    pub(crate) fn owned(handles: RequestHandles) -> RequestGuard<'static> {
        RequestGuard::new(Cow::Owned(handles))
    }

    pub(crate) fn borrowed(handles: &'a RequestHandles) -> Self {
        RequestGuard::new(Cow::Borrowed(handles))
    }

    outcome_setters!();
}

impl Drop for RequestGuard<'_> {
    fn drop(&mut self) {
        let outcome = self
            .outcome
            .take()
            .unwrap_or_else(|| unfinished(self.suspended));
        self.handles
            .record(outcome, self.handles.started_at(self.start));
    }
}

/// One database operation in flight.
///
/// Dropping it counts `insa_database_operations_total`, observes the duration
/// and, for an error or a panic, counts `insa_database_errors_total{error_type}`.
///
/// # Examples
///
/// ```
/// # let collector = insa_metrics::MetricsCollector::builder().process_metrics(false).build()?;
/// let operation = collector.start_database_operation("insert", "deals");
/// let stored: Result<(), std::io::Error> =
///     operation.finish(Err(std::io::ErrorKind::ConnectionReset.into()));
/// assert!(stored.is_err());
/// assert!(collector.encode_text().contains(
///     r#"insa_database_errors_total{error_type="connection_reset",operation="insert"} 1"#
/// ));
/// # Ok::<(), insa_metrics::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "an operation is recorded when its guard drops; bind it to a variable"]
pub struct DatabaseGuard<'a> {
    handles: Cow<'a, DatabaseHandles>,
    start: Tick,
    outcome: Option<Outcome>,
    /// Between two polls of the body of `track_…_async`.
    suspended: bool,
}

impl<'a> DatabaseGuard<'a> {
    fn new(handles: Cow<'a, DatabaseHandles>) -> Self {
        DatabaseGuard {
            start: handles.now(),
            handles,
            outcome: None,
            suspended: false,
        }
    }

    pub(crate) fn owned(handles: DatabaseHandles) -> DatabaseGuard<'static> {
        DatabaseGuard::new(Cow::Owned(handles))
    }

    pub(crate) fn borrowed(handles: &'a DatabaseHandles) -> Self {
        DatabaseGuard::new(Cow::Borrowed(handles))
    }

    outcome_setters!();
}

impl Drop for DatabaseGuard<'_> {
    fn drop(&mut self) {
        let outcome = self
            .outcome
            .take()
            .unwrap_or_else(|| unfinished(self.suspended));
        self.handles
            .record(outcome, self.handles.started_at(self.start));
    }
}

/// One message being processed; dropping it observes
/// `insa_message_bus_processing_duration_seconds`, however processing ended
/// (the family has no outcome to record).
///
/// # Examples
///
/// ```
/// # let collector = insa_metrics::MetricsCollector::builder().process_metrics(false).build()?;
/// let processing = collector.start_message("orchestrator");
/// // … route the message …
/// assert!(processing.elapsed() < std::time::Duration::from_secs(60));
/// drop(processing);
/// assert!(collector.encode_text().contains(
///     r#"insa_message_bus_processing_duration_seconds_count{agent_type="orchestrator"} 1"#
/// ));
/// # Ok::<(), insa_metrics::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "processing is timed until the guard drops; bind it to a variable"]
pub struct MessageGuard<'a> {
    handles: Cow<'a, MessageHandles>,
    start: Tick,
}

impl<'a> MessageGuard<'a> {
    fn new(handles: Cow<'a, MessageHandles>) -> Self {
        MessageGuard {
            start: handles.now(),
            handles,
        }
    }

    pub(crate) fn owned(handles: MessageHandles) -> MessageGuard<'static> {
        MessageGuard::new(Cow::Owned(handles))
    }

    pub(crate) fn borrowed(handles: &'a MessageHandles) -> Self {
        MessageGuard::new(Cow::Borrowed(handles))
    }

    /// Time since processing started.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.handles.clock().since(self.start)
    }
}

impl Drop for MessageGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.handles
            .observe_since(self.handles.started_at(self.start));
    }
}
