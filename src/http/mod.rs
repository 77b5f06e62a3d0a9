//! The HTTP edge: `/graphql` (over HTTP in `graphql`, streamed in `stream`,
//! WebSockets in `websocket`, GraphiQL), `/healthz`, `/readyz`, `/metrics`
//! and the page (`assets`). It checks `Origin`, answers CORS, finds the
//! client's address; what it refuses is an `EdgeError`. GraphQL semantics
//! live in `crate::graphql`; `server` serves the connections.

mod accept;
mod assets;
mod error;
mod gate;
mod graphql;
mod handoff;
pub(crate) mod requests;
mod routes;
mod server;
mod stamp;
mod stream;
mod websocket;
mod write_deadline;
mod written;

pub(crate) use error::EdgeError;
pub(crate) use server::serve;

use crate::config::PageSource;
use crate::graphql::Endpoint;
use crate::limits::ConnectionLimit;
use crate::limits::connections::Peer;
use crate::limits::{Access, Limits};
use crate::telemetry as names;
use axum::Router;
use axum::body::{Bytes, HttpBody};
use axum::extract::{ConnectInfo, RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use metrics_exporter_prometheus::PrometheusHandle;
use routes::Layers;
pub(crate) use routes::Routes;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultOnFailure, MakeSpan, TraceLayer};

/// Largest request body, and WebSocket message, accepted, in bytes.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;
/// Most operations in one batched POST.
const MAX_BATCHED_OPERATIONS: usize = 10;
/// The handlers' shared state.
type Shared = Arc<HttpState>;

/// What the handlers share, behind one `Arc` (`Shared`): one reference
/// count per request rather than one per field.
pub(crate) struct HttpState {
    /// Answers GraphQL; its services also serve `/readyz` and `/metrics`.
    pub(crate) graphql: Arc<Endpoint>,
    /// Open connections, for `/metrics`.
    pub(crate) connections: ConnectionLimit,
    /// Per-connection limits.
    pub(crate) limits: Arc<Limits>,
    /// Origins, GraphiQL.
    pub(crate) access: Arc<Access>,
    /// Renders `/metrics`.
    pub(crate) metrics: PrometheusHandle,
    /// Cancelled when the process stops serving; closes WebSockets.
    pub(crate) shutdown: CancellationToken,
}

/// The service's routes, with the conference page unless it is off; the
/// layers are one stack (each layer added apart is a boxed service cloned
/// per request). A like skips the router (`routes`).
pub(crate) fn router(state: HttpState, page: &PageSource) -> Routes {
    requests::register();
    let state = Arc::new(state);
    let layers = Layers {
        // Failures are logged where they are understood (readiness, flushes);
        // a line per 503 probe during a store outage would drown them.
        trace: TraceLayer::new_for_http()
            .make_span_with(RequestSpan)
            .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        cors: cors(&state.access),
        route: None,
    };
    let router = Router::new()
        .route(
            requests::GRAPHQL,
            get(graphql_get).post(graphql_post_routed),
        )
        .merge(assets::routes(page, &state.access, crate::graphql::sdl()))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .layer(layers.clone())
        .with_state(state.clone());
    Routes::new(router, layers, state)
}

/// Opens each request's span, naming its id (and, when spans are exported,
/// its method and route; status and latency are in `/metrics`).
#[derive(Clone, Copy)]
pub(crate) struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> tracing::Span {
        let id = request
            .headers()
            .get(stamp::REQUEST_ID)
            .and_then(|id| id.to_str().ok())
            .unwrap_or_default();
        if !crate::logging::exporting() {
            return tracing::info_span!("request", request_id = %id);
        }
        let span = tracing::info_span!(
            "request",
            otel.name = %format_args!("{} {}", request.method(), request.uri().path()),
            otel.kind = "server",
            request_id = %id,
            method = %request.method(),
            path = %request.uri().path(),
        );
        crate::logging::join_callers_trace(&span, request.headers());
        span
    }
}

