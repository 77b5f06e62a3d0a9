//! The Cloud Spanner backend: many replicas, one database. Writes are
//! read-write transactions cut to Spanner's commit limits; every observer
//! tick is one single-use query. One flush commit lives in `flush`, the
//! schema and `likes migrate` in `migrate` (counting older likes into the
//! timeline in `recount`), reaching the emulator in `endpoint`.

mod endpoint;
mod export;
mod flush;
mod migrate;
mod recount;
mod schema;

pub use endpoint::admin_endpoint;
#[doc(hidden)]
pub use flush::unread_mutations;
pub use migrate::{Migration, VERSION_RETENTION, migrate};
pub use schema::{SCHEMA_SQL, SchemaStatement, schema_statements};

use super::commit_plan::{self, CommitLimits};
use super::{
    Exported, FlushBatch, FlushReport, LikeStore, Observation, SlotCount, StoreError, StoreOptions,
    SummaryBucket, TimeRange, Watchers, recent_slots_from,
};
use crate::model::{Second, ServerId, TalkId};
use async_trait::async_trait;
use flush::{flush_chunk, write_cost};
use google_cloud_spanner::Error as SpannerError;
use google_cloud_spanner::client::{DatabaseClient, Spanner};
use google_cloud_spanner::mutation::Mutation;
use google_cloud_spanner::result::Row;
use google_cloud_spanner::statement::Statement;
use google_cloud_spanner::value::Timestamp;
use schema::IndexCost;
use std::collections::HashMap;
use std::time::Duration;

/// How long start-up waits for Spanner to open a session.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A Spanner database holding likes, buckets, totals and timelines.
pub struct SpannerStore {
    client: DatabaseClient,
    limits: CommitLimits,
    /// What the database's secondary indexes add to each row written.
    indexes: IndexCost,
    /// Bounds every operation, including the transaction's own retries.
    op_timeout: Duration,
}

