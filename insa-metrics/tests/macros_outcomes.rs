//! `#[track_request_metrics]` outcomes on sync fns.
//!
//! Success, error, timeout, panic, early `return` and `?`, Result aliases, and
//! the in-flight gauge.

mod macro_support;

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use insa_metrics::{ClassifyError, track_request_metrics};
use macro_support::{exists, in_flight, requests, statuses, timed};

#[track_request_metrics("outcome_sync")]
fn parse(input: &str) -> Result<u32, io::Error> {
    assert_eq!(in_flight("outcome_sync"), 1.0, "in flight during the call");
    if input.is_empty() {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "no input in time"));
    }
    let value = input
        .parse::<u32>()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(value)
}

#[test]
fn success_error_timeout_on_every_path() {
    assert_eq!(parse("7").unwrap(), 7);
    assert_eq!(statuses("outcome_sync"), [1.0, 0.0, 0.0, 0.0]);
    assert!(parse("x").is_err(), "`?` returns the error");
    assert_eq!(statuses("outcome_sync"), [1.0, 1.0, 0.0, 0.0]);
    assert!(parse("").is_err(), "early return");
    assert_eq!(statuses("outcome_sync"), [1.0, 1.0, 1.0, 0.0]);
    assert_eq!(timed("outcome_sync"), 3.0);
    assert_eq!(in_flight("outcome_sync"), 0.0);
}

#[track_request_metrics("outcome_first_use")]
fn never_fails() -> u8 {
    1
}

#[test]
fn the_first_call_creates_every_status_at_zero() {
    let series = r#"insa_agent_requests_total{agent_type="outcome_first_use",status="timeout"}"#;
    assert!(!exists(series));
    assert_eq!(never_fails(), 1);
    assert!(exists(series), "rate() works before the first timeout");
    assert_eq!(statuses("outcome_first_use"), [1.0, 0.0, 0.0, 0.0]);
}

#[track_request_metrics("outcome_panic")]
fn explode(really: bool) -> Result<(), io::Error> {
    assert!(!really, "worker bug");
    Ok(())
}

#[test]
fn a_panic_is_an_error_and_keeps_unwinding() {
    let caught = catch_unwind(|| explode(true));
    let message = caught.expect_err("the panic reaches the caller");
    assert_eq!(message.downcast_ref::<&str>(), Some(&"worker bug"));
    assert_eq!(statuses("outcome_panic"), [0.0, 1.0, 0.0, 0.0]);
    assert_eq!(in_flight("outcome_panic"), 0.0, "the gauge does not leak");
    assert_eq!(timed("outcome_panic"), 1.0);
}

#[track_request_metrics("outcome_unit")]
fn unit(fail: bool) {
    if fail {
        panic!("unit worker bug");
    }
}

#[test]
fn unit_fns_succeed_or_panic() {
    unit(false);
    assert!(catch_unwind(AssertUnwindSafe(|| unit(true))).is_err());
    assert_eq!(statuses("outcome_unit"), [1.0, 1.0, 0.0, 0.0]);
}

/// A worker error that says when it is a timeout.
#[derive(Debug)]
enum WorkerError {
    Deadline,
    Invalid,
}

impl ClassifyError for WorkerError {
    fn is_timeout(&self) -> bool {
        matches!(self, WorkerError::Deadline)
    }
}

#[track_request_metrics("outcome_classified")]
fn classified(error: Option<WorkerError>) -> Result<(), WorkerError> {
    error.map_or(Ok(()), Err)
}

#[test]
fn user_errors_opt_in_to_timeout() {
    classified(None).unwrap();
    classified(Some(WorkerError::Deadline)).unwrap_err();
    classified(Some(WorkerError::Invalid)).unwrap_err();
    assert_eq!(statuses("outcome_classified"), [1.0, 1.0, 1.0, 0.0]);
}

#[track_request_metrics("outcome_classified_boxed")]
fn classified_boxed(error: WorkerError) -> Result<(), Box<WorkerError>> {
    Err(Box::new(error))
}

#[track_request_metrics("outcome_classified_shared")]
fn classified_shared(error: WorkerError) -> Result<(), std::sync::Arc<WorkerError>> {
    Err(std::sync::Arc::new(error))
}

/// An error without `ClassifyError`, boxed.
#[derive(Debug)]
struct DbError;

#[insa_metrics::track_database_operation("select", "outcome_wrapped_errors")]
fn boxed_db_error() -> Result<(), Box<DbError>> {
    Err(Box::new(DbError))
}

#[insa_metrics::track_database_operation("select", "outcome_wrapped_errors")]
fn unit_error() -> Result<(), ()> {
    Err(())
}

#[insa_metrics::track_database_operation("select", "outcome_wrapped_errors")]
fn joined_thread() -> std::thread::Result<()> {
    std::thread::spawn(|| std::panic::resume_unwind(Box::new("a worker bug"))).join()
}

