//! Scenario 3, end to end: likes sent to replica A at a steady rate, seen by
//! a subscriber on replica B, both on one store (SQLite, or the Spanner
//! emulator). Each like's latency is from sending it to the first event on
//! B whose total includes it. Repeated for shorter flush and observe
//! intervals, with what each costs in store operations per second.

use crate::support::{Replica, Table, ms, percentile, wait_for};
use crate::ws;
use anyhow::{Context, bail};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Options {
    /// Seconds of likes per setting.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Likes per second.
    #[arg(long, default_value_t = 20)]
    pub rate: u64,
    /// Stores: sqlite, spanner (the emulator, started by the bench).
    #[arg(long, value_delimiter = ',', default_value = "sqlite,spanner")]
    pub stores: Vec<String>,
    /// Flush and observe intervals to try (both set to each).
    #[arg(long, value_delimiter = ',', default_value = "1s,500ms,250ms,100ms")]
    pub intervals: Vec<String>,
}

pub async fn run(options: &Options) -> anyhow::Result<()> {
    let mut table = Table::new(
        "End to end: like sent to replica A → event on replica B",
        &[
            "store",
            "flush / observe interval",
            "likes",
            "p50",
            "p90",
            "p99",
            "max",
            "store writes/s per replica",
            "store reads/s per replica",
        ],
    );
    for store_kind in &options.stores {
        for interval in &options.intervals {
            let store = store_url(store_kind).await?;
            let flags = ["--flush-interval", interval, "--observe-interval", interval];
            let a = Replica::start(&store.url, "a", &flags).await?;
            let b = Replica::start(&store.url, "b", &flags).await?;
            let measured = measure(&a, &b, options).await?;
            let mut latencies = measured.latencies;
            table.row(vec![
                store_kind.clone(),
                interval.clone(),
                latencies.len().to_string(),
                ms(percentile(&mut latencies, 50.0)),
                ms(percentile(&mut latencies, 90.0)),
                ms(percentile(&mut latencies, 99.0)),
                ms(percentile(&mut latencies, 100.0)),
                format!("{:.2}", measured.writes_per_second),
                format!("{:.2}", measured.reads_per_second),
            ]);
            a.stop().await?;
            b.stop().await?;
        }
    }
    table.print();
    Ok(())
}

struct Store {
    url: String,
    /// Keeps a SQLite file's folder until the run ends.
    _dir: Option<tempfile::TempDir>,
}

async fn store_url(kind: &str) -> anyhow::Result<Store> {
    match kind {
        "sqlite" => {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("e2e.db").display());
            Ok(Store {
                url,
                _dir: Some(dir),
            })
        }
        "spanner" => Ok(Store {
            url: format!("spanner://{}", crate::emulator::database().await),
            _dir: None,
        }),
        other => bail!("unknown store {other:?}: sqlite or spanner"),
    }
}

struct Measured {
    latencies: Vec<f64>,
    writes_per_second: f64,
    reads_per_second: f64,
}

async fn measure(a: &Replica, b: &Replica, options: &Options) -> anyhow::Result<Measured> {
    const TALK: i64 = 1;
    let mut socket = ws::like_added(&b.ws(), TALK, "total").await?;
    let events: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let sink = events.clone();
    let listening = tokio::spawn(async move {
        while let Some(message) = ws::next_json(&mut socket).await? {
            let total = message["payload"]["data"]["likeAdded"]["total"]
                .as_u64()
                .with_context(|| format!("unexpected message {message}"))?;
            sink.lock()
                .expect("not poisoned")
                .push((Instant::now(), total));
        }
        anyhow::Ok(())
    });
    // The subscription is registered before the first like.
    wait_for(Duration::from_secs(10), || async {
        Ok(b.metric("likes_subscribers").await? >= 1.0)
    })
    .await?;

    let writes_before = both(a, b, "likes_store_writes_total").await?;
    let reads_before = both(a, b, "likes_store_reads_total").await?;
    let started = Instant::now();
    let client = reqwest::Client::new();
    let n = options.seconds * options.rate;
    let mut sent_at = Vec::with_capacity(n as usize);
    for i in 0..n {
        let due = started + Duration::from_secs_f64(i as f64 / options.rate as f64);
        tokio::time::sleep_until(due.into()).await;
        sent_at.push(Instant::now());
        let text = client
            .post(a.graphql())
            .header("content-type", "application/json")
            .body(crate::support::like_body(TALK as i32, &format!("e2e-{i}")))
            .send()
            .await?
            .text()
            .await?;
        if text.contains("\"errors\"") {
            bail!("a like was refused: {text}");
        }
    }
    let seen_all = wait_for(Duration::from_secs(30), || async {
        Ok(events
            .lock()
            .expect("not poisoned")
            .last()
            .is_some_and(|(_, total)| *total >= n))
    })
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let writes = both(a, b, "likes_store_writes_total").await? - writes_before;
    let reads = both(a, b, "likes_store_reads_total").await? - reads_before;
    listening.abort();
    if !seen_all {
        bail!("replica B never showed all {n} likes");
    }
    let events = events.lock().expect("not poisoned").clone();
    // The i-th like (1-based) is seen with the first event whose total reaches i.
    let mut latencies = Vec::with_capacity(sent_at.len());
    let mut next = 0;
    for (i, sent) in sent_at.iter().enumerate() {
        while events[next].1 < i as u64 + 1 {
            next += 1;
        }
        latencies.push(events[next].0.duration_since(*sent).as_secs_f64());
    }
    Ok(Measured {
        latencies,
        writes_per_second: writes / elapsed / 2.0,
        reads_per_second: reads / elapsed / 2.0,
    })
}

/// A counter summed over both replicas.
async fn both(a: &Replica, b: &Replica, name: &str) -> anyhow::Result<f64> {
    Ok(a.metric(name).await? + b.metric(name).await?)
}
