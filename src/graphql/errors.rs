//! How failures look to GraphQL clients: every error carries an
//! `extensions.code`. Resolvers return `ApiError`; the `ErrorCodes`
//! extension labels the errors the GraphQL engine itself raises (parse,
//! validation, input coercion). Internal causes are logged, never sent.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ErrorExtensions, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};
use futures_util::stream::{BoxStream, StreamExt};
use std::sync::Arc;

/// A resolver's failure, as clients should see it. It deliberately has no
/// `Display`, so it can only become a GraphQL error through the `From`
/// below, which always sets the code.
#[derive(Debug)]
pub enum ApiError {
    /// The request's values are wrong (`BAD_USER_INPUT`).
    BadInput(String),
    /// The talk does not exist (`NOT_FOUND`).
    NotFound(String),
    /// Try again later (`UNAVAILABLE`), after about `retry_after_secs`.
    Unavailable {
        /// What is wrong.
        message: String,
        /// Suggested wait before retrying.
        retry_after_secs: u64,
    },
    /// The client or liker is over its like rate (`RATE_LIMITED`).
    RateLimited {
        /// Which limit.
        message: String,
        /// Suggested wait before retrying.
        retry_after_secs: u64,
    },
    /// A per-connection limit is reached (`LIMIT_EXCEEDED`).
    LimitExceeded(String),
    /// Something failed inside; the cause is logged (`INTERNAL`).
    Internal,
}

impl ApiError {
    /// The `extensions.code` clients see.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadInput(_) => "BAD_USER_INPUT",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Unavailable { .. } => "UNAVAILABLE",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::LimitExceeded(_) => "LIMIT_EXCEEDED",
            Self::Internal => "INTERNAL",
        }
    }

    /// Suggested wait before retrying, for errors a retry can fix.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Unavailable {
                retry_after_secs, ..
            }
            | Self::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The message clients see.
    pub fn message(&self) -> &str {
        match self {
            Self::BadInput(message) | Self::NotFound(message) | Self::LimitExceeded(message) => {
                message
            }
            Self::Unavailable { message, .. } | Self::RateLimited { message, .. } => message,
            Self::Internal => "internal error",
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        let code = error.code();
        async_graphql::Error::new(error.message()).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(seconds) = error.retry_after_secs() {
                ext.set("retryAfterSeconds", seconds);
            }
        })
    }
}

/// Code for documents that do not parse.
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// Code for documents that parse but break the schema or the limits.
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// Gives every error a `code`: parse and validation failures get their own,
/// anything else left without one came from the client's values.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

fn label(errors: &mut [ServerError], code: &str) {
    for error in errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", Value::from(code));
        }
    }
}

#[async_trait::async_trait]
impl Extension for ErrorCodes {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        label(&mut response.errors, "BAD_USER_INPUT");
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut response| {
                label(&mut response.errors, "BAD_USER_INPUT");
                response
            })
            .boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|mut error| {
            label(std::slice::from_mut(&mut error), PARSE_FAILED);
            error
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            label(&mut errors, VALIDATION_FAILED);
            errors
        })
    }
}
