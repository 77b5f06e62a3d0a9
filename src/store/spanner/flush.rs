//! One flush commit on Spanner: insert the likes and grow this server's
//! counts, in one read-write transaction. Also what such a commit costs,
//! for the planner that cuts batches to Spanner's limits.
//!
//! A commit first writes blind: it reads only the counts, and inserts every
//! like. Spanner refuses the whole commit with `ALREADY_EXISTS` if any of
//! them is stored (a replayed flush, or a mutation retried on another
//! replica), and then the commit is made again, checked: it reads which of
//! the likes are stored and inserts only the others. Either way each like
//! is stored and counted once; the blind try saves a read of every id in
//! the common case, where none is stored.

use super::schema::IndexCost;
use crate::model::{Like, Second, ServerId};
use crate::store::FlushReport;
use crate::store::commit_plan::WriteCost;
use google_cloud_gax::error::rpc::Code;
use google_cloud_spanner::client::DatabaseClient;
use google_cloud_spanner::key;
use google_cloud_spanner::key::KeySet;
use google_cloud_spanner::model::transaction_options::read_write::ReadLockMode;
use google_cloud_spanner::mutation::Mutation;
use google_cloud_spanner::read::ReadRequest;
use google_cloud_spanner::statement::Statement;
use google_cloud_spanner::transaction::{BasicTransactionRetryPolicy, ReadWriteTransaction};
use google_cloud_spanner::value::Timestamp;
use google_cloud_spanner::{Error as SpannerError, model::CommitResponse};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a flush costs in Spanner's units. A like row writes its 5 columns,
/// a talk's bucket row 5 and its totals row 3, plus what secondary indexes
/// on those tables add (none in `schema.sql`). Bytes are the values' sizes
/// plus a generous allowance per row for keys and framing.
pub(super) fn write_cost(server: &ServerId, indexes: IndexCost) -> WriteCost {
    const ROW_OVERHEAD: u64 = 64;
    let server = server.as_str().len() as u64;
    WriteCost {
        mutations_per_like: 5 + indexes.likes,
        // Id (36) + SessionId (8) + ServerId + CreatedAt (12).
        bytes_per_like: 36 + 8 + server + 12 + ROW_OVERHEAD,
        mutations_per_talk: 5 + indexes.buckets + 3 + indexes.totals,
        bytes_per_talk: (8 + 8 + server + 8 + 12) + (8 + server + 8) + 2 * ROW_OVERHEAD,
    }
}

/// Whether a commit reads which of its likes are stored before it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Insert them all; Spanner refuses the commit if one is stored.
    Blind,
    /// Read their ids first, and insert only the new ones.
    Stored,
}

/// Stores one commit's worth of likes (`batch[range]`) and grows this
/// server's bucket and totals rows by the likes it stored, atomically:
/// blind first, checked if a like turns out to be stored (module comment).
/// Aborted attempts are retried; both tries together take at most `timeout`.
pub(super) async fn flush_chunk(
    client: DatabaseClient,
    timeout: Duration,
    server: ServerId,
    second: Second,
    batch: Arc<Vec<Like>>,
    range: Range<usize>,
) -> Result<(ChunkWritten, CommitResponse), SpannerError> {
    let deadline = Instant::now() + timeout;
    let blind = commit_chunk(
        client.clone(),
        timeout,
        Check::Blind,
        server.clone(),
        second,
        batch.clone(),
        range.clone(),
    )
    .await;
    match blind {
        Err(error)
            if error
                .status()
                .is_some_and(|s| s.code == Code::AlreadyExists) =>
        {
            tracing::debug!("a flushed like is stored already; committing again, checked");
            let left = deadline.saturating_duration_since(Instant::now());
            commit_chunk(client, left, Check::Stored, server, second, batch, range).await
        }
        other => other,
    }
}

/// One read-write transaction writing `batch[range]`, checked or not.
async fn commit_chunk(
    client: DatabaseClient,
    timeout: Duration,
    check: Check,
    server: ServerId,
    second: Second,
    batch: Arc<Vec<Like>>,
    range: Range<usize>,
) -> Result<(ChunkWritten, CommitResponse), SpannerError> {
    let ids: Vec<String> = batch[range.clone()]
        .iter()
        .map(|l| l.id.to_string())
        .collect();
    let talks: Vec<i64> = batch[range.clone()]
        .iter()
        .map(|l| i64::from(l.talk.0))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let retry = BasicTransactionRetryPolicy::new().with_total_timeout(timeout);
    let runner = client
        .read_write_transaction()
        .with_transaction_timeout(timeout)
        .with_retry_policy(retry)
        // Reads take no locks; the commit validates them. A try abandoned at
        // its deadline then holds nothing the next try would wait for.
        .set_read_lock_mode(ReadLockMode::Optimistic)
        .set_transaction_tag("flush")
        .set_return_commit_stats(true)
        .build();
    let result = runner
        .run(async move |tx: ReadWriteTransaction| {
            let stored = read_flush_state(&tx, check, &ids, &talks, &server, second).await?;
            let likes = &batch[range.clone()];
            let (written, mutations) = flush_mutations(&server, second, likes, &ids, &stored);
            if !mutations.is_empty() {
                tx.buffer(mutations)?;
            }
            Ok(written)
        })
        .await?;
    Ok(result.into_parts())
}

