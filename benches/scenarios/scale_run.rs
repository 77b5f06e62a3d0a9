//! One point of the `scale` grid: N replicas on one store, the scenario's
//! subscribers spread over them, its like rate spread over them, and a
//! probe (likes to the first replica on a talk of their own, watched on
//! the last) for like → event latency. Measures each replica's CPU and
//! memory, idle and loaded, and the store calls, rows and mutations all
//! replicas make, after the observers' windows have filled; then checks
//! that every like was stored once and every subscriber's deltas add up.

use crate::load::{self, Answers};
use crate::support::{Replica, wait_for};
use crate::ws;
use anyhow::{Context, bail};
use likes::model::TalkId;
use likes::store::{StoreOptions, StoreUrl};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What the grid holds fixed, and how one point runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `sqlite` or `spanner` (the emulator).
    pub store: String,
    pub replicas: usize,
    pub rate: u64,
    pub subscribers: usize,
    /// Load talks: catalogue ids 1..=talks.
    pub talks: usize,
    /// The probe's talk: one no load talk uses.
    pub probe_talk: i64,
    pub probe_rate: u64,
    /// `--ack-linger` of every replica (`--ack stored`), as humantime.
    pub linger: String,
    /// Load before the counters are read: the observers' window fills.
    pub warm_up: Duration,
    /// Load while the counters run.
    pub measure: Duration,
}

/// Connections the load keeps open over all replicas (at least two per
/// replica). Each request carries one like per talk, as a page sends its
/// viewer's taps, and waits for its answer: the mutation's likes one after
/// another, each a linger and a commit (`--ack stored`). So many in flight
/// keep the rate on the emulator, whose commits queue.
const CONNECTIONS: usize = 256;
/// Counters read from every replica, summed; `Rates` indexes them.
const COUNTERS: [&str; 9] = [
    "likes_store_writes_total",
    "likes_store_reads_total",
    "likes_store_rows_read_total",
    "likes_store_summary_rows_total",
    "likes_store_mutations_total",
    "likes_stored_total",
    "likes_flush_seconds_sum",
    "likes_flush_failures_total",
    "likes_flush_seconds_count",
];

/// Per second over all replicas while the counters ran, as `COUNTERS`.
#[derive(Debug, Clone, Copy)]
pub struct Rates(pub [f64; 9]);

impl Rates {
    pub fn writes(&self) -> f64 {
        self.0[0]
    }
    pub fn reads(&self) -> f64 {
        self.0[1]
    }
    pub fn rows_read(&self) -> f64 {
        self.0[2]
    }
    pub fn summary_rows(&self) -> f64 {
        self.0[3]
    }
    pub fn mutations(&self) -> f64 {
        self.0[4]
    }
    pub fn likes_stored(&self) -> f64 {
        self.0[5]
    }
    /// Seconds spent in successful flush tries, per second.
    pub fn flushing(&self) -> f64 {
        self.0[6]
    }
    pub fn failed_tries(&self) -> f64 {
        self.0[7]
    }
    /// Successful flush tries.
    pub fn flushes(&self) -> f64 {
        self.0[8]
    }
    /// Mean seconds a successful flush try took.
    pub fn commit_seconds(&self) -> f64 {
        self.flushing() / self.flushes().max(f64::MIN_POSITIVE)
    }
}

/// What one point measured.
#[derive(Debug, Clone)]
pub struct Measured {
    pub replicas: usize,
    pub rates: Rates,
    /// Cores per replica: idle (subscribers connected), then loaded; means.
    pub idle_cores: f64,
    pub loaded_cores: f64,
    /// Resident memory per replica: before subscribers, idle with them,
    /// loaded (at the end of the load); means.
    pub base_kib: f64,
    pub idle_kib: f64,
    pub loaded_kib: f64,
    /// Subscribers per replica, probe excluded.
    pub subscribers_per_replica: f64,
    /// Events received per second over all subscribers.
    pub events: f64,
    /// Like → event seconds, one per probe like.
    pub latencies: Vec<f64>,
    /// Likes acknowledged, and found in the store (rows and totals).
    pub acknowledged: u64,
    pub stored_rows: u64,
    pub stored_totals: u64,
    /// Subscribers whose deltas did not add up to their talk's likes.
    pub wrong: usize,
}

/// What one load subscriber saw.
#[derive(Default)]
struct Seen {
    likes: u64,
    /// Events whose total was not the previous total plus their likes.
    broken: u64,
}

