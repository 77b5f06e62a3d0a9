//! Scenario 6, acknowledgements: `--ack stored` against `--ack buffered`
//! in the same run, the modes in turn, each on a fresh replica and store:
//! likes/s over HTTP (`wrk`, keep-alive connections, as many as scenario 1)
//! and over one WebSocket (64 mutations in flight); `createLike` latency
//! p50/p99 at fixed rates (a paced load from this process, one like per
//! request, each request timed); and the store writes per second the
//! replica made at those rates (from its `/metrics`), for each linger.

use crate::ingest::{self, over_one_websocket, wrk};
use crate::shapes::SHAPES;
use crate::support::{Replica, Table, count, like_body, ms, percentile, require};
use anyhow::bail;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::time::MissedTickBehavior;

#[derive(clap::Args)]
pub struct Options {
    /// Runs of each measurement, the modes in turn within each.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Connections the HTTP load keeps open.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Fixed rates (likes/s) at which latency and store writes are measured.
    #[arg(long, value_delimiter = ',', default_value = "100,2000")]
    pub rates: Vec<u64>,
    /// `--ack-linger` values to run `--ack stored` with.
    #[arg(long, value_delimiter = ',', default_value = "0ms,10ms,100ms")]
    pub lingers: Vec<String>,
    /// Stores: sqlite, spanner (the emulator, started by the bench).
    #[arg(long, value_delimiter = ',', default_value = "sqlite")]
    pub stores: Vec<String>,
}

/// One mode's flags and name.
struct Mode {
    name: String,
    flags: Vec<String>,
}

/// What one run of one mode measured.
#[derive(Default)]
struct Measured {
    http: f64,
    websocket: f64,
    /// Per rate: p50, p99, store writes/s.
    at: Vec<(f64, f64, f64)>,
}

pub async fn run(options: &Options) -> anyhow::Result<()> {
    require("wrk", "apt-get install wrk")?;
    let mut modes = vec![Mode {
        name: "buffered".into(),
        flags: vec!["--ack".into(), "buffered".into()],
    }];
    for linger in &options.lingers {
        modes.push(Mode {
            name: format!("stored, linger {linger}"),
            flags: ["--ack", "stored", "--ack-linger", linger]
                .map(str::to_owned)
                .into(),
        });
    }
    let load = ingest::Options {
        runs: options.runs,
        seconds: options.seconds,
        connections: options.connections,
        log: "warn".into(),
    };
    for store in &options.stores {
        let mut results: BTreeMap<usize, Vec<Measured>> = BTreeMap::new();
        for run in 1..=options.runs {
            for (index, mode) in modes.iter().enumerate() {
                let measured = measure(store, run, mode, options, &load).await?;
                results.entry(index).or_default().push(measured);
            }
        }
        print(store, &modes, &mut results, options);
    }
    Ok(())
}

/// One mode on a fresh replica: every measurement, then a check that every
/// like acknowledged is stored.
async fn measure(
    store: &str,
    run: usize,
    mode: &Mode,
    options: &Options,
    load: &ingest::Options,
) -> anyhow::Result<Measured> {
    let dir = tempfile::tempdir()?;
    let url = match store {
        "sqlite" => format!("sqlite://{}", dir.path().join("acks.db").display()),
        "spanner" => format!("spanner://{}", crate::emulator::database().await),
        other => bail!("unknown store {other:?}: sqlite or spanner"),
    };
    let flags: Vec<&str> = mode.flags.iter().map(String::as_str).collect();
    let replica = Replica::start(&url, "acks", &flags).await?;
    let mut measured = Measured::default();

    let shape = &SHAPES[0];
    let before = replica.metric("likes_acknowledged_total").await?;
    let started = Instant::now();
    wrk(&replica.graphql(), &shape.body(), &format!("a{run}"), load).await?;
    measured.http = (replica.metric("likes_acknowledged_total").await? - before)
        / started.elapsed().as_secs_f64();
    settled(&replica).await?;

    for rate in &options.rates {
        let writes = replica.metric("likes_store_writes_total").await?;
        let started = Instant::now();
        let mut latencies = paced(&replica.graphql(), *rate, options).await?;
        let written = (replica.metric("likes_store_writes_total").await? - writes)
            / started.elapsed().as_secs_f64();
        let p50 = percentile(&mut latencies, 50.0);
        let p99 = percentile(&mut latencies, 99.0);
        measured.at.push((p50, p99, written));
        settled(&replica).await?;
    }

    let (rate, refused) =
        over_one_websocket(&replica, Duration::from_secs(options.seconds)).await?;
    if refused > 0 {
        bail!("{}: {refused} likes refused over the WebSocket", mode.name);
    }
    measured.websocket = rate;

    let stored = settled(&replica).await?;
    let acknowledged = replica.metric("likes_acknowledged_total").await?;
    if (stored as f64) < acknowledged {
        bail!(
            "{}: {acknowledged} acknowledged, {stored} stored",
            mode.name
        );
    }
    eprintln!("{store}, run {run}, {}: done", mode.name);
    replica.stop().await?;
    Ok(measured)
}

