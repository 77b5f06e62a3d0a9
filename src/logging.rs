//! Log lines and, when asked for, trace export: text or JSON lines on
//! stderr, plus every span sent to an OpenTelemetry collector over OTLP/HTTP
//! when `--otlp-endpoint` is set.

use crate::config::LogFormat;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::Filter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::Registry;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Set once spans are exported: only then does a request read its
/// caller's `traceparent`.
static EXPORTING: AtomicBool = AtomicBool::new(false);

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
    let filter = line_filter(std::env::var("LIKES_LOG").ok().as_deref());
    // Colours only for a person at a terminal: escape codes are noise in a
    // collected log, and writing them costs every span and line.
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
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
            .with_filter(Targets::new().with_target("likes", tracing::Level::INFO))
    });
    EXPORTING.store(traces.is_some(), Ordering::Relaxed);
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

/// What lets log lines through: `LIKES_LOG` (default `info`). A filter of
/// targets and levels only (`info`, `likes=debug,tower=warn`) is decided
/// once per callsite; one with span or field directives (`[request]`,
/// `{…}`) needs `EnvFilter`, which also looks every span up, under a lock
/// all threads share, each time it is entered or left.
fn line_filter(directives: Option<&str>) -> Box<dyn Filter<Registry> + Send + Sync> {
    let directives = directives.unwrap_or("info");
    let plain = |c: char| c.is_ascii_alphanumeric() || "_:=,.-".contains(c);
    if directives.chars().all(plain)
        && let Ok(targets) = directives.parse::<Targets>()
    {
        return Box::new(targets);
    }
    let filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    Box::new(filter)
}

/// Whether spans are exported to a collector.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
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