pub async fn run(plan: &Plan) -> anyhow::Result<Measured> {
    let (url, _dir) = store_url(&plan.store).await?;
    let mut replicas = Vec::with_capacity(plan.replicas);
    let flags = ["--ack", "stored", "--ack-linger", plan.linger.as_str()];
    for i in 0..plan.replicas {
        replicas.push(Replica::start(&url, &format!("r{i}"), &flags).await?);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let base_kib = mean(replicas.iter().map(|r| r.rss_kib() as f64));

    let stop = CancellationToken::new();
    let crowd = subscribe(&replicas, plan, &stop);
    let probe_events: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let probe = listen_probe(
        replicas.last().context("at least one replica")?,
        plan.probe_talk,
        probe_events.clone(),
        stop.clone(),
    )
    .await?;
    let everyone = plan.subscribers + 1;
    let subscribed = wait_for(Duration::from_secs(120), || async {
        Ok(sum_metric(&replicas, "likes_subscribers").await? as usize >= everyone)
    })
    .await?;
    if !subscribed {
        bail!("not every subscription was registered");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_kib = mean(replicas.iter().map(|r| r.rss_kib() as f64));
    let idle_cores = cores_over(&replicas, Duration::from_secs(3)).await;

    // The load and the probe's likes run through the warm-up, the
    // measurement and a margin; the counters run for whole seconds from a
    // fixed phase between the observers' reads, so each counts as many
    // flushes, reads and bursts of events as there were seconds.
    let answers = Arc::new(Answers::default());
    let length = plan.warm_up + plan.measure + Duration::from_secs(2);
    let per_replica = plan.rate as f64 / plan.replicas as f64 / plan.talks as f64;
    let connections = (CONNECTIONS / plan.replicas).max(2);
    let loads: Vec<_> = replicas
        .iter()
        .map(|replica| {
            tokio::spawn(load::offer(
                replica.graphql(),
                load::document(plan.talks, plan.talks),
                per_replica,
                length,
                connections,
                answers.clone(),
            ))
        })
        .collect();
    let probe_sent = tokio::spawn(send_probe(
        replicas[0].graphql(),
        plan.probe_talk,
        plan.probe_rate,
        length,
    ));
    tokio::time::sleep(plan.warm_up + until_phase(MEASURE_PHASE)).await;
    let started = tokio::time::Instant::now();
    let events_before = crowd.events.load(Ordering::Relaxed);
    let before = counters(&replicas).await?;
    let cpu_before: Vec<f64> = replicas.iter().map(Replica::cpu_seconds).collect();
    tokio::time::sleep_until(started + plan.measure).await;
    let events = (crowd.events.load(Ordering::Relaxed) - events_before) as f64;
    let after = counters(&replicas).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let loaded_cores = mean(
        replicas
            .iter()
            .zip(&cpu_before)
            .map(|(r, before)| (r.cpu_seconds() - before) / elapsed),
    );
    let loaded_kib = mean(replicas.iter().map(|r| r.rss_kib() as f64));
    let seconds = plan.measure.as_secs_f64();
    let events = events / seconds;
    let rates = Rates(std::array::from_fn(|i| (after[i] - before[i]) / seconds));
    for load in loads {
        load.await??;
    }
    let sent_at = probe_sent.await??;

    // Every acknowledged like stored once, and every subscriber shown it.
    if answers.refused() > 0 {
        bail!("{} likes were refused", answers.refused());
    }
    let mut acknowledged = answers.acknowledged();
    let expected = expected_per_talk(acknowledged, plan)?;
    for replica in &replicas {
        replica.drained().await?;
    }
    acknowledged += sent_at.len() as u64;
    let converged = wait_for(Duration::from_secs(30), || async {
        let probe_seen = probe_events
            .lock()
            .expect("not poisoned")
            .last()
            .is_some_and(|(_, total)| *total >= sent_at.len() as u64);
        Ok(probe_seen
            && crowd
                .lasts
                .iter()
                .all(|(talk, last)| last.load(Ordering::Relaxed) == expected[talk]))
    })
    .await?;
    stop.cancel();
    let mut wrong = 0;
    for ((talk, _), listener) in crowd.lasts.iter().zip(crowd.listeners) {
        let seen = listener.await??;
        if seen.likes != expected[talk] || seen.broken > 0 {
            wrong += 1;
        }
    }
    probe.await??;
    if !converged {
        bail!("not every subscriber was shown every like within 30 s");
    }
    let (stored_rows, stored_totals) = stored(&url, plan).await?;
    for replica in replicas {
        replica.stop().await?;
    }
    let probe_events = probe_events.lock().expect("not poisoned").clone();
    Ok(Measured {
        replicas: plan.replicas,
        rates,
        idle_cores,
        loaded_cores,
        base_kib,
        idle_kib,
        loaded_kib,
        subscribers_per_replica: plan.subscribers as f64 / plan.replicas as f64,
        events,
        latencies: latencies(&sent_at, &probe_events),
        acknowledged,
        stored_rows,
        stored_totals,
        wrong,
    })
}

/// Where in each wall-clock second the counters start and stop: after the
/// flushes (at 0) and the reads (at a quarter) have landed.
const MEASURE_PHASE: Duration = Duration::from_millis(600);

/// Time until the wall clock is next `phase` past a whole second.
fn until_phase(phase: Duration) -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let into = Duration::from_nanos(u64::from(now.subsec_nanos()));
    if into < phase {
        phase - into
    } else {
        Duration::from_secs(1) + phase - into
    }
}

/// A fresh store; a SQLite file's folder lives as long as the guard.
async fn store_url(kind: &str) -> anyhow::Result<(String, Option<tempfile::TempDir>)> {
    match kind {
        "sqlite" => {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("scale.db").display());
            Ok((url, Some(dir)))
        }
        "spanner" => Ok((
            format!("spanner://{}", crate::emulator::database().await),
            None,
        )),
        other => bail!("unknown store {other:?}: sqlite or spanner"),
    }
}

