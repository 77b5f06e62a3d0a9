//! A connection's operations: the protocol's rules (initialisation, ids,
//! what answers what), the operations run by id, their events merged
//! (`events`); a mutation that waits for its flush answers when done while
//! the others go on. It writes frames and says when to end; no I/O.

use super::events::{self, EventStreams};
use super::protocol::{self, ClientMessage, Protocol};
use crate::graphql::{
    AnyObject, Code, Endpoint, GraphQLError, OperationType, Ready, Response, SubscriptionSlots,
};
use crate::http::EdgeError;
use crate::http::written::{self, ShortId};
use crate::limits::Limiter;
use axum::extract::ws::Message;
use futures_util::StreamExt;
use futures_util::future::{Abortable, BoxFuture};
use futures_util::stream::{AbortHandle, FuturesUnordered};
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Why the operations end the connection.
#[derive(Debug, PartialEq)]
pub(super) enum End {
    /// Close with this error's code and reason.
    Close(EdgeError),
    /// Close without a code (the legacy protocol's way).
    Quietly,
}

/// The request error for an operation past the connection's rate.
fn over_operation_rate(wait: std::time::Duration) -> Response {
    let message = "too many operations on this connection; slow down";
    let error = GraphQLError::new(Code::RateLimited, message);
    Response::error(error.retry_after(wait))
}

/// What frames one subscription's events.
pub(super) struct Tag {
    id: String,
    /// The id as a JSON string.
    id_json: String,
    /// The same, if short: how its events' shared frame is found.
    short_id: Option<ShortId>,
    plan: Arc<Ready<'static>>,
}

/// A mutation answered after it waited; `None` if the client stopped it.
type Answering = BoxFuture<'static, Option<Answered>>;

/// What a mutation that waited answers.
pub(super) struct Answered {
    id: String,
    id_json: String,
    response: Response,
}

/// One connection's operations, and what the protocol has seen of it.
pub(super) struct Operations {
    protocol: Protocol,
    address: IpAddr,
    slots: SubscriptionSlots,
    /// Whether `connection_init` came (and was acknowledged).
    initialised: bool,
    /// The rate at which it may start operations (`None`: no limit).
    rate: Option<Limiter>,
    /// The subscriptions and waiting mutations, by id, with what stops a
    /// mutation (a subscription's events are stopped in `events`); a list,
    /// as most connections run one (a map would make room for four).
    running: Vec<(String, Option<AbortHandle>)>,
    events: EventStreams<Tag, Box<AnyObject>>,
    /// Mutations waiting for their answer; made for the first.
    waiting: Option<Box<Waiting>>,
}

/// A connection's mutations waiting for their answer.
#[derive(Default)]
struct Waiting {
    answering: FuturesUnordered<Answering>,
    /// The `complete` after an answer sent, sent before anything else.
    complete: Option<Message>,
}

impl Operations {
    pub(super) fn new(
        protocol: Protocol,
        address: IpAddr,
        slots: SubscriptionSlots,
        rate: Option<Limiter>,
    ) -> Self {
        Self {
            protocol,
            address,
            slots,
            initialised: false,
            rate,
            running: Vec::new(),
            events: EventStreams::default(),
            waiting: None,
        }
    }

    /// Whether a mutation is still waiting for its answer.
    pub(super) fn answering(&self) -> bool {
        self.waiting
            .as_ref()
            .is_some_and(|waiting| !waiting.answering.is_empty())
    }

    /// Whether `connection_init` came.
    pub(super) fn initialised(&self) -> bool {
        self.initialised
    }

    /// Handles one client message, queueing frames in `out`.
    pub(super) async fn receive(
        &mut self,
        text: &str,
        endpoint: &Arc<Endpoint>,
        out: &mut Vec<Message>,
    ) -> Result<(), End> {
        let message = protocol::read(self.protocol, text).map_err(End::Close)?;
        match message {
            ClientMessage::Init if self.initialised => match self.protocol {
                Protocol::TransportWs => Err(End::Close(EdgeError::TooManyInitialisations)),
                Protocol::Legacy => {
                    out.push(frame(protocol::TOO_MANY_INITIALISATIONS.into()));
                    Err(End::Quietly)
                }
            },
            ClientMessage::Init => {
                self.initialised = true;
                out.push(frame(protocol::ACK.into()));
                Ok(())
            }
            ClientMessage::Ping(payload) => {
                // graphql-transport-ws echoes the payload (an object, read
                // as such); the legacy protocol never has.
                let payload = payload.filter(|_| self.protocol == Protocol::TransportWs);
                out.push(frame(protocol::pong(payload)));
                Ok(())
            }
            ClientMessage::Pong => Ok(()),
            ClientMessage::Subscribe { .. } if !self.initialised => {
                Err(End::Close(EdgeError::Unauthorized))
            }
            ClientMessage::Subscribe { id, request } => {
                if self.running(&id).is_some() {
                    match self.protocol {
                        Protocol::TransportWs => {
                            return Err(End::Close(EdgeError::SubscriberExists(id.into_owned())));
                        }
                        // The legacy protocol replaces it, as it always has.
                        Protocol::Legacy => {
                            self.stop(&id);
                        }
                    }
                }
                match self.rate.as_ref().map(Limiter::check) {
                    Some(Err(wait)) => {
                        let json = crate::graphql::json_string(&id);
                        self.refuse(&json, &over_operation_rate(wait), out);
                    }
                    _ => self.start(id.into_owned(), &request, endpoint, out).await,
                }
                Ok(())
            }
            ClientMessage::Complete { id } => {
                let stopped = self.stop(&id);
                if stopped && self.protocol == Protocol::Legacy {
                    out.push(frame(protocol::complete(&crate::graphql::json_string(&id))));
                }
                Ok(())
            }
            ClientMessage::Terminate => Err(End::Quietly),
        }
    }

