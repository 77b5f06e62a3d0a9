//! `LikeStore`: where likes and their per-second summary buckets live. This
//! module owns the trait every backend implements, the store URL, and the
//! rows that cross it; backends own their SQL and connections, never policy
//! (retries, timeouts and buffering belong to the storer and observer).

mod sqlite;
mod url;

pub use sqlite::SqliteStore;
pub use url::StoreUrl;

use crate::model::{Like, Second, ServerId, TalkId};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or refused the work; a retry may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The operation was cancelled because its deadline passed.
    #[error("store operation timed out")]
    Timeout,
    /// The store answered with something this code does not expect.
    #[error("store error: {0}")]
    Internal(String),
}

/// One flush of one server: likes to store, and the second whose bucket
/// receives the count of those that are new.
#[derive(Debug, Clone)]
pub struct FlushBatch {
    /// The flushing replica; owner of the bucket and totals rows written.
    pub server: ServerId,
    /// The bucket second: when this flush try started, on the server's clock.
    pub second: Second,
    /// The likes; those already stored (a retry) are skipped and not counted.
    pub likes: Arc<Vec<Like>>,
}

/// What a flush did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushReport {
    /// Likes stored by this flush and counted into the buckets.
    pub inserted: u64,
    /// Likes that were already stored (a retried flush or mutation).
    pub duplicates: u64,
}

/// One summary bucket: how many likes `server` stored for `talk` in `second`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryBucket {
    /// The second of the flush that wrote it.
    pub second: Second,
    /// The talk.
    pub talk: TalkId,
    /// The server that owns the row.
    pub server: ServerId,
    /// Likes counted so far; only ever grows.
    pub likes: u64,
}

/// One consistent read for the observer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// Every bucket with `second >= since`, all servers.
    pub buckets: Vec<SummaryBucket>,
    /// Per-talk totals over all servers, when asked for; read in the same
    /// snapshot as `buckets`.
    pub totals: Option<HashMap<TalkId, u64>>,
}

/// Storage for likes. Implementations are cheap to share (`Arc`) and safe
/// to call from many tasks; every write is atomic and idempotent.
#[async_trait]
pub trait LikeStore: Send + Sync + 'static {
    /// In one transaction: stores the batch's likes that are not stored yet,
    /// and adds their number, per talk, to this server's bucket for
    /// `batch.second` and to this server's running totals. Replaying a batch
    /// that was stored changes nothing. Dropping the future cancels the work.
    async fn flush(&self, batch: FlushBatch) -> Result<FlushReport, StoreError>;

    /// Reads, in one snapshot, all buckets with `second >= since` and, if
    /// `with_totals`, the per-talk totals over all servers.
    async fn observe(&self, since: Second, with_totals: bool) -> Result<Observation, StoreError>;

    /// Per-talk totals over all servers, from the totals rows.
    async fn totals(&self) -> Result<HashMap<TalkId, u64>, StoreError>;

    /// Counts the stored like rows of one talk (a full scan of that talk's
    /// likes: for checks and tests, not for serving).
    async fn count_likes(&self, talk: TalkId) -> Result<u64, StoreError>;

    /// Succeeds when the store answers a trivial read.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the store a URL names, creating what is missing.
pub async fn open(
    url: &StoreUrl,
    options: &StoreOptions,
) -> Result<Arc<dyn LikeStore>, StoreError> {
    match url {
        StoreUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path, options).await?)),
        StoreUrl::Spanner(name) => Err(StoreError::Unavailable(format!(
            "the Cloud Spanner backend ({name}) is not built into this version"
        ))),
    }
}

/// Settings every backend honours.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a write may wait for another writer's lock before failing.
    pub lock_timeout: std::time::Duration,
    /// Buckets older than this are deleted by the owning server's flushes.
    pub bucket_retention: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            lock_timeout: std::time::Duration::from_secs(1),
            bucket_retention: std::time::Duration::from_secs(3600),
        }
    }
}
