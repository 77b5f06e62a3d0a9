//! The SQLite file's tables and their numbered layout: creating them in an
//! empty file, rewriting an older layout (counting its likes into the
//! timeline), refusing a newer one.

use super::classify;
use crate::store::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// The file layout these tables make, kept in SQLite's `user_version`.
/// 0 is a file without one: empty, or written before layouts were numbered,
/// when `Likes` was a `WITHOUT ROWID` table keyed by its id as 36
/// characters of text. 1 had no `LikeAudiences`; 2 had no `LikeTimeline`;
/// 1 to 3 kept `Likes` as a rowid table with a unique index on every id;
/// 0 to 4 also indexed `Likes` by talk (`LikesBySession`), which no read
/// of the service needs and every like paid for.
const LAYOUT: i64 = 5;

/// `Likes` in `LAYOUT`. It mirrors `schema.sql` (the Spanner DDL) but for
/// its keys, and has no index by talk: Spanner's serves its recount, which
/// SQLite does not run. Rows are keyed by (creation time, id), so each flush appends
/// to the end of the table rather than landing in random pages of an id
/// index. Only a named id (UUID v5, from a `clientMutationId`: its 7th
/// byte is 0x50 to 0x5f) can come again in a later like, so only those
/// are indexed by id alone. A random id comes again only in a replayed
/// flush, with its creation time: the key refuses it.
const LIKES: &str = "
CREATE TABLE IF NOT EXISTS Likes (
    -- the UUID's 16 bytes; the check stops a build older than layout 1,
    -- which writes text ids, from storing a like twice
    Id        BLOB    NOT NULL CHECK (typeof(Id) = 'blob' AND length(Id) = 16),
    SessionId INTEGER NOT NULL,
    Uuid      TEXT    NOT NULL,
    ServerId  TEXT    NOT NULL,
    CreatedAt INTEGER NOT NULL, -- microseconds since the Unix epoch, UTC
    PRIMARY KEY (CreatedAt, Id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS LikesByNamedId ON Likes (Id)
    WHERE substr(Id, 7, 1) BETWEEN x'50' AND x'5f';
";

/// The rest of the `schema.sql` mirror.
const OTHERS: &str = "
DROP INDEX IF EXISTS LikesBySession;
CREATE TABLE IF NOT EXISTS LikeSummaryServers (
    Second    INTEGER NOT NULL,
    SessionId INTEGER NOT NULL,
    ServerId  TEXT    NOT NULL,
    Likes     INTEGER NOT NULL,
    PRIMARY KEY (Second, SessionId, ServerId)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS LikeSummaryTotals (
    SessionId INTEGER NOT NULL,
    ServerId  TEXT    NOT NULL,
    Likes     INTEGER NOT NULL,
    PRIMARY KEY (SessionId, ServerId)
) WITHOUT ROWID;
-- Spanner keeps a replica's report in one row of arrays; SQLite has no
-- arrays, so here it is a row per (replica, talk), replaced whole.
CREATE TABLE IF NOT EXISTS LikeAudiences (
    ServerId  TEXT    NOT NULL,
    SessionId INTEGER NOT NULL,
    Second    INTEGER NOT NULL,
    Watching  INTEGER NOT NULL,
    PRIMARY KEY (ServerId, SessionId)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS LikeTimeline (
    SessionId INTEGER NOT NULL,
    Start     INTEGER NOT NULL, -- the slot's first second since the epoch
    ServerId  TEXT    NOT NULL,
    Likes     INTEGER NOT NULL,
    PRIMARY KEY (SessionId, Start, ServerId)
) WITHOUT ROWID;
";

/// Counts the likes of a file from before `LikeTimeline` into it, per
/// talk, slot of their creation time (10 s, rounded down) and server: the
/// rows its flushes would have written. Run in the upgrade's transaction,
/// so no flush can come between the likes read and the rows written.
const BACKFILL_TIMELINE: &str = "
INSERT INTO LikeTimeline (SessionId, Start, ServerId, Likes)
    SELECT SessionId,
           (CreatedAt - ((CreatedAt % 10000000) + 10000000) % 10000000) / 1000000 AS Start,
           ServerId, COUNT(*)
    FROM Likes GROUP BY SessionId, Start, ServerId;
";

/// Moves an older layout's `Likes` aside, without its index by talk, for
/// `LIKES` to take its name.
const SET_OLD_LIKES_ASIDE: &str = "
DROP INDEX IF EXISTS LikesBySession;
ALTER TABLE Likes RENAME TO LikesBefore;
";

/// Copies layout 0's likes into the new `Likes`, keeping every row and id,
/// in the new key's order.
const COPY_LAYOUT_0: &str = "
INSERT INTO Likes (Id, SessionId, Uuid, ServerId, CreatedAt)
    SELECT unhex(Id, '-'), SessionId, Uuid, ServerId, CreatedAt FROM LikesBefore
    ORDER BY CreatedAt, 1;
DROP TABLE LikesBefore;
";

/// Copies the likes of layouts 1 to 3 (ids already as bytes), the same way.
const COPY_LAYOUT_1_TO_3: &str = "
INSERT INTO Likes (Id, SessionId, Uuid, ServerId, CreatedAt)
    SELECT Id, SessionId, Uuid, ServerId, CreatedAt FROM LikesBefore
    ORDER BY CreatedAt, Id;
DROP TABLE LikesBefore;
";

/// How long opening waits for another process bringing the file to
/// `LAYOUT`.
const LOCK_WAIT: Duration = Duration::from_secs(300);

/// Brings the file to `LAYOUT`: creates the tables of an empty file and
/// rewrites an older layout, in one transaction, so every process sharing
/// the file sees it before or after, never half done. A file from a newer
/// build is refused untouched. A file already at `LAYOUT` is only read.
pub(super) fn prepare(
    conn: &mut Connection,
    path: &Path,
    lock_timeout: Duration,
) -> Result<(), StoreError> {
    if layout(conn, path)? == LAYOUT {
        return Ok(());
    }
    // Another process may be rewriting a large file: wait for it to finish.
    conn.busy_timeout(LOCK_WAIT).map_err(classify)?;
    let upgraded = upgrade(conn, path);
    conn.busy_timeout(lock_timeout).map_err(classify)?;
    upgraded
}

/// The file's layout; an error if it is newer than `LAYOUT`.
fn layout(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    let layout: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(classify)?;
    if layout > LAYOUT {
        return Err(StoreError::Unavailable(format!(
            "SQLite file {} has layout {layout}, newer than this build's {LAYOUT}: \
             run a newer likes on it",
            path.display()
        )));
    }
    Ok(layout)
}

fn upgrade(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(classify)?;
    // Read again under the write lock: another process may have done it.
    if layout(&tx, path)? == LAYOUT {
        return Ok(());
    }
    // Layouts 1 and 2 also lack tables that `OTHERS` creates.
    let had_timeline = has_table(&tx, "LikeTimeline")?;
    // Layout 4's `Likes` is kept as it is; `OTHERS` drops its index.
    let copy = match (layout(&tx, path)?, has_table(&tx, "Likes")?) {
        (_, false) | (4.., true) => None,
        (0, true) => Some(COPY_LAYOUT_0),
        (_, true) => Some(COPY_LAYOUT_1_TO_3),
    };
    if copy.is_some() {
        tx.execute_batch(SET_OLD_LIKES_ASIDE).map_err(classify)?;
    }
    tx.execute_batch(LIKES).map_err(classify)?;
    if let Some(copy) = copy {
        tx.execute_batch(copy).map_err(|e| {
            StoreError::Internal(format!(
                "rewriting the likes of SQLite file {} into layout {LAYOUT}: {e}",
                path.display()
            ))
        })?;
    }
    tx.execute_batch(OTHERS).map_err(classify)?;
    if !had_timeline {
        tx.execute_batch(BACKFILL_TIMELINE).map_err(|e| {
            StoreError::Internal(format!(
                "counting the likes of SQLite file {} into its timeline: {e}",
                path.display()
            ))
        })?;
    }
    tx.pragma_update(None, "user_version", LAYOUT)
        .map_err(classify)?;
    tx.commit().map_err(classify)
}

fn has_table(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
        [name],
        |row| row.get(0),
    )
    .map_err(classify)
}
