//! Exemplars take the trace of the current OpenTelemetry span (feature
//! `opentelemetry`).

use insa_metrics::{MetricsCollector, TraceContext, track_request_metrics};
use opentelemetry::Context;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const SPAN: &str = "b7ad6b7169203331";

fn span_context() -> SpanContext {
    span_context_with(TraceFlags::SAMPLED)
}

fn span_context_with(flags: TraceFlags) -> SpanContext {
    SpanContext::new(
        TraceId::from_hex(TRACE).unwrap(),
        SpanId::from_hex(SPAN).unwrap(),
        flags,
        true,
        TraceState::default(),
    )
}

/// The tracer keeps no unsampled span: an exemplar would link to nothing.
#[test]
fn an_unsampled_span_is_no_trace_context() {
    let _attached = Context::current()
        .with_remote_span_context(span_context_with(TraceFlags::NOT_SAMPLED))
        .attach();
    assert_eq!(TraceContext::current(), None);
}

#[test]
fn the_current_opentelemetry_span_is_the_trace_context() {
    assert_eq!(TraceContext::current(), None);
    let _attached = Context::current()
        .with_remote_span_context(span_context())
        .attach();
    assert_eq!(TraceContext::current(), TraceContext::from_hex(TRACE, SPAN));
}

#[track_request_metrics("otel_agent")]
fn traced_request() {}

#[test]
fn a_request_in_an_opentelemetry_span_carries_its_exemplar() {
    let collector = MetricsCollector::builder()
        .exemplar_interval(std::time::Duration::from_nanos(1))
        .install()
        .unwrap();
    {
        let _attached = Context::current()
            .with_remote_span_context(span_context())
            .attach();
        traced_request();
    }
    let text = collector.encode_openmetrics();
    let exemplar = format!(r#"# {{trace_id="{TRACE}",span_id="{SPAN}"}}"#);
    let traced: Vec<&str> = text.lines().filter(|l| l.contains(&exemplar)).collect();
    assert_eq!(traced.len(), 2, "{text}");
    assert!(
        traced[0]
            .starts_with("insa_agent_request_duration_seconds_bucket{agent_type=\"otel_agent\"")
    );
    assert!(
        traced[1].starts_with(
            "insa_agent_requests_total{agent_type=\"otel_agent\",status=\"success\"} 1 "
        )
    );
}
