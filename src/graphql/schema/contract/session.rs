//! Talks: `Query.session`, `Query.sessions` and the `Session` type, from
//! the catalogue and the listener's published totals (its timeline is in
//! `timeline`).

use super::super::types::{Env, Object, Out, cached};
use super::{Root, clamp};
use crate::catalogue::Talk;
use crate::graphql::errors::{Code, GraphQLError};
use crate::graphql::input::InputValue;
use crate::graphql::services::Services;
use crate::model::TalkId;

/// How long GET answers about the catalogue may be cached, in seconds.
const CATALOGUE_MAX_AGE: u32 = 60;
/// How long GET answers with a live count may be cached, in seconds: the
/// observer publishes new totals every second.
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

    fn about<'a>(&self, env: &Env<'a>) -> Result<&'a Talk, GraphQLError> {
        env.services
            .catalogue
            .get(self.talk)
            .ok_or_else(GraphQLError::internal)
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
                Out::or_null(found, Out::object)
            },
        )
        .field("sessions", cached(CATALOGUE_MAX_AGE), |_: &Root, _, env| {
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
    .retry_after(1)
    .into()
}

/// The `Session` type.
pub(super) fn session() -> Object {
    Object::new("Session")
        .field(
            "id",
            cached(CATALOGUE_MAX_AGE),
            |session: &Session, _, _| Out::Str(format!("Session:{}", session.talk).into()),
        )
        .field(
            "sessionId",
            cached(CATALOGUE_MAX_AGE),
            |session: &Session, _, _| Out::Int(session.talk.0.into()),
        )
        .field(
            "title",
            cached(CATALOGUE_MAX_AGE),
            |session: &Session, _, env| {
                let title = session.about(env).map(|talk| talk.title.as_str());
                title.map(|title| Out::Str(title.into())).into()
            },
        )
        .field(
            "liked",
            cached(COUNT_MAX_AGE),
            |session: &Session, _, env| match env.services.listener.total(session.talk) {
                Some(total) => Out::Int(clamp(total).into()),
                None => not_read_yet(),
            },
        )
        .field(
            "watching",
            cached(COUNT_MAX_AGE),
            |session: &Session, _, env| match env.services.listener.watching(session.talk) {
                Some(watching) => Out::Int(clamp(watching).into()),
                None => not_read_yet(),
            },
        )
        .field(
            "startTime",
            cached(CATALOGUE_MAX_AGE),
            |session: &Session, _, env| {
                let start = session.about(env).map(|talk| talk.start_time);
                start
                    .map(|time| Out::or_null(time, |time| Out::Str(time.to_rfc3339().into())))
                    .into()
            },
        )
        .field(
            "endTime",
            cached(CATALOGUE_MAX_AGE),
            |session: &Session, _, env| {
                let end = session.about(env).map(|talk| talk.end_time);
                end.map(|time| Out::or_null(time, |time| Out::Str(time.to_rfc3339().into())))
                    .into()
            },
        )
        .field(
            "room",
            cached(CATALOGUE_MAX_AGE),
            |session: &Session, _, env| {
                let room = session.about(env).map(|talk| talk.room.as_deref());
                room.map(|room| Out::or_null(room, |room| Out::Str(room.into())))
                    .into()
            },
        )
}
