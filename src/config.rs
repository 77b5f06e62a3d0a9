//! The command line: `likes serve` and its flags, each with a `LIKES_*`
//! environment fallback, turned into one validated `Config`. Nothing here
//! starts anything.

use crate::catalogue::{Catalogue, CatalogueError};
pub use crate::export::ExportArgs;
use crate::http::Page;
pub use crate::limits::{Access, Limits};
use crate::limits::{
    AllowedOrigins, ClientIpSource, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    DEFAULT_MAX_SUBSCRIPTIONS, DEFAULT_RATE_PER_ADDRESS, DEFAULT_RATE_PER_LIKER,
    DEFAULT_WS_OPERATION_RATE, Rate, Timeouts,
};
use crate::model::ServerId;
use crate::store::StoreUrl;
use axum::http::HeaderName;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `likes`: a realtime like counter for conference talks.
#[derive(Debug, Parser)]
#[command(name = "likes", version, about)]
pub struct Cli {
    /// Log lines as text for people, or as JSON objects, one per line, for
    /// log collectors (Cloud Logging reads `severity`-less JSON too).
    #[arg(
        long,
        global = true,
        value_name = "FORMAT",
        env = "LIKES_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Send every span (requests, flushes, observer reads) to this
    /// OpenTelemetry collector over OTLP/HTTP, e.g. `http://otel-collector:4318`
    /// (`/v1/traces` is added). Off when unset. The standard `OTEL_*`
    /// variables (service name, resource attributes, sampler) apply.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "OTEL_EXPORTER_OTLP_ENDPOINT"
    )]
    pub otlp_endpoint: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the span fields (such as `request_id`).
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the GraphQL service.
    Serve(Box<ServeArgs>),
    /// Create the store's schema, or add what it lacks, then exit. Cloud
    /// Spanner: creates the database if missing (and, on the emulator, the
    /// instance). Safe to run again and from several replicas at once.
    Migrate(MigrateArgs),
    /// Write every like stored in a time range as BigQuery newline-delimited
    /// JSON, one file per UTC day, plus schema.json. Safe to re-run: the same
    /// range gives the same files, each written in full or not at all.
    Export(ExportArgs),
}

/// The `--store` flag, shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct StoreArg {
    /// Where likes are stored: sqlite://PATH or spanner://projects/P/instances/I/databases/D.
    #[arg(
        long = "store",
        value_name = "URL",
        env = "LIKES_STORE",
        default_value = "sqlite://likes.db"
    )]
    pub url: StoreUrl,
}

/// Flags of `likes migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// The store to migrate.
    #[command(flatten)]
    pub store: StoreArg,
}

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
    /// than two of them, or not reading for one, is disconnected.
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

/// A setting that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A flag's value is out of range or inconsistent with another.
    #[error("{0}")]
    Invalid(String),
    /// The talk catalogue could not be loaded.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
}

/// Everything `likes serve` needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The store.
    pub store: StoreUrl,
    /// The talks.
    pub catalogue: Catalogue,
    /// This replica's id.
    pub server_id: ServerId,
    /// Time between flushes.
    pub flush_interval: Duration,
    /// Deadline of one flush try.
    pub flush_try_timeout: Duration,
    /// Deadline of one flush over all tries.
    pub flush_hard_timeout: Duration,
    /// Time between observer reads.
    pub observe_interval: Duration,
    /// How far back the observer reads.
    pub observe_window: Duration,
    /// Most likes buffered.
    pub buffer_max_likes: usize,
    /// Most bytes buffered.
    pub buffer_max_bytes: usize,
    /// Bound on the shutdown drain.
    pub shutdown_grace: Duration,
    /// Abuse limits.
    pub limits: Limits,
    /// Who may use the API from a browser, and what it reveals.
    pub access: Access,
    /// Where the conference page comes from.
    pub page: Page,
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

/// The longest WebSocket init deadline or keepalive interval accepted.
const MAX_WS_TIMER: Duration = Duration::from_secs(3600);

/// The longest window accepted; buckets are kept for an hour.
const MAX_WINDOW: Duration = Duration::from_secs(30 * 60);