type Listener = tokio::task::JoinHandle<anyhow::Result<Seen>>;
/// Per subscriber: its talk, and the last total it was shown.
type Lasts = Vec<(i64, Arc<AtomicU64>)>;

/// The load subscribers' tasks, what each was last shown, and how many
/// events they have all received so far.
struct Crowd {
    listeners: Vec<Listener>,
    lasts: Lasts,
    events: Arc<AtomicU64>,
}

/// Opens the load subscribers: the i-th on replica i mod N, on the talks
/// in turn, so each replica has its share of every talk's audience.
fn subscribe(replicas: &[Replica], plan: &Plan, stop: &CancellationToken) -> Crowd {
    let gate = Arc::new(tokio::sync::Semaphore::new(128));
    let events = Arc::new(AtomicU64::new(0));
    let mut listeners = Vec::with_capacity(plan.subscribers);
    let mut lasts = Vec::with_capacity(plan.subscribers);
    for i in 0..plan.subscribers {
        let url = replicas[i % replicas.len()].ws();
        let talk = ((i / replicas.len()) % plan.talks + 1) as i64;
        let last = Arc::new(AtomicU64::new(0));
        lasts.push((talk, last.clone()));
        let (gate, stop, events) = (gate.clone(), stop.clone(), events.clone());
        listeners.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await?;
            let mut socket = ws::like_added(&url, talk, "likes total").await?;
            drop(permit);
            listen(&mut socket, &last, &events, &stop).await
        }));
    }
    Crowd {
        listeners,
        lasts,
        events,
    }
}

/// Counts events until `stop` (also into `events`, shared by all),
/// checking each against the previous total.
async fn listen(
    socket: &mut ws::Socket,
    last: &AtomicU64,
    events: &AtomicU64,
    stop: &CancellationToken,
) -> anyhow::Result<Seen> {
    let mut seen = Seen::default();
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => return Ok(seen),
            message = ws::next_json(socket) => message?.context("a replica closed a subscription")?,
        };
        let event = &message["payload"]["data"]["likeAdded"];
        let (Some(likes), Some(total)) = (event["likes"].as_u64(), event["total"].as_u64()) else {
            bail!("unexpected message {message}");
        };
        if seen.likes + likes != total {
            seen.broken += 1;
        }
        events.fetch_add(1, Ordering::Relaxed);
        seen.likes += likes;
        last.store(total, Ordering::Relaxed);
    }
}

