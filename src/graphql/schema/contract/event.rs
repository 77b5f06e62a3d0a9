//! Live counts: `Subscription.likeAdded` and the `LikeEvent` type, from
//! the listener's per-talk fan-out.

use super::super::types::{
    AnyObject, Args, Env, Events, InputValue, Object, Out, PLAIN, SubscriptionField,
};
use super::clamp;
use super::session::{SESSION_ID, Session};
use crate::graphql::errors::ApiError;
use crate::graphql::input::Input;
use crate::listener::{Interest, PublishedAt};
use crate::model::TalkId;
use futures_util::StreamExt;

/// `likeAdded`'s `since`.
const SINCE: InputValue = InputValue::new(
    "since",
    "Int",
    "Resume from this total, the last the client saw (0 for a client that \
     shows `total`): the first event comes at once, with `likes` the growth \
     since it (even 0). If this server has not reached it yet (the client saw \
     another server a moment ahead), the first event comes once it has.",
);

/// A talk's count grew.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LikeEvent {
    /// The talk.
    pub(crate) session_id: i32,
    /// Likes since the previous event on this subscription.
    pub(crate) likes: i32,
    /// The talk's total over all servers after this event.
    pub(crate) total: i32,
    /// Subscribers of the talk over all servers.
    pub(crate) watching: i32,
    /// When this replica published that total.
    pub(crate) published: PublishedAt,
}

/// The `LikeEvent` type.
pub(super) fn like_event() -> Object {
    Object::new("LikeEvent", "A talk's count grew.")
        .field(
            "sessionId",
            "Int!",
            "The talk.",
            PLAIN,
            |event: &LikeEvent, _, _| Out::Int(event.session_id.into()),
        )
        .field(
            "likes",
            "Int!",
            "Likes since the previous event on this subscription.",
            PLAIN,
            |event: &LikeEvent, _, _| Out::Int(event.likes.into()),
        )
        .field(
            "total",
            "Int!",
            "The talk's total over all servers after this event.",
            PLAIN,
            |event: &LikeEvent, _, _| Out::Int(event.total.into()),
        )
        .field(
            "watching",
            "Int!",
            "How many subscriptions watch the talk over all servers, as of the same read \
             as `total`. A subscription that selects it also gets an event (with `likes` \
             0) when only the audience changed.",
            PLAIN,
            |event: &LikeEvent, _, _| Out::Int(event.watching.into()),
        )
        .field(
            "publishedAt",
            "String!",
            "When this replica published that total (RFC 3339, UTC, microseconds): just \
             after the observer's store read that found it. Against the client's clock, \
             it shows how long the event took to arrive.",
            PLAIN,
            |event: &LikeEvent, _, _| Out::Str(event.published.as_str().into()),
        )
}

/// The `likeAdded` field.
pub(super) fn like_added() -> SubscriptionField {
    SubscriptionField {
        name: "likeAdded",
        description: "Growth of one talk's count, across all servers. Each event's `likes` \
                      is the increase since the previous event; a slow client gets them merged. \
                      Without `since`, the first event comes with the next like.",
        ty: "LikeEvent!",
        args: &[SESSION_ID, SINCE],
        subscribe: Box::new(subscribe),
    }
}

/// Starts `likeAdded`: checks the talk and the connection's allowance of
/// subscriptions (the slot is held by the events and freed when they end).
/// A connection ends its subscriptions when the server shuts down (with
/// close code 1012): watching for shutdown here as well would cost every
/// event a lock shared by all subscribers.
fn subscribe(args: &Args<'_>, env: &Env<'_>, selected: &[&str]) -> Result<Events, ApiError> {
    let session_id = args
        .get(&SESSION_ID)
        .and_then(Input::as_i32)
        .ok_or(ApiError::Internal)?;
    let since = match args.get(&SINCE) {
        None | Some(Input::Null) => None,
        Some(since) => {
            let since = since.as_i32().ok_or(ApiError::Internal)?;
            Some(u64::try_from(since).map_err(|_| {
                ApiError::BadInput(format!("since must be a total, 0 or more, not {since}"))
            })?)
        }
    };
    let services = env.services;
    Session::require(services, session_id)?;
    let slot = match env.slots {
        Some(slots) => Some(slots.take().ok_or_else(|| {
            ApiError::LimitExceeded(format!(
                "a connection may hold at most {} subscriptions",
                slots.max
            ))
        })?),
        None => None,
    };
    let interest = Interest {
        since,
        audience: selected.contains(&"watching"),
    };
    let subscription = services
        .listener
        .subscribe(TalkId(session_id), interest)
        .ok_or(ApiError::Internal)?;
    let events = futures_util::stream::unfold(
        (subscription, slot),
        move |(mut subscription, slot)| async move {
            let delta = subscription.next().await?;
            let event = LikeEvent {
                session_id,
                likes: clamp(delta.likes),
                total: clamp(delta.total),
                watching: clamp(delta.watching),
                published: delta.published_at,
            };
            Some((event, (subscription, slot)))
        },
    );
    Ok(events
        .map(|event| Box::new(event) as Box<AnyObject>)
        .boxed())
}
