//! How failures look to GraphQL clients: every `extensions.code`, from the
//! engine or the edge, is a `Code`; every error sent is a `GraphQLError`.
//! Internal causes are logged where they happen.

use serde::Serialize;
use std::time::Duration;

/// Every `extensions.code` a client sees, written as its name in
/// SCREAMING_SNAKE_CASE (`GRAPHQL_PARSE_FAILED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Code {
    /// The document does not parse.
    GraphqlParseFailed,
    /// The document breaks the spec's rules or the server's limits.
    GraphqlValidationFailed,
    /// A value does not fit its type, or a resolver refused it.
    BadUserInput,
    /// `operationName` names no operation, or names none of several.
    OperationResolutionFailure,
    /// A persisted-query hash the server does not hold.
    PersistedQueryNotFound,
    /// Not a GraphQL request.
    BadRequest,
    /// The talk does not exist.
    NotFound,
    /// Try again later.
    Unavailable,
    /// A rate is exceeded.
    RateLimited,
    /// A per-connection allowance is used up.
    LimitExceeded,
    /// A fault inside; only logged.
    Internal,
    /// The body or message is over the size limit.
    PayloadTooLarge,
    /// The body did not arrive in time.
    RequestTimeout,
    /// A page from a site not allowed.
    ForbiddenOrigin,
    /// `Accept` allows nothing served.
    NotAcceptable,
    /// A POST body that is not JSON.
    UnsupportedMediaType,
    /// The method does not suit the operation.
    MethodNotAllowed,
}

/// Most errors one response carries (the last one counts the rest), so a
/// document with a thousand faults gets, and keeps in the cache, a short one.
pub(crate) const MAX_ERRORS: usize = 20;

/// `errors` within `MAX_ERRORS`: the first ones, then one with the next
/// one's code that counts the rest.
pub(crate) fn bounded(mut errors: Vec<GraphQLError>) -> Vec<GraphQLError> {
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
pub(crate) struct GraphQLError {
    /// What went wrong.
    pub(crate) message: String,
    /// Where in the document, when it points somewhere.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) locations: Vec<Location>,
    /// Which response field failed, for field errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) path: Vec<PathSegment>,
    /// Always carries a `code`.
    pub(crate) extensions: Extensions,
}

/// A line and column in the document (1-based), as apollo-compiler finds
/// it and the response format writes it.
pub(crate) type Location = apollo_compiler::parser::LineColumn;

/// A response key or list index in an error's path.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum PathSegment {
    /// A field's response key.
    Key(String),
    /// A list item.
    Index(usize),
}

/// An error's `extensions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Extensions {
    /// The machine-readable reason.
    pub(crate) code: Code,
    /// Suggested wait before retrying, for errors a retry can fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) retry_after_seconds: Option<u64>,
}

impl GraphQLError {
    /// An error with `code`, pointing nowhere.
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
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

    /// This error pointing at `location` in the document, if known.
    pub(crate) fn located(mut self, location: Option<Location>) -> Self {
        self.locations.extend(location);
        self
    }

    /// A value of the request that the field refuses.
    pub(crate) fn bad_input(message: impl Into<String>) -> Self {
        Self::new(Code::BadUserInput, message)
    }

    /// A fault inside, whose cause is logged where it happened.
    pub(crate) fn internal() -> Self {
        Self::new(Code::Internal, "internal error")
    }

    /// This error, suggesting a retry after `wait` (whole seconds, at least 1).
    pub(crate) fn retry_after(mut self, wait: Duration) -> Self {
        self.extensions.retry_after_seconds = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        self
    }

    /// This error at the field at `location` and `path`.
    pub(crate) fn at(self, location: Option<Location>, path: Vec<PathSegment>) -> Self {
        Self {
            path,
            ..self.located(location)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn many(count: usize) -> Vec<GraphQLError> {
        (0..count)
            .map(|i| GraphQLError::new(Code::BadUserInput, format!("fault {i}")))
            .collect()
    }

    #[test]
    fn a_thousand_errors_become_the_first_ones_and_a_count_of_the_rest() {
        let errors = bounded(many(1_000));
        assert_eq!(errors.len(), MAX_ERRORS);
        assert_eq!(errors[MAX_ERRORS - 2].message, "fault 18");
        let last = errors.last().unwrap();
        assert_eq!(last.message, "981 more errors like these were left out");
        assert_eq!(last.extensions.code, Code::BadUserInput);
    }

    #[test]
    fn bounded_errors_stay_as_they_are() {
        assert_eq!(bounded(many(MAX_ERRORS)), many(MAX_ERRORS));
        let once = bounded(many(50));
        assert_eq!(bounded(once.clone()), once);
    }
}
