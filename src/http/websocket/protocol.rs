//! The two GraphQL WebSocket subprotocols' messages, read borrowing from
//! the frame, and the server's frames. `graphql-transport-ws` follows
//! graphql-ws's PROTOCOL.md to the letter (else 4400); the legacy
//! `graphql-ws` keeps its `start`/`stop`, `data`, and 1002.

use super::super::error::EdgeError;
use crate::graphql::Request;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// The subprotocols served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `graphql-transport-ws`: graphql-ws and Apollo Client 3+.
    TransportWs,
    /// `graphql-ws`: the legacy subscriptions-transport-ws.
    Legacy,
}

impl Protocol {
    /// The protocol named `name` in `Sec-WebSocket-Protocol`.
    pub(crate) fn named(name: &str) -> Option<Self> {
        match name.trim() {
            name if name.eq_ignore_ascii_case("graphql-transport-ws") => Some(Self::TransportWs),
            name if name.eq_ignore_ascii_case("graphql-ws") => Some(Self::Legacy),
            _ => None,
        }
    }

    /// The name the upgrade answers with.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::TransportWs => "graphql-transport-ws",
            Self::Legacy => "graphql-ws",
        }
    }

    /// The type of a result message.
    pub(crate) fn next(self) -> &'static str {
        match self {
            Self::TransportWs => "next",
            Self::Legacy => "data",
        }
    }
}

/// A message from the client.
#[derive(Debug)]
pub(crate) enum ClientMessage<'a> {
    /// `connection_init`.
    Init,
    /// `ping`, with its payload to echo.
    Ping(Option<&'a RawValue>),
    /// `pong`.
    Pong,
    /// `subscribe` (legacy: `start`): run an operation under `id`.
    Subscribe {
        /// The operation's id.
        id: Cow<'a, str>,
        /// The request.
        request: Request<'a>,
    },
    /// `complete` (legacy: `stop`): stop the operation `id`.
    Complete {
        /// The operation's id.
        id: Cow<'a, str>,
    },
    /// Legacy `connection_terminate`: the client is leaving.
    Terminate,
}

/// Any message's fields.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

/// Reads one client message of `protocol`; `Err` closes the connection
/// (4400 for graphql-transport-ws, 1002 for the legacy protocol).
pub(crate) fn read(protocol: Protocol, text: &str) -> Result<ClientMessage<'_>, EdgeError> {
    let bad = |why: String| EdgeError::BadRequest(why);
    let envelope: Envelope<'_> = serde_json::from_str(text)
        .map_err(|error| bad(format!("Invalid message received: {error}")))?;
    let payload_is_object = || {
        envelope.payload.is_none_or(|payload| {
            matches!(
                payload.get().trim_start().as_bytes().first(),
                Some(b'{' | b'n')
            )
        })
    };
    let id = || match &envelope.id {
        Some(id) if !id.is_empty() => Ok(id.clone()),
        _ => Err(bad(format!("{} needs an id", envelope.kind))),
    };
    let strict = protocol == Protocol::TransportWs;
    match (envelope.kind.as_ref(), protocol) {
        ("connection_init", _) if !strict || payload_is_object() => Ok(ClientMessage::Init),
        ("ping", _) if !strict || payload_is_object() => Ok(ClientMessage::Ping(envelope.payload)),
        ("pong", _) if !strict || payload_is_object() => Ok(ClientMessage::Pong),
        ("subscribe", _) | ("start", Protocol::Legacy) => {
            let id = id()?;
            let payload = envelope
                .payload
                .ok_or_else(|| bad("subscribe needs a payload".into()))?;
            let request: Request<'_> = serde_json::from_str(payload.get())
                .map_err(|error| bad(format!("Invalid subscribe payload: {error}")))?;
            if strict && request.query.is_none() {
                return Err(bad("subscribe needs a payload with a query".into()));
            }
            Ok(ClientMessage::Subscribe { id, request })
        }
        ("complete", _) | ("stop", Protocol::Legacy) => Ok(ClientMessage::Complete { id: id()? }),
        ("connection_terminate", Protocol::Legacy) => Ok(ClientMessage::Terminate),
        (kind, _) => Err(bad(format!("Invalid message received: type \"{kind}\""))),
    }
}

/// `connection_ack`.
pub(crate) const ACK: &str = r#"{"type":"connection_ack"}"#;

