//! What a WebSocket connection answers beside its GraphQL session. The
//! client's messages pass through `Router` on their way to the session; a
//! plain `likeAdded` subscribe or `createLike` (`Endpoint::start_direct`)
//! is taken here instead, and `Outgoing` sends its answer or events among
//! what the session sends. The session runs everything else and reports
//! every error. Ids follow the session's rules: a subscribe under a live id
//! replaces that subscription, and a stopped or ended one is answered with
//! `complete`. Their events are merged in `events`.

mod events;

use super::super::HttpState;
use crate::graphql::{ClientAddress, DirectSubscription, Started, SubscriptionSlots};
use async_graphql::http::{ClientMessage, WebSocketProtocols, WsMessage};
use events::{EventStreams, Tag};
use futures_util::Stream;
use futures_util::stream::AbortHandle;
use futures_util::task::AtomicWaker;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use tokio::sync::OwnedSemaphorePermit;

/// The subscriptions run here, shared by the connection's two directions:
/// `Router` (inside the session's reading) starts and stops them, `Outgoing`
/// sends their events. Each locks it briefly, never both at once.
pub(super) type Shared = Arc<Mutex<State>>;

/// A new connection's two ends: the `Router` for the client's messages,
/// and what `Outgoing::new` merges with the session.
pub(super) fn start(
    http: Arc<HttpState>,
    address: ClientAddress,
    slots: SubscriptionSlots,
    protocol: WebSocketProtocols,
) -> (Router, Shared) {
    let shared: Shared = Arc::new(Mutex::new(State {
        protocol,
        initialised: false,
        running: HashMap::new(),
        events: EventStreams::default(),
        session_ids: HashSet::new(),
        answered: VecDeque::new(),
    }));
    let router = Router {
        shared: shared.clone(),
        http,
        address,
        slots,
    };
    (router, shared)
}

/// What the connection runs beside its session.
pub(super) struct State {
    protocol: WebSocketProtocols,
    /// Whether the client has sent `connection_init`; until then the
    /// session refuses every operation, so none is taken here.
    initialised: bool,
    /// Subscriptions run here, by id. Removing one ends it and frees its
    /// slot at once.
    running: HashMap<String, Running>,
    /// Their events, polled only when woken.
    events: EventStreams,
    /// Ids the session may be running: sent to it, and neither stopped nor
    /// seen to complete.
    session_ids: HashSet<String>,
    /// Frames answered here, waiting to be sent: the results of plain
    /// `createLike`s, and `complete` for them and for subscriptions the
    /// client stopped.
    answered: VecDeque<String>,
}

/// A subscription run here: what ends it, and the slot it holds.
struct Running {
    abort: AbortHandle,
    _slot: OwnedSemaphorePermit,
}

impl State {
    /// Ends the subscription running here under `id`, if one is.
    fn end(&mut self, id: &str) -> bool {
        let Some(running) = self.running.remove(id) else {
            return false;
        };
        running.abort.abort();
        true
    }

    /// Queues the result of operation `id`, then its `complete`.
    fn answer(&mut self, id: &str, response: &async_graphql::Response) {
        let id = json_string(id);
        let result = next(self.protocol, &id, |frame| {
            frame.push_str(&serde_json::to_string(response).unwrap_or_default());
        });
        self.answered.push_back(result);
        self.answered.push_back(complete(&id));
    }

    /// Runs `subscription` under `id`, holding `slot` until it ends.
    fn run(&mut self, id: String, subscription: DirectSubscription, slot: OwnedSemaphorePermit) {
        let tag = Arc::new(Tag {
            id_json: json_string(&id),
            id: id.clone(),
            plan: subscription.plan,
        });
        let (events, abort) = events::tagged(tag, subscription.events);
        self.running.insert(id, Running { abort, _slot: slot });
        self.events.push(events);
    }

    /// Notes what the session sent: a `complete` frees its id.
    fn sent(&mut self, message: &WsMessage) {
        const COMPLETE: &str = r#"{"type":"complete","id":"#;
        if let WsMessage::Text(text) = message
            && let Some(rest) = text.strip_prefix(COMPLETE)
            && let Ok(id) = serde_json::from_str::<String>(rest.strip_suffix('}').unwrap_or(rest))
        {
            self.session_ids.remove(&id);
        }
    }

    /// The next frame of the subscriptions run here.
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<WsMessage>> {
        if let Some(frame) = self.answered.pop_front() {
            return Poll::Ready(Some(WsMessage::Text(frame)));
        }
        match std::task::ready!(self.events.poll_next(cx)) {
            (tag, Some(event)) => {
                let frame = next(self.protocol, &tag.id_json, |frame| {
                    tag.plan.write_response(&event, frame);
                });
                Poll::Ready(Some(WsMessage::Text(frame)))
            }
            (tag, None) => {
                self.running.remove(&tag.id);
                Poll::Ready(Some(WsMessage::Text(complete(&tag.id_json))))
            }
        }
    }
}

