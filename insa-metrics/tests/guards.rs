//! Scoped guards record duration and outcome on every path: return, `Err`,
//! early return, `?` and panic; the in-flight gauge always returns to 0.

mod common;

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{fresh_collector, sample};
use insa_metrics::MetricsCollector;

fn requests(c: &MetricsCollector, status: &str) -> f64 {
    let series =
        format!("insa_agent_requests_total{{agent_type=\"crm_agent\",status=\"{status}\"}}");
    sample(&c.encode_text(), &series).unwrap_or(0.0)
}

fn durations(c: &MetricsCollector) -> f64 {
    let series = r#"insa_agent_request_duration_seconds_count{agent_type="crm_agent"}"#;
    sample(&c.encode_text(), series).unwrap_or(0.0)
}

fn in_flight(c: &MetricsCollector) -> f64 {
    sample(
        &c.encode_text(),
        r#"insa_worker_active_requests{worker_name="crm_agent"}"#,
    )
    .unwrap()
}

fn lookup(c: &MetricsCollector, id: u32) -> Result<u32, io::Error> {
    let guard = c.start_request("crm_agent");
    assert_eq!(in_flight(c), 1.0);
    if id == 0 {
        // Early return with an error.
        return guard.finish(Err(io::Error::new(io::ErrorKind::TimedOut, "slow backend")));
    }
    let parsed = guard.finish(
        id.checked_mul(2)
            .ok_or_else(|| io::Error::other("overflow")),
    )?;
    Ok(parsed)
}

#[test]
fn success_error_timeout_and_panic_are_each_counted_once() {
    let c = fresh_collector();
    assert_eq!(lookup(&c, 4).unwrap(), 8);
    assert_eq!(requests(&c, "success"), 1.0);

    assert!(lookup(&c, 0).is_err());
    assert_eq!(requests(&c, "timeout"), 1.0);

    let guard = c.start_request("crm_agent");
    guard.fail(&io::Error::from(io::ErrorKind::ConnectionRefused));
    assert_eq!(requests(&c, "error"), 1.0);

    let panicked = catch_unwind(AssertUnwindSafe(|| {
        let _guard = c.start_request("crm_agent");
        panic!("worker bug");
    }));
    assert!(panicked.is_err());
    assert_eq!(requests(&c, "error"), 2.0, "a panic counts as error");

    // A guard dropped without an outcome, outside a panic, was cancelled.
    drop(c.start_request("crm_agent"));
    assert_eq!(requests(&c, "cancelled"), 1.0);

    assert_eq!(durations(&c), 5.0, "every outcome observes the duration");
    assert_eq!(in_flight(&c), 0.0);
}

#[test]
fn database_guard_counts_errors_with_a_bounded_error_type() {
    let c = fresh_collector();
    let guard = c.start_database_operation("insert", "deals");
    guard.fail(&io::Error::from(io::ErrorKind::ConnectionReset));
    let guard = c.start_database_operation("insert", "deals");
    guard.succeed();
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let _guard = c.start_database_operation("insert", "deals");
        panic!("driver bug");
    }));
    let text = c.encode_text();
    let ops = r#"insa_database_operations_total{operation="insert",table="deals"}"#;
    assert_eq!(sample(&text, ops), Some(3.0));
    let reset = r#"insa_database_errors_total{error_type="connection_reset",operation="insert"}"#;
    assert_eq!(sample(&text, reset), Some(1.0));
    let panic = r#"insa_database_errors_total{error_type="panic",operation="insert"}"#;
    assert_eq!(sample(&text, panic), Some(1.0));
    let count =
        r#"insa_database_operation_duration_seconds_count{operation="insert",table="deals"}"#;
    assert_eq!(sample(&text, count), Some(3.0));
}

#[test]
fn message_guard_times_every_way_processing_ends() {
    let c = fresh_collector();
    drop(c.start_message("orchestrator"));
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _processing = c.start_message("orchestrator");
        panic!("a poison message");
    }));
    assert!(unwound.is_err());
    let handles = c.message_handles("orchestrator");
    drop(handles.start());
    let count = r#"insa_message_bus_processing_duration_seconds_count{agent_type="orchestrator"}"#;
    assert_eq!(sample(&c.encode_text(), count), Some(3.0));
}

