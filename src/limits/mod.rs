//! What one client, one liker and one process may take, and who may use the
//! API from a browser: the settings (`Limits`, `Access`), like rates per
//! liker and per client address (`rate`), the client's address behind a load
//! balancer (`client`), which web pages may connect (`origin`), and the cap
//! on open connections (`connections`). The GraphQL document limits live in
//! `graphql`; the like buffer's bounds live in `storer`.

pub mod client;
pub mod connections;
pub mod origin;
pub mod rate;

pub use client::ClientIpSource;
pub use connections::{ConnectionLimit, LimitedListener};
pub use origin::AllowedOrigins;
pub use rate::{Limited, Rate, RateLimits};

use std::time::Duration;

/// Default of `--rate-per-liker`.
pub const DEFAULT_RATE_PER_LIKER: &str = "20/s";
/// Default of `--rate-per-address`.
pub const DEFAULT_RATE_PER_ADDRESS: &str = "2000/s";
/// Default of `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 25_000;
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
    /// Most subscriptions per WebSocket connection.
    pub max_subscriptions_per_connection: usize,
    /// Deadline for a WebSocket client's connection_init.
    pub ws_init_timeout: Duration,
    /// Time between WebSocket pings.
    pub ws_keepalive: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rate_per_liker: DEFAULT_RATE_PER_LIKER.parse().expect("a valid default"),
            rate_per_address: DEFAULT_RATE_PER_ADDRESS.parse().expect("a valid default"),
            client_ip: ClientIpSource::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_subscriptions_per_connection: DEFAULT_MAX_SUBSCRIPTIONS,
            ws_init_timeout: Duration::from_secs(10),
            ws_keepalive: Duration::from_secs(25),
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