/// Passes the client's messages on to the session, taking the ones that
/// are answered here or start or stop a subscription run here.
pub(super) struct Router {
    shared: Shared,
    http: Arc<HttpState>,
    address: ClientAddress,
    slots: SubscriptionSlots,
}

impl Router {
    /// What the session gets of `message`; `None` when it was handled here.
    pub(super) fn route(
        &self,
        message: serde_json::Result<ClientMessage>,
    ) -> Option<serde_json::Result<ClientMessage>> {
        let Ok(message) = message else {
            return Some(message);
        };
        let mut state = lock(&self.shared);
        let message = match message {
            init @ ClientMessage::ConnectionInit { .. } => {
                state.initialised = true;
                init
            }
            ClientMessage::Start { id, mut payload } => {
                // A subscribe under a live id replaces that subscription.
                state.end(&id);
                if state.initialised
                    && !state.session_ids.contains(&id)
                    && self.take(&mut state, &id, &mut payload)
                {
                    return None;
                }
                state.session_ids.insert(id.clone());
                ClientMessage::Start { id, payload }
            }
            ClientMessage::Stop { id } => {
                if state.end(&id) {
                    let frame = complete(&json_string(&id));
                    state.answered.push_back(frame);
                    return None;
                }
                state.session_ids.remove(&id);
                ClientMessage::Stop { id }
            }
            other => other,
        };
        Some(Ok(message))
    }

    /// Answers a plain `createLike`, or starts a plain `likeAdded` while
    /// the connection has a subscription slot free; whether it did.
    fn take(&self, state: &mut State, id: &str, payload: &mut async_graphql::Request) -> bool {
        match self.http.graphql.start_direct(payload, self.address) {
            Some(Started::Answered(response)) => {
                state.answer(id, &response);
                true
            }
            Some(Started::Subscribed(direct)) => match self.slots.take() {
                Some(slot) => {
                    state.run(id.to_owned(), direct, slot);
                    true
                }
                None => false,
            },
            None => false,
        }
    }
}

/// What the connection sends: the session's messages and the events of the
/// subscriptions run here. The session (and through it the socket's read
/// side) is polled only when it asked to be: an event's wake-up does not
/// try to read the client.
pub(super) struct Outgoing<S> {
    session: Pin<Box<S>>,
    shared: Shared,
    /// The waker the session is polled with.
    session_waker: Arc<SessionWaker>,
}

/// Wakes the connection's task for the session, noting that it asked.
struct SessionWaker {
    /// Set when the session must be polled; it is at first.
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for SessionWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl<S: Stream<Item = WsMessage>> Outgoing<S> {
    pub(super) fn new(session: S, shared: Shared) -> Self {
        Self {
            session: Box::pin(session),
            shared,
            session_waker: Arc::new(SessionWaker {
                woken: AtomicBool::new(true),
                task: AtomicWaker::new(),
            }),
        }
    }
}

impl<S: Stream<Item = WsMessage>> Stream for Outgoing<S> {
    type Item = WsMessage;

    /// Ends when the session ends.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WsMessage>> {
        let this = self.get_mut();
        this.session_waker.task.register(cx.waker());
        // The session first: its reading of the client's messages starts
        // and stops the subscriptions polled below.
        if this.session_waker.woken.swap(false, Ordering::AcqRel) {
            let waker = Waker::from(this.session_waker.clone());
            match this
                .session
                .as_mut()
                .poll_next(&mut Context::from_waker(&waker))
            {
                Poll::Ready(message) => {
                    // It may have more ready, and would not wake for it.
                    this.session_waker.woken.store(true, Ordering::Release);
                    if let Some(message) = &message {
                        lock(&this.shared).sent(message);
                    }
                    return Poll::Ready(message);
                }
                Poll::Pending => {}
            }
        }
        lock(&this.shared).poll_frame(cx)
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A result for the operation `id_json`, its response written by `write`.
/// It is written in a buffer kept by the thread and copied out at its
/// exact length: the frame's bytes then become the WebSocket message's
/// without another allocation.
fn next(protocol: WebSocketProtocols, id_json: &str, write: impl FnOnce(&mut String)) -> String {
    thread_local! {
        static FRAME: RefCell<String> = const { RefCell::new(String::new()) };
    }
    let kind = match protocol {
        WebSocketProtocols::GraphQLWS => "next",
        WebSocketProtocols::SubscriptionsTransportWS => "data",
    };
    FRAME.with_borrow_mut(|frame| {
        frame.clear();
        frame.push_str(r#"{"type":""#);
        frame.push_str(kind);
        frame.push_str(r#"","id":"#);
        frame.push_str(id_json);
        frame.push_str(r#","payload":"#);
        write(frame);
        frame.push('}');
        frame.as_str().to_owned()
    })
}

fn complete(id_json: &str) -> String {
    format!(r#"{{"type":"complete","id":{id_json}}}"#)
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}
