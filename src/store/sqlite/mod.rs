//! The embedded SQLite backend: one file, shared safely by every process on
//! one machine (WAL mode, `BEGIN IMMEDIATE` writes). Blocking SQLite calls
//! run on tokio's blocking pool; dropping an operation's future cancels it.
//! The file's tables and their numbered layout are in `layout`.

mod layout;

use super::commit_plan::{self, CommitLimits, WriteCost};
use super::{
    Exported, FlushBatch, FlushReport, LikeStore, Observation, StoreError, StoreOptions,
    StoredLike, SummaryBucket, TimeRange, Watchers,
};
use crate::model::{Like, Second, ServerId, TalkId};
use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::collections::{BTreeMap, HashMap};
use std::ffi::c_int;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Mutex, mpsc};

/// A SQLite file holding likes, buckets and totals.
pub struct SqliteStore {
    /// Used by flushes only; the storer never runs two at once.
    writer: Arc<Mutex<Connection>>,
    /// Used by every read.
    reader: Arc<Mutex<Connection>>,
    retention_secs: i64,
    /// Split flushes larger than this; `None`: one transaction per flush.
    limits: Option<CommitLimits>,
}

/// A flush's size in the units of `CommitLimits`, for when limits are set
/// (SQLite has none of its own): the cells of this file's rows, counted the
/// way Spanner counts its own. A like writes 5 columns, plus 2 in the
/// unique index on `Id` and 3 in `LikesBySession`; a talk's bucket and
/// totals rows, 4 and 3 columns.
const WRITE_COST: WriteCost = WriteCost {
    mutations_per_like: 5 + 2 + 3,
    bytes_per_like: 16 + 8 + 64 + 8,
    mutations_per_talk: 4 + 3,
    bytes_per_talk: 8 + 8 + 64 + 8 + 8 + 64 + 8,
};

/// SQLite calls the cancellation check every this many VM steps.
const CANCEL_CHECK_STEPS: c_int = 1_000;

/// Marks its operation cancelled when dropped; the running SQL notices at
/// its next progress check and rolls back.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and its tables.
    pub async fn open(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        let path = path.to_owned();
        let lock_timeout = options.lock_timeout;
        let retention_secs = options.bucket_retention.as_secs().max(1) as i64;
        let limits = options.commit_limits;
        tokio::task::spawn_blocking(move || {
            let mut writer = connect(&path, lock_timeout)?;
            layout::prepare(&mut writer, &path, lock_timeout)?;
            let reader = connect(&path, lock_timeout)?;
            Ok(Self {
                writer: Arc::new(Mutex::new(writer)),
                reader: Arc::new(Mutex::new(reader)),
                retention_secs,
                limits,
            })
        })
        .await
        .map_err(|e| StoreError::Internal(format!("opening SQLite panicked: {e}")))?
    }

    /// Runs `work` on the connection on tokio's blocking pool. Waiting for the
    /// connection holds no thread; dropping the returned future cancels the
    /// work (SQLite stops at its next progress check and rolls back).
    async fn run<T, F>(connection: &Arc<Mutex<Connection>>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let mut conn = connection.clone().lock_owned().await;
        let cancelled = Arc::new(AtomicBool::new(false));
        let _cancel_on_drop = CancelOnDrop(cancelled.clone());
        tokio::task::spawn_blocking(move || {
            if cancelled.load(Ordering::Relaxed) {
                return Err(StoreError::Timeout);
            }
            let check = cancelled.clone();
            conn.progress_handler(
                CANCEL_CHECK_STEPS,
                Some(move || check.load(Ordering::Relaxed)),
            );
            let result = work(&mut conn);
            conn.progress_handler(0, None::<fn() -> bool>);
            match result {
                Err(_) if cancelled.load(Ordering::Relaxed) => Err(StoreError::Timeout),
                other => other.map_err(classify),
            }
        })
        .await
        .map_err(|e| StoreError::Internal(format!("SQLite task panicked: {e}")))?
    }
}

