//! One flush on SQLite: each commit inserts the likes not stored yet and
//! grows this server's bucket, totals and timeline rows by them, in one
//! `BEGIN IMMEDIATE` transaction. Also what such a commit costs, for when
//! commit limits are set.

use crate::model::{Like, Second, TalkId, slot_of};
use crate::store::commit_plan::WriteCost;
use crate::store::{FlushBatch, FlushReport};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;

/// A flush's size in the units of `CommitLimits`, for when limits are set
/// (SQLite has none of its own): the cells of this file's rows, counted the
/// way Spanner counts its own. A like writes 5 columns, plus 3 in
/// `LikesBySession` and, when its id is named, 2 in `LikesByNamedId`
/// (counted for every like: a bound); a talk's bucket and
/// totals rows, 4 and 3 columns; a timeline row, 4.
pub(super) const WRITE_COST: WriteCost = WriteCost {
    mutations_per_like: 5 + 2 + 3,
    bytes_per_like: 16 + 8 + 64 + 8,
    mutations_per_talk: 4 + 3,
    bytes_per_talk: 8 + 8 + 64 + 8 + 8 + 64 + 8,
    mutations_per_slot: 4,
    bytes_per_slot: 8 + 8 + 64 + 8,
};

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
        let mut insert = tx.prepare_cached(
            "INSERT INTO Likes (Id, SessionId, Uuid, ServerId, CreatedAt)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )?;
        // In key order (a batch is nearly so already), the rows append to
        // the end of the table's last pages.
        let mut by_key: Vec<&Like> = likes.iter().collect();
        by_key.sort_by_key(|like| (like.created_at, like.id));
        for like in by_key {
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
                *new_per_slot
                    .entry((like.talk, slot_of(like.created_at)))
                    .or_default() += 1;
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
