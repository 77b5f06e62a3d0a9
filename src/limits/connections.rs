//! The caps on open TCP connections (HTTP and WebSocket alike): one for the
//! process and one per client network (`client::network_of`). Each accepted
//! connection holds its place under both until it closes; past either cap a
//! new connection is closed at once, so the process sheds load instead of
//! exhausting file descriptors or memory, and one client holding idle sockets
//! cannot lock the others out. How long a connection may stay idle or take
//! to send a request is the HTTP server's business (`http::server`).

use super::client::network_of;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The shared count of open connections, for the listener and `/metrics`.
#[derive(Clone)]
pub struct ConnectionLimit {
    permits: Arc<Semaphore>,
    max: usize,
    per_network: Option<Arc<PerNetwork>>,
}

/// Open connections per client network, and the most one may hold.
struct PerNetwork {
    max: u32,
    /// Networks with at least one open connection; an entry goes when its
    /// last connection closes, so the map is as large as the open set.
    open: Mutex<HashMap<IpAddr, u32>>,
}

impl ConnectionLimit {
    /// At most `max` connections open at once, and at most `per_address`
    /// from one client network (0: no per-address cap).
    pub fn new(max: usize, per_address: usize) -> Self {
        let per_network = (per_address > 0).then(|| {
            Arc::new(PerNetwork {
                max: u32::try_from(per_address).unwrap_or(u32::MAX),
                open: Mutex::new(HashMap::new()),
            })
        });
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
            per_network,
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.max - self.permits.available_permits()
    }

    /// A place for a connection from `peer`, or why there is none.
    fn admit(&self, peer: IpAddr) -> Result<Admission, Refused> {
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Process)?;
        let network = match &self.per_network {
            None => None,
            Some(per_network) => Some(per_network.take(network_of(peer))?),
        };
        Ok(Admission {
            _permit: permit,
            _network: network,
        })
    }
}

impl PerNetwork {
    fn take(self: &Arc<Self>, network: IpAddr) -> Result<NetworkPlace, Refused> {
        let mut open = self
            .open
            .lock()
            .expect("the map is never left inconsistent");
        let count = open.entry(network).or_insert(0);
        if *count >= self.max {
            return Err(Refused::Network);
        }
        *count += 1;
        Ok(NetworkPlace {
            owner: self.clone(),
            network,
        })
    }
}

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// The process holds `--max-connections`.
    Process,
    /// The client's network holds `--max-connections-per-address`.
    Network,
}

impl Refused {
    fn reason(self) -> &'static str {
        match self {
            Refused::Process => crate::telemetry::REFUSED_AT_PROCESS_CAP,
            Refused::Network => crate::telemetry::REFUSED_AT_ADDRESS_CAP,
        }
    }
}

/// A connection's places under the caps; released when it is dropped.
struct Admission {
    _permit: OwnedSemaphorePermit,
    _network: Option<NetworkPlace>,
}

/// One connection counted against its network.
struct NetworkPlace {
    owner: Arc<PerNetwork>,
    network: IpAddr,
}

impl Drop for NetworkPlace {
    fn drop(&mut self) {
        let mut open = self
            .owner
            .open
            .lock()
            .expect("the map is never left inconsistent");
        if let Some(count) = open.get_mut(&self.network) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.network);
            }
        }
    }
}

/// A TCP listener that enforces a `ConnectionLimit`.
pub struct LimitedListener {
    tcp: TcpListener,
    limit: ConnectionLimit,
}

impl LimitedListener {
    /// Wraps a bound listener.
    pub fn new(tcp: TcpListener, limit: ConnectionLimit) -> Self {
        Self { tcp, limit }
    }

    /// The next connection with a place under the caps; connections past
    /// them are closed as they come.
    pub async fn accept(&mut self) -> (CountedStream, SocketAddr) {
        loop {
            let (stream, peer) = match self.tcp.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause, as axum does.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            match self.limit.admit(peer.ip()) {
                Ok(admission) => {
                    let _ = stream.set_nodelay(true);
                    let stream = CountedStream {
                        stream,
                        read: Arc::new(AtomicU64::new(0)),
                        _admission: admission,
                    };
                    return (stream, peer);
                }
                Err(refused) => {
                    metrics::counter!(
                        crate::telemetry::CONNECTIONS_REFUSED,
                        "reason" => refused.reason()
                    )
                    .increment(1);
                    tracing::debug!(%peer, reason = refused.reason(), "connection refused");
                    drop(stream);
                }
            }
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// An accepted connection. It counts the bytes read from it, so the HTTP
/// server can tell a connection that went quiet from one that started a
/// request; its places under the caps return when it is dropped.
pub struct CountedStream {
    stream: TcpStream,
    read: Arc<AtomicU64>,
    _admission: Admission,
}

impl CountedStream {
    /// Bytes read so far, shared with whoever watches the connection.
    pub fn bytes_read(&self) -> Arc<AtomicU64> {
        self.read.clone()
    }
}

/// The peer address of a connection, for handlers (`ConnectInfo<Peer>`).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.read.fetch_add(read as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_network_holds_at_most_its_share_and_gets_it_back_on_close() {
        let limit = ConnectionLimit::new(10, 2);
        let first = limit.admit(ip("192.0.2.1")).unwrap();
        let _second = limit.admit(ip("::ffff:192.0.2.1")).unwrap();
        assert_eq!(limit.admit(ip("192.0.2.1")).err(), Some(Refused::Network));
        // Another client is not refused for it.
        let _other = limit.admit(ip("192.0.2.2")).unwrap();
        assert_eq!(limit.open(), 3);
        drop(first);
        assert_eq!(limit.open(), 2);
        assert!(limit.admit(ip("192.0.2.1")).is_ok());
    }

    #[test]
    fn an_ipv6_client_is_capped_across_its_slash_64() {
        let limit = ConnectionLimit::new(10, 1);
        let _held = limit.admit(ip("2001:db8::1")).unwrap();
        assert_eq!(limit.admit(ip("2001:db8::2")).err(), Some(Refused::Network));
        assert!(limit.admit(ip("2001:db8:0:1::1")).is_ok());
    }

    #[test]
    fn the_process_cap_holds_whatever_the_networks() {
        let limit = ConnectionLimit::new(2, 0);
        let _a = limit.admit(ip("192.0.2.1")).unwrap();
        let _b = limit.admit(ip("192.0.2.2")).unwrap();
        assert_eq!(limit.admit(ip("192.0.2.3")).err(), Some(Refused::Process));
    }

    #[test]
    fn a_network_refused_does_not_keep_a_process_place() {
        let limit = ConnectionLimit::new(3, 1);
        let _held = limit.admit(ip("192.0.2.1")).unwrap();
        for _ in 0..5 {
            assert!(limit.admit(ip("192.0.2.1")).is_err());
        }
        assert_eq!(limit.open(), 1);
        let map = limit
            .per_network
            .as_ref()
            .unwrap()
            .open
            .lock()
            .unwrap()
            .len();
        assert_eq!(map, 1);
    }
}
