//! How failures look to GraphQL clients. Resolvers return `ApiError`;
//! every error a client sees is a `GraphQLError` carrying an
//! `extensions.code`, whether it came from a resolver, from preparing the
//! document (parse, validation, limits) or from the request's variables.
//! Internal causes are logged where they happen, never sent.

use async_graphql::Pos;
use serde::Serialize;

/// Code for documents that do not parse.
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// Code for documents that parse but break the schema or the limits.
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
/// Code for values that do not fit their types (variables, arguments).
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
/// Code for an `operationName` the document does not have, or a missing
/// one when it has several.
pub const OPERATION_RESOLUTION_FAILURE: &str = "OPERATION_RESOLUTION_FAILURE";
/// Code for a persisted-query hash the server does not know (Apollo's
/// automatic persisted queries: the client sends the text next).
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
/// Code for requests that are not GraphQL requests at all.
pub const BAD_REQUEST: &str = "BAD_REQUEST";

/// A resolver's failure, as clients should see it. It becomes a
/// `GraphQLError` only through `GraphQLError::at`, which always sets the code.
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
            Self::BadInput(_) => BAD_USER_INPUT,
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
        use async_graphql::ErrorExtensions;
        let code = error.code();
        async_graphql::Error::new(error.message()).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(seconds) = error.retry_after_secs() {
                ext.set("retryAfterSeconds", seconds);
            }
        })
    }
}

/// Most errors one response carries: past it, the first ones and one that
/// says how many more there were. A document with a thousand faults gets a
/// short answer, and a cached document's errors stay small.
pub const MAX_ERRORS: usize = 20;

/// `errors` within `MAX_ERRORS`: the first `MAX_ERRORS - 1`, then one with
/// the next one's code that counts the rest. Bounding bounded errors
/// changes nothing.
pub fn bounded(mut errors: Vec<GraphQLError>) -> Vec<GraphQLError> {
    if errors.len() <= MAX_ERRORS {
        return errors;
    }
    let more = errors.len() - (MAX_ERRORS - 1);
    let code = errors[MAX_ERRORS - 1].extensions.code;
    errors.truncate(MAX_ERRORS - 1);
    errors.push(GraphQLError::new(
        code,
        format!("{more} more errors like these were left out"),
    ));
    errors
}

/// One error as the GraphQL response format writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphQLError {
    /// What went wrong.
    pub message: String,
    /// Where in the document, when it points somewhere.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Location>,
    /// Which response field failed, for field errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<PathSegment>,
    /// Always carries a `code`.
    pub extensions: Extensions,
}

/// A line and column in the document (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl From<Pos> for Location {
    fn from(pos: Pos) -> Self {
        Self {
            line: pos.line,
            column: pos.column,
        }
    }
}

/// A response key or list index in an error's path.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PathSegment {
    /// A field's response key.
    Key(String),
    /// A list item.
    Index(usize),
}

/// An error's `extensions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Extensions {
    /// The machine-readable reason.
    pub code: &'static str,
    /// Suggested wait before retrying, for errors a retry can fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

impl GraphQLError {
    /// An error with `code`, pointing nowhere.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            locations: Vec::new(),
            path: Vec::new(),
            extensions: Extensions {
                code,
                retry_after_seconds: None,
            },
        }
    }

    /// This error pointing at `pos` in the document.
    pub fn located(mut self, pos: Pos) -> Self {
        if pos.line > 0 {
            self.locations.push(pos.into());
        }
        self
    }

    /// A resolver's `error` at the field at `pos` and `path`.
    pub fn at(error: &ApiError, pos: Pos, path: Vec<PathSegment>) -> Self {
        let mut this = Self::new(error.code(), error.message()).located(pos);
        this.path = path;
        this.extensions.retry_after_seconds = error.retry_after_secs();
        this
    }

    /// async-graphql's error (from validating a document) with `code`.
    pub fn from_server(error: async_graphql::ServerError, code: &'static str) -> Self {
        let mut this = Self::new(code, error.message);
        this.locations = error.locations.into_iter().map(Location::from).collect();
        this
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn many(count: usize) -> Vec<GraphQLError> {
        (0..count)
            .map(|i| GraphQLError::new(BAD_USER_INPUT, format!("fault {i}")))
            .collect()
    }

    #[test]
    fn a_thousand_errors_become_the_first_ones_and_a_count_of_the_rest() {
        let errors = bounded(many(1_000));
        assert_eq!(errors.len(), MAX_ERRORS);
        assert_eq!(errors[MAX_ERRORS - 2].message, "fault 18");
        let last = errors.last().unwrap();
        assert_eq!(last.message, "981 more errors like these were left out");
        assert_eq!(last.extensions.code, BAD_USER_INPUT);
    }

    #[test]
    fn bounded_errors_stay_as_they_are() {
        assert_eq!(bounded(many(MAX_ERRORS)), many(MAX_ERRORS));
        let once = bounded(many(50));
        assert_eq!(bounded(once.clone()), once);
    }
}
