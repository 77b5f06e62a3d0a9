//! One GraphQL WebSocket connection: the upgrade (both subprotocols, small
//! buffers, the message size limit), the session and its answers sent in
//! batches, the plain `likeAdded` subscriptions run beside it
//! (`subscriptions`), a deadline for `connection_init`, keepalive pings,
//! the per-connection subscription allowance, and the close code that tells
//! the client why it ended.

mod subscriptions;

use super::{HttpState, MAX_BODY_BYTES};
use crate::graphql::{ClientAddress, LikesSchema, SubscriptionSlots};
use crate::telemetry as names;
use async_graphql::Data;
use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, ClientMessage, WebSocket as Session, WebSocketProtocols, WsMessage,
};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{FromRequestParts, Request, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt, future};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Read buffer per connection: enough for a typical client message (a
/// subscribe is about 200 bytes; the buffer grows for a longer one), and
/// small so an idle subscriber costs little (the library default is 128 KiB).
const READ_BUFFER_BYTES: usize = 512;

/// Messages sent together are written together up to this many bytes
/// (they are flushed after each batch in any case; the buffer is not
/// allocated up front).
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// Upgrades the request, or answers why not.
pub(super) async fn upgrade(
    state: Arc<HttpState>,
    address: ClientAddress,
    request: Request,
) -> Response {
    let (mut parts, _) = request.into_parts();
    let Some(protocol) = requested_protocol(&parts.headers) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let slots = SubscriptionSlots::new(state.limits.max_subscriptions_per_connection);
    let mut data = Data::default();
    data.insert(address);
    data.insert(slots.clone());
    let connection = Connection {
        schema: state.graphql.schema().clone(),
        protocol,
        data,
        subscriptions: subscriptions::start(state.clone(), address, slots, protocol),
        shutdown: state.shutdown.clone(),
        init_timeout: state.limits.ws_init_timeout,
        keepalive: state.limits.ws_keepalive,
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .on_upgrade(move |socket| connection.serve(socket))
}

/// What one connection needs.
struct Connection {
    schema: LikesSchema,
    protocol: WebSocketProtocols,
    /// The client's address and subscription allowance.
    data: Data,
    /// The `likeAdded` subscriptions run beside the session, sharing its
    /// allowance.
    subscriptions: (subscriptions::Router, subscriptions::Shared),
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
        // The session reads the client's text and binary messages until a
        // read error, and yields what to send; the loop below owns the
        // socket's write half, so it can also ping and send a close frame.
        // Sending straight from the session's stream, without a queue between
        // them, wakes a connection once per event it delivers.
        let (router, shared) = self.subscriptions;
        let input = from_client
            .take_while(|item| future::ready(item.is_ok()))
            .filter_map(move |item| {
                future::ready(match item {
                    Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                        router.route(ClientMessage::from_bytes(message.into_data()))
                    }
                    _ => None,
                })
            });
        let (init_tx, init_rx) = tokio::sync::oneshot::channel::<()>();
        let session = Session::from_message_stream(self.schema, input, self.protocol)
            .connection_data(self.data)
            .on_connection_init(move |_| async move {
                let _ = init_tx.send(());
                Ok(Data::default())
            });
        let session = subscriptions::Outgoing::new(session, shared);
        let init_deadline = async {
            let timeout = tokio::time::sleep(self.init_timeout);
            tokio::select! {
                Ok(()) = init_rx => std::future::pending::<()>().await,
                _ = timeout => {}
            }
        };
        let keepalive = self.keepalive;
        let forward = async {
            tokio::pin!(session);
            let mut pings = tokio::time::interval_at(opened + keepalive, keepalive);
            // Kept between batches: most are one event, and need no allocation.
            let mut batch = Vec::new();
            loop {
                let ended = tokio::select! {
                    message = session.next() => match message {
                        // What else the session has ready (answers to a
                        // client's pipelined operations) is flushed with it.
                        Some(first) => ready_messages(first, session.as_mut(), &mut batch).await,
                        None => return Ending::Session,
                    },
                    _ = pings.tick() => {
                        let silent = millis_since(opened)
                            .saturating_sub(heard_at.load(Ordering::Relaxed));
                        if Duration::from_millis(silent) > 2 * keepalive {
                            return Ending::Silent;
                        }
                        batch.push(Message::Ping(Default::default()));
                        false
                    }
                };
                match send_within(&mut to_client, &mut batch, keepalive).await {
                    Sent::Yes if ended => return Ending::Session,
                    Sent::Yes => {}
                    Sent::Failed => return Ending::Session,
                    Sent::Stuck => return Ending::Silent,
                }
            }
        };
        let ending = tokio::select! {
            ending = forward => ending,
            _ = init_deadline => Ending::NoInit,
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
            let mut close = vec![Message::Close(Some(frame))];
            send_within(&mut to_client, &mut close, keepalive).await;
        }
        let _ = tokio::time::timeout(keepalive, to_client.close()).await;
    }
}

