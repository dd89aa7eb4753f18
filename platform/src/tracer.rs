//! The platform's tracer: `tracing` spans recorded by an OpenTelemetry tracer, whose ids the metrics' exemplars carry.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;

/// The tracer's instrumentation scope.
pub const TRACER_NAME: &str = "insa-platform";

/// Makes every `tracing` span of the process an OpenTelemetry span, so that
/// the duration histograms' exemplars carry its trace and span ids (the
/// `tracing` feature of `insa-metrics` reads them when a call ends).
///
/// Spans are sampled (always on) but exported nowhere: a deployment adds its
/// exporter to the provider (OTLP to Tempo or Jaeger, the trace datasource
/// Grafana's exemplar links open). Keep the provider until the process ends.
///
/// # Errors
///
/// A message if a global `tracing` subscriber is already set.
pub fn install() -> Result<SdkTracerProvider, String> {
    let provider = SdkTracerProvider::builder().build();
    tracing::subscriber::set_global_default(subscriber(&provider))
        .map_err(|error| format!("cannot install the tracer: {error}"))?;
    Ok(provider)
}

/// The `tracing` subscriber whose spans `provider` records.
pub fn subscriber(provider: &SdkTracerProvider) -> impl tracing::Subscriber + Send + Sync {
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(TRACER_NAME));
    tracing_subscriber::registry().with(layer)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use insa_metrics::TraceContext;
    use opentelemetry::trace::TraceContextExt as _;
    use tracing::Instrument as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    use super::*;
    use crate::bus::{BusMessage, MessageBus};
    use crate::error::WorkerError;
    use crate::worker::{Handler, Worker, WorkerConfig};

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

    #[test]
    fn a_request_s_trace_follows_it_across_the_bus_into_the_worker() {
        let provider = SdkTracerProvider::builder().build();
        // Thread-local, on a runtime of this one thread: every task sees it.
        let _subscriber = tracing::subscriber::set_default(subscriber(&provider));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
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
            bus.send("tracer_test_gateway", "tracer_test_agent", Ping)
                .instrument(request.clone())
                .await
                .unwrap();
            drop(request);
            let envelope = inbox.recv().await.unwrap();
            let process = envelope.process_span();
            let seen = worker.submit(()).instrument(process).await.unwrap();

            let seen = seen.expect("the worker's task runs in a traced span");
            assert_eq!(seen.trace_id(), trace_id.to_bytes(), "one trace end to end");
        });
        // Outside every span: no context, so no exemplar.
        assert_eq!(TraceContext::current(), None);
    }
}
