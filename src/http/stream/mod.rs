//! GraphQL results streamed over HTTP/1.1, one operation per request:
//! graphql-sse's distinct connections mode and Apollo's multipart
//! subscriptions (`framing`). The body pulls an event only once the last is
//! written (a slow reader gets merged deltas); keep-alives fill the quiet,
//! and on shutdown the client is told why.

mod framing;

pub(crate) use framing::Framing;

use super::HttpState;
use super::error::EdgeError;
use super::gate::Gate;
use super::written;
use crate::graphql::Ready;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use std::convert::Infallible;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::WaitForCancellationFutureOwned;

/// Apollo's multipart heartbeat interval (its clients expect one at least
/// this often).
const MULTIPART_HEARTBEAT: Duration = Duration::from_secs(5);

/// Starts `ready`, a subscription, for a client at `address` and streams
/// its events, or the error that kept it from starting.
pub(super) fn subscribe(
    state: &Arc<HttpState>,
    framing: Framing,
    ready: Ready<'_>,
    address: IpAddr,
) -> Response {
    // One per connection: the caps on connections bound them.
    let subscription = match state.graphql.subscribe(ready, Some(address), None) {
        Ok(subscription) => subscription,
        Err(refused) => return once(framing, &refused.body),
    };
    let keepalive = match framing {
        Framing::EventStream => state.limits.stream_keepalive,
        Framing::Multipart => state.limits.stream_keepalive.min(MULTIPART_HEARTBEAT),
    };
    let mut keepalives = tokio::time::interval_at(Instant::now() + keepalive, keepalive);
    keepalives.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let events = Events {
        state: state.clone(),
        framing,
        plan: subscription.plan,
        events: Some(subscription.events),
        gate: Gate::default(),
        keepalives,
        shutdown: (
            Gate::default(),
            Box::pin(state.shutdown.clone().cancelled_owned()),
        ),
        opened: false,
    };
    streamed(framing, super::handoff::body(events))
}

/// A response of one result: a query's or mutation's, or a request error.
pub(super) fn once(framing: Framing, result: &[u8]) -> Response {
    streamed(framing, Body::from(framing.once(result)))
}

/// A 200 of `framing`'s type with `body`, never cached nor buffered.
fn streamed(framing: Framing, body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(framing.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// One subscription's body: its events framed, keep-alives, and the end.
struct Events {
    state: Arc<HttpState>,
    framing: Framing,
    plan: Arc<Ready<'static>>,
    /// `None` once the stream ended; dropping them ends the subscription.
    events: Option<BoxStream<'static, Box<crate::graphql::AnyObject>>>,
    /// The events are polled only once they woke the connection.
    gate: Gate,
    keepalives: Interval,
    /// Fires on shutdown; polled only once it woke the connection.
    shutdown: (Gate, Pin<Box<WaitForCancellationFutureOwned>>),
    /// Whether the body's opening went out.
    opened: bool,
}

impl Stream for Events {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let framing = this.framing;
        let Some(events) = this.events.as_mut() else {
            return Poll::Ready(None);
        };
        let mut out = Vec::new();
        if !this.opened {
            this.opened = true;
            framing.open(&mut out);
        }
        let (gate, shutdown) = &mut this.shutdown;
        if gate.poll(cx, |cx| shutdown.as_mut().poll(cx)).is_ready() {
            let errors = serde_json::to_vec(&[EdgeError::Restarting.graphql()])
                .unwrap_or_else(|_| b"[]".to_vec());
            framing.failed(&mut out, &errors);
            framing.close(&mut out);
            this.events = None;
            return Poll::Ready(Some(Ok(out.into())));
        }
        match this.gate.poll(cx, |cx| events.poll_next_unpin(cx)) {
            Poll::Ready(Some(event)) => {
                let endpoint = &this.state.graphql;
                framing.result(&mut out, |out| {
                    written::with_response(endpoint, &this.plan, event.as_ref(), |response| {
                        out.extend_from_slice(response.as_bytes());
                    });
                });
                this.keepalives.reset();
            }
            Poll::Ready(None) => {
                framing.close(&mut out);
                this.events = None;
            }
            Poll::Pending => {
                if this.keepalives.poll_tick(cx).is_ready() {
                    framing.keepalive(&mut out);
                }
            }
        }
        if out.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(Some(Ok(out.into())))
        }
    }
}