impl SpannerStore {
    /// Connects to `database` (`projects/P/instances/I/databases/D`) with
    /// Application Default Credentials, or to the emulator that
    /// `SPANNER_EMULATOR_HOST` names, and checks the schema has what the
    /// flush writes (counting what its indexes add to each commit).
    pub async fn connect(database: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let spanner = Spanner::builder()
            .build()
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot build a Spanner client: {e}")))?;
        let client = tokio::time::timeout(
            CONNECT_TIMEOUT,
            spanner.database_client(database).build(),
        )
        .await
        .map_err(|_| {
            StoreError::Unavailable(format!(
                "no answer from Spanner for {database} within {}s",
                CONNECT_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| {
            if e.is_authentication() {
                StoreError::Internal(format!(
                    "cannot authenticate to Spanner with Application Default Credentials: {e}"
                ))
            } else {
                not_ready(database, classify(e))
            }
        })?;
        let indexes = schema::inspect(&client)
            .await
            .map_err(|e| not_ready(database, e))?;
        Ok(Self {
            client,
            limits: options.commit_limits.unwrap_or(CommitLimits::SPANNER),
            indexes,
            op_timeout: options.op_timeout,
        })
    }

    /// Runs one single-use query (a strong read, no locks) within the
    /// operation timeout, handing each row to `each`.
    async fn query(
        &self,
        statement: impl Into<Statement> + Send,
        mut each: impl FnMut(&Row) -> Result<(), SpannerError> + Send,
    ) -> Result<(), StoreError> {
        self.bounded(async {
            let single_use = self.client.single_use().build();
            let mut rows = single_use.execute_query(statement).await?;
            while let Some(row) = rows.next().await.transpose()? {
                each(&row)?;
            }
            Ok(())
        })
        .await
    }

    async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, SpannerError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.op_timeout, work).await {
            Ok(result) => result.map_err(classify),
            Err(_) => Err(StoreError::Timeout),
        }
    }
}

/// A database that answers but lacks what this code needs (missing
/// instance, database or table) gets told how to fix it.
fn not_ready(database: &str, error: StoreError) -> StoreError {
    match error {
        StoreError::Internal(why) => StoreError::Internal(format!(
            "{database} is not ready: {why}; run `likes migrate --store spanner://{database}`"
        )),
        other => other,
    }
}

/// Every bucket since a second; with the per-talk totals (as `Kind` =
/// 'total' rows) and one server's own (`'own'`) when asked; the audience
/// reports; and the recent slots of the talks with buckets
/// (`Observation::slots`, `Second` being the slot's start). One query, so
/// one snapshot and one read.
const OBSERVE_SQL: &str = "
SELECT 'bucket' AS Kind, Second, SessionId, ServerId, Likes
  FROM LikeSummaryServers WHERE Second >= @since
UNION ALL
SELECT 'total', 0, SessionId, '', SUM(Likes)
  FROM LikeSummaryTotals WHERE @with_totals GROUP BY SessionId
UNION ALL
SELECT 'own', 0, SessionId, '', Likes
  FROM LikeSummaryTotals WHERE @with_totals AND ServerId = @server
UNION ALL
SELECT 'audience', a.Second, SessionId, a.ServerId, a.Watching[SAFE_OFFSET(i)]
  FROM LikeAudiences AS a CROSS JOIN UNNEST(a.SessionIds) AS SessionId WITH OFFSET AS i
  WHERE a.Second >= @since
UNION ALL
SELECT 'slot', Start, SessionId, '', SUM(Likes)
  FROM LikeTimeline
  WHERE SessionId IN (SELECT SessionId FROM LikeSummaryServers WHERE Second >= @since)
    AND Start >= @slots_from
  GROUP BY SessionId, Start";
/// Every slot of some talks, summed over servers.
const TIMELINES_SQL: &str = "
SELECT SessionId, Start, SUM(Likes) AS Likes FROM LikeTimeline
  WHERE SessionId IN UNNEST(@talks) GROUP BY SessionId, Start";
const TOTALS_SQL: &str =
    "SELECT SessionId, SUM(Likes) AS Likes FROM LikeSummaryTotals GROUP BY SessionId";

fn talk_id(session: i64) -> Result<TalkId, SpannerError> {
    i32::try_from(session)
        .map(TalkId)
        .map_err(|_| SpannerError::deser(format!("SessionId {session} is out of range")))
}

fn count(likes: i64) -> u64 {
    u64::try_from(likes).unwrap_or(0)
}

/// Unreachable, overloaded, aborted or out of time: worth another try.
/// Anything else (a missing table, a bad statement) is not.
fn classify(error: SpannerError) -> StoreError {
    use google_cloud_gax::error::rpc::Code;
    if error.is_timeout() {
        return StoreError::Timeout;
    }
    let transient = error.is_io()
        || error.is_connect()
        || error.is_transport()
        || error.is_exhausted()
        || error.is_authentication()
        || matches!(
            error.status().map(|s| s.code),
            Some(
                Code::Unavailable
                    | Code::Aborted
                    | Code::DeadlineExceeded
                    | Code::ResourceExhausted
                    | Code::Internal
                    | Code::Unknown
                    | Code::Cancelled
            )
        );
    if transient {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Internal(error.to_string())
    }
}

#[async_trait]
impl LikeStore for SpannerStore {
    async fn flush(&self, batch: FlushBatch) -> Result<FlushReport, StoreError> {
        let cost = write_cost(&batch.server, self.indexes);
        let mut report = FlushReport::default();
        for range in commit_plan::plan(&batch.likes, self.limits, &cost) {
            let chunk = flush_chunk(
                self.client.clone(),
                self.op_timeout,
                batch.server.clone(),
                batch.second,
                batch.likes.clone(),
                range,
            );
            let (chunk, commit) = self.bounded(chunk).await?;
            let planned = chunk.report.inserted * cost.mutations_per_like
                + chunk.talks_written * cost.mutations_per_talk
                + chunk.slots_written * cost.mutations_per_slot;
            let counted = commit
                .commit_stats
                .and_then(|stats| u64::try_from(stats.mutation_count).ok());
            if counted.is_some_and(|counted| counted != planned) {
                // Splitting relies on this count; say so if Spanner disagrees.
                tracing::warn!(
                    planned,
                    counted,
                    "Spanner counted a flush commit's mutations differently than planned"
                );
            }
            // The emulator returns no statistics: count the commit's own.
            report.mutations += counted.unwrap_or(planned);
            report.inserted += chunk.report.inserted;
            report.duplicates += chunk.report.duplicates;
            report.commits += 1;
            report.summary_rows += 2 * chunk.talks_written;
            report.timeline_rows += chunk.slots_written;
            report.own_totals.extend(chunk.report.own_totals);
        }
        Ok(report)
    }

