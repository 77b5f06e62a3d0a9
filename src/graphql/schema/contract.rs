//! The types and resolvers of the contract: `createLike`, `likeAdded`,
//! `session`, `sessions`. Names and shapes are fixed by the front end
//! (fields may be added, never renamed or removed); this is the only place
//! they are written.

use super::super::{ApiError, Services};
use super::types::{
    Args, Argument, Env, Events, InputObject, Object, Out, PLAIN, SubscriptionField, cached, scalar,
};
use crate::catalogue::Talk;
use crate::graphql::input::Input;
use crate::limits::Limited;
use crate::listener::PublishedAt;
use crate::model::{Like, LikeId, MAX_CLIENT_MUTATION_ID_BYTES, MAX_LIKER_BYTES, TalkId};
use crate::storer::Refusal;
use crate::telemetry as names;
use async_graphql::dynamic::TypeRef;
use futures_util::StreamExt;
use std::borrow::Cow;
use std::net::IpAddr;

/// How long GET answers about the catalogue may be cached, in seconds.
const CATALOGUE_MAX_AGE: u32 = 60;
/// How long GET answers with a live count may be cached, in seconds: the
/// observer publishes new totals every second.
const COUNT_MAX_AGE: u32 = 1;

/// The value of the root types (`Query`, `Mutation`).
pub struct Root;

/// A talk.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    /// Its id in the catalogue.
    pub talk: TalkId,
}

impl Session {
    fn find(services: &Services, session_id: i32) -> Option<Self> {
        services.catalogue.get(TalkId(session_id))?;
        Some(Self {
            talk: TalkId(session_id),
        })
    }

    fn require(services: &Services, session_id: i32) -> Result<Self, ApiError> {
        Self::find(services, session_id).ok_or_else(|| {
            ApiError::NotFound(format!("there is no talk with sessionId {session_id}"))
        })
    }

    fn about<'a>(&self, env: &Env<'a>) -> Result<&'a Talk, ApiError> {
        env.services
            .catalogue
            .get(self.talk)
            .ok_or(ApiError::Internal)
    }
}

/// One like.
pub struct LikeNode {
    id: LikeId,
    session: Session,
}

/// What `createLike` answers.
pub struct CreateLikePayload {
    client_mutation_id: Option<String>,
    like: LikeNode,
}

/// A talk's count grew.
#[derive(Debug, Clone, Copy)]
pub struct LikeEvent {
    /// The talk.
    pub session_id: i32,
    /// Likes since the previous event on this subscription.
    pub likes: i32,
    /// The talk's total over all servers after this event.
    pub total: i32,
    /// When this replica published that total.
    pub published: PublishedAt,
}

fn nn(name: &str) -> TypeRef {
    TypeRef::named_nn(name)
}