fn connect(path: &Path, lock_timeout: std::time::Duration) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        StoreError::Unavailable(format!("cannot open SQLite file {}: {e}", path.display()))
    })?;
    conn.busy_timeout(lock_timeout).map_err(classify)?;
    // Switching a file to WAL needs the other connections out of it, and
    // SQLite answers BUSY at once instead of waiting: two processes opening
    // a new file together would otherwise fail. Retried until lock_timeout.
    let started = std::time::Instant::now();
    while let Err(e) = conn.pragma_update(None, "journal_mode", "WAL") {
        let busy = e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy);
        if !busy || started.elapsed() >= lock_timeout {
            return Err(classify(e));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(classify)?;
    Ok(conn)
}

/// Locks held by others and I/O trouble are worth retrying; the rest is not.
fn classify(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::CannotOpen
            | ErrorCode::DiskFull
            | ErrorCode::ReadOnly,
        ) => StoreError::Unavailable(e.to_string()),
        Some(ErrorCode::OperationInterrupted) => StoreError::Timeout,
        _ => StoreError::Internal(e.to_string()),
    }
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl LikeStore for SqliteStore {
    async fn flush(&self, batch: FlushBatch) -> Result<FlushReport, StoreError> {
        let retention_secs = self.retention_secs;
        let ranges = match self.limits {
            Some(limits) => commit_plan::plan(&batch.likes, limits, &WRITE_COST),
            None => std::iter::once(0..batch.likes.len()).collect(),
        };
        Self::run(&self.writer, move |conn| {
            let mut report = FlushReport::default();
            for range in ranges {
                let chunk = flush_chunk(conn, &batch, &batch.likes[range], retention_secs)?;
                report.inserted += chunk.inserted;
                report.duplicates += chunk.duplicates;
                report.commits += 1;
                report.summary_rows += chunk.summary_rows;
                report.own_totals.extend(chunk.own_totals);
            }
            Ok(report)
        })
        .await
    }

    async fn observe(
        &self,
        since: Second,
        with_totals: bool,
        own: &ServerId,
    ) -> Result<Observation, StoreError> {
        let own = own.clone();
        Self::run(&self.reader, move |conn| {
            let tx = conn.transaction()?;
            let buckets =
                read_by_server(&tx, BUCKETS_SQL, since, |second, talk, server, likes| {
                    SummaryBucket {
                        second,
                        talk,
                        server,
                        likes,
                    }
                })?;
            let (totals, own_totals) = if with_totals {
                (Some(read_totals(&tx)?), Some(read_own_totals(&tx, &own)?))
            } else {
                (None, None)
            };
            let audience = read_by_server(&tx, AUDIENCE_SQL, since, |second, talk, server, n| {
                Watchers {
                    second,
                    talk,
                    server,
                    watching: n,
                }
            })?;
            tx.commit()?;
            Ok(Observation {
                buckets,
                totals,
                own_totals,
                audience,
            })
        })
        .await
    }

    async fn report_audience(
        &self,
        server: &ServerId,
        second: Second,
        audience: &[(TalkId, u64)],
    ) -> Result<(), StoreError> {
        let server = server.clone();
        let audience = audience.to_vec();
        let retention_secs = self.retention_secs;
        Self::run(&self.writer, move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "DELETE FROM LikeAudiences WHERE ServerId = ?1 OR Second < ?2",
                params![server.as_str(), second - retention_secs],
            )?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO LikeAudiences (ServerId, SessionId, Second, Watching)
                     VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (talk, watching) in &audience {
                    let watching = i64::try_from(*watching).unwrap_or(i64::MAX);
                    insert.execute(params![server.as_str(), talk.0, second, watching])?;
                }
            }
            tx.commit()
        })
        .await
    }

    async fn totals(&self) -> Result<HashMap<TalkId, u64>, StoreError> {
        Self::run(&self.reader, |conn| read_totals(conn)).await
    }

    async fn count_likes(&self, talk: TalkId) -> Result<u64, StoreError> {
        Self::run(&self.reader, move |conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM Likes WHERE SessionId = ?1",
                params![talk.0],
                |row| row.get::<_, i64>(0),
            )
            .map(to_u64)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Self::run(&self.reader, |conn| {
            conn.query_row("SELECT COUNT(*) FROM LikeSummaryTotals", [], |_| Ok(()))
        })
        .await
    }

    async fn export(
        &self,
        range: TimeRange,
        rows: mpsc::Sender<Exported>,
    ) -> Result<(), StoreError> {
        let from = range.from.map_or(i64::MIN, |t| t.timestamp_micros());
        let to = range.to.map_or(i64::MAX, |t| t.timestamp_micros());
        Self::run(&self.reader, move |conn| {
            // One read transaction: in WAL mode, one snapshot for both reads.
            let tx = conn.transaction()?;
            let total = tx.query_row(
                "SELECT COUNT(*) FROM Likes WHERE CreatedAt >= ?1 AND CreatedAt < ?2",
                params![from, to],
                |row| row.get::<_, i64>(0),
            )?;
            if rows.blocking_send(Exported::Total(to_u64(total))).is_err() {
                return Ok(());
            }
            let mut select = tx.prepare(
                "SELECT Id, SessionId, Uuid, ServerId, CreatedAt FROM Likes
                 WHERE CreatedAt >= ?1 AND CreatedAt < ?2 ORDER BY CreatedAt, Id",
            )?;
            let mut found = select.query(params![from, to])?;
            while let Some(row) = found.next()? {
                let micros: i64 = row.get(4)?;
                let created_at = chrono::DateTime::from_timestamp_micros(micros)
                    .ok_or(rusqlite::Error::IntegralValueOutOfRange(4, micros))?;
                let id: [u8; 16] = row.get(0)?;
                let like = StoredLike {
                    id: uuid::Uuid::from_bytes(id).hyphenated().to_string(),
                    session_id: row.get(1)?,
                    liker: row.get(2)?,
                    server: row.get(3)?,
                    created_at,
                };
                if rows.blocking_send(Exported::Like(like)).is_err() {
                    break;
                }
            }
            Ok(())
        })
        .await
    }
}

