//! The types and resolvers of the contract: `createLike`, `likeAdded`,
//! `session`, `sessions`. Names and shapes are fixed by the front end.

use super::{ApiError, ClientAddress, Services, SubscriptionSlots};
use crate::catalogue::Talk;
use crate::limits::Limited;
use crate::listener::PublishedAt;
use crate::model::{Like, LikeId, MAX_CLIENT_MUTATION_ID_BYTES, MAX_LIKER_BYTES, TalkId};
use crate::storer::Refusal;
use crate::telemetry as names;
use async_graphql::{
    ComplexObject, Context, ID, InputObject, Object, Result, SimpleObject, Subscription,
};
use futures_util::Stream;
use std::net::IpAddr;

fn services<'a>(ctx: &Context<'a>) -> &'a Services {
    ctx.data_unchecked::<Services>()
}

/// How long `Session.liked` waits for the store before the observer's first read.
const TOTALS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

fn store_unreachable() -> ApiError {
    ApiError::Unavailable {
        message: "the like store is not reachable".into(),
        retry_after_secs: 1,
    }
}

fn clamp(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A talk.
pub struct Session {
    talk: TalkId,
    about: Talk,
}

impl Session {
    fn find(services: &Services, session_id: i32) -> Option<Self> {
        let talk = services.catalogue.get(TalkId(session_id))?;
        Some(Self {
            talk: TalkId(talk.id),
            about: talk.clone(),
        })
    }

    fn require(services: &Services, session_id: i32) -> Result<Self, ApiError> {
        Self::find(services, session_id).ok_or_else(|| {
            ApiError::NotFound(format!("there is no talk with sessionId {session_id}"))
        })
    }
}

#[Object]
impl Session {
    /// Relay-style id, `Session:<sessionId>`.
    async fn id(&self) -> ID {
        ID(format!("Session:{}", self.talk))
    }

    /// The talk's id in the catalogue.
    async fn session_id(&self) -> i32 {
        self.talk.0
    }

    /// The talk's title.
    async fn title(&self) -> &str {
        &self.about.title
    }

    /// When the talk starts (RFC 3339, with the catalogue's offset), if known.
    async fn start_time(&self) -> Option<String> {
        self.about.start_time.map(|t| t.to_rfc3339())
    }

    /// When the talk ends (RFC 3339, with the catalogue's offset), if known.
    async fn end_time(&self) -> Option<String> {
        self.about.end_time.map(|t| t.to_rfc3339())
    }

    /// Where the talk takes place, if known.
    async fn room(&self) -> Option<&str> {
        self.about.room.as_deref()
    }

    /// Likes stored for this talk by all servers (as of the last observer read).
    async fn liked(&self, ctx: &Context<'_>) -> Result<i32> {
        let services = services(ctx);
        if let Some(total) = services.listener.total(self.talk) {
            return Ok(clamp(total));
        }
        let read = tokio::time::timeout(TOTALS_TIMEOUT, services.store.totals());
        let totals = match read.await {
            Ok(Ok(totals)) => totals,
            Ok(Err(error)) => {
                tracing::warn!(%error, "reading totals failed");
                return Err(store_unreachable().into());
            }
            Err(_) => return Err(store_unreachable().into()),
        };
        Ok(clamp(totals.get(&self.talk).copied().unwrap_or(0)))
    }
}

/// One like.
pub struct LikeNode {
    id: LikeId,
    session: Session,
}

impl LikeNode {
    /// `Like:<uuid>`.
    pub(super) fn relay_id(&self) -> String {
        format!("Like:{}", self.id)
    }
}

#[Object(name = "Like")]
impl LikeNode {
    /// Relay-style id, `Like:<uuid>`.
    async fn id(&self) -> ID {
        ID(self.relay_id())
    }

    /// The liked talk.
    async fn session(&self) -> &Session {
        &self.session
    }
}

/// Input of `createLike`.
#[derive(InputObject)]
pub struct CreateLikeInput {
    /// Echoed back; with the same `uuid`, a retry with the same value stores one like.
    pub client_mutation_id: Option<String>,
    /// The liker: an id unique to a browser or app install (1 to 64 bytes).
    pub uuid: String,
    /// The talk.
    pub session_id: i32,
}

/// Result of `createLike`.
#[derive(SimpleObject)]
pub struct CreateLikePayload {
    /// The input's `clientMutationId`.
    pub(super) client_mutation_id: Option<String>,
    /// The like, acknowledged and buffered for storing.
    pub(super) like: LikeNode,
}

/// A talk's count grew.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct LikeEvent {
    /// The talk.
    pub session_id: i32,
    /// Likes since the previous event on this subscription.
    pub likes: i32,
    /// The talk's total over all servers after this event.
    pub total: i32,
    /// When that total was published, served as `publishedAt`.
    #[graphql(skip)]
    pub published: PublishedAt,
}

#[ComplexObject]
impl LikeEvent {
    /// When this replica published that total (RFC 3339, UTC, microseconds):
    /// just after the observer's store read that found it. Against the
    /// client's clock, it shows how long the event took to arrive.
    async fn published_at(&self) -> &str {
        self.published.as_str()
    }
}

