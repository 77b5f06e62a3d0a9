//! A response streamed over HTTP/1.1 leaves hyper once its head is out:
//! the server writes the rest of the chunked body itself (`finish`), so an
//! idle subscriber keeps no parser, buffers (8 KiB each) or request state.
//! Once the stream ends, hyper serves the connection again.

use axum::body::{Body, Bytes};
use futures_util::stream::{BoxStream, Stream, StreamExt};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// A streamed body once it has left hyper.
pub(super) type Handed = BoxStream<'static, Result<Bytes, Infallible>>;

tokio::task_local! {
    /// The connection whose task is polling: set by the server around
    /// hyper's connection, read by a streamed body when hyper first polls it.
    pub(super) static CONNECTION: Arc<Handoff>;
}

/// `Handoff::state`: with hyper (0), handed over, and written up to it.
const HANDED: u8 = 1;
const HEAD_WRITTEN: u8 = 2;

/// One connection's hand-over, shared by its task, bodies and socket.
#[derive(Default)]
pub(super) struct Handoff {
    /// Whether the request's body may leave hyper: HTTP/1.1 (chunked), not
    /// `HEAD`.
    eligible: AtomicBool,
    /// Whether the connection may carry another request after it.
    keep_alive: AtomicBool,
    state: AtomicU8,
    body: Mutex<Option<Handed>>,
}

impl Handoff {
    /// Notes what `request`, the connection's next, allows.
    pub(super) fn admit<B>(&self, request: &axum::http::Request<B>) {
        let eligible = request.version() == axum::http::Version::HTTP_11
            && request.method() != axum::http::Method::HEAD;
        let close = request
            .headers()
            .get(axum::http::header::CONNECTION)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .split(',')
                    .any(|token| token.trim().eq_ignore_ascii_case("close"))
            });
        self.eligible.store(eligible, Ordering::Relaxed);
        self.keep_alive.store(!close, Ordering::Relaxed);
    }

    /// Takes `body` from hyper, if the request allows it.
    fn hand(&self, body: Handed) -> Result<(), Handed> {
        if !self.eligible.load(Ordering::Relaxed) {
            return Err(body);
        }
        *self.body() = Some(body);
        self.state.store(HANDED, Ordering::Relaxed);
        Ok(())
    }

    /// The body handed over, once hyper has written everything before it;
    /// and whether the connection may carry another request after it.
    pub(super) fn take(&self) -> Option<(Handed, bool)> {
        if self.state.load(Ordering::Relaxed) != HEAD_WRITTEN {
            return None;
        }
        let body = self.body().take()?;
        Some((body, self.keep_alive.load(Ordering::Relaxed)))
    }

    fn body(&self) -> std::sync::MutexGuard<'_, Option<Handed>> {
        self.body
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// hyper flushed the socket, which it does only once its buffer is
    /// empty: everything before a body handed over is written.
    pub(super) fn flushed(&self) {
        let _ = (self.state).compare_exchange(
            HANDED,
            HEAD_WRITTEN,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
}

/// A body of `stream`'s chunks that leaves hyper when the connection allows
/// (`CONNECTION`); its bytes go out as they are (no layer may compress it).
pub(super) fn body<S>(stream: S) -> Body
where
    S: Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
{
    Body::from_stream(Leaving {
        stream: Some(stream.boxed()),
        asked: false,
    })
}

/// A body that hands its stream over when hyper first polls it.
struct Leaving {
    /// `None` once handed over.
    stream: Option<Handed>,
    /// Whether it asked its connection to take it.
    asked: bool,
}

impl Stream for Leaving {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.asked {
            self.asked = true;
            if let (Ok(connection), Some(stream)) =
                (CONNECTION.try_with(Arc::clone), self.stream.take())
            {
                match connection.hand(stream) {
                    Ok(()) => return Poll::Pending,
                    Err(stream) => self.stream = Some(stream),
                }
            }
        }
        match self.stream.as_mut() {
            Some(stream) => stream.poll_next_unpin(cx),
            None => Poll::Pending,
        }
    }
}

/// How a stream written by `finish` ended.
#[derive(Debug, PartialEq)]
pub(super) enum Finished {
    /// The body ended; whether the client sent anything meanwhile (then
    /// the connection closes).
    Ended { heard: bool },
    /// The client left, or the socket failed.
    Gone,
}