/// One transaction: inserts the likes not stored yet and adds their count
/// to this server's bucket and totals rows.
fn flush_chunk(
    conn: &mut Connection,
    batch: &FlushBatch,
    likes: &[Like],
    retention_secs: i64,
) -> rusqlite::Result<FlushReport> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut report = FlushReport::default();
    let mut new_per_talk: BTreeMap<TalkId, i64> = BTreeMap::new();
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO Likes (Id, SessionId, Uuid, ServerId, CreatedAt)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (Id) DO NOTHING",
        )?;
        // In id order, each page of the id index is visited once per
        // flush rather than once per like, which matters once the index
        // outgrows SQLite's page cache (see BENCHMARKS.md).
        let mut by_id: Vec<&Like> = likes.iter().collect();
        by_id.sort_unstable_by_key(|like| like.id);
        for like in by_id {
            let inserted = insert.execute(params![
                like.id.0.as_bytes().as_slice(),
                like.talk.0,
                like.liker,
                batch.server.as_str(),
                like.created_at.timestamp_micros(),
            ])?;
            if inserted == 1 {
                report.inserted += 1;
                *new_per_talk.entry(like.talk).or_default() += 1;
            } else {
                report.duplicates += 1;
            }
        }
        let mut bucket = tx.prepare_cached(
            "INSERT INTO LikeSummaryServers (Second, SessionId, ServerId, Likes)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (Second, SessionId, ServerId)
             DO UPDATE SET Likes = Likes + excluded.Likes",
        )?;
        let mut total = tx.prepare_cached(
            "INSERT INTO LikeSummaryTotals (SessionId, ServerId, Likes)
             VALUES (?1, ?2, ?3)
             ON CONFLICT (SessionId, ServerId)
             DO UPDATE SET Likes = Likes + excluded.Likes
             RETURNING Likes",
        )?;
        report.summary_rows = 2 * new_per_talk.len() as u64;
        for (talk, count) in &new_per_talk {
            bucket.execute(params![batch.second, talk.0, batch.server.as_str(), count])?;
            let now: i64 = total
                .query_row(params![talk.0, batch.server.as_str(), count], |row| {
                    row.get(0)
                })?;
            report.own_totals.insert(*talk, to_u64(now));
        }
        // A talk whose likes were all stored already (a replayed flush)
        // reports its total too: the try that stored them went unanswered.
        let mut read_total = tx.prepare_cached(
            "SELECT Likes FROM LikeSummaryTotals WHERE SessionId = ?1 AND ServerId = ?2",
        )?;
        for like in likes {
            if let std::collections::btree_map::Entry::Vacant(entry) =
                report.own_totals.entry(like.talk)
            {
                let now: Option<i64> = read_total
                    .query_row(params![like.talk.0, batch.server.as_str()], |row| {
                        row.get(0)
                    })
                    .optional()?;
                entry.insert(now.map_or(0, to_u64));
            }
        }
        // Any server prunes every server's old buckets, so those of
        // replicas that are gone do not pile up; totals are kept.
        tx.execute(
            "DELETE FROM LikeSummaryServers WHERE Second < ?1",
            params![batch.second - retention_secs],
        )?;
    }
    tx.commit()?;
    Ok(report)
}

