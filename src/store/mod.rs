//! `LikeStore`: where likes, their per-second summary buckets and each
//! talk's timeline (likes per slot of creation time) live. This
//! module owns the trait every backend implements, the store URL, the rows
//! that cross it and `migrate`; backends own their SQL, connections and
//! commit limits. Retrying failed flushes and buffering belong to the
//! storer; a backend only bounds each call it makes.

pub mod commit_plan;
pub mod spanner;
mod sqlite;
pub(crate) mod url;

pub use commit_plan::CommitLimits;
pub use spanner::SpannerStore;
pub use sqlite::SqliteStore;
pub use url::StoreUrl;

use crate::model::{Like, SLOT_SECONDS, Second, ServerId, TalkId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::mpsc;

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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlushReport {
    /// Likes stored by this flush and counted into the buckets.
    pub inserted: u64,
    /// Likes that were already stored (a retried flush or mutation).
    pub duplicates: u64,
    /// Transactions committed: more than one when the batch exceeded the
    /// store's commit limits and was split.
    pub commits: u64,
    /// Summary rows written: a bucket row and a totals row per talk that
    /// got new likes, in each commit. They grow with active talks, not likes.
    pub summary_rows: u64,
    /// Timeline rows written: one per (talk, slot) that got new likes, in
    /// each commit; usually one per active talk, more after an outage.
    pub timeline_rows: u64,
    /// Cloud Spanner mutations committed: as its commit statistics count
    /// them, or, where it gives none (the emulator), as the commits' cells
    /// add up; 0 on SQLite, which has no such unit.
    pub mutations: u64,
    /// This server's running total of each talk of the batch, as committed
    /// (0 for a talk it never stored a like of): what a replica reads back
    /// of its own likes, whichever try of a replayed flush stored them.
    pub own_totals: BTreeMap<TalkId, u64>,
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

/// How many likes of one talk were created in one timeline slot, over all
/// servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotCount {
    /// The talk.
    pub talk: TalkId,
    /// The slot's first second (a multiple of `SLOT_SECONDS`).
    pub start: Second,
    /// Likes created in it, stored so far.
    pub likes: u64,
}

/// The first slot an observation reads for a window starting at `since`:
/// the slot one `SLOT_SECONDS` before it, so that likes created shortly
/// before their flush are found with their bucket.
pub fn recent_slots_from(since: Second) -> Second {
    since.saturating_sub(SLOT_SECONDS).div_euclid(SLOT_SECONDS) * SLOT_SECONDS
}

/// One replica's subscribers of one talk, as it last reported them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchers {
    /// The second of the report, on the replica's clock.
    pub second: Second,
    /// The talk.
    pub talk: TalkId,
    /// The replica.
    pub server: ServerId,
    /// Its subscribers of the talk.
    pub watching: u64,
}

/// One consistent read for the observer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// Every bucket with `second >= since`, all servers.
    pub buckets: Vec<SummaryBucket>,
    /// Per-talk totals over all servers, when asked for; read in the same
    /// snapshot as `buckets`.
    pub totals: Option<HashMap<TalkId, u64>>,
    /// With `totals`, the observing server's own running totals per talk
    /// (the talks it stored likes of), from the same snapshot.
    pub own_totals: Option<HashMap<TalkId, u64>>,
    /// Every replica's last audience report with `second >= since`: a
    /// replica that stopped reporting drops out with the window.
    pub audience: Vec<Watchers>,
    /// For every talk with a bucket in `buckets`, its slots from
    /// `recent_slots_from(since)` on, each summed over all servers.
    pub slots: Vec<SlotCount>,
}

impl Observation {
    /// The rows this read returned that grow with replicas, talks and the
    /// window, where the read count does not (timeline slots, summed over
    /// replicas, do not).
    pub fn rows(&self) -> u64 {
        let totals = [&self.totals, &self.own_totals]
            .into_iter()
            .map(|totals| totals.as_ref().map_or(0, HashMap::len))
            .sum::<usize>();
        (self.buckets.len() + totals + self.audience.len()) as u64
    }
}

/// A stored like, as `likes export` reads it: the row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLike {
    /// The like's id (a UUID).
    pub id: String,
    /// The talk.
    pub session_id: i64,
    /// The liker (GraphQL `uuid`).
    pub liker: String,
    /// The replica that stored it.
    pub server: String,
    /// When a replica acknowledged it.
    pub created_at: DateTime<Utc>,
}

/// Creation times from `from` (inclusive) to `to` (exclusive); `None` is
/// unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// The first instant included.
    pub from: Option<DateTime<Utc>>,
    /// The first instant excluded.
    pub to: Option<DateTime<Utc>>,
}

/// What an export read sends, in this order: how many likes the range
/// holds, then each of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exported {
    /// The number of likes that follow.
    Total(u64),
    /// One like.
    Like(StoredLike),
}

