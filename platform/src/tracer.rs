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