/// What one flush commit wrote.
pub(super) struct ChunkWritten {
    pub(super) report: FlushReport,
    /// Talks whose bucket and totals rows were written.
    pub(super) talks_written: u64,
}

/// What a flush transaction reads before it writes.
#[derive(Default)]
struct FlushState {
    /// Ids of the chunk's likes that are stored already (none read when
    /// writing blind).
    stored: HashSet<String>,
    /// This server's bucket for the flush second, per talk.
    buckets: HashMap<i64, i64>,
    /// This server's running totals, per talk.
    totals: HashMap<i64, i64>,
}

/// This server's bucket and totals rows for the chunk's talks.
const COUNTS_SQL: &str = "
SELECT 'bucket' AS Kind, SessionId, Likes
  FROM LikeSummaryServers
  WHERE Second = @second AND ServerId = @server AND SessionId IN UNNEST(@talks)
UNION ALL
SELECT 'total', SessionId, Likes
  FROM LikeSummaryTotals
  WHERE ServerId = @server AND SessionId IN UNNEST(@talks)";

/// Which of `ids` are stored: a read by key (point lookups wherever the
/// rows live).
async fn read_stored(
    tx: &ReadWriteTransaction,
    ids: &[String],
) -> Result<HashSet<String>, SpannerError> {
    let keys = ids
        .iter()
        .fold(KeySet::builder(), |keys, id| {
            keys.add_key(key![id.as_str()])
        })
        .build();
    let mut rows = tx
        .execute_read(
            ReadRequest::builder("Likes", ["Id"])
                .with_keys(keys)
                .build(),
        )
        .await?;
    let mut stored = HashSet::new();
    while let Some(row) = rows.next().await.transpose()? {
        stored.insert(row.get("Id")?);
    }
    Ok(stored)
}

/// One query for the counts rows; when checking, first `read_stored`.
async fn read_flush_state(
    tx: &ReadWriteTransaction,
    check: Check,
    ids: &[String],
    talks: &[i64],
    server: &ServerId,
    second: Second,
) -> Result<FlushState, SpannerError> {
    let mut state = FlushState::default();
    if check == Check::Stored {
        state.stored = read_stored(tx, ids).await?;
    }

    let statement = Statement::builder(COUNTS_SQL)
        .add_param("talks", talks.to_vec())
        .add_param("server", server.as_str())
        .add_param("second", second)
        .build();
    let mut rows = tx.execute_query(statement).await?;
    while let Some(row) = rows.next().await.transpose()? {
        let kind: String = row.get("Kind")?;
        let counts = if kind == "bucket" {
            &mut state.buckets
        } else {
            &mut state.totals
        };
        counts.insert(row.get("SessionId")?, row.get("Likes")?);
    }
    Ok(state)
}

/// The writes a flush commits for `likes` when none of them is stored and
/// this server has no counts yet, built without reading anything: what the
/// flush benchmark commits through the bare client, to price the reads.
#[doc(hidden)]
pub fn unread_mutations(server: &ServerId, second: Second, likes: &[Like]) -> Vec<Mutation> {
    let ids: Vec<String> = likes.iter().map(|like| like.id.to_string()).collect();
    flush_mutations(server, second, likes, &ids, &FlushState::default()).1
}

