//! What one client, one liker and one process may take, and who may use the
//! API from a browser: the settings (`Limits`, `Access`), like rates per
//! liker and per client address (`rate`), the client's address behind a load
//! balancer (`client`), which web pages may connect (`origin`), and the cap
//! on open connections, per process and per client (`connections`), and
//! how long a connection may take (`Timeouts`). The GraphQL document limits live in
//! `graphql`; the like buffer's bounds live in `storer`.

pub mod client;
pub mod connections;
pub mod origin;
pub mod rate;

pub use client::ClientIpSource;
pub use connections::{ConnectionLimit, LimitedListener};
pub use origin::AllowedOrigins;
pub use rate::{Limited, Limiter, Rate, RateLimits};

use std::time::Duration;

/// Default of `--rate-per-liker`.
pub const DEFAULT_RATE_PER_LIKER: &str = "20/s";
/// Default of `--rate-per-address`.
pub const DEFAULT_RATE_PER_ADDRESS: &str = "2000/s";
/// Default of `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 25_000;
/// Default of `--max-connections-per-address`: a tenth of the process's,
/// room for a venue's attendees behind one NAT address.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 2_500;
/// Default of `--ws-operation-rate`: a burst of 100, room to subscribe to a
/// connection's full allowance of subscriptions at once.
pub const DEFAULT_WS_OPERATION_RATE: &str = "100/s";
/// Default of `--max-subscriptions-per-connection`.
pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 64;

/// How much one client, liker and process may take.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Likes per liker.
    pub rate_per_liker: Rate,
    /// Likes per client address.
    pub rate_per_address: Rate,
    /// Where the client's address comes from.
    pub client_ip: ClientIpSource,
    /// Most open TCP connections.
    pub max_connections: usize,
    /// Most open TCP connections from one client network (0: no cap).
    pub max_connections_per_address: usize,
    /// How long a connection may take to send a request, or stay idle.
    pub timeouts: Timeouts,
    /// Operations (subscribe, query, mutation) per WebSocket connection.
    pub ws_operation_rate: Rate,
    /// Most subscriptions per WebSocket connection.
    pub max_subscriptions_per_connection: usize,
    /// Deadline for a WebSocket client's connection_init.
    pub ws_init_timeout: Duration,
    /// Time between WebSocket pings.
    pub ws_keepalive: Duration,
    /// Time between keep-alives on a subscription streamed over HTTP (an
    /// SSE comment; a multipart heartbeat every 5 s, or this if shorter).
    pub stream_keepalive: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rate_per_liker: DEFAULT_RATE_PER_LIKER.parse().expect("a valid default"),
            rate_per_address: DEFAULT_RATE_PER_ADDRESS.parse().expect("a valid default"),
            client_ip: ClientIpSource::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            timeouts: Timeouts::default(),
            ws_operation_rate: DEFAULT_WS_OPERATION_RATE.parse().expect("a valid default"),
            max_subscriptions_per_connection: DEFAULT_MAX_SUBSCRIPTIONS,
            ws_init_timeout: Duration::from_secs(10),
            ws_keepalive: Duration::from_secs(25),
            stream_keepalive: Duration::from_secs(12),
        }
    }
}

/// How long a connection may take, at each stage of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From a connection's start, or from the first byte of a request, to
    /// the end of the request's head.
    pub header_read: Duration,
    /// From a request's head to the end of its body.
    pub body_read: Duration,
    /// From the end of a response to the first byte of the next request.
    pub idle: Duration,
    /// How long the peer may take no byte of what is being sent (a
    /// response, a stream's events, WebSocket frames) before the
    /// connection is closed.
    pub write: Duration,
}

impl Default for Timeouts {
    /// Idle connections are kept longer than the Google load balancer's
    /// 600 s keep-alive, so the server never closes one the balancer is
    /// about to reuse.
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(10),
            idle: Duration::from_secs(620),
            write: Duration::from_secs(30),
        }
    }
}

/// Browser access and self-description.
#[derive(Debug, Clone)]
pub struct Access {
    /// Origins allowed besides the service's own.
    pub allowed_origins: AllowedOrigins,
    /// Whether introspection is answered.
    pub introspection: bool,
    /// Whether GraphiQL is served.
    pub graphiql: bool,
}

impl Default for Access {
    fn default() -> Self {
        Self {
            allowed_origins: AllowedOrigins::SameOrigin,
            introspection: true,
            graphiql: true,
        }
    }
}
