//! How results are framed in a response that streams: graphql-sse's event
//! stream and Apollo's multipart subscriptions. Only bytes are written here.

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

    /// What opens the body: a comment (some browsers show a stream only
    /// once a byte came), or the first delimiter.
    pub(crate) fn open(self, out: &mut Vec<u8>) {
        match self {
            Self::EventStream => out.extend_from_slice(b":\n\n"),
            Self::Multipart => out.extend_from_slice(DELIMITER),
        }
    }

    /// One result, the response `write` appends: a `next` event (compact
    /// JSON fits one `data` line), or a part with its `payload`, ending
    /// with the next delimiter so it is read as it arrives.
    pub(crate) fn result(self, out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
        match self {
            Self::EventStream => {
                out.extend_from_slice(b"event: next\ndata: ");
                write(out);
                out.extend_from_slice(b"\n\n");
            }
            Self::Multipart => part(out, |out| {
                out.extend_from_slice(b"{\"payload\":");
                write(out);
                out.push(b'}');
            }),
        }
    }

    /// A keep-alive: an SSE comment, or an empty multipart part.
    pub(crate) fn keepalive(self, out: &mut Vec<u8>) {
        match self {
            Self::EventStream => out.extend_from_slice(b":\n\n"),
            Self::Multipart => part(out, |out| out.extend_from_slice(b"{}")),
        }
    }

    /// Why the stream ends early, `errors` a JSON array: a `next` result,
    /// or Apollo's transport error (`payload` null, the errors beside it).
    pub(crate) fn failed(self, out: &mut Vec<u8>, errors: &[u8]) {
        let head: &[u8] = match self {
            Self::EventStream => b"{\"errors\":",
            Self::Multipart => b"{\"payload\":null,\"errors\":",
        };
        let write = |out: &mut Vec<u8>| out.extend_from_slice(&[head, errors, b"}"].concat());
        match self {
            Self::EventStream => self.result(out, write),
            Self::Multipart => part(out, write),
        }
    }

    /// The end: a `complete` event, or the closing delimiter.
    pub(crate) fn close(self, out: &mut Vec<u8>) {
        match self {
            Self::EventStream => out.extend_from_slice(b"event: complete\ndata:\n\n"),
            Self::Multipart => out.extend_from_slice(b"--\r\n"),
        }
    }

    /// A whole body of one result.
    pub(crate) fn once(self, result: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(result.len() + 96);
        self.open(&mut out);
        self.result(&mut out, |out| out.extend_from_slice(result));
        self.close(&mut out);
        out
    }
}

/// A multipart part: its head, what `write` appends, the next delimiter.
fn part(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(PART_HEAD);
    write(out);
    out.extend_from_slice(DELIMITER);
}
