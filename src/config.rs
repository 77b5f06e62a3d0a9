//! The command line: `likes serve` and its flags, each with a `LIKES_*`
//! environment fallback, turned into one validated `Config`. Nothing here
//! starts anything.

use crate::catalogue::{Catalogue, CatalogueError};
use crate::model::ServerId;
use crate::store::StoreUrl;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `likes`: a realtime like counter for conference talks.
#[derive(Debug, Parser)]
#[command(name = "likes", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the GraphQL service.
    Serve(ServeArgs),
    /// Create the store's schema, or add what it lacks, then exit. Cloud
    /// Spanner: creates the database if missing (and, on the emulator, the
    /// instance). Safe to run again and from several replicas at once.
    Migrate(MigrateArgs),
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
    /// Bound on the shutdown drain.
    pub shutdown_grace: Duration,
}

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
        if self.buffer_max_likes == 0 {
            return invalid("--buffer-max-likes must be at least 1".into());
        }
        let server_id = match self.server_id {
            Some(id) => id,
            None => gethostname::gethostname().to_string_lossy().into_owned(),
        };
        let server_id = ServerId::new(server_id)
            .map_err(|e| ConfigError::Invalid(format!("--server-id: {e}")))?;
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
            shutdown_grace: self.shutdown_grace,
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
        assert!(
            parse(&["--sessions", "/nonexistent.json"])
                .unwrap_err()
                .contains("cannot read")
        );
    }
}
