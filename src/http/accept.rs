//! What a client accepts, read once from its `Accept` header: the media
//! type to answer with, the streamed framing it takes, and which it prefers.

use super::error::EdgeError;
use super::stream::Framing;
use axum::http::{HeaderMap, header};

/// The media types served besides the streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaType {
    /// `application/graphql-response+json`: request errors answer 4xx.
    GraphQLResponse,
    /// `application/json`: every GraphQL response answers 200.
    Json,
    /// `text/html`: GraphiQL, for a browser that opens the endpoint.
    Html,
}

impl MediaType {
    /// The response's `Content-Type`.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::GraphQLResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
            Self::Html => "text/html; charset=utf-8",
        }
    }
}

/// What a client accepts.
#[derive(Debug, PartialEq)]
pub(crate) struct Accepts {
    /// The media type with the highest weight (`text/html` only when named,
    /// and only if GraphiQL is served); no header means `application/json`.
    pub(crate) media: Result<MediaType, EdgeError>,
    /// `text/event-stream`, or `multipart/mixed` with a `subscriptionSpec`
    /// (without one it names incremental delivery, not served here).
    pub(crate) framing: Option<Framing>,
    /// The framing weighs more than the media type, or none is accepted.
    prefers_stream: bool,
}

impl Accepts {
    /// Reads `headers`' `Accept`; `html` if GraphiQL may be answered.
    pub(crate) fn of(headers: &HeaderMap, html: bool) -> Self {
        let Some(accept) = headers.get(header::ACCEPT) else {
            return Self {
                media: Ok(MediaType::Json),
                framing: None,
                prefers_stream: false,
            };
        };
        let accept = accept.to_str().unwrap_or("application/json");
        let mut media: Option<(f32, u8, MediaType)> = None;
        let mut framing: Option<(f32, Framing)> = None;
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let is = |media: &str| name.eq_ignore_ascii_case(media);
            let (mut weight, mut subscription_spec) = (1.0, false);
            for param in parts {
                let (key, value) = param.split_once('=').unwrap_or((param, ""));
                if key.trim().eq_ignore_ascii_case("q") {
                    weight = value.trim().parse().unwrap_or(1.0);
                }
                subscription_spec |= key.trim().eq_ignore_ascii_case("subscriptionSpec");
            }
            if weight <= 0.0 {
                continue;
            }
            // Among equal weights: the spec's own type, then JSON, then HTML.
            let (rank, kind) = if is("application/graphql-response+json") {
                (3, MediaType::GraphQLResponse)
            } else if is("application/json") || is("application/*") || is("*/*") {
                (2, MediaType::Json)
            } else if html && is("text/html") {
                (1, MediaType::Html)
            } else {
                let kind = if is("text/event-stream") {
                    Framing::EventStream
                } else if is("multipart/mixed") && subscription_spec {
                    Framing::Multipart
                } else {
                    continue;
                };
                if framing.is_none_or(|(w, _)| weight > w) {
                    framing = Some((weight, kind));
                }
                continue;
            };
            if media.is_none_or(|(w, r, _)| (weight, rank) > (w, r)) {
                media = Some((weight, rank, kind));
            }
        }
        Self {
            prefers_stream: framing.is_some_and(|(w, _)| media.is_none_or(|(m, _, _)| w > m)),
            media: media
                .map(|(_, _, kind)| kind)
                .ok_or(EdgeError::NotAcceptable),
            framing: framing.map(|(_, framing)| framing),
        }
    }

    /// The framing for a single result, if preferred.
    pub(crate) fn stream(&self) -> Option<Framing> {
        self.framing.filter(|_| self.prefers_stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(accept: &str, html: bool) -> Accepts {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, accept.parse().unwrap());
        Accepts::of(&headers, html)
    }

    #[test]
    fn the_accepted_media_type_with_the_highest_weight_is_served() {
        use MediaType::*;
        // No header is read as `application/json`, without parsing one.
        let none = Accepts::of(&HeaderMap::new(), true);
        assert_eq!(none, accepting("application/json", true));
        assert_eq!(none.media, Ok(Json));
        let media = |accept, html| accepting(accept, html).media;
        assert_eq!(media("application/json", true), Ok(Json));
        assert_eq!(
            media("application/graphql-response+json", true),
            Ok(GraphQLResponse)
        );
        assert_eq!(media("*/*", true), Ok(Json));
        // Apollo Client's header.
        let apollo = "application/graphql-response+json,application/json;q=0.9";
        assert_eq!(media(apollo, false), Ok(GraphQLResponse));
        let json_first = "application/json, application/graphql-response+json;q=0.5";
        assert_eq!(media(json_first, false), Ok(Json));
        // A browser opening the endpoint.
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(media(browser, true), Ok(Html));
        assert_eq!(media(browser, false), Ok(Json));
        assert_eq!(media("text/plain", true), Err(EdgeError::NotAcceptable));
        assert_eq!(
            media("application/json;q=0", true),
            Err(EdgeError::NotAcceptable)
        );
    }

    #[test]
    fn the_accept_header_names_the_framing_and_whether_it_is_preferred() {
        use Framing::*;
        let framing = |accept| {
            let accepts = accepting(accept, false);
            (accepts.framing, accepts.stream())
        };
        assert_eq!(
            framing("text/event-stream"),
            (Some(EventStream), Some(EventStream))
        );
        // Apollo Client 4's HttpLink, for a subscription.
        let apollo = "multipart/mixed;boundary=graphql;subscriptionSpec=1.0,\
                      application/graphql-response+json,application/json;q=0.9";
        assert_eq!(framing(apollo), (Some(Multipart), None));
        let quoted = "multipart/mixed; boundary=\"-\"; subscriptionSpec=\"1.0\"";
        assert_eq!(framing(quoted), (Some(Multipart), Some(Multipart)));
        let json_first = "application/json, text/event-stream;q=0.5";
        assert_eq!(framing(json_first), (Some(EventStream), None));
        // Incremental delivery (@defer) is not a subscription framing.
        assert_eq!(framing("multipart/mixed;deferSpec=20220824"), (None, None));
        assert_eq!(framing("text/event-stream;q=0"), (None, None));
        assert_eq!(framing("application/json"), (None, None));
    }
}
