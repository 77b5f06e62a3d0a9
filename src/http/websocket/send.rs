//! Sending a connection's messages: fed to the socket and flushed
//! together, within a time limit for a client that stops reading.

use axum::body::Bytes;
use axum::extract::ws::Message;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

/// Whether messages reached the socket.
pub(super) enum Sent {
    Yes,
    /// The connection is broken.
    Failed,
    /// The client has not read for a whole keepalive interval.
    Stuck,
}

/// Sends messages together (taking them out of `messages`) and flushes
/// them with what the socket holds already (`feed`'s), giving up when the
/// client does not take them within `limit`: a client that stops reading
/// must not hold its task forever. Most sends finish at
/// once and keep nothing in the connection's task: only one that has to
/// wait makes (and boxes) the deadline's timer.
pub(super) async fn send_within(
    to_client: &mut (impl futures_util::Sink<Message> + Unpin),
    messages: &mut Vec<Message>,
    limit: Duration,
) -> Sent {
    let mut next = 0;
    let mut send = std::future::poll_fn(|cx| poll_send(cx, to_client, messages, &mut next));
    let sent = match std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut send).poll(cx))).await {
        Poll::Ready(sent) => sent,
        Poll::Pending => match Box::pin(tokio::time::timeout(limit, send)).await {
            Ok(sent) => sent,
            Err(_) => return Sent::Stuck,
        },
    };
    if sent { Sent::Yes } else { Sent::Failed }
}

/// Feeds `messages[*next..]` to the client, then flushes; whether all
/// went out (`false`: the connection is broken). `messages` is empty once
/// this is ready.
fn poll_send<S: futures_util::Sink<Message> + Unpin>(
    cx: &mut std::task::Context<'_>,
    to_client: &mut S,
    messages: &mut Vec<Message>,
    next: &mut usize,
) -> Poll<bool> {
    let mut to_client = Pin::new(to_client);
    while *next < messages.len() {
        let fed = match to_client.as_mut().poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                let message = std::mem::replace(&mut messages[*next], Message::Ping(Bytes::new()));
                *next += 1;
                to_client.as_mut().start_send(message).is_ok()
            }
            Poll::Ready(Err(_)) => false,
            Poll::Pending => return Poll::Pending,
        };
        if !fed {
            messages.clear();
            return Poll::Ready(false);
        }
    }
    messages.clear();
    to_client.poll_flush(cx).map(|flushed| flushed.is_ok())
}
