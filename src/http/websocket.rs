//! One GraphQL WebSocket connection: the upgrade (both subprotocols, small
//! buffers, the message size limit), the session, a deadline for
//! `connection_init`, keepalive pings, the per-connection subscription
//! allowance, and the close code that tells the client why it ended.

use super::{HttpState, MAX_BODY_BYTES};
use crate::graphql::{ClientAddress, LikesSchema, SubscriptionSlots};
use crate::telemetry as names;
use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{FromRequestParts, Request, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Read buffer per connection: enough for a typical client message (a
/// subscribe is about 200 bytes; the buffer grows for a longer one), and
/// small so an idle subscriber costs little (the library default is 128 KiB).
const READ_BUFFER_BYTES: usize = 512;

/// Upgrades the request, or answers why not.
pub(super) async fn upgrade(
    state: Arc<HttpState>,
    address: ClientAddress,
    request: Request,
) -> Response {
    let (mut parts, _) = request.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(protocol) => protocol,
        Err(rejection) => return rejection.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let mut data = Data::default();
    data.insert(address);
    data.insert(SubscriptionSlots::new(
        state.limits.max_subscriptions_per_connection,
    ));
    let connection = Connection {
        schema: state.graphql.schema().clone(),
        protocol,
        data,
        shutdown: state.shutdown.clone(),
        init_timeout: state.limits.ws_init_timeout,
        keepalive: state.limits.ws_keepalive,
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .on_upgrade(move |socket| connection.serve(socket))
}

/// What one connection needs.
struct Connection {
    schema: LikesSchema,
    protocol: GraphQLProtocol,
    /// The client's address and subscription allowance.
    data: Data,
    shutdown: CancellationToken,
    init_timeout: Duration,
    keepalive: Duration,
}

/// Why the server ended a connection.
enum Ending {
    /// The session ended (the client left, or sent something malformed).
    Session,
    /// No `connection_init` in time.
    NoInit,
    /// Nothing heard from the client for two keepalive intervals.
    Silent,
}

impl Connection {
    /// Runs the connection until the client leaves, breaks the protocol,
    /// stays silent, or the server shuts down. The client is told why with a
    /// close code: 1012 (service restart) on shutdown, which GraphQL
    /// WebSocket clients answer by reconnecting; 4408 without
    /// `connection_init` in time; 1009 for a message over the size limit;
    /// 1002 for other malformed WebSocket traffic.
    async fn serve(self, socket: WebSocket) {
        let _open = OpenWebSocket::new();
        let opened = Instant::now();
        let (mut to_client, from_client) = socket.split();
        let read_error: Arc<OnceLock<String>> = Arc::default();
        // Milliseconds after `opened` when the client was last heard (pongs count).
        let heard_at = Arc::new(AtomicU64::new(0));
        let (seen_error, seen_heard) = (read_error.clone(), heard_at.clone());
        // Ending the read side ends the GraphQL session.
        let from_client = from_client
            .inspect(move |item| match item {
                Ok(_) => seen_heard.store(millis_since(opened), Ordering::Relaxed),
                Err(error) => {
                    let _ = seen_error.set(error.to_string());
                }
            })
            .take_until(self.shutdown.clone().cancelled_owned());
        let (init_tx, init_rx) = tokio::sync::oneshot::channel::<()>();
        // The session writes into a small queue; the loop below owns the
        // socket's write half, so it can also ping and send a close frame.
        // (This queue allocates per message, not a block of slots up front:
        // an idle subscriber holds nothing in it.)
        let (outgoing_tx, mut outgoing_rx) = futures_channel::mpsc::channel::<Message>(16);
        let session =
            GraphQLWebSocket::new_with_pair(outgoing_tx, from_client, self.schema, self.protocol)
                .with_data(self.data)
                .on_connection_init(move |_| async move {
                    let _ = init_tx.send(());
                    Ok(Data::default())
                })
                .serve();
        let init_deadline = async {
            let timeout = tokio::time::sleep(self.init_timeout);
            tokio::select! {
                Ok(()) = init_rx => std::future::pending::<()>().await,
                _ = timeout => {}
            }
        };
        let keepalive = self.keepalive;
        let forward = async {
            let mut pings = tokio::time::interval_at(opened + keepalive, keepalive);
            loop {
                tokio::select! {
                    message = outgoing_rx.next() => match message {
                        Some(message) => {
                            match send_within(&mut to_client, message, keepalive).await {
                                Sent::Yes => {}
                                Sent::Failed => return Ending::Session,
                                Sent::Stuck => return Ending::Silent,
                            }
                        }
                        None => return Ending::Session,
                    },
                    _ = pings.tick() => {
                        let silent = millis_since(opened)
                            .saturating_sub(heard_at.load(Ordering::Relaxed));
                        if Duration::from_millis(silent) > 2 * keepalive {
                            return Ending::Silent;
                        }
                        let ping = Message::Ping(Default::default());
                        match send_within(&mut to_client, ping, keepalive).await {
                            Sent::Yes => {}
                            Sent::Failed => return Ending::Session,
                            Sent::Stuck => return Ending::Silent,
                        }
                    }
                }
            }
        };
        let ending = {
            tokio::pin!(forward);
            let first = tokio::select! {
                _ = session => None,
                ending = &mut forward => Some(ending),
                _ = init_deadline => Some(Ending::NoInit),
            };
            // After the session, deliver what it queued (the session's end
            // closes the queue).
            match first {
                Some(ending) => ending,
                None => forward.await,
            }
        };
        let close = match ending {
            _ if self.shutdown.is_cancelled() => Some((1012, "server restarting".to_owned())),
            Ending::NoInit => Some((4408, "connection initialisation timeout".to_owned())),
            Ending::Silent => {
                tracing::debug!("dropping a WebSocket whose client stopped answering or reading");
                None
            }
            Ending::Session => read_error.get().map(|error| {
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
            }),
        };
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            send_within(&mut to_client, Message::Close(Some(frame)), keepalive).await;
        }
        let _ = tokio::time::timeout(keepalive, to_client.close()).await;
    }
}

/// Whether a message reached the socket.
enum Sent {
    Yes,
    /// The connection is broken.
    Failed,
    /// The client has not read for a whole keepalive interval.
    Stuck,
}

/// Sends a message, giving up when the client does not take it within
/// `limit`: a client that stops reading must not hold its task forever.
async fn send_within(
    to_client: &mut (impl futures_util::Sink<Message> + Unpin),
    message: Message,
    limit: Duration,
) -> Sent {
    match tokio::time::timeout(limit, to_client.send(fit_close_reason(message))).await {
        Ok(Ok(())) => Sent::Yes,
        Ok(Err(_)) => Sent::Failed,
        Err(_) => Sent::Stuck,
    }
}

/// Counts an open WebSocket in `/metrics` for as long as it lives, however
/// its task ends.
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

/// Longest close reason a WebSocket close frame can carry, in bytes.
const MAX_CLOSE_REASON: usize = 123;

/// Shortens a close frame's reason to what the protocol allows (the GraphQL
/// session puts parse errors there, which can be longer); clients treat a
/// longer one as a protocol violation and lose the close code.
fn fit_close_reason(message: Message) -> Message {
    let Message::Close(Some(frame)) = message else {
        return message;
    };
    let reason = frame.reason.as_str();
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code: frame.code,
        reason: reason[..end].to_owned().into(),
    }))
}

fn millis_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_close_reasons_are_cut_at_a_character_boundary() {
        let long = format!("{}é{}", "x".repeat(122), "y".repeat(200));
        let Message::Close(Some(frame)) = fit_close_reason(Message::Close(Some(CloseFrame {
            code: 1002,
            reason: long.into(),
        }))) else {
            panic!("not a close frame")
        };
        assert_eq!(frame.code, 1002);
        assert_eq!(frame.reason.as_str(), "x".repeat(122));
        let text = Message::Text("hello".into());
        assert_eq!(fit_close_reason(text.clone()), text);
    }
}
