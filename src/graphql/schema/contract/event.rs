//! Live counts: `Subscription.likeAdded` and the `LikeEvent` type, from
//! the listener's per-talk fan-out.

use super::super::types::{AnyObject, Args, Env, Events, Object, Out};
use super::clamp;
use super::session::{SESSION_ID, Session};
use crate::graphql::errors::{Code, GraphQLError};
use crate::graphql::input::Input;
use crate::graphql::input::InputValue;
use crate::listener::{Interest, PublishedAt};
use crate::model::TalkId;
use futures_util::StreamExt;

/// `likeAdded`'s `since`.
const SINCE: InputValue = InputValue("since");

/// A talk's count grew. Every field of its type is read from here alone,
/// so one event and one plan always write the same response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    Object::new("LikeEvent")
        .with("sessionId", |event: &LikeEvent, _, _| {
            Out::Int(event.session_id.into())
        })
        .with("likes", |event: &LikeEvent, _, _| {
            Out::Int(event.likes.into())
        })
        .with("total", |event: &LikeEvent, _, _| {
            Out::Int(event.total.into())
        })
        .with("watching", |event: &LikeEvent, _, _| {
            Out::Int(event.watching.into())
        })
        .with("publishedAt", |event: &LikeEvent, _, _| {
            Out::Str(event.published.as_str().into())
        })
}

/// The `Subscription` root type: `likeAdded`, answered by each event.
pub(super) fn subscription() -> Object {
    Object::new("Subscription").subscription::<LikeEvent>(
        "likeAdded",
        &[SESSION_ID, SINCE],
        subscribe,
    )
}

/// Starts `likeAdded`: checks the talk and takes a slot of the connection's
/// allowance, held by the events. Shutdown is the connection's to watch
/// (here it would cost every event a lock shared by all subscribers).
fn subscribe(args: &Args<'_>, env: &Env<'_>, selected: &[&str]) -> Result<Events, GraphQLError> {
    let session_id = args
        .get(&SESSION_ID)
        .and_then(Input::as_i32)
        .ok_or_else(GraphQLError::internal)?;
    let since = match args.get(&SINCE) {
        None | Some(Input::Null) => None,
        Some(since) => {
            let since = since.as_i32().ok_or_else(GraphQLError::internal)?;
            Some(u64::try_from(since).map_err(|_| {
                GraphQLError::bad_input(format!("since must be a total, 0 or more, not {since}"))
            })?)
        }
    };
    let services = env.services;
    Session::require(services, session_id)?;
    let slot = env.slots.map(|slots| {
        slots.take().ok_or_else(|| {
            let message = format!("a connection may hold at most {} subscriptions", slots.max);
            GraphQLError::new(Code::LimitExceeded, message)
        })
    });
    let slot = slot.transpose()?;
    let interest = Interest {
        since,
        audience: selected.contains(&"watching"),
    };
    let subscription = services
        .listener
        .subscribe(TalkId(session_id), interest)
        .ok_or_else(GraphQLError::internal)?;
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
