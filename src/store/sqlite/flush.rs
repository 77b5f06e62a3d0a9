//! One flush on SQLite: each commit inserts the likes not stored yet, 32
//! rows a statement, and grows this server's bucket, totals and timeline
//! rows by them, in one `BEGIN IMMEDIATE` transaction. Also what such a
//! commit costs, for when commit limits are set.

use crate::model::{Like, Second, TalkId, slot_of};
use crate::store::commit_plan::WriteCost;
use crate::store::{FlushBatch, FlushReport};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;

/// A flush's size in the units of `CommitLimits`, for when limits are set
/// (SQLite has none of its own): the cells of this file's rows, counted the
/// way Spanner counts its own. A like writes 5 columns, plus, when its id
/// is named, 2 in `LikesByNamedId` (counted for every like: a bound); a
/// talk's bucket and totals rows, 4 and 3 columns; a timeline row, 4.
pub(super) const WRITE_COST: WriteCost = WriteCost {
    mutations_per_like: 5 + 2,
    bytes_per_like: 16 + 8 + 64 + 8,
    mutations_per_talk: 4 + 3,
    bytes_per_talk: 8 + 8 + 64 + 8 + 8 + 64 + 8,
    mutations_per_slot: 4,
    bytes_per_slot: 8 + 8 + 64 + 8,
};

/// Likes inserted by one statement: a flush inserts them this many at a
/// time (the rest one by one), so the work of running a statement, and
/// binding the server's id, is shared by many.
const ROWS_PER_INSERT: usize = 32;

/// Inserts `rows` likes, those not stored yet. The server's id is `?1`;
/// each row's id, talk, liker and creation time follow.
fn insert_likes(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let at = 2 + 4 * row;
            format!("(?{at}, ?{}, ?{}, ?1, ?{})", at + 1, at + 2, at + 3)
        })
        .collect();
    format!(
        "INSERT INTO Likes (Id, SessionId, Uuid, ServerId, CreatedAt) VALUES {} \
         ON CONFLICT DO NOTHING",
        values.join(", ")
    )
}

/// Runs `statement` (of `insert_likes(likes.len())`) on `likes` of
/// `server`; how many rows it inserted.
fn insert(
    statement: &mut rusqlite::Statement<'_>,
    server: &str,
    likes: &[&Like],
) -> rusqlite::Result<usize> {
    statement.raw_bind_parameter(1, server)?;
    for (row, like) in likes.iter().enumerate() {
        let at = 2 + 4 * row;
        statement.raw_bind_parameter(at, like.id.0.as_bytes().as_slice())?;
        statement.raw_bind_parameter(at + 1, like.talk.0)?;
        statement.raw_bind_parameter(at + 2, &like.liker)?;
        statement.raw_bind_parameter(at + 3, like.created_at.timestamp_micros())?;
    }
    statement.raw_execute()
}

/// One transaction: inserts the likes not stored yet and adds their count
/// to this server's bucket and totals rows.
pub(super) fn flush_chunk(
    conn: &mut Connection,
    batch: &FlushBatch,
    likes: &[Like],
    retention_secs: i64,
) -> rusqlite::Result<FlushReport> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut report = FlushReport::default();
    let mut new_per_talk: BTreeMap<TalkId, i64> = BTreeMap::new();
    let mut new_per_slot: BTreeMap<(TalkId, Second), i64> = BTreeMap::new();
    {
        // In key order (a batch is nearly so already), the rows append to
        // the end of the table's last pages.
        let mut by_key: Vec<&Like> = likes.iter().collect();
        by_key.sort_by_key(|like| (like.created_at, like.id));
        let mut many = tx.prepare_cached(&insert_likes(ROWS_PER_INSERT))?;
        let mut one = tx.prepare_cached(&insert_likes(1))?;
        let server = batch.server.as_str();
        let mut inserted = |like: &Like| {
            report.inserted += 1;
            *new_per_talk.entry(like.talk).or_default() += 1;
            *new_per_slot
                .entry((like.talk, slot_of(like.created_at)))
                .or_default() += 1;
        };
        for chunk in by_key.chunks(ROWS_PER_INSERT) {
            // A full chunk goes in one statement, unless some of it was
            // stored already (a replayed flush): then, undone, one by one,
            // to know which.
            if chunk.len() == ROWS_PER_INSERT {
                tx.prepare_cached("SAVEPOINT chunk")?.execute([])?;
                if insert(&mut many, server, chunk)? == chunk.len() {
                    tx.prepare_cached("RELEASE chunk")?.execute([])?;
                    chunk.iter().for_each(|like| inserted(like));
                    continue;
                }
                tx.execute_batch("ROLLBACK TO chunk; RELEASE chunk")?;
            }
            for like in chunk {
                if insert(&mut one, server, std::slice::from_ref(like))? == 1 {
                    inserted(like);
                }
            }
        }
        report.duplicates = likes.len() as u64 - report.inserted;
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
        let mut timeline = tx.prepare_cached(
            "INSERT INTO LikeTimeline (SessionId, Start, ServerId, Likes)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (SessionId, Start, ServerId)
             DO UPDATE SET Likes = Likes + excluded.Likes",
        )?;
        report.summary_rows = 2 * new_per_talk.len() as u64;
        for (talk, count) in &new_per_talk {
            bucket.execute(params![batch.second, talk.0, batch.server.as_str(), count])?;
            let now: i64 = total
                .query_row(params![talk.0, batch.server.as_str(), count], |row| {
                    row.get(0)
                })?;
            report
                .own_totals
                .insert(*talk, u64::try_from(now).unwrap_or(0));
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
                entry.insert(now.map_or(0, |n| u64::try_from(n).unwrap_or(0)));
            }
        }
        report.timeline_rows = new_per_slot.len() as u64;
        for ((talk, start), count) in &new_per_slot {
            timeline.execute(params![talk.0, start, batch.server.as_str(), count])?;
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
