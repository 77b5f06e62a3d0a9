//! The GraphQL API: the schema the conference front end was written
//! against (see ARCHITECTURE.md), its resolvers, its error codes, and a
//! cache of parsed documents. It moves data between clients and the
//! storer/listener; beyond that cache it holds no state. `createLike` and
//! `likeAdded` in their plain forms are answered directly (`direct`),
//! without the general executor.

mod direct;
mod documents;
mod errors;
mod limits;
mod schema;

pub use direct::DirectLikeAdded;
use documents::{Documents, Plan};
pub use errors::{ApiError, ErrorCodes, PARSE_FAILED, VALIDATION_FAILED};
pub use limits::{AliasLimit, MAX_ALIASES};
pub use schema::{CreateLikeInput, LikeEvent, MutationRoot, QueryRoot, Session, SubscriptionRoot};

use crate::catalogue::Catalogue;
use crate::limits::RateLimits;
use crate::listener::Listener;
use crate::store::LikeStore;
use crate::storer::Storer;
use async_graphql::{BatchRequest, BatchResponse, Request, Response, Schema};
use futures_util::stream::BoxStream;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// The service's schema type.
pub type LikesSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Deepest query accepted (the contract's deepest useful query is 4 levels).
pub const MAX_DEPTH: usize = 8;
/// Most complex query accepted (one per field selected).
pub const MAX_COMPLEXITY: usize = 200;
/// Deepest nesting the parser follows (lists, objects, selections).
pub const MAX_RECURSIVE_DEPTH: usize = 16;
/// Most directives on one field.
pub const MAX_DIRECTIVES: usize = 4;

/// What resolvers use, put in the schema's data.
#[derive(Clone)]
pub struct Services {
    /// The talks.
    pub catalogue: Arc<Catalogue>,
    /// Buffers new likes.
    pub storer: Storer,
    /// Published totals and subscriptions.
    pub listener: Listener,
    /// For totals before the observer's first read.
    pub store: Arc<dyn LikeStore>,
    /// Cancelled when the process stops serving; ends subscriptions.
    pub shutdown: CancellationToken,
    /// Like rates per liker and per client address.
    pub rate_limits: Arc<RateLimits>,
}

/// Whether a POSTed body is a batch (a JSON array) rather than one
/// operation, judged by its first byte.
pub fn is_batch(body: &[u8]) -> bool {
    body.trim_ascii_start().starts_with(b"[")
}

/// The client's address, put in each request's (or WebSocket connection's)
/// data by the HTTP layer.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

/// A WebSocket connection's allowance of live subscriptions, put in its
/// data by the HTTP layer; each subscription holds a permit until it ends.
#[derive(Debug, Clone)]
pub struct SubscriptionSlots {
    /// One permit per subscription allowed.
    pub slots: Arc<Semaphore>,
    /// The allowance.
    pub max: usize,
}

impl SubscriptionSlots {
    /// Room for `max` subscriptions.
    pub fn new(max: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// A permit for one more subscription, held until it ends; `None` when
    /// the connection holds its allowance already.
    pub fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }
}

/// Builds the schema with its limits and error codes; `introspection: false`
/// hides the schema from clients (production).
fn build_schema(services: Services, introspection: bool) -> LikesSchema {
    let builder = Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .data(services)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(MAX_RECURSIVE_DEPTH)
        .limit_directives(MAX_DIRECTIVES)
        .extension(AliasLimit)
        .extension(ErrorCodes);
    if introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// A WebSocket operation taken by the direct paths (`Endpoint::start_direct`).
pub enum Started {
    /// A plain `createLike`, answered.
    Answered(Response),
    /// A plain `likeAdded` subscription, started.
    Subscribed(DirectSubscription),
}

/// A `likeAdded` subscription whose events are written without the
/// executor.
pub struct DirectSubscription {
    /// Writes each event's response.
    pub plan: Arc<DirectLikeAdded>,
    /// The events.
    pub events: BoxStream<'static, LikeEvent>,
}

/// What answers GraphQL: the schema, the documents it has parsed, and the
/// direct paths (`createLike` POSTed or over a WebSocket, `likeAdded`).
pub struct Endpoint {
    schema: LikesSchema,
    documents: Documents,
    services: Services,
}

impl Endpoint {
    /// The schema over `services` (see `build_schema`), keeping up to
    /// `documents_kept` parsed documents.
    pub fn new(services: Services, introspection: bool, documents_kept: usize) -> Self {
        Self {
            schema: build_schema(services.clone(), introspection),
            documents: Documents::new(documents_kept),
            services,
        }
    }

    /// The schema, for WebSocket sessions.
    pub fn schema(&self) -> &LikesSchema {
        &self.schema
    }

    /// What the resolvers use.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Answers a POSTed body of plain likes straight from its JSON (see
    /// `direct`), or `None` when it must be parsed and run by
    /// `execute_batch`; batches hold at most `max_batch` operations.
    pub fn execute_posted(
        &self,
        body: &[u8],
        address: ClientAddress,
        max_batch: usize,
    ) -> Option<BatchResponse> {
        direct::answer_posted(
            body,
            &self.documents,
            &self.services,
            Some(address.0),
            max_batch,
        )
    }

    /// Answers one operation or a batch, the operations in turn, for a
    /// client at `address`.
    pub async fn execute_batch(
        &self,
        batch: BatchRequest,
        address: ClientAddress,
    ) -> BatchResponse {
        match batch {
            BatchRequest::Single(request) => {
                BatchResponse::Single(self.execute(request, address).await)
            }
            BatchRequest::Batch(requests) => {
                let mut responses = Vec::with_capacity(requests.len());
                for request in requests {
                    responses.push(self.execute(request, address).await);
                }
                BatchResponse::Batch(responses)
            }
        }
    }

    /// Readies an operation sent over a WebSocket: a plain `createLike` is
    /// answered here and a plain `likeAdded` subscription to a catalogue
    /// talk started here (see `direct`); anything else is given its parsed
    /// document and left to the session (`None`), which reports every
    /// error. The caller takes a subscription slot for one started here.
    pub fn start_direct(&self, request: &mut Request, address: ClientAddress) -> Option<Started> {
        let plan = self.documents.prepare(request)?;
        let operation = request.operation_name.as_deref();
        match plan {
            Plan::Like(like) => {
                let input = like.input_of(&request.variables)?;
                like.runs(operation).then(|| {
                    Started::Answered(like.respond(input, &self.services, Some(address.0)))
                })
            }
            Plan::LikeAdded(plan) => {
                let session_id = plan.session_id(operation, &request.variables)?;
                let events = schema::like_events(&self.services, session_id)?;
                Some(Started::Subscribed(DirectSubscription {
                    plan,
                    events: Box::pin(events),
                }))
            }
        }
    }

    async fn execute(&self, mut request: Request, address: ClientAddress) -> Response {
        self.documents.prepare(&mut request);
        self.schema.execute(request.data(address)).await
    }
}
