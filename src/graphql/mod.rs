//! The GraphQL API: the schema the conference front end was written
//! against (see ARCHITECTURE.md), its resolvers, its error codes, and a
//! cache of parsed documents. It moves data between clients and the
//! storer/listener; beyond that cache it holds no state.

mod documents;
mod errors;
mod limits;
mod schema;

pub use documents::Documents;
pub use errors::{ApiError, ErrorCodes, PARSE_FAILED, VALIDATION_FAILED};
pub use limits::{AliasLimit, MAX_ALIASES};
pub use schema::{CreateLikeInput, LikeEvent, MutationRoot, QueryRoot, Session, SubscriptionRoot};

use crate::catalogue::Catalogue;
use crate::limits::RateLimits;
use crate::listener::Listener;
use crate::store::LikeStore;
use crate::storer::Storer;
use async_graphql::Schema;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::Semaphore;
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
}

/// Builds the schema with its limits and error codes; `introspection: false`
/// hides the schema from clients (production).
pub fn build_schema(services: Services, introspection: bool) -> LikesSchema {
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
