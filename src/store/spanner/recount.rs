//! Counting stored likes into `LikeTimeline` where its rows fall short of
//! them: likes stored before the table existed (a database migrated from
//! a schema without it), or by replicas of a build that did not write it.
//! `likes migrate` runs it once the schema is complete. Exact beside
//! running replicas and other recounts: each row gains the likes one
//! snapshot found stored and not counted, in a read-write transaction that
//! writes it only if it still holds what the snapshot saw; a row that
//! changed meanwhile is counted again from a newer snapshot.

use crate::model::SLOT_SECONDS;
use google_cloud_spanner::Error as SpannerError;
use google_cloud_spanner::client::DatabaseClient;
use google_cloud_spanner::key;
use google_cloud_spanner::key::KeySet;
use google_cloud_spanner::mutation::Mutation;
use google_cloud_spanner::read::ReadRequest;
use google_cloud_spanner::statement::Statement;
use google_cloud_spanner::transaction::ReadWriteTransaction;
use std::collections::{BTreeMap, HashMap};

/// Rows written per read-write transaction: 4 mutations each, well within
/// Spanner's 80,000.
const ROWS_PER_COMMIT: usize = 5_000;

/// Snapshots taken before giving up on rows that keep changing.
const ROUNDS: usize = 5;

/// What a recount did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recounted {
    /// Stored likes counted into the timeline.
    pub likes: u64,
    /// Timeline rows written.
    pub rows: u64,
}

/// A timeline row's key: (talk, slot start, server).
type Slot = (i64, i64, String);

/// What a snapshot found for a row: the likes it misses, and what it held.
#[derive(Debug, Clone, Copy)]
struct Missing {
    likes: i64,
    held: i64,
}

/// The talks whose timeline rows add up to less than their totals.
const SHORT_SQL: &str = "
SELECT t.SessionId FROM
  (SELECT SessionId, SUM(Likes) AS Likes FROM LikeSummaryTotals GROUP BY SessionId) AS t
  LEFT JOIN (SELECT SessionId, SUM(Likes) AS Likes FROM LikeTimeline GROUP BY SessionId) AS s
  ON s.SessionId = t.SessionId
WHERE t.Likes > IFNULL(s.Likes, 0)";
/// Those talks' stored likes per timeline row (a scan of `Likes`).
const STORED_SQL: &str = "
SELECT SessionId, DIV(UNIX_SECONDS(CreatedAt), @slot) * @slot AS Start, ServerId, COUNT(*) AS Likes
FROM Likes WHERE SessionId IN UNNEST(@talks)
GROUP BY SessionId, Start, ServerId";
/// Those talks' timeline rows.
const ROWS_SQL: &str = "
SELECT SessionId, Start, ServerId, Likes FROM LikeTimeline WHERE SessionId IN UNNEST(@talks)";

/// Brings every timeline row up to the likes stored for it. Reads only the
/// totals and the timeline when nothing is missing; else scans `Likes` for
/// the talks that miss some.
pub(super) async fn recount(client: &DatabaseClient) -> Result<Recounted, SpannerError> {
    let mut recounted = Recounted::default();
    for _ in 0..ROUNDS {
        let missing: Vec<(Slot, Missing)> = uncounted(client).await?.into_iter().collect();
        if missing.is_empty() {
            return Ok(recounted);
        }
        let mut changed = false;
        for chunk in missing.chunks(ROWS_PER_COMMIT) {
            let added = add(client, chunk.to_vec()).await?;
            recounted.rows += added.rows;
            recounted.likes += added.likes;
            changed |= added.rows < chunk.len() as u64;
        }
        if !changed {
            return Ok(recounted);
        }
    }
    Err(SpannerError::deser(format!(
        "timeline rows kept changing during {ROUNDS} recounts; run likes migrate again"
    )))
}

/// In one snapshot: the likes stored and not counted, per timeline row.
async fn uncounted(client: &DatabaseClient) -> Result<BTreeMap<Slot, Missing>, SpannerError> {
    let snapshot = client.read_only_transaction().build().await?;
    let mut talks: Vec<i64> = Vec::new();
    let mut rows = snapshot.execute_query(SHORT_SQL).await?;
    while let Some(row) = rows.next().await.transpose()? {
        talks.push(row.get("SessionId")?);
    }
    let mut missing = BTreeMap::new();
    if talks.is_empty() {
        return Ok(missing);
    }
    let stored = Statement::builder(STORED_SQL)
        .add_param("talks", talks.clone())
        .add_param("slot", SLOT_SECONDS)
        .build();
    let mut rows = snapshot.execute_query(stored).await?;
    while let Some(row) = rows.next().await.transpose()? {
        let slot = (
            row.get("SessionId")?,
            row.get("Start")?,
            row.get("ServerId")?,
        );
        let likes = row.get("Likes")?;
        missing.insert(slot, Missing { likes, held: 0 });
    }
    let counted = Statement::builder(ROWS_SQL)
        .add_param("talks", talks)
        .build();
    let mut rows = snapshot.execute_query(counted).await?;
    while let Some(row) = rows.next().await.transpose()? {
        let slot: Slot = (
            row.get("SessionId")?,
            row.get("Start")?,
            row.get("ServerId")?,
        );
        if let Some(missing) = missing.get_mut(&slot) {
            missing.held = row.get("Likes")?;
            missing.likes -= missing.held;
        }
    }
    missing.retain(|_, missing| missing.likes > 0);
    Ok(missing)
}

/// Adds `missing` to the rows that still hold what the snapshot saw, in
/// one read-write transaction; what it added.
async fn add(
    client: &DatabaseClient,
    missing: Vec<(Slot, Missing)>,
) -> Result<Recounted, SpannerError> {
    let runner = client
        .read_write_transaction()
        .set_transaction_tag("recount")
        .build();
    let result = runner
        .run(async move |tx: ReadWriteTransaction| {
            let keys = missing
                .iter()
                .fold(KeySet::builder(), |keys, ((talk, start, server), _)| {
                    keys.add_key(key![*talk, *start, server.as_str()])
                })
                .build();
            let read =
                ReadRequest::builder("LikeTimeline", ["SessionId", "Start", "ServerId", "Likes"])
                    .with_keys(keys)
                    .build();
            let mut rows = tx.execute_read(read).await?;
            let mut held: HashMap<Slot, i64> = HashMap::new();
            while let Some(row) = rows.next().await.transpose()? {
                let slot = (
                    row.get("SessionId")?,
                    row.get("Start")?,
                    row.get("ServerId")?,
                );
                held.insert(slot, row.get("Likes")?);
            }
            let mut added = Recounted::default();
            let mut writes = Vec::new();
            for ((talk, start, server), missing) in &missing {
                let now = held
                    .get(&(*talk, *start, server.clone()))
                    .copied()
                    .unwrap_or(0);
                if now != missing.held {
                    continue;
                }
                added.rows += 1;
                added.likes += missing.likes as u64;
                writes.push(
                    Mutation::new_insert_or_update_builder("LikeTimeline")
                        .set("SessionId")
                        .to(*talk)
                        .set("Start")
                        .to(*start)
                        .set("ServerId")
                        .to(server.as_str())
                        .set("Likes")
                        .to(now + missing.likes)
                        .build(),
                );
            }
            if !writes.is_empty() {
                tx.buffer(writes)?;
            }
            Ok(added)
        })
        .await?;
    Ok(result.into_parts().0)
}