/// Waits until the replica holds no like, and returns how many it stored.
/// With `--ack stored` that may exceed those acknowledged: a like whose
/// request the load tool cut at its end is stored all the same.
async fn settled(replica: &Replica) -> anyhow::Result<u64> {
    let started = Instant::now();
    while replica.metric("likes_buffered").await? > 0.0 {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("likes still held 60 s after the load");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(replica.metric("likes_stored_total").await? as u64)
}

/// `rate` likes/s, one per request, over `options.connections` keep-alive
/// connections for `options.seconds`: each request's time to its answer,
/// in seconds. Fails if a like is not acknowledged.
async fn paced(url: &str, rate: u64, options: &Options) -> anyhow::Result<Vec<f64>> {
    let connections = options.connections.min(rate as usize).max(1);
    let every = Duration::from_secs_f64(connections as f64 / rate as f64);
    let started = Instant::now();
    let until = started + Duration::from_secs(options.seconds);
    let mut workers = Vec::new();
    for worker in 0..connections {
        let url = url.to_owned();
        let first = started + every.mul_f64(worker as f64 / connections as f64);
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut ticks = tokio::time::interval_at(first.into(), every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
            let mut latencies = Vec::new();
            for n in 0u64.. {
                ticks.tick().await;
                if Instant::now() >= until {
                    break;
                }
                let body = like_body(1 + (n % 6) as i32, &format!("paced-{worker}-{n}"));
                let sent = Instant::now();
                let answer: serde_json::Value = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?
                    .json()
                    .await?;
                latencies.push(sent.elapsed().as_secs_f64());
                if answer["data"]["createLike"]["like"]["id"].is_null() {
                    bail!("a like was not acknowledged: {answer}");
                }
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    Ok(latencies)
}

fn print(
    store: &str,
    modes: &[Mode],
    results: &mut BTreeMap<usize, Vec<Measured>>,
    options: &Options,
) {
    let mut header = vec![
        "mode".to_owned(),
        format!("likes/s, HTTP ({} connections)", options.connections),
        "likes/s, one WebSocket".to_owned(),
    ];
    for rate in &options.rates {
        header.push(format!("p50 / p99 at {rate}/s"));
        header.push(format!("store writes/s at {rate}/s"));
    }
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = Table::new(
        &format!(
            "Acknowledgements on {store}: medians of {} runs (ranges in brackets), the modes in turn",
            options.runs
        ),
        &header,
    );
    for (index, mode) in modes.iter().enumerate() {
        let runs = results
            .get_mut(&index)
            .map(std::mem::take)
            .unwrap_or_default();
        let mut row = vec![mode.name.clone()];
        let spread = |values: Vec<f64>, show: fn(f64) -> String| {
            let (low, high) = values
                .iter()
                .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
            let mut values = values;
            let median = percentile(&mut values, 50.0);
            format!("{} ({}–{})", show(median), show(low), show(high))
        };
        row.push(spread(runs.iter().map(|m| m.http).collect(), count));
        row.push(spread(runs.iter().map(|m| m.websocket).collect(), count));
        for at in 0..options.rates.len() {
            let p50 = spread(runs.iter().map(|m| m.at[at].0).collect(), ms);
            let p99 = spread(runs.iter().map(|m| m.at[at].1).collect(), ms);
            row.push(format!("{p50} / {p99}"));
            row.push(spread(runs.iter().map(|m| m.at[at].2).collect(), |w| {
                format!("{w:.1}")
            }));
        }
        table.row(row);
    }
    table.print();
}
