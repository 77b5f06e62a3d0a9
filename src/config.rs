//! The validated settings of each subcommand, as plain data: what `likes
//! serve` and `likes export` run with, and how log lines are written. The
//! service modules read these; how they are spelled on the command line,
//! and the checks that make them valid, live in `cli`.

use crate::catalogue::{Catalogue, CatalogueError};
pub use crate::limits::{Access, Limits};
use crate::model::ServerId;
use crate::store::StoreUrl;
use chrono::{DateTime, Utc};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// When `createLike` answers.
    pub ack: Ack,
    /// With `Ack::Stored`, how long `createLike` waits for its like to be
    /// stored before it answers `UNAVAILABLE`.
    pub ack_timeout: Duration,
    /// With `Ack::Stored`, how long a like waiting for its answer may wait
    /// before a flush starts.
    pub ack_linger: Duration,
    /// Bound on the shutdown drain.
    pub shutdown_grace: Duration,
    /// Abuse limits.
    pub limits: Limits,
    /// Who may use the API from a browser, and what it reveals.
    pub access: Access,
    /// Where the conference page comes from.
    pub page: PageSource,
}

/// When `createLike` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Once the like is in this replica's memory; the next flush stores it.
    /// A crash loses what was acknowledged since the last stored flush.
    Buffered,
    /// Once the flush that holds the like has committed it to the store.
    Stored,
}

/// Where the conference page at `/` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageSource {
    /// Not served: `/` is not found.
    Off,
    /// The copy compiled into the binary.
    Embedded,
    /// Read from this folder at each request (for working on the page).
    Folder(PathBuf),
}

/// Everything `likes export` needs, validated: a range that is not empty.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// The store to read.
    pub store: StoreUrl,
    /// First creation time included; none: from the first like.
    pub from: Option<DateTime<Utc>>,
    /// First creation time excluded; none: no end.
    pub to: Option<DateTime<Utc>>,
    /// Folder for the day files and `schema.json`.
    pub out: PathBuf,
    /// Whether the day files are gzipped.
    pub gzip: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the span fields (such as `request_id`).
    Json,
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
