//! Scenario 5, store cost: one replica's store writes and observer reads
//! per second, from its own `/metrics`, while the number of active talks,
//! the like rate and the number of subscribers change one at a time.

use crate::load::{self, Answers};
use crate::support::{Replica, Table, count, wait_for};
use crate::ws;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Options {
    /// Seconds per phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

/// One phase: how many talks get likes, how fast, and who listens.
struct Phase {
    talks: usize,
    rate: u64,
    subscribers: usize,
}

const PHASES: [Phase; 6] = [
    Phase {
        talks: 1,
        rate: 100,
        subscribers: 0,
    },
    Phase {
        talks: 6,
        rate: 100,
        subscribers: 0,
    },
    Phase {
        talks: 1,
        rate: 5_000,
        subscribers: 0,
    },
    Phase {
        talks: 6,
        rate: 5_000,
        subscribers: 0,
    },
    Phase {
        talks: 6,
        rate: 100,
        subscribers: 100,
    },
    Phase {
        talks: 6,
        rate: 100,
        subscribers: 2_000,
    },
];

pub async fn run(options: &Options) -> anyhow::Result<()> {
    let mut table = Table::new(
        "Store cost per replica (SQLite, default intervals), from /metrics",
        &[
            "active talks",
            "likes/s",
            "subscribers",
            "store writes/s",
            "summary rows written/s",
            "like rows written/s",
            "observer reads/s",
        ],
    );
    for phase in &PHASES {
        let dir = tempfile::tempdir()?;
        let store = format!("sqlite://{}", dir.path().join("cost.db").display());
        // One flush a tick; `--ack stored` writes more under load, up to
        // one commit a linger (scenario 6).
        let replica = Replica::start(&store, "cost", &["--ack", "buffered"]).await?;
        let mut sockets = Vec::new();
        for i in 0..phase.subscribers {
            let socket = ws::like_added(&replica.ws(), (i % 6 + 1) as i64, "total").await?;
            sockets.push(socket);
        }
        wait_for(Duration::from_secs(30), || async {
            Ok(replica.metric("likes_subscribers").await? as usize >= phase.subscribers)
        })
        .await?;
        let before = counters(&replica).await?;
        let started = Instant::now();
        // Every active talk in each request, so each gets likes every second.
        let per_request = ((phase.rate / 100) as usize).clamp(phase.talks, 25);
        load::offer(
            replica.graphql(),
            load::document(per_request, phase.talks),
            phase.rate as f64 / per_request as f64,
            Duration::from_secs(options.seconds),
            4,
            Arc::new(Answers::default()),
        )
        .await?;
        let after = counters(&replica).await?;
        let elapsed = started.elapsed().as_secs_f64();
        let rate = |i: usize| (after[i] - before[i]) / elapsed;
        table.row(vec![
            phase.talks.to_string(),
            count(phase.rate as f64),
            count(phase.subscribers as f64),
            format!("{:.2}", rate(0)),
            format!("{:.2}", rate(1)),
            count(rate(2)),
            format!("{:.2}", rate(3)),
        ]);
        drop(sockets);
        replica.stop().await?;
    }
    table.print();
    Ok(())
}

/// Store commits, summary rows, like rows, observer reads.
async fn counters(replica: &Replica) -> anyhow::Result<[f64; 4]> {
    let m = replica.metrics().await?;
    let get = |name: &str| m.get(name).copied().unwrap_or(0.0);
    Ok([
        get("likes_store_writes_total"),
        get("likes_store_summary_rows_total"),
        get("likes_stored_total"),
        get("likes_store_reads_total"),
    ])
}
