//! `likeAdded` events written without the general executor. Every open
//! page holds one subscription per talk and every talk's count moves every
//! second, so for a document of exactly the front end's shape each event's
//! JSON is written straight from the event: no resolver futures, no
//! `Value` tree. The WebSocket connection frames it (`http::websocket`).
//!
//! The shape: one subscription (anonymous, or the document's only named
//! one), no fragments and no directives, and `likeAdded(sessionId: …)` with
//! an integer literal or a single variable `$v: Int!`, selecting any of
//! `sessionId`, `likes`, `total`, `publishedAt` and `__typename`, each at
//! most once and without aliases or arguments. Anything else, and a talk
//! the catalogue lacks or a variable async-graphql would have to coerce or
//! reject, goes through async-graphql, which reports every error.

use super::{only_field, only_operation, plain, required_variable, runs, selected};
use crate::graphql::LikeEvent;
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Name, Value, Variables};

/// The subscription field this path answers.
const FIELD: &str = "likeAdded";

/// How to write one document's events, worked out once per document.
#[derive(Debug)]
pub struct DirectLikeAdded {
    /// The operation's name, when the document names it.
    operation: Option<String>,
    /// Where the talk's id comes from.
    talk: TalkArgument,
    /// The event's fields, in the document's order.
    event: Vec<(Name, EventField)>,
}

#[derive(Debug)]
enum TalkArgument {
    Literal(i32),
    Variable(Name),
}

#[derive(Debug, Clone, Copy)]
enum EventField {
    SessionId,
    Likes,
    Total,
    PublishedAt,
    Typename,
}

impl DirectLikeAdded {
    /// The plan for `document`, if it has the shape this path answers.
    pub fn of(document: &ExecutableDocument) -> Option<Self> {
        let (operation, definition) = only_operation(document)?;
        let (field, argument, value) = only_field(definition, OperationType::Subscription)?;
        let field = &field.node;
        if !plain(field, FIELD) || argument != "sessionId" {
            return None;
        }
        let talk = match (
            definition.variable_definitions.as_slice(),
            value.strip_prefix('$'),
        ) {
            ([], None) => TalkArgument::Literal(value.parse().ok()?),
            ([declared], Some(used))
                if required_variable(&declared.node, "Int")
                    && declared.node.name.node.as_str() == used =>
            {
                TalkArgument::Variable(declared.node.name.node.clone())
            }
            _ => return None,
        };
        let event = selected(&field.selection_set.node, |name, field| {
            if !field.selection_set.node.items.is_empty() {
                return None;
            }
            match name {
                "sessionId" => Some(EventField::SessionId),
                "likes" => Some(EventField::Likes),
                "total" => Some(EventField::Total),
                "publishedAt" => Some(EventField::PublishedAt),
                "__typename" => Some(EventField::Typename),
                _ => None,
            }
        })?;
        Some(Self {
            operation,
            talk,
            event,
        })
    }

    /// The talk a request with these operation name and variables
    /// subscribes to; `None` when async-graphql must run it (another
    /// operation name, or a variable that is missing or not an `Int`).
    pub fn session_id(&self, operation: Option<&str>, variables: &Variables) -> Option<i32> {
        if !runs(self.operation.as_deref(), operation) {
            return None;
        }
        match &self.talk {
            TalkArgument::Literal(id) => Some(*id),
            TalkArgument::Variable(name) => match variables.get(name)? {
                Value::Number(number) => i32::try_from(number.as_i64()?).ok(),
                _ => None,
            },
        }
    }

    /// Appends the event's response, as async-graphql would serialise it:
    /// `{"data":{"likeAdded":{…}}}`.
    pub fn write_response(&self, event: &LikeEvent, out: &mut String) {
        let mut number = itoa::Buffer::new();
        out.push_str("{\"data\":{\"likeAdded\":{");
        for (index, (name, field)) in self.event.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            // GraphQL names need no escaping in JSON, and neither does an
            // RFC 3339 time.
            out.push('"');
            out.push_str(name);
            out.push_str("\":");
            match field {
                EventField::SessionId => out.push_str(number.format(event.session_id)),
                EventField::Likes => out.push_str(number.format(event.likes)),
                EventField::Total => out.push_str(number.format(event.total)),
                EventField::PublishedAt => {
                    out.push('"');
                    out.push_str(event.published.as_str());
                    out.push('"');
                }
                EventField::Typename => out.push_str("\"LikeEvent\""),
            }
        }
        out.push_str("}}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::direct::tests::Replica;
    use crate::graphql::{ClientAddress, Endpoint, Started};
    use crate::model::TalkId;
    use async_graphql::Request;
    use async_graphql::parser::parse_query;
    use futures_util::StreamExt;
    use serde_json::json;
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    /// What the load benchmarks subscribe with.
    const BENCH: &str = "subscription($s:Int!){likeAdded(sessionId:$s){likes total publishedAt}}";
    /// The front end's subscription (`web/src/live.js`).
    const PAGE: &str = "subscription($sessionId: Int!) {
  likeAdded(sessionId: $sessionId) { sessionId likes total }
}";
    const LITERAL: &str = "subscription Live { likeAdded(sessionId: 2) { __typename total sessionId publishedAt likes } }";

    const ADDRESS: ClientAddress = ClientAddress(IpAddr::V4(Ipv4Addr::LOCALHOST));

    fn plan(document: &str) -> Option<DirectLikeAdded> {
        DirectLikeAdded::of(&parse_query(document).expect("parses"))
    }

    fn variables(value: serde_json::Value) -> Variables {
        Variables::from_json(value)
    }

