//! Scenario 2, fan-out: many WebSocket subscribers on one replica, spread
//! over the catalogue's talks. First idle, for the memory each costs; then
//! with likes on every talk every second, for the time from the observer
//! publishing a total (the event's `publishedAt`) to each subscriber
//! receiving it, and whether every subscriber's deltas add up exactly.

use crate::support::{Replica, Table, count, mib, ms, percentile, talks, wait_for};
use crate::ws;
use anyhow::{Context, bail};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy)]
pub struct Options {
    pub subscribers: usize,
    pub seconds: u64,
    pub likes_per_talk: usize,
}

const SUBSCRIPTION: &str =
    "subscription($s:Int!){likeAdded(sessionId:$s){likes total publishedAt}}";

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    /// Seconds from `publishedAt` to arrival, per event.
    latencies: Vec<f64>,
    events: u64,
    likes: u64,
    /// Events whose total was not the previous total plus their likes.
    broken: u64,
}

pub async fn run(options: &Options) -> anyhow::Result<()> {
    // Each subscriber is a socket here and one in the replica, which
    // inherits this process's limit on open files.
    let limit = open_files_limit();
    let subscribers = options.subscribers.min(limit.saturating_sub(200) as usize);
    if subscribers < options.subscribers {
        eprintln!(
            "{} subscribers capped at {subscribers} by the open files limit ({limit}); \
             raise it with `ulimit -n` for more",
            options.subscribers
        );
    }
    let options = &Options {
        subscribers,
        ..*options
    };
    let dir = tempfile::tempdir()?;
    let store = format!("sqlite://{}", dir.path().join("fanout.db").display());
    let replica = Replica::start(&store, "fanout", &[]).await?;
    let talks = talks(&replica).await?;
    let before_kib = replica.rss_kib();

    let stop = CancellationToken::new();
    let last_totals: Arc<Vec<AtomicU64>> = Arc::new(
        (0..options.subscribers)
            .map(|_| AtomicU64::new(0))
            .collect(),
    );
    let opening = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = Vec::with_capacity(options.subscribers);
    for i in 0..options.subscribers {
        let talk = talks[i % talks.len()];
        let (url, stop, gate, last) = (
            replica.ws(),
            stop.clone(),
            gate.clone(),
            last_totals.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await?;
            let mut socket = ws::connect(&url).await?;
            ws::subscribe(&mut socket, "1", SUBSCRIPTION, json!({"s": talk})).await?;
            drop(permit);
            listen(&mut socket, &stop, &last[i]).await
        }));
    }
    let subscribed = wait_for(Duration::from_secs(300), || async {
        Ok(replica.metric("likes_subscribers").await? as usize >= options.subscribers)
    })
    .await?;
    if !subscribed {
        bail!("not every subscription was registered");
    }
    let opened_in = opening.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_kib = replica.rss_kib();

    // Likes on every talk every second, over plain HTTP.
    let sent = send_likes(&replica, &talks, options).await?;
    let converged = wait_for(Duration::from_secs(20), || async {
        Ok((0..options.subscribers)
            .all(|i| last_totals[i].load(Ordering::Relaxed) == sent[i % talks.len()]))
    })
    .await?;
    let peak_kib = replica.peak_rss_kib();
    stop.cancel();
    let mut seen = Vec::with_capacity(tasks.len());
    for task in tasks {
        seen.push(task.await??);
    }

    let mut latencies: Vec<f64> = seen
        .iter()
        .flat_map(|s| s.latencies.iter().copied())
        .collect();
    let events: u64 = seen.iter().map(|s| s.events).sum();
    let wrong = seen
        .iter()
        .enumerate()
        .filter(|(i, s)| s.likes != sent[i % talks.len()] || s.broken > 0)
        .count();
    let per_subscriber = (idle_kib.saturating_sub(before_kib)) as f64 / options.subscribers as f64;
    let mut table = Table::new(
        "Fan-out: subscribers on one replica (SQLite), likes on every talk every second",
        &["measure", "value"],
    );
    table.row(vec![
        "subscribers (one WebSocket each)".into(),
        count(options.subscribers as f64),
    ]);
    table.row(vec!["talks".into(), talks.len().to_string()]);
    table.row(vec![
        "connected and subscribed in".into(),
        format!("{:.1} s", opened_in.as_secs_f64()),
    ]);
    table.row(vec![
        "RSS before / with all idle".into(),
        format!("{} / {}", mib(before_kib), mib(idle_kib)),
    ]);
    table.row(vec![
        "RSS per idle subscriber (target ≤ 16 KiB)".into(),
        format!("{per_subscriber:.1} KiB"),
    ]);
    table.row(vec![
        "likes sent".into(),
        count(sent.iter().sum::<u64>() as f64),
    ]);
    table.row(vec!["events received".into(), count(events as f64)]);
    table.row(vec![
        "publish → receive p50".into(),
        ms(percentile(&mut latencies, 50.0)),
    ]);
    table.row(vec![
        "publish → receive p90".into(),
        ms(percentile(&mut latencies, 90.0)),
    ]);
    table.row(vec![
        "publish → receive p99 (target ≤ 100 ms)".into(),
        ms(percentile(&mut latencies, 99.0)),
    ]);
    table.row(vec![
        "publish → receive max".into(),
        ms(percentile(&mut latencies, 100.0)),
    ]);
    table.row(vec![
        "subscribers whose deltas do not add up".into(),
        count(wrong as f64),
    ]);
    table.row(vec!["peak RSS of the replica".into(), mib(peak_kib)]);
    table.print();
    if !converged || wrong > 0 {
        bail!("{wrong} subscribers missed or double-counted likes (converged: {converged})");
    }
    replica.stop().await
}