/// Queries.
pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// One talk, or null if the catalogue has no such talk.
    async fn session(&self, ctx: &Context<'_>, session_id: i32) -> Option<Session> {
        Session::find(services(ctx), session_id)
    }

    /// Every talk in the catalogue, ordered by id.
    async fn sessions(&self, ctx: &Context<'_>) -> Vec<Session> {
        let services = services(ctx);
        services
            .catalogue
            .ids()
            .filter_map(|talk| Session::find(services, talk.0))
            .collect()
    }
}

/// Mutations.
pub struct MutationRoot;

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Likes a talk. Answers as soon as the like is buffered; it is stored
    /// within about a second and then counted everywhere.
    async fn create_like(
        &self,
        ctx: &Context<'_>,
        input: CreateLikeInput,
    ) -> Result<Option<CreateLikePayload>> {
        let address = ctx.data_opt::<ClientAddress>().map(|a| a.0);
        Ok(Some(create_like(services(ctx), input, address)?))
    }
}

/// What `createLike` does, for its resolver and for the direct path
/// (`super::direct`): checks the input, the talk and the like rates, then
/// buffers the like.
pub(super) fn create_like(
    services: &Services,
    input: CreateLikeInput,
    address: Option<IpAddr>,
) -> Result<CreateLikePayload, ApiError> {
    let refuse = |reason: &'static str, error: ApiError| {
        metrics::counter!(names::REFUSED, "reason" => reason).increment(1);
        error
    };
    validate(&input).map_err(|e| refuse("bad_input", e))?;
    let session =
        Session::require(services, input.session_id).map_err(|e| refuse("not_found", e))?;
    services
        .rate_limits
        .check(&input.uuid, address)
        .map_err(|limited| match limited {
            Limited::Liker { retry_after } => refuse(
                "rate_limited_liker",
                ApiError::RateLimited {
                    message: "too many likes from this uuid; slow down".into(),
                    retry_after_secs: whole_seconds(retry_after),
                },
            ),
            Limited::Address { retry_after } => refuse(
                "rate_limited_address",
                ApiError::RateLimited {
                    message: "too many likes from this address; slow down".into(),
                    retry_after_secs: whole_seconds(retry_after),
                },
            ),
        })?;
    let like = Like {
        id: LikeId::for_request(
            session.talk,
            &input.uuid,
            input.client_mutation_id.as_deref(),
        ),
        talk: session.talk,
        liker: input.uuid,
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
        client_mutation_id: input.client_mutation_id,
        like: LikeNode { id, session },
    })
}

/// A wait rounded up to whole seconds, at least 1.
fn whole_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

fn validate(input: &CreateLikeInput) -> Result<(), ApiError> {
    if input.uuid.is_empty() || input.uuid.len() > MAX_LIKER_BYTES {
        return Err(ApiError::BadInput(format!(
            "uuid must be 1 to {MAX_LIKER_BYTES} bytes, got {}",
            input.uuid.len()
        )));
    }
    if input.uuid.chars().any(char::is_control) {
        return Err(ApiError::BadInput(
            "uuid must not contain control characters".into(),
        ));
    }
    if let Some(id) = &input.client_mutation_id
        && id.len() > MAX_CLIENT_MUTATION_ID_BYTES
    {
        return Err(ApiError::BadInput(format!(
            "clientMutationId must be at most {MAX_CLIENT_MUTATION_ID_BYTES} bytes, got {}",
            id.len()
        )));
    }
    Ok(())
}

/// Subscriptions.
pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Growth of one talk's count, across all servers. Each event's `likes`
    /// is the increase since the previous event; a slow client gets them merged.
    async fn like_added(
        &self,
        ctx: &Context<'_>,
        session_id: i32,
    ) -> Result<impl Stream<Item = LikeEvent> + use<>> {
        let services = services(ctx);
        Session::require(services, session_id)?;
        let slot = match ctx.data_opt::<SubscriptionSlots>() {
            Some(slots) => Some(slots.take().ok_or_else(|| {
                ApiError::LimitExceeded(format!(
                    "a connection may hold at most {} subscriptions",
                    slots.max
                ))
            })?),
            None => None,
        };
        let events = like_events(services, session_id).ok_or(ApiError::Internal)?;
        // The slot is held by the stream and freed when the subscription ends.
        Ok(futures_util::StreamExt::map(events, move |event| {
            let _held = &slot;
            event
        }))
    }
}

/// The events of a subscription to a catalogue talk (`None` for any other).
/// The caller checks the talk and the connection's allowance first.
/// Subscriptions are served only over WebSockets, and a connection ends
/// them when the server shuts down (with close code 1012): watching for
/// shutdown here as well would cost every event a lock shared by all
/// subscribers.
pub(super) fn like_events(
    services: &Services,
    session_id: i32,
) -> Option<impl Stream<Item = LikeEvent> + Send + 'static + use<>> {
    let subscription = services.listener.subscribe(TalkId(session_id))?;
    let events = futures_util::stream::unfold(subscription, move |mut subscription| async move {
        let delta = subscription.next().await?;
        let event = LikeEvent {
            session_id,
            likes: clamp(delta.likes),
            total: clamp(delta.total),
            published: delta.published_at,
        };
        Some((event, subscription))
    });
    Some(events)
}