    #[test]
    fn the_plain_subscriptions_are_written_directly() {
        for document in [BENCH, PAGE, LITERAL] {
            assert!(plan(document).is_some(), "{document}");
        }
    }

    #[test]
    fn any_other_document_is_left_to_async_graphql() {
        for document in [
            "subscription { likeAdded(sessionId: 1) { n: likes } }",
            "subscription { added: likeAdded(sessionId: 1) { likes } }",
            "subscription { likeAdded(sessionId: 1) { likes likes } }",
            "subscription { likeAdded(sessionId: 1) { likes @skip(if: true) } }",
            "subscription { likeAdded(sessionId: 1) @skip(if: false) { likes } }",
            "subscription @x { likeAdded(sessionId: 1) { likes } }",
            "subscription { likeAdded(sessionId: 1) { ...F } } fragment F on LikeEvent { likes }",
            "subscription { likeAdded(sessionId: 1) { likes nope } }",
            "subscription { likeAdded(sessionId: \"1\") { likes } }",
            "subscription { likeAdded(sessionId: 1.5) { likes } }",
            "subscription { likeAdded(sessionId: 99999999999) { likes } }",
            "subscription { likeAdded(sessionId: 1, x: 2) { likes } }",
            "subscription($s: Int) { likeAdded(sessionId: $s) { likes } }",
            "subscription($s: Int! = 1) { likeAdded(sessionId: $s) { likes } }",
            "subscription($s: String!) { likeAdded(sessionId: $s) { likes } }",
            "subscription($s: Int!, $t: Int!) { likeAdded(sessionId: $s) { likes } }",
            "subscription($s: Int!) { likeAdded(sessionId: 1) { likes } }",
            "subscription($s: Int!) { likeAdded(sessionId: $t) { likes } }",
            "subscription A { likeAdded(sessionId: 1) { likes } } subscription B { likeAdded(sessionId: 2) { likes } }",
            "mutation { likeAdded(sessionId: 1) { likes } }",
            "{ sessions { id } }",
        ] {
            assert!(plan(document).is_none(), "{document}");
        }
    }

    #[test]
    fn the_talk_comes_from_the_literal_or_an_int_variable() {
        let literal = plan(LITERAL).unwrap();
        assert_eq!(literal.session_id(None, &variables(json!({}))), Some(2));
        assert_eq!(
            literal.session_id(Some("Live"), &variables(json!({}))),
            Some(2)
        );
        assert_eq!(
            literal.session_id(Some("Other"), &variables(json!({}))),
            None
        );
        let page = plan(PAGE).unwrap();
        assert_eq!(
            page.session_id(None, &variables(json!({"sessionId": 3}))),
            Some(3)
        );
        assert_eq!(
            page.session_id(Some("Live"), &variables(json!({"sessionId": 3}))),
            None
        );
        for coerced_or_rejected in [
            json!({}),
            json!({"sessionId": null}),
            json!({"sessionId": "3"}),
            json!({"sessionId": 3.5}),
            json!({"sessionId": 1u64 << 40}),
            json!({"other": 3}),
        ] {
            let variables = variables(coerced_or_rejected.clone());
            assert_eq!(
                page.session_id(None, &variables),
                None,
                "{coerced_or_rejected}"
            );
        }
    }

    /// The next item of `stream`, within five seconds.
    async fn next<S: futures_util::Stream + Unpin>(stream: &mut S) -> S::Item {
        tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("an event in time")
            .expect("the stream goes on")
    }

    #[tokio::test]
    async fn direct_events_are_the_ones_async_graphql_sends() {
        let replica = Replica::start().await;
        let endpoint = Endpoint::new(replica.services.clone(), false, 8);
        let listener = &replica.services.listener;
        let cases = [
            (BENCH, json!({"s": 1}), None, 1),
            (PAGE, json!({"sessionId": 2}), None, 2),
            (LITERAL, json!({}), Some("Live"), 2),
        ];
        for (document, variables, operation, talk) in cases {
            let ask = || {
                let mut request =
                    Request::new(document).variables(Variables::from_json(variables.clone()));
                request.operation_name = operation.map(str::to_owned);
                request
            };
            if listener.total(TalkId(talk)).is_none() {
                listener.publish(TalkId(talk), 0);
            }
            let before = listener.total(TalkId(talk)).unwrap();
            let started = endpoint.start_direct(&mut ask(), ADDRESS);
            let Some(Started::Subscribed(mut direct)) = started else {
                panic!("not started directly: {document}");
            };
            let mut general = endpoint.schema().execute_stream(ask());
            // Polled once, async-graphql runs the resolver, which subscribes.
            assert!(futures_util::poll!(general.next()).is_pending());
            for total in [before + 3, before + 10] {
                listener.publish(TalkId(talk), total);
                let mut written = String::new();
                direct
                    .plan
                    .write_response(&next(&mut direct.events).await, &mut written);
                let sent = serde_json::to_string(&next(&mut general).await).unwrap();
                assert_eq!(written, sent, "{document}");
            }
        }
    }

    #[tokio::test]
    async fn a_talk_the_catalogue_lacks_is_left_to_async_graphql() {
        let replica = Replica::start().await;
        let endpoint = Endpoint::new(replica.services.clone(), false, 8);
        let mut request = Request::new(PAGE).variables(variables(json!({"sessionId": 404})));
        assert!(endpoint.start_direct(&mut request, ADDRESS).is_none());
        let mut request = Request::new(PAGE).variables(variables(json!({"sessionId": 1})));
        let started = endpoint.start_direct(&mut request, ADDRESS);
        assert!(matches!(started, Some(Started::Subscribed(_))));
    }
}
