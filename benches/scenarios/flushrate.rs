//! Scenario 4 on the Spanner emulator: how fast the service's flush path
//! (`SpannerStore::flush`, which the storer runs every interval) stores
//! likes, against the bare Spanner client committing the same rows (likes,
//! bucket and totals) in the same batch sizes, in the same run. The
//! difference is what exactly-once costs: the flush reads which likes are
//! stored already and the current counts before it writes.

use crate::support::{Table, count, percentile};
use chrono::Utc;
use google_cloud_spanner::client::{DatabaseClient, Spanner};
use google_cloud_spanner::mutation::Mutation;
use google_cloud_spanner::transaction::ReadWriteTransaction;
use google_cloud_spanner::value::Timestamp;
use likes::model::{Like, LikeId, ServerId, TalkId};
use likes::store::spanner::SpannerStore;
use likes::store::{FlushBatch, LikeStore, StoreOptions};
use std::collections::BTreeMap;
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

/// The same rows a flush writes, blind: inserts for the likes, and the
/// bucket and totals rows of each talk set to this batch's counts.
async fn commit_bare(
    client: &DatabaseClient,
    server: &ServerId,
    likes: Arc<Vec<Like>>,
) -> anyhow::Result<()> {
    let second = Utc::now().timestamp();
    let server = server.as_str().to_owned();
    let runner = client.read_write_transaction().build();
    runner
        .run(async move |tx: ReadWriteTransaction| {
            let mut mutations = Vec::with_capacity(likes.len() + 12);
            let mut per_talk: BTreeMap<i64, i64> = BTreeMap::new();
            for like in likes.iter() {
                *per_talk.entry(i64::from(like.talk.0)).or_default() += 1;
                let micros = like.created_at.timestamp_micros();
                mutations.push(
                    Mutation::new_insert_builder("Likes")
                        .set("Id")
                        .to(like.id.to_string())
                        .set("SessionId")
                        .to(i64::from(like.talk.0))
                        .set("Uuid")
                        .to(like.liker.clone())
                        .set("ServerId")
                        .to(server.as_str())
                        .set("CreatedAt")
                        .to(Timestamp::clamp(
                            micros / 1_000_000,
                            (micros % 1_000_000 * 1_000) as i32,
                        ))
                        .build(),
                );
            }
            for (talk, likes) in per_talk {
                mutations.push(
                    Mutation::new_insert_or_update_builder("LikeSummaryServers")
                        .set("Second")
                        .to(second)
                        .set("SessionId")
                        .to(talk)
                        .set("ServerId")
                        .to(server.as_str())
                        .set("Likes")
                        .to(likes)
                        .set("SecondAt")
                        .to(Timestamp::clamp(second, 0))
                        .build(),
                );
                mutations.push(
                    Mutation::new_insert_or_update_builder("LikeSummaryTotals")
                        .set("SessionId")
                        .to(talk)
                        .set("ServerId")
                        .to(server.as_str())
                        .set("Likes")
                        .to(likes)
                        .build(),
                );
            }
            tx.buffer(mutations)?;
            Ok(())
        })
        .await?;
    Ok(())
}
