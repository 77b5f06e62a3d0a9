//! How results are framed in a response that streams: graphql-sse's event
//! stream (distinct connections mode) and Apollo's multipart subscriptions,
//! which the `Accept` header chooses between (`http::accept`). Only bytes
//! are written here.

/// A streamed response's framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// graphql-sse, distinct connections mode: `text/event-stream`, each
    /// result a `next` event, the end a `complete` event.
    EventStream,
    /// Apollo's multipart subscriptions: `multipart/mixed`, each result a
    /// part holding `{"payload":…}`, heartbeats `{}`.
    Multipart,
}

/// The multipart body's delimiter line: `--` and the boundary, `-`.
const DELIMITER: &[u8] = b"\r\n---";

/// A multipart part's head.
const PART_HEAD: &[u8] = b"\r\nContent-Type: application/json; charset=utf-8\r\n\r\n";

impl Framing {
    /// The response's `Content-Type`.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::EventStream => "text/event-stream; charset=utf-8",
            Self::Multipart => "multipart/mixed; boundary=\"-\"; subscriptionSpec=\"1.0\"",
        }
    }

    /// What opens the body: a comment, as some browsers show a stream
    /// only once a byte of its body came; the first multipart delimiter.
    pub(crate) fn open(self, out: &mut Vec<u8>) {
        match self {
            Self::EventStream => out.extend_from_slice(b":\n\n"),
            Self::Multipart => out.extend_from_slice(DELIMITER),
        }
    }

    /// One result, the GraphQL response `write` appends: a `next` event
    /// (compact JSON has no line break, so one `data` line holds it), or a
    /// part with its `payload`. A part ends with the next delimiter, so a
    /// client reads it as it arrives rather than with the one after.
    pub(crate) fn result(self, out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
        match self {
            Self::EventStream => {
                out.extend_from_slice(b"event: next\ndata: ");
                write(out);
                out.extend_from_slice(b"\n\n");
            }
            Self::Multipart => {
                out.extend_from_slice(PART_HEAD);
                out.extend_from_slice(b"{\"payload\":");
                write(out);
                out.push(b'}');
                out.extend_from_slice(DELIMITER);
            }
        }
    }

    /// A keep-alive: an SSE comment, or an empty multipart part.
    pub(crate) fn keepalive(self, out: &mut Vec<u8>) {
        match self {
            Self::EventStream => out.extend_from_slice(b":\n\n"),
            Self::Multipart => {
                out.extend_from_slice(PART_HEAD);
                out.extend_from_slice(b"{}");
                out.extend_from_slice(DELIMITER);
            }
        }
    }

    /// Why the stream ends early, `errors` a JSON array: a `next` result
    /// of those errors, or Apollo's transport error, `payload` null with
    /// the errors beside it.
    pub(crate) fn failed(self, out: &mut Vec<u8>, errors: &[u8]) {
        let write = |out: &mut Vec<u8>| {
            out.extend_from_slice(b"{\"errors\":");
            out.extend_from_slice(errors);
            out.push(b'}');
        };
        match self {
            Self::EventStream => self.result(out, write),
            Self::Multipart => {
                out.extend_from_slice(PART_HEAD);
                out.extend_from_slice(b"{\"payload\":null,\"errors\":");
                out.extend_from_slice(errors);
                out.push(b'}');
                out.extend_from_slice(DELIMITER);
            }
        }
    }

    /// The end: a `complete` event, or the closing delimiter (what follows
    /// the last part's delimiter).
    pub(crate) fn close(self, out: &mut Vec<u8>) {
        match self {
            Self::EventStream => out.extend_from_slice(b"event: complete\ndata:\n\n"),
            Self::Multipart => out.extend_from_slice(b"--\r\n"),
        }
    }

    /// A whole body of one result: a query's or mutation's, or a request
    /// error.
    pub(crate) fn once(self, result: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(result.len() + 96);
        self.open(&mut out);
        self.result(&mut out, |out| out.extend_from_slice(result));
        self.close(&mut out);
        out
    }
}
