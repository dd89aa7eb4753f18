//! Exemplars take the trace of the current `tracing` span, bridged to
//! OpenTelemetry by `tracing-opentelemetry` (feature `tracing`).

use insa_metrics::{MetricsCollector, TraceContext, track_database_operation};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[track_database_operation("select", "deals")]
fn load_deals() -> Result<u32, std::io::Error> {
    Ok(3)
}

#[test]
fn a_database_operation_in_a_tracing_span_carries_its_exemplar() {
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("insa-metrics-test")));
    let collector = MetricsCollector::builder()
        .exemplar_interval(std::time::Duration::from_nanos(1))
        .install()
        .unwrap();
    let expected = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("load_deals");
        let _entered = span.enter();
        let context = span.context();
        let otel = context.span();
        let ids = otel.span_context();
        assert!(ids.is_valid());
        let expected =
            TraceContext::new(ids.trace_id().to_bytes(), ids.span_id().to_bytes()).unwrap();
        assert_eq!(TraceContext::current(), Some(expected));
        load_deals().unwrap();
        expected
    });
    assert_eq!(TraceContext::current(), None, "outside the span");
    let text = collector.encode_openmetrics();
    let trace_id = format!(
        "trace_id=\"{:032x}\"",
        u128::from_be_bytes(expected.trace_id())
    );
    let line = text
        .lines()
        .find(|line| line.contains(&trace_id))
        .unwrap_or_else(|| panic!("no exemplar of {expected} in\n{text}"));
    assert!(
        line.starts_with(
            r#"insa_database_operation_duration_seconds_bucket{operation="select",table="deals""#
        ),
        "{line}"
    );
}
