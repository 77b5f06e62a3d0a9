//! Scenario 4 on the Spanner emulator: how fast the service's flush path
//! (`SpannerStore::flush`, which the storer runs every interval) stores
//! likes, against the bare Spanner client committing the same rows (likes,
//! bucket and totals) in the same batch sizes, in the same run. The
//! difference is what exactly-once costs: the flush reads which likes are
//! stored already and the current counts before it writes.

use crate::support::{Table, count, percentile};
use chrono::Utc;
use google_cloud_spanner::client::{DatabaseClient, Spanner};
use google_cloud_spanner::transaction::ReadWriteTransaction;
use likes::model::{Like, LikeId, ServerId, TalkId};
use likes::store::spanner::{self, SpannerStore};
use likes::store::{FlushBatch, LikeStore, StoreOptions};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Options {
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Batches per round, each flushed (and committed bare) in turn.
    #[arg(long, default_value_t = 4)]
    pub batches: usize,
    /// Likes per batch (a replica's flush takes up to 10,000 at once).
    #[arg(long, default_value_t = 5_000)]
    pub batch: usize,
}

pub async fn run(options: &Options) -> anyhow::Result<()> {
    let service_db = crate::emulator::database().await;
    let bare_db = crate::emulator::database().await;
    let store = SpannerStore::connect(&service_db, &StoreOptions::default()).await?;
    let bare = Spanner::builder()
        .build()
        .await?
        .database_client(&bare_db)
        .build()
        .await?;
    let server = ServerId::new("bench").map_err(anyhow::Error::msg)?;
    let mut table = Table::new(
        &format!(
            "Flush on the Spanner emulator: {} batches of {} likes over 6 talks per round",
            options.batches, options.batch
        ),
        &[
            "round",
            "service flush likes/s",
            "bare client likes/s",
            "service ÷ bare",
        ],
    );
    let mut ratios = Vec::new();
    for round in 0..options.rounds {
        let batches: Vec<Arc<Vec<Like>>> = (0..options.batches)
            .map(|b| Arc::new(likes(round, b, options.batch)))
            .collect();
        let started = Instant::now();
        for likes in &batches {
            let second = Utc::now().timestamp();
            let batch = FlushBatch {
                server: server.clone(),
                second,
                likes: likes.clone(),
            };
            let report = store.flush(batch).await?;
            anyhow::ensure!(
                report.inserted == likes.len() as u64,
                "the flush stored {report:?}"
            );
        }
        let service = (options.batches * options.batch) as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        for likes in &batches {
            commit_bare(&bare, &server, likes.clone()).await?;
        }
        let bare_rate = (options.batches * options.batch) as f64 / started.elapsed().as_secs_f64();
        let ratio = service / bare_rate;
        ratios.push(ratio);
        table.row(vec![
            (round + 1).to_string(),
            count(service),
            count(bare_rate),
            format!("{ratio:.2}"),
        ]);
    }
    table.row(vec![
        "median".into(),
        String::new(),
        String::new(),
        format!("{:.2} (target ≥ 0.80)", percentile(&mut ratios, 50.0)),
    ]);
    table.print();
    Ok(())
}

fn likes(round: usize, batch: usize, n: usize) -> Vec<Like> {
    (0..n)
        .map(|i| {
            let talk = TalkId((i % 6 + 1) as i32);
            let liker = format!("flush-{i}");
            let mutation = format!("{round}-{batch}-{i}");
            Like {
                id: LikeId::for_request(talk, &liker, Some(&mutation)),
                talk,
                liker,
                created_at: Utc::now(),
            }
        })
        .collect()
}

/// The rows a flush writes, committed blind: the store's own mutations for
/// a flush that read nothing, so the likes' inserts and the bucket and
/// totals rows of each talk set to this batch's counts.
async fn commit_bare(
    client: &DatabaseClient,
    server: &ServerId,
    likes: Arc<Vec<Like>>,
) -> anyhow::Result<()> {
    let mutations = spanner::unread_mutations(server, Utc::now().timestamp(), &likes);
    let runner = client.read_write_transaction().build();
    runner
        .run(async move |tx: ReadWriteTransaction| {
            tx.buffer(mutations.clone())?;
            Ok(())
        })
        .await?;
    Ok(())
}