#[test]
fn elapsed_grows_while_the_guard_lives() {
    let c = fresh_collector();
    let guard = c.start_request("crm_agent");
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(guard.elapsed().as_millis() >= 20);
    guard.succeed();
    let sum = r#"insa_agent_request_duration_seconds_sum{agent_type="crm_agent"}"#;
    assert!(sample(&c.encode_text(), sum).unwrap() >= 0.02);
}

#[test]
fn closure_forms_read_the_outcome_from_the_result() {
    let c = fresh_collector();
    let early: Result<u32, io::Error> = c.track_request("crm_agent", || {
        let n: u32 = "x".parse().map_err(io::Error::other)?;
        Ok(n)
    });
    assert!(early.is_err());
    assert_eq!(
        requests(&c, "error"),
        1.0,
        "a `?` is an error, not a cancellation"
    );
    let timed_out: Result<(), io::Error> = c.track_request("crm_agent", || {
        Err(io::Error::from(io::ErrorKind::TimedOut))
    });
    assert!(timed_out.is_err());
    assert_eq!(requests(&c, "timeout"), 1.0);
    assert_eq!(
        c.track_request("crm_agent", || Ok::<_, io::Error>(5))
            .unwrap(),
        5
    );
    assert_eq!(requests(&c, "success"), 1.0);
    assert_eq!(in_flight(&c), 0.0);

    let db: Result<(), io::Error> = c.track_database_operation("update", "deals", || {
        Err(io::Error::from(io::ErrorKind::ConnectionRefused))?;
        Ok(())
    });
    assert!(db.is_err());
    let text = c.encode_text();
    let refused =
        r#"insa_database_errors_total{error_type="connection_refused",operation="update"}"#;
    assert_eq!(sample(&text, refused), Some(1.0));

    assert_eq!(c.track_message("orchestrator", || 7), 7);
    let count = r#"insa_message_bus_processing_duration_seconds_count{agent_type="orchestrator"}"#;
    assert_eq!(sample(&c.encode_text(), count), Some(1.0));
}

#[test]
fn future_forms_count_a_dropped_future_as_cancelled() {
    let c = fresh_collector();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let ok = c.track_request_async("crm_agent", async { Ok::<_, io::Error>(1) });
        assert_eq!(ok.await.unwrap(), 1);
        let slow = c.track_request_async("crm_agent", async {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            Ok::<_, io::Error>(2)
        });
        let dropped = tokio::time::timeout(std::time::Duration::from_millis(5), slow).await;
        assert!(dropped.is_err());
        let db = c.track_database_operation_async("select", "users", async {
            Err::<(), _>(io::Error::from(io::ErrorKind::NotFound))
        });
        assert!(db.await.is_err());
        assert_eq!(c.track_message_async("orchestrator", async { 3 }).await, 3);
    });
    assert_eq!(requests(&c, "success"), 1.0);
    assert_eq!(requests(&c, "cancelled"), 1.0);
    assert_eq!(in_flight(&c), 0.0);
    let text = c.encode_text();
    let not_found = r#"insa_database_errors_total{error_type="not_found",operation="select"}"#;
    assert_eq!(sample(&text, not_found), Some(1.0));
}

/// Polls `future` once (it is pending), then panics with it alive, as a
/// sibling future under `join!` on the same thread would.
fn pending_while_a_sibling_panics<F: std::future::Future>(future: F) {
    let unwound = catch_unwind(AssertUnwindSafe(|| {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        panic!("a sibling panics");
    }));
    assert!(unwound.is_err());
}

#[test]
fn future_forms_dropped_while_a_sibling_panics_are_cancelled() {
    let c = fresh_collector();
    let pending = || std::future::pending::<Result<(), io::Error>>();
    pending_while_a_sibling_panics(c.track_request_async("crm_agent", pending()));
    pending_while_a_sibling_panics(c.track_database_operation_async("select", "users", pending()));
    assert_eq!(requests(&c, "cancelled"), 1.0);
    assert_eq!(requests(&c, "error"), 0.0);
    assert_eq!(in_flight(&c), 0.0);
    let text = c.encode_text();
    let panics = r#"insa_database_errors_total{error_type="panic",operation="select"}"#;
    assert_eq!(sample(&text, panics).unwrap_or(0.0), 0.0, "{text}");
}