/// Reads events until `stop`, keeping the last total in `last`.
async fn listen(
    socket: &mut ws::Socket,
    stop: &CancellationToken,
    last: &AtomicU64,
) -> anyhow::Result<Seen> {
    let mut seen = Seen::default();
    let mut previous: Option<u64> = None;
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => return Ok(seen),
            message = ws::next_json(socket) => message?.context("the replica closed a subscription")?,
        };
        let arrived = chrono::Utc::now();
        let event = &message["payload"]["data"]["likeAdded"];
        let (Some(likes), Some(total), Some(at)) = (
            event["likes"].as_u64(),
            event["total"].as_u64(),
            event["publishedAt"].as_str(),
        ) else {
            bail!("unexpected message {message}");
        };
        let published = chrono::DateTime::parse_from_rfc3339(at)?;
        seen.latencies
            .push((arrived - published.to_utc()).as_seconds_f64());
        seen.events += 1;
        seen.likes += likes;
        if previous.is_some_and(|p| p + likes != total) || (previous.is_none() && likes != total) {
            seen.broken += 1;
        }
        previous = Some(total);
        last.store(total, Ordering::Relaxed);
    }
}

/// `likes_per_talk` likes on every talk every second for `seconds`;
/// returns how many each talk got.
async fn send_likes(
    replica: &Replica,
    talks: &[i64],
    options: &Options,
) -> anyhow::Result<Vec<u64>> {
    let client = reqwest::Client::new();
    let mut sent = vec![0u64; talks.len()];
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    for second in 0..options.seconds {
        ticks.tick().await;
        let mut requests = Vec::new();
        for (t, talk) in talks.iter().enumerate() {
            for n in 0..options.likes_per_talk {
                let body = crate::support::like_body(*talk as i32, &format!("fan-{second}-{n}"));
                requests.push(
                    client
                        .post(replica.graphql())
                        .header("content-type", "application/json")
                        .body(body)
                        .send(),
                );
                sent[t] += 1;
            }
        }
        for answer in futures_util::future::join_all(requests).await {
            let text = answer?.text().await?;
            if text.contains("\"errors\"") {
                bail!("a like was refused: {text}");
            }
        }
    }
    Ok(sent)
}

/// This process's soft limit on open files.
fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(0)
}
