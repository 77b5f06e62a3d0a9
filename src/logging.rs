//! Log lines and, when asked for, trace export: text or JSON lines on
//! stderr, plus every span sent to an OpenTelemetry collector over OTLP/HTTP
//! when `--otlp-endpoint` is set.

use crate::config::LogFormat;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Ends trace export when dropped, sending the spans still queued.
#[must_use = "dropping the guard stops trace export"]
pub struct Guard {
    traces: Option<SdkTracerProvider>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(traces) = self.traces.take()
            && let Err(error) = traces.shutdown()
        {
            eprintln!("likes: sending the last traces: {error}");
        }
    }
}

/// Installs the process's logging: `LIKES_LOG` filters (default `info`),
/// `format` shapes the lines, and a collector at `otlp_endpoint` (its base
/// URL, such as `http://otel-collector:4318`) receives the spans.
pub fn init(format: LogFormat, otlp_endpoint: Option<&str>) -> anyhow::Result<Guard> {
    let filter = EnvFilter::try_from_env("LIKES_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Text => lines.boxed(),
        LogFormat::Json => lines
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    let traces = otlp_endpoint.map(tracer_provider).transpose()?;
    // The service's own spans, whatever `LIKES_LOG` keeps: not those of the
    // HTTP client sending them, which would trace their own export.
    let export = traces.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("likes"))
            .with_filter(EnvFilter::new("likes=info"))
    });
    tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(export)
        .try_init()?;
    Ok(Guard { traces })
}

/// A tracer provider batching spans to the collector's `/v1/traces`, and the
/// W3C `traceparent` propagator, so a request joins its caller's trace.
fn tracer_provider(endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("likes");
    }
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// Makes `span` a child of the trace named by the request's `traceparent`
/// header, if trace export is on and the header is valid.
pub fn join_callers_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let context = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&opentelemetry_http::HeaderExtractor(headers))
    });
    // Without a valid header the context is empty, and the span stays a root.
    let _ = span.set_parent(context);
}