impl ServeArgs {
    /// Validates the flags and loads the catalogue.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        for (name, value) in [
            ("--flush-interval", self.flush_interval),
            ("--flush-try-timeout", self.flush_try_timeout),
            ("--flush-hard-timeout", self.flush_hard_timeout),
            ("--observe-interval", self.observe_interval),
            ("--shutdown-grace", self.shutdown_grace),
            ("--header-read-timeout", self.header_read_timeout),
            ("--body-read-timeout", self.body_read_timeout),
            ("--idle-timeout", self.idle_timeout),
        ] {
            if value.is_zero() {
                return invalid(format!("{name} must be greater than zero"));
            }
        }
        if self.flush_try_timeout > self.flush_hard_timeout {
            return invalid(format!(
                "--flush-try-timeout ({}) must not exceed --flush-hard-timeout ({})",
                humantime::format_duration(self.flush_try_timeout),
                humantime::format_duration(self.flush_hard_timeout)
            ));
        }
        // A bucket is complete once its flush try commits (within the try
        // timeout) and is read at the next observation; the default also
        // covers any flush the hard timeout allows, plus clock skew.
        if self.flush_hard_timeout >= self.shutdown_grace {
            return invalid(format!(
                "--shutdown-grace ({}) must exceed --flush-hard-timeout ({}): a flush in progress at shutdown finishes first",
                humantime::format_duration(self.shutdown_grace),
                humantime::format_duration(self.flush_hard_timeout)
            ));
        }
        let minimum_window = self.flush_try_timeout + self.observe_interval;
        let observe_window = self
            .observe_window
            .unwrap_or(self.flush_hard_timeout + self.observe_interval + Duration::from_secs(2));
        if observe_window < minimum_window || observe_window > MAX_WINDOW {
            return invalid(format!(
                "--observe-window ({}) must be between flush try timeout + observe interval ({}) and {}",
                humantime::format_duration(observe_window),
                humantime::format_duration(minimum_window),
                humantime::format_duration(MAX_WINDOW)
            ));
        }
        for (name, value) in [
            ("--buffer-max-likes", self.buffer_max_likes),
            ("--buffer-max-bytes", self.buffer_max_bytes),
            ("--max-connections", self.max_connections),
            (
                "--max-subscriptions-per-connection",
                self.max_subscriptions_per_connection,
            ),
            ("--client-ip-hop", self.client_ip_hop),
        ] {
            if value == 0 {
                return invalid(format!("{name} must be at least 1"));
            }
        }
        for (name, value) in [
            ("--ws-init-timeout", self.ws_init_timeout),
            ("--ws-keepalive", self.ws_keepalive),
            ("--stream-keepalive", self.stream_keepalive),
            ("--write-timeout", self.write_timeout),
        ] {
            if value.is_zero() || value > MAX_WS_TIMER {
                return invalid(format!("{name} must be between 1ms and 1h"));
            }
        }
        let server_id = match self.server_id {
            Some(id) => id,
            None => gethostname::gethostname().to_string_lossy().into_owned(),
        };
        let server_id = ServerId::new(server_id)
            .map_err(|e| ConfigError::Invalid(format!("--server-id: {e}")))?;
        if let Some(folder) = &self.page_dir
            && !folder.join("index.html").is_file()
        {
            return invalid(format!(
                "--page-dir {}: no index.html there (build the page with npm run build in web/)",
                folder.display()
            ));
        }
        let catalogue = match &self.sessions {
            Some(path) => Catalogue::load(path)?,
            None => Catalogue::sample(),
        };
        Ok(Config {
            listen: self.listen,
            store: self.store.url,
            catalogue,
            server_id,
            flush_interval: self.flush_interval,
            flush_try_timeout: self.flush_try_timeout,
            flush_hard_timeout: self.flush_hard_timeout,
            observe_interval: self.observe_interval,
            observe_window,
            buffer_max_likes: self.buffer_max_likes,
            buffer_max_bytes: self.buffer_max_bytes,
            shutdown_grace: self.shutdown_grace,
            limits: Limits {
                rate_per_liker: self.rate_per_liker,
                rate_per_address: self.rate_per_address,
                client_ip: ClientIpSource {
                    header: self.client_ip_header,
                    hop: self.client_ip_hop,
                },
                max_connections: self.max_connections,
                max_connections_per_address: self.max_connections_per_address,
                timeouts: Timeouts {
                    header_read: self.header_read_timeout,
                    body_read: self.body_read_timeout,
                    idle: self.idle_timeout,
                    write: self.write_timeout,
                },
                ws_operation_rate: self.ws_operation_rate,
                max_subscriptions_per_connection: self.max_subscriptions_per_connection,
                ws_init_timeout: self.ws_init_timeout,
                ws_keepalive: self.ws_keepalive,
                stream_keepalive: self.stream_keepalive,
            },
            access: Access {
                allowed_origins: self.allowed_origins,
                introspection: self.introspection,
                graphiql: self.graphiql,
            },
            page: match (self.page, self.page_dir) {
                (false, _) => Page::Off,
                (true, None) => Page::Embedded,
                (true, Some(folder)) => Page::Folder(folder),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut argv = vec!["likes", "serve", "--server-id", "test"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        let Command::Serve(serve) = cli.command else {
            panic!("parsed as serve")
        };
        serve.into_config().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_sensible() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.store, StoreUrl::Sqlite("likes.db".into()));
        assert_eq!(config.flush_interval, Duration::from_secs(1));
        assert_eq!(config.flush_hard_timeout, Duration::from_secs(10));
        assert_eq!(config.observe_window, Duration::from_secs(13));
        assert_eq!(config.buffer_max_bytes, 64 << 20);
        assert_eq!(config.limits.rate_per_liker, Rate::per_second(20));
        assert_eq!(config.access.allowed_origins, AllowedOrigins::SameOrigin);
        assert!(config.access.introspection && config.access.graphiql);
        assert_eq!(config.page, Page::Embedded);
    }

    #[test]
    fn production_switches_parse() {
        let config = parse(&[
            "--introspection",
            "false",
            "--graphiql",
            "false",
            "--allowed-origins",
            "https://conference.example",
            "--rate-per-address",
            "off",
            "--client-ip-header",
            "X-Forwarded-For",
            "--client-ip-hop",
            "2",
            "--buffer-max-bytes",
            "512KiB",
            "--page",
            "false",
        ])
        .unwrap();
        assert!(!config.access.introspection && !config.access.graphiql);
        assert_eq!(config.page, Page::Off);
        assert_eq!(
            config.access.allowed_origins,
            AllowedOrigins::List(vec!["https://conference.example".into()])
        );
        assert_eq!(config.limits.rate_per_address, Rate::OFF);
        assert_eq!(config.limits.client_ip.hop, 2);
        assert_eq!(config.buffer_max_bytes, 512 << 10);
    }

    #[test]
    fn bad_values_say_why() {
        assert!(
            parse(&["--flush-interval", "soon"])
                .unwrap_err()
                .contains("--flush-interval")
        );
        assert!(
            parse(&["--flush-interval", "0s"])
                .unwrap_err()
                .contains("greater than zero")
        );
        assert!(
            parse(&["--flush-try-timeout", "20s"])
                .unwrap_err()
                .contains("must not exceed")
        );
        assert!(
            parse(&["--observe-window", "1s"])
                .unwrap_err()
                .contains("--observe-window")
        );
        assert!(
            parse(&["--store", "mysql://x"])
                .unwrap_err()
                .contains("store URL")
        );
        for (flag, value) in [
            ("--buffer-max-bytes", "lots"),
            ("--buffer-max-bytes", "1TB"),
            ("--rate-per-liker", "fast"),
            ("--allowed-origins", "conference.example"),
            ("--max-connections", "0"),
            ("--ws-keepalive", "0s"),
            ("--ws-keepalive", "2h"),
            ("--introspection", "maybe"),
            ("--page-dir", "/nonexistent"),
        ] {
            assert!(
                parse(&[flag, value]).unwrap_err().contains(flag),
                "{flag} {value} was accepted or did not name the flag"
            );
        }
        assert!(
            parse(&["--sessions", "/nonexistent.json"])
                .unwrap_err()
                .contains("cannot read")
        );
    }
}