fn clamp(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The object types, the root types first.
pub fn objects() -> Vec<Object> {
    vec![
        query(),
        mutation(),
        session(),
        like(),
        payload(),
        like_event(),
    ]
}

fn query() -> Object {
    Object::new("Query", "Queries.")
        .field(
            "session",
            TypeRef::named("Session"),
            "One talk, or null if the catalogue has no such talk.",
            (
                vec![Argument::new("sessionId", nn(scalar::INT), "The talk.")],
                CATALOGUE_MAX_AGE,
            ),
            |_: &Root, args, env| {
                let session_id = args.get("sessionId").and_then(Input::as_i32);
                let found = session_id.and_then(|id| Session::find(env.services, id));
                Out::or_null(found, Out::object)
            },
        )
        .field(
            "sessions",
            TypeRef::named_nn_list_nn("Session"),
            "Every talk in the catalogue, ordered by id.",
            cached(CATALOGUE_MAX_AGE),
            |_: &Root, _, env| {
                let talks = env.services.catalogue.ids();
                Out::List(talks.map(|talk| Out::object(Session { talk })).collect())
            },
        )
}

fn mutation() -> Object {
    Object::new("Mutation", "Mutations.").field(
        "createLike",
        TypeRef::named("CreateLikePayload"),
        "Likes a talk. Answers as soon as the like is buffered; it is stored \
         within about a second and then counted everywhere.",
        (
            vec![Argument::new("input", nn("CreateLikeInput"), "The like.")],
            0,
        ),
        |_: &Root, args, env| {
            let Some(input) = args.get("input") else {
                return Out::Error(ApiError::Internal);
            };
            create_like(env, input).map(Out::object).into()
        },
    )
}

/// The input objects.
pub fn inputs() -> Vec<InputObject> {
    vec![InputObject {
        name: "CreateLikeInput",
        description: "Input of `createLike`.",
        fields: vec![
            Argument::new(
                "clientMutationId",
                TypeRef::named(scalar::STRING),
                "Echoed back; with the same `uuid`, a retry with the same value stores one like.",
            ),
            Argument::new(
                "uuid",
                nn(scalar::STRING),
                "The liker: an id unique to a browser or app install (1 to 64 bytes).",
            ),
            Argument::new("sessionId", nn(scalar::INT), "The talk."),
        ],
    }]
}

fn session() -> Object {
    Object::new("Session", "A talk.")
        .field(
            "id",
            nn(scalar::ID),
            "Relay-style id, `Session:<sessionId>`.",
            cached(CATALOGUE_MAX_AGE),
            |session: &Session, _, _| Out::Str(format!("Session:{}", session.talk).into()),
        )
        .field(
            "sessionId",
            nn(scalar::INT),
            "The talk's id in the catalogue.",
            cached(CATALOGUE_MAX_AGE),
            |session: &Session, _, _| Out::Int(session.talk.0.into()),
        )
        .field(
            "title",
            nn(scalar::STRING),
            "The talk's title.",
            cached(CATALOGUE_MAX_AGE),
            |session: &Session, _, env| {
                let title = session.about(env).map(|talk| talk.title.as_str());
                title.map(|title| Out::Str(title.into())).into()
            },
        )
        .field(
            "liked",
            nn(scalar::INT),
            "Likes stored for this talk by all servers (as of the last observer read).",
            cached(COUNT_MAX_AGE),
            |session: &Session, _, env| match env.services.listener.total(session.talk) {
                Some(total) => Out::Int(clamp(total).into()),
                None => Out::Error(ApiError::Unavailable {
                    message: "the talks' totals have not been read from the store yet".into(),
                    retry_after_secs: 1,
                }),
            },
        )
        .field(
            "startTime",
            TypeRef::named(scalar::STRING),
            "When the talk starts (RFC 3339, with the catalogue's offset), if known.",
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
            TypeRef::named(scalar::STRING),
            "When the talk ends (RFC 3339, with the catalogue's offset), if known.",
            cached(CATALOGUE_MAX_AGE),
            |session: &Session, _, env| {
                let end = session.about(env).map(|talk| talk.end_time);
                end.map(|time| Out::or_null(time, |time| Out::Str(time.to_rfc3339().into())))
                    .into()
            },
        )
        .field(
            "room",
            TypeRef::named(scalar::STRING),
            "Where the talk takes place, if known.",
            cached(CATALOGUE_MAX_AGE),
            |session: &Session, _, env| {
                let room = session.about(env).map(|talk| talk.room.as_deref());
                room.map(|room| Out::or_null(room, |room| Out::Str(room.into())))
                    .into()
            },
        )
}

fn like() -> Object {
    Object::new("Like", "One like.")
        .field(
            "id",
            nn(scalar::ID),
            "Relay-style id, `Like:<uuid>`.",
            PLAIN,
            |like: &LikeNode, _, _| Out::Str(format!("Like:{}", like.id).into()),
        )
        .field(
            "session",
            nn("Session"),
            "The liked talk.",
            PLAIN,
            |like: &LikeNode, _, _| Out::Borrowed(&like.session),
        )
}

fn payload() -> Object {
    Object::new("CreateLikePayload", "Result of `createLike`.")
        .field(
            "clientMutationId",
            TypeRef::named(scalar::STRING),
            "The input's `clientMutationId`.",
            PLAIN,
            |payload: &CreateLikePayload, _, _| {
                let id = payload.client_mutation_id.as_deref();
                Out::or_null(id, |id| Out::Str(Cow::Borrowed(id)))
            },
        )
        .field(
            "like",
            nn("Like"),
            "The like, acknowledged and buffered for storing.",
            PLAIN,
            |payload: &CreateLikePayload, _, _| Out::Borrowed(&payload.like),
        )
}

fn like_event() -> Object {
    Object::new("LikeEvent", "A talk's count grew.")
        .field(
            "sessionId",
            nn(scalar::INT),
            "The talk.",
            PLAIN,
            |event: &LikeEvent, _, _| Out::Int(event.session_id.into()),
        )
        .field(
            "likes",
            nn(scalar::INT),
            "Likes since the previous event on this subscription.",
            PLAIN,
            |event: &LikeEvent, _, _| Out::Int(event.likes.into()),
        )
        .field(
            "total",
            nn(scalar::INT),
            "The talk's total over all servers after this event.",
            PLAIN,
            |event: &LikeEvent, _, _| Out::Int(event.total.into()),
        )
        .field(
            "publishedAt",
            nn(scalar::STRING),
            "When this replica published that total (RFC 3339, UTC, microseconds): just \
             after the observer's store read that found it. Against the client's clock, \
             it shows how long the event took to arrive.",
            PLAIN,
            |event: &LikeEvent, _, _| Out::Str(event.published.as_str().into()),
        )
}

/// The subscription type's fields.
pub fn subscriptions() -> Vec<SubscriptionField> {
    vec![SubscriptionField {
        name: "likeAdded",
        description: "Growth of one talk's count, across all servers. Each event's `likes` \
                      is the increase since the previous event; a slow client gets them merged.",
        ty: nn("LikeEvent"),
        args: vec![Argument::new("sessionId", nn(scalar::INT), "The talk.")],
        subscribe: Box::new(like_added),
    }]
}

/// Starts `likeAdded`: checks the talk and the connection's allowance of
/// subscriptions (the slot is held by the events and freed when they end).
/// A connection ends its subscriptions when the server shuts down (with
/// close code 1012): watching for shutdown here as well would cost every
/// event a lock shared by all subscribers.
fn like_added(args: &Args<'_>, env: &Env<'_>) -> Result<Events, ApiError> {
    let session_id = args
        .get("sessionId")
        .and_then(Input::as_i32)
        .ok_or(ApiError::Internal)?;
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
    let subscription = services
        .listener
        .subscribe(TalkId(session_id))
        .ok_or(ApiError::Internal)?;
    let events = futures_util::stream::unfold(
        (subscription, slot),
        move |(mut subscription, slot)| async move {
            let delta = subscription.next().await?;
            let event = LikeEvent {
                session_id,
                likes: clamp(delta.likes),
                total: clamp(delta.total),
                published: delta.published_at,
            };
            Some((event, (subscription, slot)))
        },
    );
    Ok(events
        .map(|event| Box::new(event) as Box<super::types::AnyObject>)
        .boxed())
}

/// `createLike`: checks the input, the talk and the like rates, then
/// buffers the like.
fn create_like(env: &Env<'_>, input: &Input<'_>) -> Result<CreateLikePayload, ApiError> {
    let services = env.services;
    let refuse = |reason: &'static str, error: ApiError| {
        metrics::counter!(names::REFUSED, "reason" => reason).increment(1);
        error
    };
    let (uuid, session_id, client_mutation_id) = read_input(input).ok_or(ApiError::Internal)?;
    validate(uuid, client_mutation_id).map_err(|e| refuse("bad_input", e))?;
    let session = Session::require(services, session_id).map_err(|e| refuse("not_found", e))?;
    check_rates(services, uuid, env.address).map_err(|(reason, error)| refuse(reason, error))?;
    let like = Like {
        id: LikeId::for_request(session.talk, uuid, client_mutation_id),
        talk: session.talk,
        liker: uuid.to_owned(),
        created_at: chrono::Utc::now(),
    };
    let id = like.id;
    services
        .storer
        .accept(like)
        .map_err(|refusal| match refusal {
            Refusal::Full => refuse(
                "buffer_full",
                ApiError::Unavailable {
                    message: "too many likes are waiting to be stored; try again shortly".into(),
                    retry_after_secs: 2,
                },
            ),
            Refusal::Closed => refuse(
                "shutting_down",
                ApiError::Unavailable {
                    message: "this server is shutting down; try again".into(),
                    retry_after_secs: 1,
                },
            ),
        })?;
    Ok(CreateLikePayload {
        client_mutation_id: client_mutation_id.map(str::to_owned),
        like: LikeNode { id, session },
    })
}

