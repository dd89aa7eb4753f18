//! One trace follows a request from the gateway across the bus into a
//! worker's task, so the exemplars recorded there carry its trace id.
//!
//! Its own test binary: `tracing` caches, per callsite, whether any
//! subscriber wants it, and tests of other modules hitting the same
//! callsites with no subscriber (in parallel threads) would have the spans
//! here disabled.

use std::time::Duration;

use insa_metrics::TraceContext;
use insa_platform::bus::{BusMessage, MessageBus};
use insa_platform::error::WorkerError;
use insa_platform::worker::{Handler, Worker, WorkerConfig};
use opentelemetry::trace::TraceContextExt as _;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

#[derive(Debug)]
struct Ping;

impl BusMessage for Ping {
    fn message_type(&self) -> &'static str {
        "ping"
    }
}

/// Answers with the trace context an exemplar recorded now would carry.
struct CurrentTrace;

impl Handler for CurrentTrace {
    type Task = ();
    type Output = Option<TraceContext>;

    async fn process(&self, (): ()) -> Result<Option<TraceContext>, WorkerError> {
        Ok(TraceContext::current())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_s_trace_follows_it_across_the_bus_into_the_worker() {
    // What crm_backend installs.
    let provider = insa_platform::tracer::install().unwrap();
    let bus = MessageBus::new();
    let mut inbox = bus.register("tracer_test_agent", 4);
    let config = WorkerConfig {
        name: "tracer_test_worker",
        worker_type: "test",
        concurrency: 1,
        queue_capacity: 4,
        max_tasks: 100,
        failure_limit: 3,
        restart_time: Duration::ZERO,
    };
    let (worker, _join) = Worker::spawn(CurrentTrace, config);

    let request = tracing::info_span!("user_request");
    let trace_id = request.context().span().span_context().trace_id();
    assert_ne!(trace_id, opentelemetry::trace::TraceId::INVALID);
    bus.send("tracer_test_gateway", "tracer_test_agent", Ping)
        .instrument(request.clone())
        .await
        .unwrap();
    drop(request);
    // The recipient handles the message in a child of the sender's span, and
    // submits the task from there; the worker runs it on another task.
    let envelope = inbox.recv().await.unwrap();
    let process = envelope.process_span();
    let seen = worker.submit(()).instrument(process).await.unwrap();

    let seen = seen.expect("the worker's task runs in a traced span");
    assert_eq!(seen.trace_id(), trace_id.to_bytes(), "one trace end to end");
    // Outside every span: no context, so no exemplar.
    assert_eq!(TraceContext::current(), None);
    // A second tracer cannot be installed over the first.
    assert!(insa_platform::tracer::install().is_err());
    provider.shutdown().unwrap();
}
