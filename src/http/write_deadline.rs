//! A deadline on a connection's writes: a peer that takes no byte for
//! `limit` fails the write (`TimedOut`), so a client that stops reading
//! cannot hold its connection, and what was queued for it, forever. Reads
//! pass untouched; flushes are told to the connection's `Handoff`.

use super::handoff::Handoff;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `inner`, whose writes fail once the peer has taken nothing for `limit`.
pub(crate) struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    /// When a waiting write gives up; made at the first wait.
    waiting: Option<Pin<Box<Sleep>>>,
    /// Whether `waiting` is armed for the current wait.
    armed: bool,
    /// The connection's hand-over, while hyper serves it.
    handoff: Option<Arc<Handoff>>,
}

impl<S> WriteDeadline<S> {
    /// `inner`, its writes given up after `limit` without progress.
    pub(crate) fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            waiting: None,
            armed: false,
            handoff: None,
        }
    }

    /// Tells `handoff` of every flush from now on (`None`: no more).
    pub(super) fn watch(&mut self, handoff: Option<Arc<Handoff>>) {
        self.handoff = handoff;
    }

    /// The connection it wraps.
    pub(crate) fn get_ref(&self) -> &S {
        &self.inner
    }

    /// `polled`, a write's result: progress disarms the deadline; waiting
    /// arms it, or fails once it has passed.
    fn deadline<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.armed = false;
            return polled;
        }
        let deadline = Instant::now() + self.limit;
        let sleep = self
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.armed {
            sleep.as_mut().reset(deadline);
            self.armed = true;
        }
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the peer took nothing of what was sent in time",
        )))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.deadline(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.deadline(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        if let (Poll::Ready(Ok(())), Some(handoff)) = (&polled, &self.handoff) {
            handoff.flushed();
        }
        self.deadline(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.deadline(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const LIMIT: Duration = Duration::from_secs(5);

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_takes_nothing_for_the_limit_fails_the_write() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut ours = WriteDeadline::new(ours, LIMIT);
        ours.write_all(&[0; 64]).await.unwrap();
        let started = Instant::now();
        let error = ours.write_all(&[0; 64]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), LIMIT);
        // What was taken before still reads.
        let mut taken = [0; 64];
        theirs.read_exact(&mut taken).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_peer_that_keeps_taking_bytes_is_kept() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut ours = WriteDeadline::new(ours, LIMIT);
        let reader = tokio::spawn(async move {
            let mut byte = [0; 16];
            let mut total = 0;
            while total < 640 {
                tokio::time::sleep(LIMIT / 2).await;
                total += theirs.read(&mut byte).await.unwrap();
            }
        });
        // Ten times the buffer, each part taken within the limit of the last.
        ours.write_all(&[0; 640]).await.unwrap();
        reader.await.unwrap();
    }
}
