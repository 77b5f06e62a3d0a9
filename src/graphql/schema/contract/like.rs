//! Likes: `Mutation.createLike`, its input, its payload and the `Like`
//! type, and what `createLike` checks before it buffers a like; under
//! `--ack stored` it answers once the like is stored.

use super::super::types::{Env, InputObject, Object, Out};
use super::Root;
use super::session::{SESSION_ID, Session};
use crate::graphql::errors::{Code, GraphQLError};
use crate::graphql::input::Input;
use crate::graphql::input::InputValue;
use crate::graphql::services::Services;
use crate::limits::Limited;
use crate::model::{Like, LikeId, MAX_CLIENT_MUTATION_ID_BYTES, MAX_LIKER_BYTES};
use crate::storer::{NotStored, Receipt, Refusal};
use crate::telemetry as names;
use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Duration;

/// `createLike`'s argument.
const INPUT: InputValue = InputValue("input");
/// `CreateLikeInput.clientMutationId`.
const CLIENT_MUTATION_ID: InputValue = InputValue("clientMutationId");
/// `CreateLikeInput.uuid`.
const UUID: InputValue = InputValue("uuid");

/// What a `Like`'s id starts with, before its UUID.
const LIKE_ID_PREFIX: &str = "Like:";

/// One like.
pub(crate) struct LikeNode {
    id: LikeId,
    session: Session,
}

/// What `createLike` answers.
pub(crate) struct CreateLikePayload {
    client_mutation_id: Option<String>,
    like: LikeNode,
}

/// The `Mutation` root type.
pub(super) fn mutation() -> Object {
    Object::new("Mutation").field("createLike", (&[INPUT], 0), |_: &Root, args, env| {
        let Some(input) = args.get(&INPUT) else {
            return GraphQLError::internal().into();
        };
        create_like(env, input).into()
    })
}

/// `CreateLikeInput`.
pub(super) fn input() -> InputObject {
    InputObject {
        name: "CreateLikeInput",
        fields: &[CLIENT_MUTATION_ID, UUID, SESSION_ID],
    }
}

/// The `Like` type.
pub(super) fn like() -> Object {
    Object::new("Like")
        .with("id", |like: &LikeNode, _, _| {
            let mut uuid = uuid::Uuid::encode_buffer();
            let uuid = like.id.0.hyphenated().encode_lower(&mut uuid);
            Out::Str([LIKE_ID_PREFIX, uuid].concat().into())
        })
        .with("session", |like: &LikeNode, _, _| {
            Out::Borrowed(&like.session)
        })
}

/// The `CreateLikePayload` type.
pub(super) fn payload() -> Object {
    Object::new("CreateLikePayload")
        .with("clientMutationId", |payload: &CreateLikePayload, _, _| {
            let id = payload.client_mutation_id.as_deref();
            id.map_or(Out::Null, |id| Out::Str(Cow::Borrowed(id)))
        })
        .with("like", |payload: &CreateLikePayload, _, _| {
            Out::Borrowed(&payload.like)
        })
}

/// `createLike`: checks the input, the talk and the like rates, then
/// buffers the like; the payload comes at once, or once it is stored.
fn create_like(env: &Env<'_>, input: &Input<'_>) -> Result<Out<'static>, GraphQLError> {
    let services = env.services;
    let refuse = |reason: &'static str, error: GraphQLError| {
        metrics::counter!(names::REFUSED, "reason" => reason).increment(1);
        error
    };
    let (uuid, session_id, client_mutation_id) =
        read_input(input).ok_or_else(GraphQLError::internal)?;
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
    let receipt = services.storer.accept(like).map_err(|refusal| {
        let (reason, message, wait) = match refusal {
            Refusal::Full => (
                "buffer_full",
                "too many likes are waiting to be stored; try again shortly",
                2,
            ),
            Refusal::Closed => (
                "shutting_down",
                "this server is shutting down; try again",
                1,
            ),
        };
        let error = GraphQLError::new(Code::Unavailable, message);
        refuse(reason, error.retry_after(Duration::from_secs(wait)))
    })?;
    let payload = CreateLikePayload {
        client_mutation_id: client_mutation_id.map(str::to_owned),
        like: LikeNode { id, session },
    };
    let Receipt::Later(pending) = receipt else {
        return Ok(Out::object(payload));
    };
    let named = client_mutation_id.is_some();
    Ok(Out::Later(Box::pin(async move {
        match pending.stored().await {
            Ok(()) => Out::object(payload),
            Err(not_stored) => refuse_unstored(not_stored, named).into(),
        }
    })))
}

