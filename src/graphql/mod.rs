//! The GraphQL API: the schema the conference front end was written
//! against (see ARCHITECTURE.md), its resolvers, and its error codes. It
//! moves data between clients and the storer/listener; it holds no state.

mod errors;
mod schema;

pub use errors::{ApiError, ErrorCodes, PARSE_FAILED, VALIDATION_FAILED};
pub use schema::{CreateLikeInput, LikeEvent, MutationRoot, QueryRoot, Session, SubscriptionRoot};

use crate::catalogue::Catalogue;
use crate::listener::Listener;
use crate::store::LikeStore;
use crate::storer::Storer;
use async_graphql::Schema;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The service's schema type.
pub type LikesSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Deepest query accepted (the contract's deepest useful query is 4 levels).
pub const MAX_DEPTH: usize = 8;
/// Most complex query accepted (one per field selected).
pub const MAX_COMPLEXITY: usize = 200;

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
}

/// Builds the schema with its limits and error codes.
pub fn build_schema(services: Services) -> LikesSchema {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .data(services)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(ErrorCodes)
        .finish()
}