/// Writes `body` to `io` as the rest of a chunked body, one chunk per item;
/// it reads only to learn that the client left, which ends the stream.
pub(super) async fn finish<S>(io: &mut S, mut body: Handed) -> Finished
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut heard = false;
    loop {
        let next = std::future::poll_fn(|cx| {
            if client_left(io, cx, &mut heard) {
                return Poll::Ready(None);
            }
            body.poll_next_unpin(cx).map(Some)
        })
        .await;
        let written = match next {
            None => return Finished::Gone,
            Some(Some(Ok(bytes))) => {
                let size = format!("{:x}\r\n", bytes.len());
                let chunk = [size.as_bytes(), &bytes, b"\r\n"].concat();
                io.write_all(&chunk).await
            }
            Some(None) => {
                let last = io.write_all(b"0\r\n\r\n").await;
                return match last.and(io.flush().await) {
                    Ok(()) => Finished::Ended { heard },
                    Err(_) => Finished::Gone,
                };
            }
        };
        if written.and(io.flush().await).is_err() {
            return Finished::Gone;
        }
    }
}

/// Whether the client closed its side (or the socket failed); bytes it
/// sends are dropped and noted in `heard`.
fn client_left<S: AsyncRead + Unpin>(io: &mut S, cx: &mut Context<'_>, heard: &mut bool) -> bool {
    let mut scratch = [0u8; 256];
    // Bounded, so that a client sending without end cannot hold the thread.
    for _ in 0..16 {
        let mut buf = ReadBuf::new(&mut scratch);
        match Pin::new(&mut *io).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => return true,
            Poll::Ready(Ok(())) => *heard = true,
            Poll::Ready(Err(_)) => return true,
            Poll::Pending => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::write_deadline::WriteDeadline;

    fn chunks(items: &[&'static str]) -> Handed {
        let items: Vec<_> = items
            .iter()
            .map(|item| Ok(Bytes::from_static(item.as_bytes())))
            .collect();
        futures_util::stream::iter(items).boxed()
    }

    #[tokio::test]
    async fn a_client_that_leaves_ends_the_stream() {
        let (mut ours, theirs) = tokio::io::duplex(1024);
        drop(theirs);
        let never = futures_util::stream::pending().boxed();
        assert_eq!(finish(&mut ours, never).await, Finished::Gone);
    }

    #[tokio::test]
    async fn bytes_the_client_sends_meanwhile_are_noted() {
        let (mut ours, mut theirs) = tokio::io::duplex(1024);
        theirs.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert_eq!(
            finish(&mut ours, chunks(&[])).await,
            Finished::Ended { heard: true }
        );
    }

    #[test]
    fn a_body_is_taken_only_once_hyper_flushed_after_handing_it() {
        let handoff = Arc::new(Handoff::default());
        let request = axum::http::Request::post("/").body(()).unwrap();
        handoff.admit(&request);
        let (socket, _) = tokio::io::duplex(64);
        let mut socket = WriteDeadline::new(socket, std::time::Duration::from_secs(5));
        socket.watch(Some(handoff.clone()));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(Pin::new(&mut socket).poll_flush(&mut cx).is_ready());
        assert!(handoff.hand(chunks(&[])).is_ok());
        assert!(handoff.take().is_none(), "taken before hyper flushed");
        assert!(Pin::new(&mut socket).poll_flush(&mut cx).is_ready());
        let (_, keep_alive) = handoff.take().expect("taken once flushed");
        assert!(keep_alive);
    }

    #[test]
    fn http_1_0_and_head_requests_stay_with_hyper_and_close_ends_keep_alive() {
        let handoff = Handoff::default();
        let mut old = axum::http::Request::post("/").body(()).unwrap();
        *old.version_mut() = axum::http::Version::HTTP_10;
        handoff.admit(&old);
        assert!(handoff.hand(chunks(&[])).is_err());
        handoff.admit(&axum::http::Request::head("/").body(()).unwrap());
        assert!(handoff.hand(chunks(&[])).is_err());
        let closing = axum::http::Request::post("/")
            .header("connection", "keep-alive, Close")
            .body(())
            .unwrap();
        handoff.admit(&closing);
        assert!(handoff.hand(chunks(&[])).is_ok());
        assert!(!handoff.keep_alive.load(Ordering::Relaxed));
    }
}
