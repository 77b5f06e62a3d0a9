//! `likes export` on Spanner: one read-only transaction (one snapshot) for
//! the count and the rows, streamed as Spanner sends them.

use super::{SpannerStore, count};
use crate::store::{Exported, StoreError, StoredLike, TimeRange};
use google_cloud_spanner::result::{ResultSet, Row};
use google_cloud_spanner::statement::Statement;
use std::time::SystemTime;
use tokio::sync::mpsc;

const COLUMNS: &str = "Id, SessionId, Uuid, ServerId, CreatedAt";

impl SpannerStore {
    /// See `LikeStore::export`. Each step (the transaction, the count, every
    /// row) must come within the operation timeout, so a stalled stream
    /// fails instead of hanging; the whole export may take longer.
    pub(super) async fn export_rows(
        &self,
        range: TimeRange,
        rows: mpsc::Sender<Exported>,
    ) -> Result<(), StoreError> {
        let transaction = self
            .bounded(self.client.read_only_transaction().build())
            .await?;
        let mut counted = self
            .bounded(transaction.execute_query(statement("COUNT(*) AS N", range, "")))
            .await?;
        let total = match self.bounded(next_row(&mut counted)).await? {
            Some(row) => count(row.get("N").map_err(super::classify)?),
            None => 0,
        };
        if rows.send(Exported::Total(total)).await.is_err() {
            return Ok(());
        }
        let select = statement(COLUMNS, range, " ORDER BY CreatedAt, Id");
        let mut found = self.bounded(transaction.execute_query(select)).await?;
        while let Some(row) = self.bounded(next_row(&mut found)).await? {
            let like = (|| {
                Ok::<_, google_cloud_spanner::Error>(StoredLike {
                    id: row.get("Id")?,
                    session_id: row.get("SessionId")?,
                    liker: row.get("Uuid")?,
                    server: row.get("ServerId")?,
                    created_at: row.get::<SystemTime>("CreatedAt")?.into(),
                })
            })()
            .map_err(super::classify)?;
            if rows.send(Exported::Like(like)).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

async fn next_row(rows: &mut ResultSet) -> Result<Option<Row>, google_cloud_spanner::Error> {
    rows.next().await.transpose()
}

/// `SELECT what FROM Likes` limited to the range, then `tail`.
fn statement(what: &str, range: TimeRange, tail: &str) -> Statement {
    let mut bounds = Vec::new();
    if range.from.is_some() {
        bounds.push("CreatedAt >= @from");
    }
    if range.to.is_some() {
        bounds.push("CreatedAt < @to");
    }
    let filter = if bounds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", bounds.join(" AND "))
    };
    let mut builder = Statement::builder(format!("SELECT {what} FROM Likes{filter}{tail}"));
    if let Some(from) = range.from {
        builder = builder.add_param("from", SystemTime::from(from));
    }
    if let Some(to) = range.to {
        builder = builder.add_param("to", SystemTime::from(to));
    }
    builder.build()
}
