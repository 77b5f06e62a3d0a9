//! The flags of `likes serve`, as clap reads them; `validate` checks them
//! against each other and turns them into a `Config`.

use super::StoreArg;
use crate::config::Ack;
use crate::limits::{
    AllowedOrigins, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    DEFAULT_MAX_SUBSCRIPTIONS, DEFAULT_RATE_PER_ADDRESS, DEFAULT_RATE_PER_LIKER,
    DEFAULT_WS_OPERATION_RATE, Rate,
};
use axum::http::HeaderName;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `likes serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        env = "LIKES_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// Where likes are stored.
    #[command(flatten)]
    pub store: StoreArg,

    /// Talk catalogue (JSON with a top-level `sessions` array); default: a built-in sample.
    #[arg(long, value_name = "FILE", env = "LIKES_SESSIONS")]
    pub sessions: Option<PathBuf>,

    /// This replica's id in the store; default: the host name (the pod name in Kubernetes).
    #[arg(long, value_name = "ID", env = "LIKES_SERVER_ID")]
    pub server_id: Option<String>,

    /// Time between flushes of buffered likes to the store.
    #[arg(long, value_name = "DURATION", env = "LIKES_FLUSH_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub flush_interval: Duration,

    /// Deadline of one flush try.
    #[arg(long, value_name = "DURATION", env = "LIKES_FLUSH_TRY_TIMEOUT", default_value = "1s", value_parser = humantime::parse_duration)]
    pub flush_try_timeout: Duration,

    /// Deadline of one flush over all its tries; what fails stays buffered for the next flush.
    #[arg(long, value_name = "DURATION", env = "LIKES_FLUSH_HARD_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub flush_hard_timeout: Duration,

    /// Time between the observer's reads of the store.
    #[arg(long, value_name = "DURATION", env = "LIKES_OBSERVE_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub observe_interval: Duration,

    /// How far back the observer reads buckets; default: flush hard timeout + observe interval + 2s.
    #[arg(long, value_name = "DURATION", env = "LIKES_OBSERVE_WINDOW", value_parser = humantime::parse_duration)]
    pub observe_window: Option<Duration>,

    /// Most likes held in memory before createLike answers UNAVAILABLE.
    #[arg(
        long,
        value_name = "LIKES",
        env = "LIKES_BUFFER_MAX_LIKES",
        default_value_t = 1_000_000
    )]
    pub buffer_max_likes: usize,

    /// Most memory held by buffered likes before createLike answers UNAVAILABLE (e.g. 64MiB).
    #[arg(long, value_name = "SIZE", env = "LIKES_BUFFER_MAX_BYTES", default_value = "64MiB", value_parser = parse_size)]
    pub buffer_max_bytes: usize,

    /// When createLike answers: once the like is stored, or once it is in memory.
    #[arg(long, value_name = "WHEN", env = "LIKES_ACK", default_value = "stored")]
    pub ack: Ack,

    /// With --ack stored: how long createLike waits for its like to be stored
    /// before answering UNAVAILABLE (the like stays held and may still be stored).
    #[arg(long, value_name = "DURATION", env = "LIKES_ACK_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub ack_timeout: Duration,

    /// With --ack stored: how long a like waiting for its answer may wait before
    /// a flush starts (every like waiting by then shares that flush).
    #[arg(long, value_name = "DURATION", env = "LIKES_ACK_LINGER", default_value = "10ms", value_parser = humantime::parse_duration)]
    pub ack_linger: Duration,

    /// Likes allowed per liker (uuid): N/s, N/min, N/h, or off. A burst of N is allowed.
    #[arg(long, value_name = "RATE", env = "LIKES_RATE_PER_LIKER", default_value = DEFAULT_RATE_PER_LIKER)]
    pub rate_per_liker: Rate,

    /// Likes allowed per client address (one venue's NAT may carry many attendees).
    #[arg(long, value_name = "RATE", env = "LIKES_RATE_PER_ADDRESS", default_value = DEFAULT_RATE_PER_ADDRESS)]
    pub rate_per_address: Rate,

    /// Header a trusted proxy puts the client's address in (e.g. X-Forwarded-For); default: the peer address.
    #[arg(long, value_name = "NAME", env = "LIKES_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<HeaderName>,

    /// Which address in that header is the client's, counted from the right
    /// (1 = the last; 2 behind a GKE load balancer, which appends its own).
    #[arg(
        long,
        value_name = "N",
        env = "LIKES_CLIENT_IP_HOP",
        default_value_t = 1
    )]
    pub client_ip_hop: usize,

    /// Most TCP connections open at once; more are closed at once.
    #[arg(long, value_name = "N", env = "LIKES_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Most TCP connections open at once from one client (an IPv4 address,
    /// or an IPv6 /64), 0 for no cap. Behind a load balancer the peers are
    /// its proxies: set 0 there.
    #[arg(long, value_name = "N", env = "LIKES_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)]
    pub max_connections_per_address: usize,

    /// How long a new connection, or a request from its first byte, may take
    /// to send the request's head (line and headers).
    #[arg(long, value_name = "DURATION", env = "LIKES_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// How long a request may take to send its body once its head is in.
    #[arg(long, value_name = "DURATION", env = "LIKES_BODY_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub body_read_timeout: Duration,

    /// How long a connection may stay idle between requests; above the
    /// Google load balancer's 600 s keep-alive, so it never reuses a
    /// connection just closed.
    #[arg(long, value_name = "DURATION", env = "LIKES_IDLE_TIMEOUT", default_value = "620s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    /// How long a client may take no byte of what is sent to it (a
    /// response, a subscription's events) before its connection is closed.
    #[arg(long, value_name = "DURATION", env = "LIKES_WRITE_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub write_timeout: Duration,

    /// GraphQL operations one WebSocket connection may start (subscribe,
    /// query or mutation), as a rate like 100/s, or off; more are refused
    /// with an `error` message coded RATE_LIMITED.
    #[arg(long, value_name = "RATE", env = "LIKES_WS_OPERATION_RATE", default_value = DEFAULT_WS_OPERATION_RATE)]
    pub ws_operation_rate: Rate,

    /// Most live subscriptions on one WebSocket connection.
    #[arg(long, value_name = "N", env = "LIKES_MAX_SUBSCRIPTIONS_PER_CONNECTION", default_value_t = DEFAULT_MAX_SUBSCRIPTIONS)]
    pub max_subscriptions_per_connection: usize,

    /// How long a WebSocket client has to send connection_init.
    #[arg(long, value_name = "DURATION", env = "LIKES_WS_INIT_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub ws_init_timeout: Duration,

    /// Time between WebSocket pings to each client; a client silent for more
    /// than two of them is disconnected.
    #[arg(long, value_name = "DURATION", env = "LIKES_WS_KEEPALIVE", default_value = "25s", value_parser = humantime::parse_duration)]
    pub ws_keepalive: Duration,

    /// Time between keep-alives on a subscription streamed over HTTP: an
    /// SSE comment, well inside proxies' idle timeouts (multipart
    /// heartbeats go every 5 s, or this if shorter).
    #[arg(long, value_name = "DURATION", env = "LIKES_STREAM_KEEPALIVE", default_value = "12s", value_parser = humantime::parse_duration)]
    pub stream_keepalive: Duration,

    /// Web page origins allowed besides the service's own, comma-separated
    /// (https://conference.example), or * for any; checked on WebSocket upgrades and for CORS.
    #[arg(
        long,
        value_name = "ORIGINS",
        env = "LIKES_ALLOWED_ORIGINS",
        default_value = ""
    )]
    pub allowed_origins: AllowedOrigins,

    /// Answer schema introspection queries, and give GraphiQL the schema as
    /// SDL at /graphiql/schema.graphql (turn off in production).
    #[arg(long, value_name = "BOOL", env = "LIKES_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub introspection: bool,

    /// Serve the GraphiQL page on GET /graphql (turn off in production).
    #[arg(long, value_name = "BOOL", env = "LIKES_GRAPHIQL", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphiql: bool,

    /// Serve the conference page at / (the talks, like buttons, live counters).
    #[arg(long, value_name = "BOOL", env = "LIKES_PAGE", default_value_t = true, action = clap::ArgAction::Set)]
    pub page: bool,

    /// Serve the page's files from this folder (a `web/dist` build) instead
    /// of the copy built into the binary.
    #[arg(long, value_name = "DIR", env = "LIKES_PAGE_DIR")]
    pub page_dir: Option<PathBuf>,

    /// How long shutdown may take, from the signal to exit; keep it below the
    /// orchestrator's kill deadline (Kubernetes: 30s) and above the hard timeout.
    #[arg(long, value_name = "DURATION", env = "LIKES_SHUTDOWN_GRACE", default_value = "20s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
}

/// Parses a size such as `64MiB`, `512KiB`, `1GiB` or a plain byte count.
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 64MiB"))?;
    let scale: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(format!("{text:?}: the unit must be B, KiB, MiB or GiB")),
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
}