/// The writes of one flush chunk: inserts for the likes not stored yet (a
/// like twice in the chunk counts once), and the bucket and totals rows of
/// each talk that gained likes, grown by that many.
fn flush_mutations(
    server: &ServerId,
    second: Second,
    likes: &[Like],
    ids: &[String],
    state: &FlushState,
) -> (ChunkWritten, Vec<Mutation>) {
    let mut report = FlushReport::default();
    let mut mutations = Vec::new();
    let mut new_ids: HashSet<&str> = HashSet::new();
    let mut new_per_talk: BTreeMap<i64, i64> = BTreeMap::new();
    for (like, id) in likes.iter().zip(ids) {
        if state.stored.contains(id) || !new_ids.insert(id) {
            report.duplicates += 1;
            continue;
        }
        report.inserted += 1;
        *new_per_talk.entry(i64::from(like.talk.0)).or_default() += 1;
        let micros = like.created_at.timestamp_micros();
        let created_at = Timestamp::clamp(
            micros.div_euclid(1_000_000),
            (micros.rem_euclid(1_000_000) * 1_000) as i32,
        );
        mutations.push(
            Mutation::new_insert_builder("Likes")
                .set("Id")
                .to(id.as_str())
                .set("SessionId")
                .to(i64::from(like.talk.0))
                .set("Uuid")
                .to(like.liker.clone())
                .set("ServerId")
                .to(server.as_str())
                .set("CreatedAt")
                .to(created_at)
                .build(),
        );
    }
    let talks_written = new_per_talk.len() as u64;
    // Every talk of the chunk, so a replayed flush whose likes are all
    // stored already still reports the total the unanswered try left.
    for like in likes {
        let talk = i64::from(like.talk.0);
        let total = state.totals.get(&talk).copied().unwrap_or(0)
            + new_per_talk.get(&talk).copied().unwrap_or(0);
        report
            .own_totals
            .insert(like.talk, u64::try_from(total).unwrap_or(0));
    }
    for (talk, count) in new_per_talk {
        let bucket = state.buckets.get(&talk).copied().unwrap_or(0) + count;
        mutations.push(
            Mutation::new_insert_or_update_builder("LikeSummaryServers")
                .set("Second")
                .to(second)
                .set("SessionId")
                .to(talk)
                .set("ServerId")
                .to(server.as_str())
                .set("Likes")
                .to(bucket)
                .set("SecondAt")
                .to(Timestamp::clamp(second, 0))
                .build(),
        );
        let total = state.totals.get(&talk).copied().unwrap_or(0) + count;
        mutations.push(
            Mutation::new_insert_or_update_builder("LikeSummaryTotals")
                .set("SessionId")
                .to(talk)
                .set("ServerId")
                .to(server.as_str())
                .set("Likes")
                .to(total)
                .build(),
        );
    }
    (
        ChunkWritten {
            report,
            talks_written,
        },
        mutations,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LikeId, TalkId};
    use chrono::{TimeZone, Utc};

    fn like(talk: i32, liker: &str) -> Like {
        Like {
            id: LikeId::for_request(TalkId(talk), liker, Some("m")),
            talk: TalkId(talk),
            liker: liker.to_owned(),
            created_at: Utc.timestamp_opt(1_790_000_000, 250_000_000).unwrap(),
        }
    }

    fn ids(likes: &[Like]) -> Vec<String> {
        likes.iter().map(|l| l.id.to_string()).collect()
    }

    fn upsert(table: &str, columns: &[(&str, i64)], server: &str) -> Mutation {
        let mut row = Mutation::new_insert_or_update_builder(table);
        for (column, value) in columns {
            row = row.set(*column).to(*value);
            if *column == "SessionId" {
                row = row.set("ServerId").to(server);
            }
        }
        row.build()
    }

    #[test]
    fn only_new_likes_are_written_and_counts_grow_from_what_is_stored() {
        let server = ServerId::new("a").unwrap();
        let stored = like(1, "old");
        let likes = vec![stored.clone(), like(1, "x"), like(1, "x"), like(2, "y")];
        let state = FlushState {
            stored: HashSet::from([stored.id.to_string()]),
            buckets: HashMap::from([(1, 4)]),
            totals: HashMap::from([(1, 10), (2, 7)]),
        };
        let (written, mutations) = flush_mutations(&server, 100, &likes, &ids(&likes), &state);
        assert_eq!((written.report.inserted, written.report.duplicates), (2, 2));
        assert_eq!(written.talks_written, 2);
        // Two like inserts, then per talk its bucket and its totals row.
        assert_eq!(mutations.len(), 2 + 2 * 2);
        let bucket = |talk: i64, likes: i64| {
            Mutation::new_insert_or_update_builder("LikeSummaryServers")
                .set("Second")
                .to(100i64)
                .set("SessionId")
                .to(talk)
                .set("ServerId")
                .to("a")
                .set("Likes")
                .to(likes)
                .set("SecondAt")
                .to(Timestamp::clamp(100, 0))
                .build()
        };
        assert_eq!(mutations[2], bucket(1, 5));
        assert_eq!(
            mutations[3],
            upsert("LikeSummaryTotals", &[("SessionId", 1), ("Likes", 11)], "a")
        );
        assert_eq!(mutations[4], bucket(2, 1));
        assert_eq!(
            mutations[5],
            upsert("LikeSummaryTotals", &[("SessionId", 2), ("Likes", 8)], "a")
        );
    }

    #[test]
    fn a_chunk_of_stored_likes_writes_nothing() {
        let server = ServerId::new("a").unwrap();
        let likes = vec![like(1, "x")];
        let state = FlushState {
            stored: HashSet::from([likes[0].id.to_string()]),
            ..FlushState::default()
        };
        let (written, mutations) = flush_mutations(&server, 100, &likes, &ids(&likes), &state);
        assert_eq!((written.report.inserted, written.talks_written), (0, 0));
        assert!(mutations.is_empty());
    }
}
