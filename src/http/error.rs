//! Failures at the edge: what is refused before the engine, or ends a
//! WebSocket, mapped once to an HTTP status and a GraphQL-shaped body, and
//! to a WebSocket close code and reason.

use crate::graphql::{Code, GraphQLError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why the edge refused a request or closed a connection; its `Display` is
/// what the client is told.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum EdgeError {
    /// The request or message is not GraphQL over HTTP or WebSocket.
    #[error("{0}")]
    BadRequest(String),
    /// The body or message exceeds the size limit.
    #[error("messages are limited to {0} bytes")]
    PayloadTooLarge(usize),
    /// The body did not arrive within `--body-read-timeout`.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// A POST whose body is not `application/json`.
    #[error("POST a JSON body (content-type: application/json)")]
    UnsupportedMediaType,
    /// The client accepts none of the media types served.
    #[error("accept application/graphql-response+json or application/json")]
    NotAcceptable,
    /// The method does not suit the operation (a mutation over GET).
    #[error("{0}")]
    MethodNotAllowed(&'static str),
    /// A browser page from a site not on the allow-list.
    #[error("Forbidden: this origin may not use the API")]
    ForbiddenOrigin,
    /// An operation before the connection was acknowledged.
    #[error("Unauthorized")]
    Unauthorized,
    /// No `connection_init` in time.
    #[error("Connection initialisation timeout")]
    InitTimeout,
    /// A `subscribe` under an id still in use.
    #[error("Subscriber for {0} already exists")]
    SubscriberExists(String),
    /// A second `connection_init`.
    #[error("Too many initialisation requests")]
    TooManyInitialisations,
    /// The server is shutting down; reconnect.
    #[error("server restarting")]
    Restarting,
}

impl EdgeError {
    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::SubscriberExists(_) | Self::TooManyInitialisations => {
                StatusCode::BAD_REQUEST
            }
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::ForbiddenOrigin => StatusCode::FORBIDDEN,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::InitTimeout | Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Restarting => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The WebSocket close code.
    pub(crate) fn close_code(&self) -> CloseCode {
        match self {
            Self::BadRequest(_)
            | Self::UnsupportedMediaType
            | Self::NotAcceptable
            | Self::MethodNotAllowed(_) => CloseCode::BadRequest,
            Self::PayloadTooLarge(_) => CloseCode::MessageTooBig,
            Self::ForbiddenOrigin => CloseCode::Forbidden,
            Self::Unauthorized => CloseCode::Unauthorized,
            Self::InitTimeout | Self::BodyTimeout => CloseCode::InitTimeout,
            Self::SubscriberExists(_) => CloseCode::SubscriberExists,
            Self::TooManyInitialisations => CloseCode::TooManyInitialisations,
            Self::Restarting => CloseCode::ServiceRestart,
        }
    }

    /// As a GraphQL error, with the `extensions.code` of the HTTP body.
    pub(crate) fn graphql(&self) -> GraphQLError {
        let code = match self {
            Self::PayloadTooLarge(_) => Code::PayloadTooLarge,
            Self::BodyTimeout => Code::RequestTimeout,
            Self::ForbiddenOrigin => Code::ForbiddenOrigin,
            Self::NotAcceptable => Code::NotAcceptable,
            Self::UnsupportedMediaType => Code::UnsupportedMediaType,
            Self::MethodNotAllowed(_) => Code::MethodNotAllowed,
            Self::Restarting => Code::Unavailable,
            _ => Code::BadRequest,
        };
        GraphQLError::new(code, self.to_string())
    }
}

/// Every code a WebSocket is closed with: graphql-ws's PROTOCOL.md codes
/// (44xx), and RFC 6455's for the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub(crate) enum CloseCode {
    /// 1002: WebSocket traffic the legacy protocol cannot read.
    ProtocolError = 1002,
    /// 1009: a message over the size limit.
    MessageTooBig = 1009,
    /// 1011: the legacy protocol's answer to an operation before
    /// `connection_init`.
    InternalError = 1011,
    /// 1012: the server is restarting; clients reconnect.
    ServiceRestart = 1012,
    /// 4400: a message the protocol does not allow.
    BadRequest = 4400,
    /// 4401: an operation before the connection was acknowledged.
    Unauthorized = 4401,
    /// 4403: a page from an origin that may not use the API.
    Forbidden = 4403,
    /// 4408: no `connection_init` in time.
    InitTimeout = 4408,
    /// 4409: a `subscribe` under an id still in use.
    SubscriberExists = 4409,
    /// 4429: a second `connection_init`.
    TooManyInitialisations = 4429,
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code as u16
    }
}

/// Longest close reason a WebSocket close frame carries, in bytes.
pub(crate) const MAX_CLOSE_REASON: usize = 123;

/// `reason` cut to what a close frame carries, at a character boundary.
pub(crate) fn fit_reason(mut reason: String) -> String {
    reason.truncate(reason.floor_char_boundary(MAX_CLOSE_REASON));
    reason
}

impl IntoResponse for EdgeError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "errors": [self.graphql()] }).to_string();
        let mut response = (
            self.status(),
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body,
        )
            .into_response();
        let header = match self {
            Self::MethodNotAllowed(_) => Some((header::ALLOW, "POST")),
            // The rest of the body may still be on its way: the connection
            // cannot carry another request.
            Self::BodyTimeout => Some((header::CONNECTION, "close")),
            _ => None,
        };
        if let Some((name, value)) = header {
            response
                .headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_cut_at_a_character_boundary() {
        let long = format!("{}é{}", "x".repeat(122), "y".repeat(200));
        assert_eq!(fit_reason(long), "x".repeat(122));
        let id = "é".repeat(100);
        let reason = fit_reason(EdgeError::SubscriberExists(id).to_string());
        assert!(reason.len() <= MAX_CLOSE_REASON && reason.starts_with("Subscriber for é"));
    }

    #[test]
    fn every_protocol_rule_has_its_close_code() {
        let code = |error: EdgeError| u16::from(error.close_code());
        assert_eq!(code(EdgeError::BadRequest("x".into())), 4400);
        assert_eq!(code(EdgeError::Unauthorized), 4401);
        assert_eq!(code(EdgeError::ForbiddenOrigin), 4403);
        assert_eq!(code(EdgeError::InitTimeout), 4408);
        assert_eq!(code(EdgeError::SubscriberExists("1".into())), 4409);
        assert_eq!(code(EdgeError::TooManyInitialisations), 4429);
        assert_eq!(code(EdgeError::Restarting), 1012);
        assert_eq!(code(EdgeError::PayloadTooLarge(16)), 1009);
        assert_eq!(u16::from(CloseCode::ProtocolError), 1002);
        assert_eq!(u16::from(CloseCode::InternalError), 1011);
    }
}