/// The first GraphQL WebSocket subprotocol the client offers that is served
/// here; `None` answers the upgrade with 400.
fn requested_protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|protocol| protocol.trim().parse().ok())
}

/// Whether a message reached the socket.
enum Sent {
    Yes,
    /// The connection is broken.
    Failed,
    /// The client has not read for a whole keepalive interval.
    Stuck,
}

/// Sends messages together (taking them out of `messages`), flushed once,
/// giving up when the client does not take them within `limit`: a client
/// that stops reading must not hold its task forever.
async fn send_within(
    to_client: &mut (impl futures_util::Sink<Message> + Unpin),
    messages: &mut Vec<Message>,
    limit: Duration,
) -> Sent {
    let send = async {
        for message in messages.drain(..) {
            to_client.feed(fit_close_reason(message)).await?;
        }
        to_client.flush().await
    };
    let mut send = std::pin::pin!(send);
    // Most sends finish at once: the deadline's timer is set only for one
    // that has to wait.
    let at_once = std::future::poll_fn(|cx| Poll::Ready(send.as_mut().poll(cx))).await;
    let sent = match at_once {
        Poll::Ready(sent) => sent,
        Poll::Pending => match tokio::time::timeout(limit, send).await {
            Ok(sent) => sent,
            Err(_) => return Sent::Stuck,
        },
    };
    match sent {
        Ok(()) => Sent::Yes,
        Err(_) => Sent::Failed,
    }
}

/// Most messages sent together.
const MAX_BATCH: usize = 16;

/// Puts `first` in `batch`, then whatever else `session` yields without
/// waiting, up to `MAX_BATCH` messages; whether the session has ended.
async fn ready_messages(
    first: WsMessage,
    mut session: Pin<&mut (impl futures_util::Stream<Item = WsMessage> + ?Sized)>,
    batch: &mut Vec<Message>,
) -> bool {
    batch.push(to_frame(first));
    while batch.len() < MAX_BATCH {
        match std::future::poll_fn(|cx| Poll::Ready(session.as_mut().poll_next(cx))).await {
            Poll::Ready(Some(message)) => batch.push(to_frame(message)),
            Poll::Ready(None) => return true,
            Poll::Pending => break,
        }
    }
    false
}

/// The WebSocket message for what the GraphQL session sends.
fn to_frame(message: WsMessage) -> Message {
    match message {
        WsMessage::Text(text) => Message::Text(text.into()),
        WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })),
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

    fn text(n: usize) -> WsMessage {
        WsMessage::Text(n.to_string())
    }

    #[tokio::test]
    async fn ready_messages_go_out_together_up_to_a_batch() {
        let rest = futures_util::stream::iter((1..40).map(text));
        let mut batch = Vec::new();
        let ended = ready_messages(text(0), std::pin::pin!(rest), &mut batch).await;
        assert_eq!(batch.len(), MAX_BATCH);
        assert_eq!(batch[MAX_BATCH - 1], Message::Text("15".into()));
        assert!(!ended);

        let rest = futures_util::stream::iter([text(1), WsMessage::Close(1002, "bad".into())]);
        let mut batch = Vec::new();
        let ended = ready_messages(text(0), std::pin::pin!(rest), &mut batch).await;
        assert_eq!(batch.len(), 3);
        assert!(matches!(&batch[2], Message::Close(Some(frame)) if frame.code == 1002));
        assert!(
            ended,
            "the session's end is reported with its last messages"
        );

        let waiting = std::pin::pin!(futures_util::stream::pending::<WsMessage>());
        let mut batch = Vec::new();
        let waits = ready_messages(text(0), waiting, &mut batch);
        let ended = tokio::time::timeout(Duration::from_secs(5), waits)
            .await
            .expect("a session with nothing ready does not hold the batch back");
        assert_eq!(batch, vec![Message::Text("0".into())]);
        assert!(!ended, "nothing ready is not an end");
    }

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