/// CORS answers for the listed origins (`Vary` is `stamp`'s).
fn cors(access: &Access) -> CorsLayer {
    let origins = access.allowed_origins.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origins.lists(origin)
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::ACCEPT])
        .max_age(Duration::from_secs(3600))
        .vary(Vec::<header::HeaderName>::new())
}

/// Whether a browser's page may use the API: its `Origin` is this site's or
/// on the allow-list (no likes from other sites, no WebSocket hijacking).
fn origin_allowed(state: &HttpState, headers: &HeaderMap) -> bool {
    let allowed = state
        .access
        .allowed_origins
        .allows(headers.get(header::ORIGIN), headers.get(header::HOST));
    if !allowed {
        tracing::debug!(origin = ?headers.get(header::ORIGIN), "refused a request from another site");
    }
    allowed
}

async fn graphql_post_routed(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    request: Request,
) -> Response {
    graphql_post(&state, peer, request).await
}

/// Answers `POST /graphql` from `peer`, routed or not (`routes`).
async fn graphql_post<B>(state: &Shared, peer: Peer, request: Request<B>) -> Response
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    let (parts, body) = request.into_parts();
    if !origin_allowed(state, &parts.headers) {
        return EdgeError::ForbiddenOrigin.into_response();
    }
    let reading = Limited::new(body, MAX_BODY_BYTES).collect();
    let body = match tokio::time::timeout(state.limits.timeouts.body_read, reading).await {
        Ok(Ok(body)) => body.to_bytes(),
        Err(_) => return EdgeError::BodyTimeout.into_response(),
        Ok(Err(error)) => {
            return match error.is::<LengthLimitError>() {
                true => EdgeError::PayloadTooLarge(MAX_BODY_BYTES),
                false => EdgeError::BadRequest(format!("reading the body failed: {error}")),
            }
            .into_response();
        }
    };
    let address = state
        .limits
        .client_ip
        .client_ip(&parts.headers, peer.0.ip());
    graphql::post(state, address, &parts.headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn graphql_get(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let address = state
        .limits
        .client_ip
        .client_ip(request.headers(), peer.0.ip());
    let allowed = origin_allowed(&state, request.headers());
    if request.headers().contains_key(header::UPGRADE) {
        // graphql-transport-ws refuses the protocol's way: a close with 4403.
        if allowed || websocket::offers_current_protocol(request.headers()) {
            return websocket::upgrade(state, address, request, allowed).await;
        }
    }
    if !allowed {
        return EdgeError::ForbiddenOrigin.into_response();
    }
    graphql::get(&state, address, request.headers(), query.as_deref())
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// Ready when this process can take likes: not shutting down, room in its
/// buffer. The store, shared by every replica, is no reason to leave.
async fn readyz(State(state): State<Shared>) -> Response {
    let storer = &state.graphql.services().storer;
    if state.shutdown.is_cancelled() || storer.closed() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else if storer.full() {
        (StatusCode::SERVICE_UNAVAILABLE, "like buffer full\n").into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}

/// Prometheus text format; levels are read from their owners now.
async fn render_metrics(State(state): State<Shared>) -> Response {
    let services = state.graphql.services();
    metrics::gauge!(names::BUFFERED).set(services.storer.buffered() as f64);
    metrics::gauge!(names::BUFFERED_BYTES).set(services.storer.buffered_bytes() as f64);
    let unstored_for = services.storer.oldest_unstored_ack().map_or(0.0, |acked| {
        let age = chrono::Utc::now() - acked;
        age.num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6
    });
    metrics::gauge!(names::UNSTORED_ACK_AGE).set(unstored_for);
    metrics::gauge!(names::SUBSCRIBERS).set(services.listener.all_subscribers() as f64);
    metrics::gauge!(names::CONNECTIONS).set(state.connections.open() as f64);
    metrics::gauge!(names::OBSERVER_LAG).set(services.listener.staleness().as_secs_f64());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