    async fn observe(
        &self,
        since: Second,
        with_totals: bool,
        own: &ServerId,
    ) -> Result<Observation, StoreError> {
        let statement = Statement::builder(OBSERVE_SQL)
            .add_param("since", since)
            .add_param("with_totals", with_totals)
            .add_param("slots_from", recent_slots_from(since))
            .add_param("server", own.as_str())
            .build();
        let mut seen = Observation {
            totals: with_totals.then(HashMap::new),
            own_totals: with_totals.then(HashMap::new),
            ..Observation::default()
        };
        self.query(statement, |row| {
            let kind: String = row.get("Kind")?;
            let talk = talk_id(row.get("SessionId")?)?;
            let likes = count(row.get::<Option<i64>>("Likes")?.unwrap_or(0));
            let totals = match kind.as_str() {
                "total" => seen.totals.as_mut(),
                "own" => seen.own_totals.as_mut(),
                _ => None,
            };
            if let Some(totals) = totals {
                totals.insert(talk, likes);
                return Ok(());
            }
            if kind == "slot" {
                let start = row.get("Second")?;
                seen.slots.push(SlotCount { talk, start, likes });
                return Ok(());
            }
            // Rows are written only by this code; a malformed id is skipped, not fatal.
            let Ok(server) = ServerId::new(row.get::<String>("ServerId")?) else {
                return Ok(());
            };
            let second = row.get("Second")?;
            if kind == "bucket" {
                seen.buckets.push(SummaryBucket {
                    second,
                    talk,
                    server,
                    likes,
                });
            } else {
                seen.audience.push(Watchers {
                    second,
                    talk,
                    server,
                    watching: likes,
                });
            }
            Ok(())
        })
        .await?;
        Ok(seen)
    }

    async fn report_audience(
        &self,
        server: &ServerId,
        second: Second,
        audience: &[(TalkId, u64)],
    ) -> Result<(), StoreError> {
        let talks: Vec<i64> = audience.iter().map(|(talk, _)| i64::from(talk.0)).collect();
        let watching: Vec<i64> = audience
            .iter()
            .map(|(_, n)| i64::try_from(*n).unwrap_or(i64::MAX))
            .collect();
        let report = Mutation::new_insert_or_update_builder("LikeAudiences")
            .set("ServerId")
            .to(server.as_str())
            .set("Second")
            .to(second)
            .set("SessionIds")
            .to(talks)
            .set("Watching")
            .to(watching)
            .set("SecondAt")
            .to(Timestamp::clamp(second, 0))
            .build();
        // A blind replacement of one row: applying it twice does no harm.
        let write = self
            .client
            .write_only_transaction()
            .set_transaction_tag("audience")
            .build()
            .write_at_least_once([report]);
        self.bounded(write).await.map(drop)
    }

    async fn totals(&self) -> Result<HashMap<TalkId, u64>, StoreError> {
        let mut totals = HashMap::new();
        self.query(TOTALS_SQL, |row| {
            totals.insert(talk_id(row.get("SessionId")?)?, count(row.get("Likes")?));
            Ok(())
        })
        .await?;
        Ok(totals)
    }

    async fn timelines(&self, talks: &[TalkId]) -> Result<Vec<SlotCount>, StoreError> {
        let talks: Vec<i64> = talks.iter().map(|talk| i64::from(talk.0)).collect();
        let statement = Statement::builder(TIMELINES_SQL)
            .add_param("talks", talks)
            .build();
        let mut slots = Vec::new();
        self.query(statement, |row| {
            slots.push(SlotCount {
                talk: talk_id(row.get("SessionId")?)?,
                start: row.get("Start")?,
                likes: count(row.get("Likes")?),
            });
            Ok(())
        })
        .await?;
        Ok(slots)
    }

    async fn count_likes(&self, talk: TalkId) -> Result<u64, StoreError> {
        let statement =
            Statement::builder("SELECT COUNT(*) AS N FROM Likes WHERE SessionId = @talk")
                .add_param("talk", i64::from(talk.0))
                .build();
        let mut n = 0;
        self.query(statement, |row| {
            n = count(row.get("N")?);
            Ok(())
        })
        .await?;
        Ok(n)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.query("SELECT 1 FROM LikeSummaryTotals LIMIT 1", |_| Ok(()))
            .await
    }

    async fn export(
        &self,
        range: TimeRange,
        rows: tokio::sync::mpsc::Sender<Exported>,
    ) -> Result<(), StoreError> {
        self.export_rows(range, rows).await
    }
}
