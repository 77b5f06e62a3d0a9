//! The HTTP/1.1 server: serves each connection from the `LimitedListener`
//! with hyper, and cuts off the too slow: a request's head must come within
//! `header_read` (of its first byte; a connection may idle `idle` between
//! requests), and a peer must take what is sent within `write`
//! (`write_deadline`). A streamed response leaves hyper (`handoff`).

use super::handoff::{self, Handoff};
use super::routes::Routes;
use super::write_deadline::WriteDeadline;
use crate::limits::connections::{CountedStream, Peer};
use crate::limits::{LimitedListener, Timeouts};
use hyper::rt::{Sleep, Timer};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Serves `routes` on `listener` until `stop` is cancelled, then waits for
/// the requests in progress (WebSockets end on the same signal themselves).
pub(crate) async fn serve(
    mut listener: LimitedListener,
    routes: Routes,
    timeouts: Timeouts,
    stop: CancellationToken,
) {
    let server = Arc::new(Server {
        routes,
        timeouts,
        stop,
        connections: TaskTracker::new(),
    });
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = server.stop.cancelled() => break,
        };
        let socket = WriteDeadline::new(stream, timeouts.write);
        let served = serve_connection(server.clone(), socket, peer, false);
        server.connections.spawn(served);
    }
    drop(listener);
    server.connections.close();
    server.connections.wait().await;
}

/// What every connection is served with.
struct Server {
    routes: Routes,
    timeouts: Timeouts,
    stop: CancellationToken,
    connections: TaskTracker,
}

/// A connection's socket.
type Socket = WriteDeadline<CountedStream>;

/// Serves one connection with hyper, `after_response` if it has answered a
/// request already; a body handed off is streamed by a task of its own.
async fn serve_connection(
    server: Arc<Server>,
    mut socket: Socket,
    peer: std::net::SocketAddr,
    after_response: bool,
) {
    let handoff = Arc::new(Handoff::default());
    let clock = HeadClock::new(
        socket.get_ref().bytes_read(),
        server.timeouts,
        after_response,
    );
    socket.watch(Some(handoff.clone()));
    let service = server.routes.connection(Peer(peer), handoff.clone());
    let mut connection = hyper::server::conn::http1::Builder::new()
        .timer(clock)
        .header_read_timeout(server.timeouts.header_read)
        .serve_connection(TokioIo::new(socket), service)
        .with_upgrades();
    let mut stopping = std::pin::pin!(server.stop.cancelled());
    let mut shutting_down = false;
    let served = std::future::poll_fn(|cx| {
        if !shutting_down && stopping.as_mut().poll(cx).is_ready() {
            // Finish the request in progress, if any, then close.
            shutting_down = true;
            Pin::new(&mut connection).graceful_shutdown();
        }
        if let Poll::Ready(ended) = Pin::new(&mut connection).poll(cx) {
            return Poll::Ready(Err(ended));
        }
        match handoff.take() {
            Some(handed) => Poll::Ready(Ok(handed)),
            None => Poll::Pending,
        }
    });
    match handoff::CONNECTION.scope(handoff.clone(), served).await {
        Err(Ok(())) => {}
        Err(Err(error)) => tracing::debug!(%peer, %error, "connection ended with an error"),
        Ok((body, keep_alive)) => {
            let Some(parts) = connection.into_parts() else {
                return;
            };
            let keep_alive = keep_alive && parts.read_buf.is_empty();
            let mut socket = parts.io.into_inner();
            socket.watch(None);
            let streamed = stream_then_serve(server.clone(), socket, peer, body, keep_alive);
            server.connections.spawn(streamed);
        }
    }
}

/// Writes the rest of a body that left hyper, then serves the connection
/// again if it may. Boxed: it and `serve_connection` start each other.
fn stream_then_serve(
    server: Arc<Server>,
    mut socket: Socket,
    peer: std::net::SocketAddr,
    body: handoff::Handed,
    keep_alive: bool,
) -> futures_util::future::BoxFuture<'static, ()> {
    Box::pin(async move {
        match handoff::finish(&mut socket, body).await {
            handoff::Finished::Ended { heard: false } if keep_alive => {
                let served = serve_connection(server.clone(), socket, peer, true);
                server.connections.spawn(served);
            }
            handoff::Finished::Ended { .. } => {
                let _ = tokio::time::timeout(server.timeouts.write, socket.shutdown()).await;
            }
            handoff::Finished::Gone => {}
        }
    })
}

