//! One GraphQL WebSocket connection: the upgrade (either subprotocol,
//! small buffers, the size limit), its I/O loop (messages to `operations`,
//! frames flushed in batches by `send`, pings, the `connection_init`
//! deadline), and the close code that says why it ended.

mod events;
mod operations;
mod protocol;
mod send;

use super::error::{CloseCode, EdgeError, fit_reason};
use super::gate::Gate;
use super::{HttpState, MAX_BODY_BYTES};
use crate::graphql::SubscriptionSlots;
use crate::telemetry as names;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{FromRequestParts, Request, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use operations::{End, Operations};
use protocol::Protocol;
use send::{feed, send};
use std::net::IpAddr;
use std::sync::Arc;
use std::task::Poll;
use tokio::time::Instant;

/// Read buffer per connection: a subscribe is about 200 bytes, and an idle
/// subscriber should cost little (the library's default is 128 KiB).
const READ_BUFFER_BYTES: usize = 256;

/// Messages sent together are written together up to this many bytes.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// Whether the client asks first for `graphql-transport-ws`.
pub(super) fn offers_current_protocol(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && requested_protocol(headers) == Some(Protocol::TransportWs)
}

/// Upgrades the request, or answers why not; a connection from a page whose
/// origin is not `allowed` closes with 4403 before reading anything.
pub(super) async fn upgrade(
    state: Arc<HttpState>,
    address: IpAddr,
    request: Request,
    allowed: bool,
) -> Response {
    let (mut parts, _) = request.into_parts();
    let Some(protocol) = requested_protocol(&parts.headers) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // Boxed: the upgrade's task holds it once, not again in the callback.
    let connection = Box::new(Connection {
        operations: Operations::new(
            protocol,
            address,
            SubscriptionSlots::new(state.limits.max_subscriptions_per_connection),
            state.limits.ws_operation_rate.limiter(),
        ),
        protocol,
        forbidden: !allowed,
        state,
    });
    upgrade
        .protocols([protocol.name()])
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .on_upgrade(move |socket| {
            // Its own task: the upgrade's holds a dead copy of the socket.
            tokio::spawn(connection.serve(socket));
            std::future::ready(())
        })
}

/// The first subprotocol the client offers that is served here.
fn requested_protocol(headers: &HeaderMap) -> Option<Protocol> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(Protocol::named)
}

/// What one connection needs.
struct Connection {
    state: Arc<HttpState>,
    protocol: Protocol,
    operations: Operations,
    /// Its page's origin is not allowed.
    forbidden: bool,
}