    /// Runs operation `id`: a query or mutation answers now (or once its
    /// flush is done), a subscription runs until it ends or is stopped.
    async fn start(
        &mut self,
        id: String,
        request: &crate::graphql::Request<'_>,
        endpoint: &Arc<Endpoint>,
        out: &mut Vec<Message>,
    ) {
        let id_json = crate::graphql::json_string(&id);
        let address = Some(self.address);
        let refused = match endpoint.ready(request) {
            Ok(ready) if ready.kind() == OperationType::Subscription => {
                match endpoint.subscribe(ready, address, Some(&self.slots)) {
                    Ok(subscription) => {
                        let tag = Arc::new(Tag {
                            id: id.clone(),
                            short_id: ShortId::of(&id_json),
                            id_json,
                            plan: subscription.plan,
                        });
                        self.run_as(id, None);
                        self.events.push(events::tagged(tag, subscription.events));
                        return;
                    }
                    Err(refused) => refused,
                }
            }
            Ok(ready) => {
                let (ready, endpoint) = (ready.into_owned(), endpoint.clone());
                let mut run: BoxFuture<'static, Response> =
                    Box::pin(async move { endpoint.run(&ready, address).await });
                // Most answer at once; a mutation that waits for its flush
                // must not hold up the socket's other operations.
                let now = std::future::poll_fn(|cx| Poll::Ready(run.as_mut().poll(cx))).await;
                match now {
                    Poll::Ready(response) => self.answer(&id_json, &response, out),
                    Poll::Pending => {
                        let (abort, registration) = AbortHandle::new_pair();
                        self.run_as(id.clone(), Some(abort));
                        let waiting = self.waiting.get_or_insert_default();
                        waiting.answering.push(Box::pin(async move {
                            let response = Abortable::new(run, registration).await.ok()?;
                            Some(Answered {
                                id,
                                id_json,
                                response,
                            })
                        }));
                    }
                }
                return;
            }
            Err(refused) => refused,
        };
        self.refuse(&id_json, &refused, out);
    }

    /// Answers a query or mutation: `next` and `complete`.
    fn answer(&self, id_json: &str, response: &Response, out: &mut Vec<Message>) {
        out.push(frame(self.next(id_json, &response.body)));
        out.push(frame(protocol::complete(id_json)));
    }

    /// Answers an operation that will not run: graphql-transport-ws's
    /// `error`, or the legacy protocol's `data` and `complete`.
    fn refuse(&self, id_json: &str, refused: &Response, out: &mut Vec<Message>) {
        match (self.protocol, refused.request_errors()) {
            (Protocol::TransportWs, Some(errors)) => {
                out.push(frame(protocol::message("error", id_json, utf8(errors))));
            }
            _ => self.answer(id_json, refused, out),
        }
    }

    /// A result message holding a whole response.
    fn next(&self, id_json: &str, body: &[u8]) -> String {
        protocol::message(self.protocol.next(), id_json, utf8(body))
    }

    /// Where operation `id` is in `running`, if it runs.
    fn running(&self, id: &str) -> Option<usize> {
        self.running.iter().position(|(running, _)| running == id)
    }

    /// Notes operation `id` running: a mutation stopped by `abort`, or a
    /// subscription (`None`).
    fn run_as(&mut self, id: String, abort: Option<AbortHandle>) {
        if self.running.capacity() == 0 {
            self.running.reserve_exact(1);
        }
        self.running.push((id, abort));
    }

    /// Forgets operation `id`; what stops it, if it ran.
    fn forget(&mut self, id: &str) -> Option<Option<AbortHandle>> {
        let index = self.running(id)?;
        Some(self.running.swap_remove(index).1)
    }

    /// Stops operation `id`; whether one was running.
    fn stop(&mut self, id: &str) -> bool {
        match self.forget(id) {
            Some(Some(mutation)) => mutation.abort(),
            Some(None) => self.events.stop(|tag| tag.id == id),
            None => return false,
        }
        true
    }

    /// The next frame to send: a waiting mutation's answer (`next`, then
    /// `complete`), or, unless `answers_only` (stopping), a subscription's
    /// event or `complete` for one that ended by itself.
    pub(super) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
        endpoint: &Endpoint,
        answers_only: bool,
    ) -> Poll<Message> {
        if let Some(complete) = self.waiting.as_mut().and_then(|w| w.complete.take()) {
            return Poll::Ready(complete);
        }
        while let Some(waiting) = self.waiting.as_mut()
            && let Poll::Ready(Some(answered)) = waiting.answering.poll_next_unpin(cx)
        {
            // None: the client stopped it.
            if let Some(answered) = answered {
                waiting.complete = Some(frame(protocol::complete(&answered.id_json)));
                self.forget(&answered.id);
                let next = self.next(&answered.id_json, &answered.response.body);
                return Poll::Ready(frame(next));
            }
        }
        if answers_only {
            return Poll::Pending;
        }
        let (tag, event) = std::task::ready!(self.events.poll_next(cx));
        Poll::Ready(match event {
            Some(event) => {
                let kind = self.protocol.next();
                Message::Text(written::frame(
                    endpoint,
                    &tag.plan,
                    event.as_ref(),
                    (kind, tag.short_id),
                    |response| protocol::message(kind, &tag.id_json, response),
                ))
            }
            None => {
                self.forget(&tag.id);
                frame(protocol::complete(&tag.id_json))
            }
        })
    }
}

/// A text message.
fn frame(json: String) -> Message {
    Message::Text(json.into())
}

/// A response's JSON as text (empty, rather than broken, if not UTF-8).
fn utf8(json: &[u8]) -> &str {
    std::str::from_utf8(json).unwrap_or_default()
}