/// hyper's timer for one connection: the head deadline hyper arms is `idle`
/// while no byte was read after a response, then `header_read` from the
/// first byte.
#[derive(Clone)]
struct HeadClock {
    /// Bytes read from the connection, counted by its stream.
    read: Arc<AtomicU64>,
    /// Set once the first request's deadline is armed (it has no idle).
    started: Arc<AtomicBool>,
    timeouts: Timeouts,
}

impl HeadClock {
    /// A connection's clock; `after_response` if it answered a request.
    fn new(read: Arc<AtomicU64>, timeouts: Timeouts, after_response: bool) -> Self {
        Self {
            read,
            started: Arc::new(AtomicBool::new(after_response)),
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
    /// One head deadline: idle until a byte is read, if `idle_since`, then
    /// `header_read`. The sleep lives inside: one allocation per arming.
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

    /// Serves a stream of two chunks at `/stream` and `ok` at `/plain`;
    /// returns the address and what stops it.
    async fn streaming_server() -> (std::net::SocketAddr, CancellationToken) {
        use axum::{Router, routing::get};
        let events = || {
            let chunks = [":\n\n", "event: next\ndata: 1\n\n"]
                .map(|chunk| Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(chunk)));
            handoff::body(futures_util::stream::iter(chunks))
        };
        let router = Router::new()
            .route("/stream", get(move || async move { events() }))
            .route("/plain", get(|| async { "ok" }));
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = tcp.local_addr().unwrap();
        let listener = LimitedListener::new(tcp, crate::limits::ConnectionLimit::new(8, 0));
        let stop = CancellationToken::new();
        tokio::spawn(serve(listener, router.into(), TIMEOUTS, stop.clone()));
        (address, stop)
    }

    /// Sends `request` and reads until `end` is read or the server closes.
    async fn exchange(socket: &mut tokio::net::TcpStream, request: &str, end: &str) -> String {
        use tokio::io::AsyncReadExt;
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut text = Vec::new();
        while !String::from_utf8_lossy(&text).ends_with(end) {
            let mut buf = [0u8; 1024];
            match socket.read(&mut buf).await.unwrap() {
                0 => break,
                n => text.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8(text).unwrap()
    }

    #[tokio::test]
    async fn a_stream_that_left_hyper_ends_as_a_chunked_body_and_the_connection_serves_again() {
        let (address, stop) = streaming_server().await;
        let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
        let streamed = exchange(
            &mut socket,
            "GET /stream HTTP/1.1\r\nhost: a\r\n\r\n",
            "0\r\n\r\n",
        )
        .await;
        let (head, body) = streamed.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("transfer-encoding: chunked"), "{head}");
        assert_eq!(
            body,
            "3\r\n:\n\n\r\n15\r\nevent: next\ndata: 1\n\n\r\n0\r\n\r\n"
        );
        let plain = exchange(&mut socket, "GET /plain HTTP/1.1\r\nhost: a\r\n\r\n", "ok").await;
        assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
        stop.cancel();
    }

    #[tokio::test]
    async fn an_http_1_0_stream_stays_with_hyper() {
        let (address, stop) = streaming_server().await;
        let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
        let streamed = exchange(&mut socket, "GET /stream HTTP/1.0\r\n\r\n", "\u{0}").await;
        let (head, body) = streamed.split_once("\r\n\r\n").unwrap();
        assert!(!head.contains("chunked"), "{head}");
        assert_eq!(body, ":\n\nevent: next\ndata: 1\n\n");
        stop.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_has_the_header_timeout_from_its_start() {
        let clock = HeadClock::new(Arc::new(AtomicU64::new(0)), TIMEOUTS, false);
        let mut deadline = arm(&clock);
        tokio::time::advance(Duration::from_millis(4_900)).await;
        assert!(!is_ready(&mut deadline));
        tokio::time::advance(Duration::from_millis(200)).await;
        assert!(is_ready(&mut deadline));
    }

    #[tokio::test(start_paused = true)]
    async fn between_requests_a_connection_may_be_idle_longer() {
        let read = Arc::new(AtomicU64::new(0));
        let clock = HeadClock::new(read.clone(), TIMEOUTS, false);
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
        let clock = HeadClock::new(read.clone(), TIMEOUTS, false);
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
