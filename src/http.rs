//! HTTP routes: `/graphql` (POST JSON, WebSocket upgrade with either
//! subprotocol, GraphiQL on plain GET), `/healthz` and `/readyz`. It turns
//! transport failures (bad JSON, oversized bodies) into GraphQL-shaped errors
//! with a code; GraphQL semantics live in `graphql`.

use crate::graphql::LikesSchema;
use crate::store::LikeStore;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_util::sync::{CancellationToken, PollSender};
use tower_http::trace::TraceLayer;

/// Largest request body, and WebSocket message, accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// How long `/readyz` waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// The GraphQL schema, with its services.
    pub schema: LikesSchema,
    /// For `/readyz`.
    pub store: Arc<dyn LikeStore>,
    /// Cancelled when the process stops serving; closes WebSockets.
    pub shutdown: CancellationToken,
}

/// The service's routes.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A GraphQL-shaped error for failures before GraphQL runs.
fn transport_error(status: StatusCode, code: &str, message: String) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (status, axum::Json(body)).into_response()
}

async fn graphql_post(
    State(state): State<HttpState>,
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
    let request: async_graphql::BatchRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return transport_error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("the body is not a GraphQL request: {error}"),
            );
        }
    };
    GraphQLResponse::from(state.schema.execute_batch(request).await).into_response()
}

async fn graphql_get(State(state): State<HttpState>, request: Request) -> Response {
    if !request.headers().contains_key(header::UPGRADE) {
        let page = GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql")
            .finish();
        return Html(page).into_response();
    }
    let (mut parts, _) = request.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(protocol) => protocol,
        Err(rejection) => return rejection.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let schema = state.schema.clone();
    let shutdown = state.shutdown.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .on_upgrade(move |socket| serve_websocket(socket, schema, protocol, shutdown))
}

/// Runs one GraphQL WebSocket connection until the client leaves, breaks
/// the protocol, or the server shuts down. The client is told why with a
/// close code: 1012 (service restart) on shutdown, which GraphQL WebSocket
/// clients answer by reconnecting; 1009 for a message over the size limit;
/// 1002 for other malformed WebSocket traffic.
async fn serve_websocket(
    socket: WebSocket,
    schema: LikesSchema,
    protocol: GraphQLProtocol,
    shutdown: CancellationToken,
) {
    let (mut to_client, from_client) = socket.split();
    let read_error: Arc<OnceLock<String>> = Arc::default();
    let seen_error = read_error.clone();
    // Ending the read side ends the GraphQL session.
    let from_client = from_client
        .inspect(move |item| {
            if let Err(error) = item {
                let _ = seen_error.set(error.to_string());
            }
        })
        .take_until(shutdown.clone().cancelled_owned());
    // The session writes into a small queue; this task owns the socket's
    // write half so it can still send a close frame after the session ends.
    let (outgoing_tx, mut outgoing_rx) = tokio::sync::mpsc::channel::<Message>(16);
    let session = GraphQLWebSocket::new_with_pair(
        PollSender::new(outgoing_tx),
        from_client,
        schema,
        protocol,
    )
    .serve();
    let forward = async {
        while let Some(message) = outgoing_rx.recv().await {
            if to_client.send(message).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(session, forward);
    let close = if shutdown.is_cancelled() {
        Some((1012, "server restarting".to_owned()))
    } else {
        read_error.get().map(|error| {
            // axum does not expose tungstenite's error kinds; its capacity
            // error reads "Space limit exceeded: Message too long: ...".
            tracing::debug!(%error, "closing a WebSocket after a read error");
            if error.contains("Space limit exceeded") {
                (
                    1009,
                    format!("messages are limited to {MAX_BODY_BYTES} bytes"),
                )
            } else {
                (1002, "malformed WebSocket traffic".to_owned())
            }
        })
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = to_client.send(Message::Close(Some(frame))).await;
    }
    let _ = to_client.close().await;
}

async fn readyz(State(state): State<HttpState>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store not answering\n").into_response(),
    }
}