impl Connection {
    /// Runs the connection until the client leaves, breaks the protocol,
    /// stays silent, or the server shuts down, and closes with the code
    /// that says why (`EdgeError`; 1012 on shutdown, so clients reconnect).
    /// The socket is not split (its halves would share a lock), and not an
    /// `async fn`'s argument, which would keep a dead copy in the future.
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps the socket twice"
    )]
    fn serve(mut self: Box<Self>, mut socket: WebSocket) -> impl Future<Output = ()> + Send {
        async move {
            let _open = OpenWebSocket::new();
            let ending = if self.forbidden {
                Some(End::Close(EdgeError::ForbiddenOrigin))
            } else {
                self.run(&mut socket).await
            };
            if let Some(End::Close(error)) = ending {
                let (code, reason) = self.close(&error);
                let frame = CloseFrame {
                    code,
                    reason: fit_reason(reason).into(),
                };
                // Boxed, as the close below: an idle connection's task
                // would otherwise keep their room all its life.
                Box::pin(send(&mut socket, &mut vec![Message::Close(Some(frame))])).await;
            }
            let _ = Box::pin(socket.close()).await;
        }
    }

    /// The connection's loop; what ends it (`None`: the client left, or
    /// stopped answering).
    async fn run(&mut self, socket: &mut WebSocket) -> Option<End> {
        let state = self.state.clone();
        let endpoint = &state.graphql;
        let keepalive = state.limits.ws_keepalive;
        let opened = Instant::now();
        let mut heard = opened;
        // Polled only after one of them woke the task, not for every event.
        let mut others = Gate::default();
        let mut shutdown = Some(Box::pin(state.shutdown.clone().cancelled_owned()));
        // Dropped once the client has initialised.
        let mut init_deadline = Some(Box::pin(tokio::time::sleep(state.limits.ws_init_timeout)));
        let mut pings = tokio::time::interval_at(opened + keepalive, keepalive);
        // At shutdown, while mutations still wait: close once they are sent.
        let mut stopping = false;
        loop {
            // Per batch, freed once sent: an idle connection keeps none, and
            // no allocation is resized (a gap the buffered likes would fill).
            let mut batch = Vec::new();
            if stopping && !self.operations.answering() {
                return Some(End::Close(EdgeError::Restarting));
            }
            if self.operations.initialised() {
                init_deadline = None;
            }
            let woke = std::future::poll_fn(|cx| {
                let other = others.poll(cx, |cx| {
                    if let Some(signal) = shutdown.as_mut()
                        && signal.as_mut().poll(cx).is_ready()
                    {
                        shutdown = None;
                        return Poll::Ready(Woke::Shutdown);
                    }
                    if let Poll::Ready(message) = socket.poll_next_unpin(cx) {
                        return Poll::Ready(Woke::Message(message));
                    }
                    if let Some(deadline) = init_deadline.as_mut()
                        && deadline.as_mut().poll(cx).is_ready()
                    {
                        return Poll::Ready(Woke::InitTimeout);
                    }
                    pings.poll_tick(cx).map(|_| Woke::Ping)
                });
                if other.is_ready() {
                    return other;
                }
                let first = std::task::ready!(self.operations.poll_frame(cx, endpoint, stopping));
                let fed = feed(cx, socket, first, &mut batch, |cx| {
                    self.operations.poll_frame(cx, endpoint, stopping)
                });
                Poll::Ready(if fed { Woke::Fed } else { Woke::Broken })
            });
            match woke.await {
                Woke::Shutdown => {
                    if !self.operations.answering() {
                        return Some(End::Close(EdgeError::Restarting));
                    }
                    stopping = true;
                }
                Woke::Message(message) => {
                    heard = Instant::now();
                    let received: Bytes = match message {
                        None | Some(Ok(Message::Close(_))) => return None,
                        Some(Err(error)) => return Some(End::Close(read_error(&error))),
                        Some(Ok(Message::Text(text))) => text.into(),
                        Some(Ok(Message::Binary(bytes))) => bytes,
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    };
                    let Ok(text) = std::str::from_utf8(&received) else {
                        let error = EdgeError::BadRequest("a message is not UTF-8".into());
                        return Some(End::Close(error));
                    };
                    // Boxed: the largest future here, which an idle
                    // subscriber's task would keep all its life.
                    let received = Box::pin(self.operations.receive(text, endpoint, &mut batch));
                    if let Err(end) = received.await {
                        send(socket, &mut batch).await;
                        return Some(end);
                    }
                }
                Woke::InitTimeout => return Some(End::Close(EdgeError::InitTimeout)),
                Woke::Ping => {
                    if heard.elapsed() > 2 * keepalive {
                        tracing::debug!("dropping a WebSocket whose client stopped answering");
                        return None;
                    }
                    batch.push(Message::Ping(Default::default()));
                }
                Woke::Fed => {}
                Woke::Broken => return None,
            }
            if !send(socket, &mut batch).await {
                return None;
            }
        }
    }

    /// The close code and reason for `error` (the legacy protocol's own).
    fn close(&self, error: &EdgeError) -> (u16, String) {
        match (self.protocol, error) {
            (Protocol::Legacy, EdgeError::BadRequest(reason)) => {
                (CloseCode::ProtocolError.into(), reason.clone())
            }
            (Protocol::Legacy, EdgeError::Unauthorized) => (
                CloseCode::InternalError.into(),
                "The handshake is not completed.".into(),
            ),
            (_, error) => (error.close_code().into(), error.to_string()),
        }
    }
}

/// Why reading failed, as a close; axum hides tungstenite's error kinds,
/// but its capacity error reads "Space limit exceeded: ...".
fn read_error(error: &axum::Error) -> EdgeError {
    let error = error.to_string();
    tracing::debug!(%error, "closing a WebSocket after a read error");
    if error.contains("Space limit exceeded") {
        EdgeError::PayloadTooLarge(MAX_BODY_BYTES)
    } else {
        EdgeError::BadRequest("malformed WebSocket traffic".into())
    }
}

/// What, besides its events, woke a connection.
enum Woke {
    /// The server is shutting down.
    Shutdown,
    /// The client sent a message (`None`: it left).
    Message(Option<Result<Message, axum::Error>>),
    /// The client did not initialise in time.
    InitTimeout,
    /// Time to ping the client.
    Ping,
    /// Frames were handed to the socket (or the batch), to be flushed.
    Fed,
    /// The socket broke while frames were handed to it.
    Broken,
}

/// Counts an open WebSocket in `/metrics` while it lives.
struct OpenWebSocket;

impl OpenWebSocket {
    fn new() -> Self {
        metrics::gauge!(names::WEBSOCKETS).increment(1.0);
        Self
    }
}

impl Drop for OpenWebSocket {
    fn drop(&mut self) {
        metrics::gauge!(names::WEBSOCKETS).decrement(1.0);
    }
}
