//! Talks: `Query.session`, `Query.sessions` and the `Session` type, from
//! the catalogue and the listener's published totals.

use super::super::types::{Env, Object, Out};
use super::{Root, clamp};
use crate::catalogue::Talk;
use crate::graphql::errors::{Code, GraphQLError};
use crate::graphql::input::InputValue;
use crate::graphql::services::Services;
use crate::model::TalkId;
use chrono::{DateTime, FixedOffset};

/// How long GET answers about the catalogue may be cached, in seconds.
const CATALOGUE_MAX_AGE: u32 = 60;
/// How long GET answers with a live count may be cached, in seconds (the
/// observer publishes every second).
pub(super) const COUNT_MAX_AGE: u32 = 1;

/// `sessionId`, the talk: an argument of `session` and `likeAdded`, and a
/// field of `CreateLikeInput`.
pub(super) const SESSION_ID: InputValue = InputValue("sessionId");

/// A talk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session {
    /// Its id in the catalogue.
    pub(crate) talk: TalkId,
}

impl Session {
    pub(super) fn find(services: &Services, session_id: i32) -> Option<Self> {
        services.catalogue.get(TalkId(session_id))?;
        Some(Self {
            talk: TalkId(session_id),
        })
    }

    pub(super) fn require(services: &Services, session_id: i32) -> Result<Self, GraphQLError> {
        Self::find(services, session_id).ok_or_else(|| {
            GraphQLError::new(
                Code::NotFound,
                format!("there is no talk with sessionId {session_id}"),
            )
        })
    }

    /// What `out` makes of the talk in the catalogue.
    fn about<'a>(&self, env: &Env<'a>, out: impl FnOnce(&'a Talk) -> Out<'a>) -> Out<'a> {
        match env.services.catalogue.get(self.talk) {
            Some(talk) => out(talk),
            None => GraphQLError::internal().into(),
        }
    }
}

/// The `Query` root type.
pub(super) fn query() -> Object {
    Object::new("Query")
        .field(
            "session",
            (&[SESSION_ID], CATALOGUE_MAX_AGE),
            |_: &Root, args, env| {
                let session_id = args.get(&SESSION_ID).and_then(|id| id.as_i32());
                let found = session_id.and_then(|id| Session::find(env.services, id));
                found.map_or(Out::Null, Out::object)
            },
        )
        .field("sessions", (&[], CATALOGUE_MAX_AGE), |_: &Root, _, env| {
            let talks = env.services.catalogue.ids();
            Out::List(talks.map(|talk| Out::object(Session { talk })).collect())
        })
}

/// A live count asked for before the observer's first read.
pub(super) fn not_read_yet() -> Out<'static> {
    GraphQLError::new(
        Code::Unavailable,
        "the talks' totals have not been read from the store yet",
    )
    .retry_after(std::time::Duration::from_secs(1))
    .into()
}

/// The `Session` type: what the catalogue says, and the live counts.
pub(super) fn session() -> Object {
    Object::new("Session")
        .cached(CATALOGUE_MAX_AGE)
        .with("id", |session: &Session, _, _| {
            Out::Str(format!("Session:{}", session.talk).into())
        })
        .with("sessionId", |session: &Session, _, _| {
            Out::Int(session.talk.0.into())
        })
        .with("title", |session: &Session, _, env| {
            session.about(env, |talk| Out::str(&talk.title))
        })
        .with("startTime", |session: &Session, _, env| {
            session.about(env, |talk| time(talk.start_time))
        })
        .with("endTime", |session: &Session, _, env| {
            session.about(env, |talk| time(talk.end_time))
        })
        .with("room", |session: &Session, _, env| {
            session.about(env, |talk| talk.room.as_deref().map_or(Out::Null, Out::str))
        })
        .cached(COUNT_MAX_AGE)
        .with("liked", |session: &Session, _, env| {
            count(env.services.listener.total(session.talk))
        })
        .with("watching", |session: &Session, _, env| {
            count(env.services.listener.watching(session.talk))
        })
}

/// A time of the catalogue, in RFC 3339.
fn time(time: Option<DateTime<FixedOffset>>) -> Out<'static> {
    time.map_or(Out::Null, |time| Out::Str(time.to_rfc3339().into()))
}

/// A live count, once the observer has read it.
fn count(count: Option<u64>) -> Out<'static> {
    match count {
        Some(count) => Out::Int(clamp(count).into()),
        None => not_read_yet(),
    }
}