/// Subscribes on `replica` to the probe's talk, noting when each total
/// arrives, until `stop`.
async fn listen_probe(
    replica: &Replica,
    talk: i64,
    events: Arc<Mutex<Vec<(Instant, u64)>>>,
    stop: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let mut socket = ws::like_added(&replica.ws(), talk, "total").await?;
    Ok(tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                message = ws::next_json(&mut socket) => message?.context("the probe's subscription closed")?,
            };
            let total = message["payload"]["data"]["likeAdded"]["total"]
                .as_u64()
                .with_context(|| format!("unexpected message {message}"))?;
            events
                .lock()
                .expect("not poisoned")
                .push((Instant::now(), total));
        }
    }))
}

/// Sends `rate` likes a second on `talk` to `url` for `length`, one a
/// request, each refused one an error; returns when each was sent.
async fn send_probe(
    url: String,
    talk: i64,
    rate: u64,
    length: Duration,
) -> anyhow::Result<Vec<Instant>> {
    let client = reqwest::Client::new();
    let n = (length.as_secs_f64() * rate as f64) as u64;
    let started = Instant::now();
    let mut sent_at = Vec::with_capacity(n as usize);
    for i in 0..n {
        let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        sent_at.push(Instant::now());
        let text = client
            .post(&url)
            .header("content-type", "application/json")
            .body(crate::support::like_body(
                talk as i32,
                &format!("probe-{i}"),
            ))
            .send()
            .await?
            .text()
            .await?;
        if text.contains("\"errors\"") {
            bail!("a probe like was refused: {text}");
        }
    }
    Ok(sent_at)
}

/// The i-th probe like (1-based) is seen with the first event whose total
/// reaches i.
fn latencies(sent_at: &[Instant], events: &[(Instant, u64)]) -> Vec<f64> {
    let mut next = 0;
    let mut latencies = Vec::with_capacity(sent_at.len());
    for (i, sent) in sent_at.iter().enumerate() {
        while next < events.len() && events[next].1 < i as u64 + 1 {
            next += 1;
        }
        if let Some((seen, _)) = events.get(next) {
            latencies.push(seen.duration_since(*sent).as_secs_f64());
        }
    }
    latencies
}

/// The likes each load talk got: every request carries one like of each.
fn expected_per_talk(acknowledged: u64, plan: &Plan) -> anyhow::Result<HashMap<i64, u64>> {
    let per_request = plan.talks as u64;
    let requests = acknowledged / per_request;
    if requests * per_request != acknowledged {
        bail!("{acknowledged} likes acknowledged, not a whole number of requests");
    }
    let mut expected = HashMap::new();
    for i in 0..plan.talks {
        *expected.entry((i % plan.talks + 1) as i64).or_default() += requests;
    }
    Ok(expected)
}

/// Likes in the store over every talk: as rows, and as the totals rows.
async fn stored(url: &str, plan: &Plan) -> anyhow::Result<(u64, u64)> {
    let url: StoreUrl = url.parse().map_err(anyhow::Error::msg)?;
    let store = likes::store::open(&url, &StoreOptions::default()).await?;
    let totals = store.totals().await?;
    let mut rows = 0;
    for talk in (1..=plan.talks as i64).chain([plan.probe_talk]) {
        rows += store.count_likes(TalkId(talk as i32)).await?;
    }
    Ok((rows, totals.values().sum()))
}

/// Mean cores per replica over `length`, from `/proc`.
async fn cores_over(replicas: &[Replica], length: Duration) -> f64 {
    let before: Vec<f64> = replicas.iter().map(Replica::cpu_seconds).collect();
    let started = Instant::now();
    tokio::time::sleep(length).await;
    let elapsed = started.elapsed().as_secs_f64();
    mean(
        replicas
            .iter()
            .zip(before)
            .map(|(r, before)| (r.cpu_seconds() - before) / elapsed),
    )
}

/// `COUNTERS`, each summed over the replicas.
async fn counters(replicas: &[Replica]) -> anyhow::Result<[f64; 9]> {
    let mut sums = [0.0; 9];
    for replica in replicas {
        let m = replica.metrics().await?;
        for (sum, name) in sums.iter_mut().zip(COUNTERS) {
            *sum += m.get(name).copied().unwrap_or(0.0);
        }
    }
    Ok(sums)
}

async fn sum_metric(replicas: &[Replica], name: &str) -> anyhow::Result<f64> {
    let mut sum = 0.0;
    for replica in replicas {
        sum += replica.metric(name).await?;
    }
    Ok(sum)
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(sum, n), v| (sum + v, n + 1));
    sum / n.max(1) as f64
}