/// The answer to a like that was not stored in time: it may still be, and
/// a retry with the same `clientMutationId` stores it once.
fn refuse_unstored(not_stored: NotStored, named: bool) -> GraphQLError {
    let retry = if named {
        "retry with the same clientMutationId, which stores it exactly once"
    } else {
        "a retry is another like: send a clientMutationId to retry safely"
    };
    let (reason, message, retry_after) = match not_stored {
        NotStored::Late(bound) => (
            "not_stored_yet",
            format!(
                "the like was not stored within {} s (the store is slow or down); it is held \
                 and may still be stored: {retry}",
                bound.as_secs_f64()
            ),
            Duration::from_secs(2),
        ),
        NotStored::Stopped => (
            "shutting_down",
            format!(
                "this server stopped before it could store the like; it may have been stored: {retry}"
            ),
            Duration::from_secs(1),
        ),
    };
    metrics::counter!(names::REFUSED, "reason" => reason).increment(1);
    GraphQLError::new(Code::Unavailable, message).retry_after(retry_after)
}

/// `CreateLikeInput`'s fields, coerced already: `uuid`, `sessionId`,
/// `clientMutationId`.
fn read_input<'a>(input: &'a Input<'_>) -> Option<(&'a str, i32, Option<&'a str>)> {
    let uuid = input.field(&UUID)?.as_str()?;
    let session_id = input.field(&SESSION_ID)?.as_i32()?;
    let client_mutation_id = input.field(&CLIENT_MUTATION_ID).and_then(Input::as_str);
    Some((uuid, session_id, client_mutation_id))
}

/// The liker's and the address's rates; the refusal's metric reason.
fn check_rates(
    services: &Services,
    uuid: &str,
    address: Option<IpAddr>,
) -> Result<(), (&'static str, GraphQLError)> {
    services
        .rate_limits
        .check(uuid, address)
        .map_err(|limited| {
            let (reason, whose, wait) = match limited {
                Limited::Liker { retry_after } => ("rate_limited_liker", "uuid", retry_after),
                Limited::Address { retry_after } => {
                    ("rate_limited_address", "address", retry_after)
                }
            };
            let message = format!("too many likes from this {whose}; slow down");
            let error = GraphQLError::new(Code::RateLimited, message);
            (reason, error.retry_after(wait))
        })
}

fn validate(uuid: &str, client_mutation_id: Option<&str>) -> Result<(), GraphQLError> {
    if uuid.is_empty() || uuid.len() > MAX_LIKER_BYTES {
        return Err(GraphQLError::bad_input(format!(
            "uuid must be 1 to {MAX_LIKER_BYTES} bytes, got {}",
            uuid.len()
        )));
    }
    if uuid.chars().any(char::is_control) {
        return Err(GraphQLError::bad_input(
            "uuid must not contain control characters",
        ));
    }
    let Some(id) = client_mutation_id else {
        return Ok(());
    };
    if id.len() > MAX_CLIENT_MUTATION_ID_BYTES {
        return Err(GraphQLError::bad_input(format!(
            "clientMutationId must be at most {MAX_CLIENT_MUTATION_ID_BYTES} bytes, got {}",
            id.len()
        )));
    }
    if id.chars().any(char::is_control) {
        return Err(GraphQLError::bad_input(
            "clientMutationId must not contain control characters",
        ));
    }
    Ok(())
}