/// `CreateLikeInput`'s fields, coerced already: `uuid`, `sessionId`,
/// `clientMutationId`.
fn read_input<'a>(input: &'a Input<'_>) -> Option<(&'a str, i32, Option<&'a str>)> {
    let uuid = input.field("uuid")?.as_str()?;
    let session_id = input.field("sessionId")?.as_i32()?;
    let client_mutation_id = input.field("clientMutationId").and_then(Input::as_str);
    Some((uuid, session_id, client_mutation_id))
}

/// The liker's and the address's rates; the refusal's metric reason.
fn check_rates(
    services: &Services,
    uuid: &str,
    address: Option<IpAddr>,
) -> Result<(), (&'static str, ApiError)> {
    services
        .rate_limits
        .check(uuid, address)
        .map_err(|limited| match limited {
            Limited::Liker { retry_after } => (
                "rate_limited_liker",
                ApiError::RateLimited {
                    message: "too many likes from this uuid; slow down".into(),
                    retry_after_secs: whole_seconds(retry_after),
                },
            ),
            Limited::Address { retry_after } => (
                "rate_limited_address",
                ApiError::RateLimited {
                    message: "too many likes from this address; slow down".into(),
                    retry_after_secs: whole_seconds(retry_after),
                },
            ),
        })
}

/// A wait rounded up to whole seconds, at least 1.
fn whole_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

fn validate(uuid: &str, client_mutation_id: Option<&str>) -> Result<(), ApiError> {
    if uuid.is_empty() || uuid.len() > MAX_LIKER_BYTES {
        return Err(ApiError::BadInput(format!(
            "uuid must be 1 to {MAX_LIKER_BYTES} bytes, got {}",
            uuid.len()
        )));
    }
    if uuid.chars().any(char::is_control) {
        return Err(ApiError::BadInput(
            "uuid must not contain control characters".into(),
        ));
    }
    if let Some(id) = client_mutation_id
        && id.len() > MAX_CLIENT_MUTATION_ID_BYTES
    {
        return Err(ApiError::BadInput(format!(
            "clientMutationId must be at most {MAX_CLIENT_MUTATION_ID_BYTES} bytes, got {}",
            id.len()
        )));
    }
    Ok(())
}