#[test]
fn wrapped_errors_classify_as_the_error_they_hold() {
    classified_boxed(WorkerError::Deadline).unwrap_err();
    classified_boxed(WorkerError::Invalid).unwrap_err();
    classified_shared(WorkerError::Deadline).unwrap_err();
    assert_eq!(statuses("outcome_classified_boxed"), [0.0, 1.0, 1.0, 0.0]);
    assert_eq!(statuses("outcome_classified_shared"), [0.0, 0.0, 1.0, 0.0]);
    boxed_db_error().unwrap_err();
    unit_error().unwrap_err();
    joined_thread().unwrap_err();
    let errors = |error_type: &str| {
        macro_support::sample(&format!(
            r#"insa_database_errors_total{{error_type="{error_type}",operation="select"}}"#
        ))
    };
    assert_eq!(errors("db_error"), 1.0);
    assert_eq!(errors("unit"), 1.0);
    assert_eq!(errors("panic"), 1.0);
    let empty = r#"insa_metrics_invalid_label_values_total{family="insa_database_errors_total",reason="empty"}"#;
    assert_eq!(macro_support::sample(empty), 0.0);
}

/// A crate's own alias.
mod worker {
    pub(crate) type Result<T> = std::result::Result<T, super::WorkerError>;
}

#[track_request_metrics("outcome_alias_own")]
fn own_alias(ok: bool) -> worker::Result<u8> {
    if ok {
        Ok(1)
    } else {
        Err(WorkerError::Deadline)
    }
}

#[track_request_metrics("outcome_alias_io")]
fn io_alias(ok: bool) -> io::Result<u8> {
    if ok {
        Ok(1)
    } else {
        Err(io::Error::from(io::ErrorKind::TimedOut))
    }
}

#[track_request_metrics("outcome_alias_anyhow")]
fn anyhow_alias(ok: bool) -> anyhow::Result<u8> {
    anyhow::ensure!(ok, "refused");
    Ok(1)
}

/// With the `anyhow` feature, a timeout under a context is still a timeout.
#[cfg(feature = "anyhow")]
#[track_request_metrics("outcome_anyhow_timeout")]
fn anyhow_timeout(timeout: bool) -> anyhow::Result<u8> {
    use anyhow::Context as _;
    let kind = if timeout {
        io::ErrorKind::TimedOut
    } else {
        io::ErrorKind::ConnectionRefused
    };
    Err(io::Error::from(kind)).context("calling the CRM")
}

#[test]
fn result_aliases_are_results() {
    own_alias(true).unwrap();
    own_alias(false).unwrap_err();
    assert_eq!(statuses("outcome_alias_own"), [1.0, 0.0, 1.0, 0.0]);
    io_alias(true).unwrap();
    io_alias(false).unwrap_err();
    assert_eq!(statuses("outcome_alias_io"), [1.0, 0.0, 1.0, 0.0]);
    anyhow_alias(true).unwrap();
    anyhow_alias(false).unwrap_err();
    assert_eq!(statuses("outcome_alias_anyhow"), [1.0, 1.0, 0.0, 0.0]);
}

#[cfg(feature = "anyhow")]
#[test]
fn anyhow_timeouts_under_a_context_are_timeouts() {
    anyhow_timeout(true).unwrap_err();
    anyhow_timeout(false).unwrap_err();
    assert_eq!(statuses("outcome_anyhow_timeout"), [0.0, 1.0, 1.0, 0.0]);
}

#[track_request_metrics("outcome_option")]
fn not_a_result(found: bool) -> Option<u8> {
    found.then_some(1)
}

#[test]
fn values_that_are_not_results_are_successes() {
    assert_eq!(not_a_result(false), None);
    assert_eq!(requests("outcome_option", "success"), 1.0);
}

#[track_request_metrics("outcome_boxed")]
fn boxed(kind: u8) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    match kind {
        0 => Ok(0),
        1 => Err(Box::new(io::Error::from(io::ErrorKind::TimedOut))),
        _ => Err("plain".into()),
    }
}

#[test]
fn boxed_errors_are_looked_through() {
    boxed(0).unwrap();
    boxed(1).unwrap_err();
    boxed(2).unwrap_err();
    assert_eq!(statuses("outcome_boxed"), [1.0, 1.0, 1.0, 0.0]);
}

#[test]
fn the_gauge_counts_concurrent_calls() {
    use std::sync::Barrier;
    static BARRIER: Barrier = Barrier::new(4);

    #[track_request_metrics("outcome_concurrent")]
    fn wait() {
        BARRIER.wait();
        BARRIER.wait();
    }

    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(wait);
        }
        BARRIER.wait();
        assert_eq!(in_flight("outcome_concurrent"), 3.0);
        BARRIER.wait();
    });
    assert_eq!(in_flight("outcome_concurrent"), 0.0);
    assert_eq!(requests("outcome_concurrent", "success"), 3.0);
}
