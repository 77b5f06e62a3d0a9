//! HTTP routes: `/graphql` (POST JSON, WebSocket upgrade with either
//! subprotocol, GraphiQL on plain GET), `/healthz`, `/readyz` and `/metrics`,
//! each in a span with its request id. It checks a browser's `Origin` and
//! answers CORS, finds the client's
//! address for rate limits, and turns transport failures (bad JSON, oversized
//! bodies, batches) into GraphQL-shaped errors with a code; POSTed documents
//! go to `graphql::Endpoint`. GraphQL semantics
//! live in `graphql`; the WebSocket session lives in `websocket`; the
//! conference page at `/` lives in `page`.

mod page;
mod websocket;

pub use page::Page;

use crate::graphql::{self, ClientAddress, Endpoint};
use crate::limits::ConnectionLimit;
use crate::limits::connections::Peer;
use crate::limits::{Access, Limits};
use crate::telemetry as names;
use async_graphql::BatchRequest;
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::GraphQLResponse;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

/// Largest request body, and WebSocket message, accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Most operations in one batched POST.
pub const MAX_BATCH: usize = 10;
/// The handlers' shared state.
type Shared = Arc<HttpState>;

/// How long `/readyz` waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// What the handlers share, behind one `Arc` (`Shared`): handlers and
/// middleware take it for every request, and one reference count is cheaper
/// than one per field.
pub struct HttpState {
    /// Answers GraphQL; its services serve `/readyz` (the store, and
    /// whether it takes writes) and `/metrics` (buffer, subscribers, lag).
    pub graphql: Endpoint,
    /// Open connections, for `/metrics`.
    pub connections: ConnectionLimit,
    /// Per-connection limits.
    pub limits: Arc<Limits>,
    /// Origins, GraphiQL.
    pub access: Arc<Access>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Cancelled when the process stops serving; closes WebSockets.
    pub shutdown: CancellationToken,
}

/// The service's routes, with the conference page unless it is off.
pub fn router(state: HttpState, page: &Page) -> Router {
    let state = Arc::new(state);
    let graphql = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .layer(middleware::from_fn_with_state(state.clone(), check_origin))
        .layer(cors(&state.access));
    Router::new()
        .merge(graphql)
        .merge(page::routes(page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Failures are logged where they are understood (readiness, flushes);
        // a line per 503 probe during a store outage would drown them.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        // Outermost: every request has an `x-request-id` (the caller's, or a
        // new UUID) before its span opens, and the answer carries it back.
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The span of one request: every log line within it names the request id.
fn request_span(request: &Request) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|id| id.to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{} {}", request.method(), request.uri().path()),
        otel.kind = "server",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    if !span.is_disabled() {
        crate::logging::join_callers_trace(&span, request.headers());
    }
    span
}

/// CORS answers for the listed origins (none besides the service's own by default).
fn cors(access: &Access) -> CorsLayer {
    let origins = access.allowed_origins.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origins.lists(origin)
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .max_age(Duration::from_secs(3600))
}

/// Refuses browser requests from pages not on the allow-list, before any
/// GraphQL runs or a WebSocket opens (no cross-site WebSocket hijacking, no
/// likes sent by other sites' pages).
async fn check_origin(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if state
        .access
        .allowed_origins
        .allows(headers.get(header::ORIGIN), headers.get(header::HOST))
    {
        return next.run(request).await;
    }
    tracing::debug!(origin = ?headers.get(header::ORIGIN), "refused a request from another site");
    transport_error(
        StatusCode::FORBIDDEN,
        "FORBIDDEN_ORIGIN",
        "this origin may not use the API".into(),
    )
}

/// A GraphQL-shaped error for failures before GraphQL runs.
fn transport_error(status: StatusCode, code: &str, message: String) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (status, axum::Json(body)).into_response()
}

/// The client's address: the peer, or the trusted proxy's header.
fn client_address(state: &HttpState, headers: &HeaderMap, peer: Peer) -> ClientAddress {
    ClientAddress(state.limits.client_ip.client_ip(headers, peer.0.ip()))
}

async fn graphql_post(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return transport_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
            );
        }
        Err(rejection) => {
            return transport_error(rejection.status(), "BAD_REQUEST", rejection.body_text());
        }
    };
    let address = client_address(&state, &headers, peer);
    if let Some(answer) = state.graphql.execute_posted(&body, address, MAX_BATCH) {
        return GraphQLResponse::from(answer).into_response();
    }
    let request = match parse_batch(&body) {
        Ok(request) => request,
        Err(error) => {
            return transport_error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("the body is not a GraphQL request: {error}"),
            );
        }
    };
    if let BatchRequest::Batch(requests) = &request
        && !(1..=MAX_BATCH).contains(&requests.len())
    {
        return transport_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            format!(
                "batches hold 1 to {MAX_BATCH} operations, this one has {}",
                requests.len()
            ),
        );
    }
    GraphQLResponse::from(state.graphql.execute_batch(request, address).await).into_response()
}

/// One operation, or a batch when the body is a JSON array. Parsed as the
/// one it is, rather than through `BatchRequest`'s untagged `Deserialize`,
/// which buffers the whole document before trying each form in turn.
fn parse_batch(body: &[u8]) -> serde_json::Result<BatchRequest> {
    if graphql::is_batch(body) {
        serde_json::from_slice(body).map(BatchRequest::Batch)
    } else {
        serde_json::from_slice(body).map(BatchRequest::Single)
    }
}

async fn graphql_get(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    request: Request,
) -> Response {
    if request.headers().contains_key(header::UPGRADE) {
        let address = client_address(&state, request.headers(), peer);
        return websocket::upgrade(state, address, request).await;
    }
    if !state.access.graphiql {
        return transport_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_REQUEST",
            "send GraphQL as a POST, or open a WebSocket".into(),
        );
    }
    Html(graphiql()).into_response()
}

/// The GraphiQL page, rendered once: rendering parses its template, which
/// made a GET of it cost dozens of times the CPU of a like.
fn graphiql() -> &'static str {
    static PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PAGE.get_or_init(|| {
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql")
            .finish()
    })
}

/// Ready when the store answers a read within 2 s and is taking writes (the
/// last flush try succeeded).
async fn readyz(State(state): State<Shared>) -> Response {
    let services = state.graphql.services();
    match tokio::time::timeout(READY_TIMEOUT, services.store.ping()).await {
        Ok(Ok(())) if services.storer.store_failing() => {
            (StatusCode::SERVICE_UNAVAILABLE, "store not taking writes\n").into_response()
        }
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store not answering\n").into_response(),
    }
}

/// Prometheus text format; levels are read from their owners now.
async fn render_metrics(State(state): State<Shared>) -> Response {
    let services = state.graphql.services();
    metrics::gauge!(names::BUFFERED).set(services.storer.buffered() as f64);
    metrics::gauge!(names::BUFFERED_BYTES).set(services.storer.buffered_bytes() as f64);
    metrics::gauge!(names::SUBSCRIBERS).set(services.listener.all_subscribers() as f64);
    metrics::gauge!(names::CONNECTIONS).set(state.connections.open() as f64);
    metrics::gauge!(names::OBSERVER_LAG).set(services.listener.staleness().as_secs_f64());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