/// Storage for likes. Implementations are cheap to share (`Arc`) and safe
/// to call from many tasks; every write is atomic and idempotent.
#[async_trait]
pub trait LikeStore: Send + Sync + 'static {
    /// Stores the batch's likes that are not stored yet, and adds their
    /// number, per talk, to this server's bucket for `batch.second`, to
    /// this server's running totals and, per slot of their creation time,
    /// to this server's timeline rows. A batch larger than the store's commit
    /// limits is split; each commit holds its likes and their counts, so a
    /// failure midway leaves nothing half-counted. Replaying a batch, whole
    /// or partly stored, changes nothing. Dropping the future cancels the work.
    async fn flush(&self, batch: FlushBatch) -> Result<FlushReport, StoreError>;

    /// Replaces `server`'s audience report: its subscribers per talk (the
    /// talks that have some) as of `second`. Cheap and idempotent: one row.
    async fn report_audience(
        &self,
        server: &ServerId,
        second: Second,
        audience: &[(TalkId, u64)],
    ) -> Result<(), StoreError>;

    /// Reads, in one snapshot, all buckets and audience reports with
    /// `second >= since`, the recent slots of the talks those buckets
    /// count (see `Observation::slots`) and, if `with_totals`, the per-talk
    /// totals over all servers and `own`'s running totals.
    async fn observe(
        &self,
        since: Second,
        with_totals: bool,
        own: &ServerId,
    ) -> Result<Observation, StoreError>;

    /// Every slot of these talks' timelines, each summed over all servers,
    /// in one snapshot: a range read per talk, growing with the length of
    /// its timeline, not with its likes.
    async fn timelines(&self, talks: &[TalkId]) -> Result<Vec<SlotCount>, StoreError>;

    /// Per-talk totals over all servers, from the totals rows.
    async fn totals(&self) -> Result<HashMap<TalkId, u64>, StoreError>;

    /// Counts the stored like rows of one talk: a scan (of that talk's likes
    /// on SQLite, of all likes on Spanner), for checks and tests, not serving.
    async fn count_likes(&self, talk: TalkId) -> Result<u64, StoreError>;

    /// Succeeds when the store answers a trivial read.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Sends `Total`, then every like created in `range` ordered by creation
    /// time and id, all from one snapshot, through a bounded channel: memory
    /// does not grow with the number of likes. Stops early, without error,
    /// when the receiver is gone.
    async fn export(
        &self,
        range: TimeRange,
        rows: mpsc::Sender<Exported>,
    ) -> Result<(), StoreError>;
}

/// Opens the store a URL names. SQLite creates its file and tables; a
/// Spanner database must exist with its schema (`likes migrate`).
pub async fn open(
    url: &StoreUrl,
    options: &StoreOptions,
) -> Result<Arc<dyn LikeStore>, StoreError> {
    match url {
        StoreUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path, options).await?)),
        StoreUrl::Spanner(name) => Ok(Arc::new(SpannerStore::connect(name, options).await?)),
    }
}

/// What `migrate` did to a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migrated {
    /// The SQLite file has every table (they are created when missing).
    Sqlite,
    /// What was created or applied in the Spanner database.
    Spanner(spanner::Migration),
}

impl std::fmt::Display for Migrated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite => f.write_str("the SQLite schema is in place"),
            Self::Spanner(m) => {
                if m.created_instance {
                    f.write_str("created the emulator instance; ")?;
                }
                if m.created_database {
                    f.write_str("created the database with the whole schema")?;
                } else if m.applied.is_empty() {
                    f.write_str("the schema was up to date")?;
                } else {
                    write!(f, "applied: {}", m.applied.join(", "))?;
                }
                if m.set_retention {
                    write!(
                        f,
                        "; set version_retention_period to {}",
                        spanner::VERSION_RETENTION
                    )?;
                }
                if m.recounted > 0 {
                    write!(
                        f,
                        "; counted {} stored likes into the timeline",
                        m.recounted
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Brings the store's schema up to date (`likes migrate`).
pub async fn migrate(url: &StoreUrl) -> Result<Migrated, StoreError> {
    match url {
        StoreUrl::Sqlite(path) => {
            SqliteStore::open(path, &StoreOptions::default()).await?;
            Ok(Migrated::Sqlite)
        }
        StoreUrl::Spanner(name) => Ok(Migrated::Spanner(spanner::migrate(name).await?)),
    }
}

/// Settings every backend honours.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// SQLite: how long a write may wait for another writer's lock.
    pub lock_timeout: std::time::Duration,
    /// Spanner: the most one operation may take, the transaction's own
    /// retries of aborted attempts included.
    pub op_timeout: std::time::Duration,
    /// SQLite: buckets older than this are deleted by flushes. (Spanner's
    /// buckets expire by the table's row deletion policy.)
    pub bucket_retention: std::time::Duration,
    /// The most one commit may hold; `None` is the backend's own limit
    /// (Spanner's 80,000 mutations and 100 MiB; none for SQLite).
    pub commit_limits: Option<CommitLimits>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            lock_timeout: std::time::Duration::from_secs(1),
            op_timeout: std::time::Duration::from_secs(10),
            bucket_retention: std::time::Duration::from_secs(3600),
            commit_limits: None,
        }
    }
}