/// Every server's buckets from `since` on.
const BUCKETS_SQL: &str =
    "SELECT Second, SessionId, ServerId, Likes FROM LikeSummaryServers WHERE Second >= ?1";
/// Every replica's last audience report from `since` on.
const AUDIENCE_SQL: &str =
    "SELECT Second, SessionId, ServerId, Watching FROM LikeAudiences WHERE Second >= ?1";

/// The rows `sql` selects from `since` on, as (second, talk, server,
/// count), each made into a `T`.
fn read_by_server<T>(
    conn: &Connection,
    sql: &str,
    since: Second,
    make: impl Fn(Second, TalkId, ServerId, u64) -> T,
) -> rusqlite::Result<Vec<T>> {
    let mut select = conn.prepare_cached(sql)?;
    let rows = select.query_map(params![since], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i32>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, i64>(3)?,
        ))
    })?;
    let mut made = Vec::new();
    for row in rows {
        let (second, talk, server, count) = row?;
        // Rows are written only by this code; a malformed id is skipped, not fatal.
        if let Ok(server) = ServerId::new(server) {
            made.push(make(second, TalkId(talk), server, to_u64(count)));
        }
    }
    Ok(made)
}

/// `server`'s running total per talk.
fn read_own_totals(conn: &Connection, server: &ServerId) -> rusqlite::Result<HashMap<TalkId, u64>> {
    let mut select =
        conn.prepare_cached("SELECT SessionId, Likes FROM LikeSummaryTotals WHERE ServerId = ?1")?;
    let rows = select.query_map(params![server.as_str()], |row| {
        Ok((row.get::<_, i32>(0)?, row.get::<_, i64>(1)?))
    })?;
    rows.map(|row| row.map(|(talk, likes)| (TalkId(talk), to_u64(likes))))
        .collect()
}

fn read_totals(conn: &Connection) -> rusqlite::Result<HashMap<TalkId, u64>> {
    let mut select = conn
        .prepare_cached("SELECT SessionId, SUM(Likes) FROM LikeSummaryTotals GROUP BY SessionId")?;
    let rows = select.query_map([], |row| Ok((row.get::<_, i32>(0)?, row.get::<_, i64>(1)?)))?;
    rows.map(|row| row.map(|(talk, likes)| (TalkId(talk), to_u64(likes))))
        .collect()
}