/// The legacy protocol's answer to a second `connection_init`.
pub(crate) const TOO_MANY_INITIALISATIONS: &str =
    r#"{"type":"connection_error","payload":{"message":"Too many initialisation requests."}}"#;

/// `pong`, echoing a ping's payload.
pub(crate) fn pong(payload: Option<&RawValue>) -> String {
    match payload {
        Some(payload) => format!(r#"{{"type":"pong","payload":{}}}"#, payload.get()),
        None => r#"{"type":"pong"}"#.to_owned(),
    }
}

/// A message of type `kind` for operation `id_json` with `payload`, as
/// text at its exact length (the message takes it without copying).
pub(crate) fn message(kind: &str, id_json: &str, payload: &str) -> String {
    [
        r#"{"type":""#,
        kind,
        r#"","id":"#,
        id_json,
        r#","payload":"#,
        payload,
        "}",
    ]
    .concat()
}

/// `complete` for operation `id_json`.
pub(crate) fn complete(id_json: &str) -> String {
    format!(r#"{{"type":"complete","id":{id_json}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(protocol: Protocol, text: &str) -> bool {
        matches!(read(protocol, text), Err(EdgeError::BadRequest(_)))
    }

    #[test]
    fn transport_ws_refuses_every_message_its_protocol_does_not_specify() {
        use Protocol::TransportWs as P;
        for bad in [
            "not json",
            r#"{"id":"1"}"#,
            r#"{"type":"start","id":"1","payload":{"query":"{ __typename }"}}"#,
            r#"{"type":"next","id":"1","payload":{}}"#,
            r#"{"type":"connection_ack"}"#,
            r#"{"type":"connection_init","payload":5}"#,
            r#"{"type":"ping","payload":"x"}"#,
            r#"{"type":"subscribe","payload":{"query":"{ __typename }"}}"#,
            r#"{"type":"subscribe","id":"","payload":{"query":"{ __typename }"}}"#,
            r#"{"type":"subscribe","id":"1"}"#,
            r#"{"type":"subscribe","id":"1","payload":{"query":5}}"#,
            r#"{"type":"subscribe","id":"1","payload":{"variables":{}}}"#,
            r#"{"type":"complete"}"#,
            r#"{"type":"connection_terminate"}"#,
        ] {
            assert!(refused(P, bad), "{bad}");
        }
        assert!(matches!(
            read(P, r#"{"type":"connection_init"}"#),
            Ok(ClientMessage::Init)
        ));
        assert!(matches!(
            read(P, r#"{"type":"connection_init","payload":null}"#),
            Ok(ClientMessage::Init)
        ));
        assert!(matches!(
            read(P, r#"{"type":"ping","payload":{"a":1}}"#),
            Ok(ClientMessage::Ping(Some(_)))
        ));
        let subscribe =
            r#"{"type":"subscribe","id":"7","payload":{"query":"{ a }","variables":null}}"#;
        let Ok(ClientMessage::Subscribe { id, request }) = read(P, subscribe) else {
            panic!("not a subscribe");
        };
        assert_eq!(
            (id.as_ref(), request.query.map(|query| query.get())),
            ("7", Some(r#""{ a }""#))
        );
    }

    #[test]
    fn the_legacy_protocol_reads_its_own_messages() {
        use Protocol::Legacy as L;
        assert!(matches!(
            read(
                L,
                r#"{"type":"start","id":"1","payload":{"query":"{ a }"}}"#
            ),
            Ok(ClientMessage::Subscribe { .. })
        ));
        assert!(matches!(
            read(L, r#"{"type":"stop","id":"1"}"#),
            Ok(ClientMessage::Complete { .. })
        ));
        assert!(matches!(
            read(L, r#"{"type":"connection_terminate"}"#),
            Ok(ClientMessage::Terminate)
        ));
        assert!(refused(L, r#"{"type":"data","id":"1"}"#));
    }

    #[test]
    fn frames_are_the_protocols_json() {
        let next = message(Protocol::Legacy.next(), "\"a\"", "{}");
        assert_eq!(next, r#"{"type":"data","id":"a","payload":{}}"#);
        assert_eq!(next.capacity(), next.len());
        assert_eq!(
            message("error", "\"a\"", "[]"),
            r#"{"type":"error","id":"a","payload":[]}"#
        );
        assert_eq!(complete("\"a\""), r#"{"type":"complete","id":"a"}"#);
        assert_eq!(pong(None), r#"{"type":"pong"}"#);
    }
}
