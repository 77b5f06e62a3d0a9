//! Sending a connection's messages: fed to the socket and flushed
//! together; a client that stops reading meets the connection's write
//! deadline.

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket};
use futures_util::Sink;
use std::pin::Pin;
use std::task::Poll;

/// Most messages written together.
const MAX_FRAMES_PER_WRITE: usize = 16;

/// Hands `first`, and then what `next` has ready, to the socket, which
/// copies each into its buffer, up to `MAX_FRAMES_PER_WRITE` frames: an
/// event needs no batch of its own (one allocation per event and
/// subscriber). A frame the buffer has no room for goes to `batch`, which
/// waits for the client. Whether the socket took them (`false`: it broke).
pub(super) fn feed(
    cx: &mut std::task::Context<'_>,
    socket: &mut WebSocket,
    first: Message,
    batch: &mut Vec<Message>,
    mut next: impl FnMut(&mut std::task::Context<'_>) -> Poll<Message>,
) -> bool {
    let mut socket = Pin::new(socket);
    let mut frame = first;
    for fed in 1.. {
        match socket.as_mut().poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                if socket.as_mut().start_send(frame).is_err() {
                    return false;
                }
            }
            Poll::Ready(Err(_)) => return false,
            Poll::Pending => {
                batch.push(frame);
                break;
            }
        }
        if fed == MAX_FRAMES_PER_WRITE {
            break;
        }
        match next(cx) {
            Poll::Ready(more) => frame = more,
            Poll::Pending => break,
        }
    }
    true
}

/// Sends messages together (taking them out of `messages`) and flushes
/// them with what the socket holds already (`feed`'s); whether they
/// reached the socket. A client that stops reading fails the send once the
/// connection's write deadline (`--write-timeout`) passes.
pub(super) async fn send(
    to_client: &mut (impl Sink<Message> + Unpin),
    messages: &mut Vec<Message>,
) -> bool {
    let mut next = 0;
    std::future::poll_fn(|cx| poll_send(cx, to_client, messages, &mut next)).await
}

/// Feeds `messages[*next..]` to the client, then flushes; whether all
/// went out (`false`: the connection is broken). `messages` is empty once
/// this is ready.
fn poll_send<S: Sink<Message> + Unpin>(
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
