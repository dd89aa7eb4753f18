//! `#[track_database_operation]` and `#[track_message_processing]`.
//!
//! Database operations are counted, timed and their errors classified by a
//! bounded `error_type`; processed messages observe their histogram.

mod macro_support;

use std::future::Future as _;
use std::io;
use std::panic::catch_unwind;
use std::time::{Duration, Instant};

use insa_metrics::{ClassifyError, track_database_operation, track_message_processing};
use macro_support::{runtime, sample};

fn operations(operation: &str, table: &str) -> f64 {
    sample(&format!(
        r#"insa_database_operations_total{{operation="{operation}",table="{table}"}}"#
    ))
}

fn timed_operations(operation: &str, table: &str) -> f64 {
    sample(&format!(
        r#"insa_database_operation_duration_seconds_count{{operation="{operation}",table="{table}"}}"#
    ))
}

fn errors(operation: &str, error_type: &str) -> f64 {
    sample(&format!(
        r#"insa_database_errors_total{{error_type="{error_type}",operation="{operation}"}}"#
    ))
}

/// A driver error without a classification: counted under its type name, in
/// snake_case.
#[derive(Debug)]
struct DbError;

#[track_database_operation("db_select", "users")]
fn load_user(id: u64) -> Result<String, io::Error> {
    match id {
        0 => Err(io::Error::from(io::ErrorKind::ConnectionRefused)),
        1 => Err(io::Error::from(io::ErrorKind::TimedOut)),
        _ => Ok(format!("user {id}")),
    }
}

#[track_database_operation(operation = "db_insert", table = "deals")]
fn insert_deal(ok: bool) -> Result<(), DbError> {
    if ok { Ok(()) } else { Err(DbError) }
}

#[test]
fn operations_and_errors_by_bounded_type() {
    load_user(7).unwrap();
    load_user(0).unwrap_err();
    load_user(1).unwrap_err();
    assert_eq!(operations("db_select", "users"), 3.0);
    assert_eq!(timed_operations("db_select", "users"), 3.0);
    assert_eq!(errors("db_select", "connection_refused"), 1.0);
    assert_eq!(errors("db_select", "timed_out"), 1.0);

    insert_deal(true).unwrap();
    insert_deal(false).unwrap_err();
    assert_eq!(operations("db_insert", "deals"), 2.0);
    assert_eq!(errors("db_insert", "db_error"), 1.0);
}

/// Through the `anyhow` feature, the io error under the context names the
/// error type.
#[cfg(feature = "anyhow")]
#[track_database_operation("db_update", "contacts")]
fn update_contact(kind: Option<io::ErrorKind>) -> anyhow::Result<()> {
    use anyhow::Context as _;
    match kind {
        Some(kind) => Err(io::Error::from(kind)).context("updating a contact"),
        None => anyhow::bail!("no such contact"),
    }
}

#[cfg(feature = "anyhow")]
#[test]
fn anyhow_errors_are_counted_by_their_cause() {
    update_contact(Some(io::ErrorKind::ConnectionReset)).unwrap_err();
    update_contact(Some(io::ErrorKind::TimedOut)).unwrap_err();
    update_contact(None).unwrap_err();
    assert_eq!(operations("db_update", "contacts"), 3.0);
    assert_eq!(errors("db_update", "connection_reset"), 1.0);
    assert_eq!(errors("db_update", "timed_out"), 1.0);
    assert_eq!(errors("db_update", "error"), 1.0);
}

/// A driver error that names its kinds.
#[derive(Debug)]
enum PgError {
    UniqueViolation,
}

impl ClassifyError for PgError {
    fn error_type(&self) -> &'static str {
        match self {
            PgError::UniqueViolation => "unique_violation",
        }
    }
}

#[track_database_operation("db_upsert", "accounts")]
async fn upsert(ok: bool) -> Result<u64, PgError> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    if ok {
        Ok(1)
    } else {
        Err(PgError::UniqueViolation)
    }
}

#[track_database_operation("db_delete", "sessions")]
fn delete_all() -> Result<u64, PgError> {
    panic!("driver bug")
}

#[test]
fn classified_errors_and_panics() {
    runtime().block_on(async {
        upsert(true).await.unwrap();
        upsert(false).await.unwrap_err();
    });
    assert_eq!(operations("db_upsert", "accounts"), 2.0);
    assert_eq!(errors("db_upsert", "unique_violation"), 1.0);

    catch_unwind(delete_all).unwrap_err();
    assert_eq!(operations("db_delete", "sessions"), 1.0);
    assert_eq!(errors("db_delete", "panic"), 1.0);
}

fn processed(agent: &str) -> f64 {
    sample(&format!(
        r#"insa_message_bus_processing_duration_seconds_count{{agent_type="{agent}"}}"#
    ))
}

fn processing_seconds(agent: &str) -> f64 {
    sample(&format!(
        r#"insa_message_bus_processing_duration_seconds_sum{{agent_type="{agent}"}}"#
    ))
}

#[track_message_processing("msg_orchestrator")]
async fn handle(message: &str) -> Result<usize, io::Error> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    if message.is_empty() {
        return Err(io::Error::from(io::ErrorKind::InvalidData));
    }
    Ok(message.len())
}

#[track_message_processing("msg_sync")]
fn handle_sync(message: &str) -> usize {
    assert!(!message.is_empty(), "empty message");
    message.len()
}

#[test]
fn every_processed_message_is_timed() {
    runtime().block_on(async {
        assert_eq!(handle("task").await.unwrap(), 4);
        handle("").await.unwrap_err();
    });
    assert_eq!(processed("msg_orchestrator"), 2.0);
    assert!(processing_seconds("msg_orchestrator") >= 0.04);

    assert_eq!(handle_sync("abc"), 3);
    catch_unwind(|| handle_sync("")).unwrap_err();
    assert_eq!(processed("msg_sync"), 2.0);
}

#[track_message_processing("msg_cancelled")]
async fn handle_slowly() {
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[test]
fn a_message_dropped_mid_processing_is_timed() {
    let waited = runtime().block_on(async {
        let mut handling = Box::pin(handle_slowly());
        // The first poll starts the timing; the handler then waits.
        std::future::poll_fn(|cx| {
            assert!(handling.as_mut().poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        // Measured inside the handler's timing, whatever the scheduler does.
        let waited = Instant::now();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waited = waited.elapsed();
        drop(handling);
        waited
    });
    assert_eq!(processed("msg_cancelled"), 1.0);
    let seconds = processing_seconds("msg_cancelled");
    // The clock's calibration against `Instant` is good to far under 0.1 %.
    assert!(
        seconds >= waited.as_secs_f64() * 0.999,
        "timed {seconds} s until the drop, which came {waited:?} after the start"
    );
}
