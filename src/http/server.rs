//! The HTTP/1.1 server: accepts connections from the `LimitedListener`,
//! serves each with hyper (upgrades to WebSocket included), and closes the
//! ones too slow to be a client. A new connection has `header_read` to send
//! its first request's head; between requests a connection may stay idle for
//! `idle`, and from the first byte of the next request it again has
//! `header_read` for the head. Reading a body within `body_read` is the
//! handler's part (`http::graphql_post`). A peer that takes no byte of what
//! is sent to it for `write` is cut off (`write_deadline`); no other timer
//! runs while a response streams, so a subscription streamed over HTTP
//! lives as long as its client reads. Routing is `http::router`'s.

use super::write_deadline::WriteDeadline;
use crate::limits::connections::Peer;
use crate::limits::{LimitedListener, Timeouts};
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::rt::{Sleep, Timer};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Serves `router` on `listener` until `stop` is cancelled; then stops
/// accepting and waits for the requests in progress (not for upgraded
/// WebSockets, which end on the same signal themselves).
pub(crate) async fn serve(
    mut listener: LimitedListener,
    router: Router,
    timeouts: Timeouts,
    stop: CancellationToken,
) {
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        let clock = HeadClock::new(stream.bytes_read(), timeouts);
        let service =
            router
                .clone()
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(Peer(peer)));
                    request
                });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(clock)
            .header_read_timeout(timeouts.header_read)
            .serve_connection(
                TokioIo::new(WriteDeadline::new(stream, timeouts.write)),
                TowerToHyperService::new(service),
            )
            .with_upgrades();
        let stop = stop.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = stop.cancelled() => {
                    // Finish the request in progress, if any, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = ended {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// hyper's timer for one connection. hyper arms its head deadline whenever
/// it waits for a request: `header_read` from then. While the connection is
/// idle after a response (no byte read since the deadline was armed), the
/// deadline is `idle` instead; the first byte brings it back to
/// `header_read` from that byte.
#[derive(Clone)]
struct HeadClock {
    /// Bytes read from the connection, counted by its stream.
    read: Arc<AtomicU64>,
    /// Set once the first request's deadline is armed: the first request
    /// gets no idle allowance.
    started: Arc<AtomicBool>,
    timeouts: Timeouts,
}

impl HeadClock {
    fn new(read: Arc<AtomicU64>, timeouts: Timeouts) -> Self {
        Self {
            read,
            started: Arc::new(AtomicBool::new(false)),
            timeouts,
        }
    }
}

impl Timer for HeadClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(HeadDeadline::plain(self.now() + duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        if !self.started.swap(true, Ordering::Relaxed) {
            return Box::pin(HeadDeadline::plain(deadline));
        }
        let armed = deadline
            .checked_sub(self.timeouts.header_read)
            .unwrap_or_else(|| self.now());
        Box::pin(HeadDeadline {
            sleep: tokio::time::sleep_until((armed + self.timeouts.idle).into()),
            idle_since: Some(IdleSince {
                read: self.read.clone(),
                read_then: self.read.load(Ordering::Relaxed),
            }),
            header_read: self.timeouts.header_read,
        })
    }
}

pin_project_lite::pin_project! {
    /// One head deadline: idle until the connection reads a byte, if
    /// `idle_since` is set, then `header_read` from that byte. hyper boxes
    /// it; the sleep lives inside, so arming one costs one allocation.
    struct HeadDeadline {
        #[pin]
        sleep: tokio::time::Sleep,
        idle_since: Option<IdleSince>,
        header_read: Duration,
    }
}

/// The connection's byte count when its idle deadline was armed.
struct IdleSince {
    read: Arc<AtomicU64>,
    read_then: u64,
}

impl HeadDeadline {
    fn plain(deadline: Instant) -> Self {
        Self {
            sleep: tokio::time::sleep_until(deadline.into()),
            idle_since: None,
            header_read: Duration::ZERO,
        }
    }
}

impl Future for HeadDeadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        // hyper polls the deadline each time a read leaves the head
        // incomplete, so the first byte is seen as it arrives.
        let started = this
            .idle_since
            .as_ref()
            .is_some_and(|idle| idle.read.load(Ordering::Relaxed) != idle.read_then);
        if started {
            *this.idle_since = None;
            let deadline = tokio::time::Instant::now() + *this.header_read;
            this.sleep.as_mut().reset(deadline);
        }
        this.sleep.poll(cx)
    }
}

impl Sleep for HeadDeadline {}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        header_read: Duration::from_secs(5),
        body_read: Duration::from_secs(5),
        idle: Duration::from_secs(60),
        write: Duration::from_secs(5),
    };

    fn is_ready(deadline: &mut Pin<Box<dyn Sleep>>) -> bool {
        deadline
            .as_mut()
            .poll(&mut Context::from_waker(std::task::Waker::noop()))
            .is_ready()
    }

    fn arm(clock: &HeadClock) -> Pin<Box<dyn Sleep>> {
        clock.sleep_until(clock.now() + TIMEOUTS.header_read)
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_has_the_header_timeout_from_its_start() {
        let clock = HeadClock::new(Arc::new(AtomicU64::new(0)), TIMEOUTS);
        let mut deadline = arm(&clock);
        tokio::time::advance(Duration::from_millis(4_900)).await;
        assert!(!is_ready(&mut deadline));
        tokio::time::advance(Duration::from_millis(200)).await;
        assert!(is_ready(&mut deadline));
    }

    #[tokio::test(start_paused = true)]
    async fn between_requests_a_connection_may_be_idle_longer() {
        let read = Arc::new(AtomicU64::new(0));
        let clock = HeadClock::new(read.clone(), TIMEOUTS);
        drop(arm(&clock));
        read.fetch_add(100, Ordering::Relaxed);
        let mut idle = arm(&clock);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(!is_ready(&mut idle));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(is_ready(&mut idle));
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_byte_of_the_next_request_starts_its_header_timeout() {
        let read = Arc::new(AtomicU64::new(0));
        let clock = HeadClock::new(read.clone(), TIMEOUTS);
        drop(arm(&clock));
        let mut deadline = arm(&clock);
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(!is_ready(&mut deadline));
        read.fetch_add(1, Ordering::Relaxed);
        assert!(!is_ready(&mut deadline));
        tokio::time::advance(Duration::from_millis(4_900)).await;
        assert!(!is_ready(&mut deadline));
        tokio::time::advance(Duration::from_millis(200)).await;
        assert!(is_ready(&mut deadline));
    }
}
