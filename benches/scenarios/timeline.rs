//! Scenario 6, timelines: how long a `Session.timeline` query takes, and
//! how often the replica reads its store while 1,000 clients each ask for a
//! timeline every second, against no client at all, under a steady like
//! load. The store starts with a talk liked every 10 s for a day (its
//! minute timeline is the longest there is, 1,440 intervals) and one liked
//! through a 45-minute slot.

use crate::load::{self, Answers};
use crate::support::{Replica, Table, count, ms, percentile};
use chrono::Utc;
use likes::model::{Like, LikeId, ServerId, TalkId};
use likes::store::{FlushBatch, LikeStore, SqliteStore, StoreOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Options {
    /// Seconds per phase.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Clients asking for a timeline once a second each.
    #[arg(long, default_value_t = 1_000)]
    pub clients: usize,
}

/// The talk liked for a day, and the one liked for 45 minutes.
const DAY_LONG: i32 = 1;
const SLOT_LONG: i32 = 2;
/// Likes a second offered to talks 1 to 6 during every phase.
const LIKE_RATE: f64 = 100.0;

/// How an answer with a timeline starts.
const TIMELINE_ANSWER: &[u8] = br#"{"data":{"session":{"timeline":["#;

fn query(talk: i32) -> String {
    serde_json::json!({
        "query": format!("{{ session(sessionId: {talk}) {{ timeline {{ start likes }} }} }}")
    })
    .to_string()
}

/// Likes of the day-long talk every 10 s up to now, and of the other one
/// every 5 s through the last 45 minutes, flushed by the store itself.
async fn seed(path: &std::path::Path) -> anyhow::Result<u64> {
    let store = SqliteStore::open(path, &StoreOptions::default()).await?;
    let now = Utc::now();
    let like = |talk: i32, n: i64, seconds_ago: i64| {
        let liker = format!("seed-{talk}-{n}");
        Like {
            id: LikeId::for_request(TalkId(talk), &liker, None),
            talk: TalkId(talk),
            liker,
            created_at: now - chrono::Duration::seconds(seconds_ago),
        }
    };
    let mut likes: Vec<Like> = (0..8_640).map(|n| like(DAY_LONG, n, n * 10)).collect();
    likes.extend((0..540).map(|n| like(SLOT_LONG, n, n * 5)));
    let seeded = likes.len() as u64;
    for chunk in likes.chunks(10_000) {
        let batch = FlushBatch {
            server: ServerId::new("seed").map_err(anyhow::Error::msg)?,
            second: now.timestamp(),
            likes: Arc::new(chunk.to_vec()),
        };
        store.flush(batch).await?;
    }
    Ok(seeded)
}

/// Asks `talk`'s timeline `n` times one after another; the latencies.
async fn one_client(replica: &Replica, talk: i32, n: usize) -> anyhow::Result<(Vec<f64>, usize)> {
    let client = reqwest::Client::new();
    let body = query(talk);
    let mut latencies = Vec::with_capacity(n);
    let mut intervals = 0;
    for _ in 0..n {
        let started = Instant::now();
        let answer: serde_json::Value = client
            .post(replica.graphql())
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await?
            .json()
            .await?;
        latencies.push(started.elapsed().as_secs_f64());
        intervals = answer["data"]["session"]["timeline"]
            .as_array()
            .map_or(0, Vec::len);
    }
    Ok((latencies, intervals))
}

/// `clients` clients, each on its own connection asking for a timeline
/// (half the day-long talk's, half the other's) once a second, for
/// `duration`: every latency, and the answers that failed.
async fn many_clients(
    replica: &Replica,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<(Vec<f64>, u64)> {
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let url = replica.graphql();
        let body = query(if client % 2 == 0 { DAY_LONG } else { SLOT_LONG });
        // Spread over the second, as independent pages would be.
        let first = started + Duration::from_secs(1).mul_f64(client as f64 / clients as f64);
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut ticks = tokio::time::interval_at(first, Duration::from_secs(1));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut latencies = Vec::new();
            let mut failed = 0u64;
            while started.elapsed() < duration {
                ticks.tick().await;
                let sent = Instant::now();
                let answer = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                // Only its head is checked: parsing every answer would
                // spend the two cores the replica needs.
                let ok = match answer {
                    Ok(answer) => answer
                        .bytes()
                        .await
                        .is_ok_and(|body| body.starts_with(TIMELINE_ANSWER)),
                    Err(_) => false,
                };
                if ok {
                    latencies.push(sent.elapsed().as_secs_f64());
                } else {
                    failed += 1;
                }
            }
            (latencies, failed)
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (mine, lost) = task.await?;
        latencies.extend(mine);
        failed += lost;
    }
    Ok((latencies, failed))
}

/// Store reads counted by the replica so far.
async fn reads(replica: &Replica) -> anyhow::Result<f64> {
    replica.metric("likes_store_reads_total").await
}

pub async fn run(options: &Options) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("timeline.db");
    let seeded = seed(&path).await?;
    let replica = Replica::start(&format!("sqlite://{}", path.display()), "timeline", &[]).await?;
    let phase = Duration::from_secs(options.seconds);
    let likes = || {
        load::offer(
            replica.graphql(),
            load::document(1, 6),
            LIKE_RATE,
            phase,
            2,
            Arc::new(Answers::default()),
        )
    };

    let mut latency = Table::new(
        &format!(
            "A timeline query, one client at a time (SQLite, {seeded} likes seeded, no other load)"
        ),
        &["talk's timeline", "intervals answered", "p50", "p99"],
    );
    for (talk, what) in [
        (DAY_LONG, "liked every 10 s for a day"),
        (SLOT_LONG, "liked through 45 minutes"),
    ] {
        let (mut samples, intervals) = one_client(&replica, talk, 500).await?;
        latency.row(vec![
            what.to_owned(),
            count(intervals as f64),
            ms(percentile(&mut samples, 50.0)),
            ms(percentile(&mut samples, 99.0)),
        ]);
    }

    let mut load_table = Table::new(
        "Store reads while clients ask for timelines every second (SQLite, default intervals)",
        &[
            "clients",
            "timeline queries/s answered",
            "failed",
            "p50",
            "p99",
            "server CPU per query",
            "store reads/s",
        ],
    );
    for clients in [0, options.clients] {
        let before = reads(&replica).await?;
        let cpu = replica.cpu_seconds();
        let started = Instant::now();
        let (asked, liked) = tokio::join!(many_clients(&replica, clients, phase), likes());
        liked?;
        let (mut samples, failed) = asked?;
        let elapsed = started.elapsed().as_secs_f64();
        let per_second = (reads(&replica).await? - before) / elapsed;
        let cpu = replica.cpu_seconds() - cpu;
        let (p50, p99, per_query) = if samples.is_empty() {
            (
                "—".to_owned(),
                "—".to_owned(),
                format!("({cpu:.1} s in all)"),
            )
        } else {
            (
                ms(percentile(&mut samples, 50.0)),
                ms(percentile(&mut samples, 99.0)),
                format!("{:.0} µs", cpu * 1e6 / samples.len() as f64),
            )
        };
        load_table.row(vec![
            count(clients as f64),
            count(samples.len() as f64 / elapsed),
            count(failed as f64),
            p50,
            p99,
            per_query,
            format!("{per_second:.2}"),
        ]);
    }
    replica.stop().await?;
    latency.print();
    load_table.print();
    Ok(())
}
