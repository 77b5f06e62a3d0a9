//! Scenario 7, scale: 1, 2, 4 and 8 replicas on one store (SQLite, then
//! the Spanner emulator) under the same total like rate and subscriber
//! count (`scale_run`), each figure printed beside what the capacity model
//! (docs/capacity.md, `scale_model`) predicts from the run with the fewest
//! replicas; and, first, the memory one buffered like costs, from a replica
//! whose store refuses every flush.

use crate::load::{self, Answers};
use crate::scale_model::{self, Calibration, Load, Predicted};
use crate::scale_run::{self, Measured, Plan};
use crate::support::{Replica, Table, count, percentile};
use anyhow::{Context, bail};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Options {
    /// Replica counts, each run in turn.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub replicas: Vec<usize>,
    /// Stores: sqlite, spanner (the emulator, started by the bench).
    #[arg(long, value_delimiter = ',', default_value = "sqlite,spanner")]
    pub stores: Vec<String>,
    /// Likes per second over all replicas.
    #[arg(long, default_value_t = 2_000)]
    pub rate: u64,
    /// `likeAdded` subscribers (WebSockets) over all replicas.
    #[arg(long, default_value_t = 2_000)]
    pub subscribers: usize,
    /// Talks that get the likes and the subscribers: 1 is the hot talk.
    #[arg(long, default_value_t = 1)]
    pub talks: usize,
    /// Seconds of likes measured, after the observers' window has filled.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Likes per second sent to the first replica on a talk of their own,
    /// each timed to its event on the last replica.
    #[arg(long, default_value_t = 20)]
    pub probe_rate: u64,
    /// `--ack-linger` of every replica, which runs `--ack stored` (the
    /// service's default, 10ms; the production overlay's is 100ms).
    #[arg(long, default_value = "10ms")]
    pub linger: String,
}

/// The service's defaults, which every replica runs with.
const INTERVAL_SECONDS: f64 = 1.0;
const WINDOW_SECONDS: f64 = 13.0;
/// Measured figures this far from the model are flagged.
const TOLERANCE: f64 = 0.25;

pub async fn run(options: &Options) -> anyhow::Result<()> {
    if options.replicas.is_empty() || options.replicas.contains(&0) {
        bail!("--replicas needs counts of 1 or more");
    }
    let linger = humantime::parse_duration(&options.linger)
        .with_context(|| format!("--linger {:?}", options.linger))?;
    let buffered = buffered_like_memory().await?;
    let mut inputs = Table::new("Model inputs, measured", &["input", "figure", "from"]);
    inputs.row(vec![
        "memory per buffered like".into(),
        format!(
            "{:.0} B resident ({:.0} B by the buffer's own estimate)",
            buffered.rss_per_like, buffered.estimate_per_like
        ),
        format!(
            "{} likes held while SQLite's write lock was taken; then all stored",
            count(buffered.likes)
        ),
    ]);
    let mut grids = Vec::new();
    for store in &options.stores {
        let catalogue_talks = 6;
        if options.talks == 0 || options.talks >= catalogue_talks {
            bail!(
                "--talks must be 1 to {}: the last talk is the probe's",
                catalogue_talks - 1
            );
        }
        let mut measured = Vec::new();
        for &replicas in &options.replicas {
            let plan = Plan {
                store: store.clone(),
                replicas,
                rate: options.rate,
                subscribers: options.subscribers,
                talks: options.talks,
                probe_talk: catalogue_talks as i64,
                probe_rate: options.probe_rate,
                linger: options.linger.clone(),
                warm_up: Duration::from_secs_f64(WINDOW_SECONDS + 1.0),
                measure: Duration::from_secs(options.seconds),
            };
            let run = scale_run::run(&plan)
                .await
                .with_context(|| format!("{store} with {replicas} replicas"))?;
            eprintln!("  {store}, {replicas} replicas: measured");
            check(store, &run)?;
            measured.push(run);
        }
        let mut by_replicas: Vec<&Measured> = measured.iter().collect();
        by_replicas.sort_by_key(|m| m.replicas);
        let first = by_replicas.first().context("at least one run")?;
        let calibration = calibration(first, by_replicas.get(1).copied());
        add_inputs(&mut inputs, store, first, &calibration);
        grids.push((store.clone(), measured.clone(), calibration));
    }
    inputs.print();
    for (store, measured, calibration) in grids {
        print_grid(&store, &measured, &calibration, options, linger);
    }
    print_notes();
    Ok(())
}

/// Fails the scenario when a like was lost or counted twice.
fn check(store: &str, run: &Measured) -> anyhow::Result<()> {
    if run.stored_rows != run.acknowledged || run.stored_totals != run.acknowledged {
        bail!(
            "{store}, {} replicas: {} likes acknowledged, {} like rows and {} in the totals",
            run.replicas,
            run.acknowledged,
            run.stored_rows,
            run.stored_totals
        );
    }
    if run.wrong > 0 {
        bail!(
            "{store}, {} replicas: {} subscribers' deltas do not add up",
            run.replicas,
            run.wrong
        );
    }
    Ok(())
}

/// CPU per replica as fixed + shared × (first's replicas ÷ replicas), the
/// two parts solved from the two runs with the fewest replicas (from the
/// first's idle CPU when there is one run only).
fn calibration(first: &Measured, second: Option<&Measured>) -> Calibration {
    let (fixed_cores, shared_cores) = match second {
        Some(second) if second.replicas > first.replicas => {
            let shrink = 1.0 - first.replicas as f64 / second.replicas as f64;
            let shared = ((first.loaded_cores - second.loaded_cores) / shrink).max(0.0);
            ((first.loaded_cores - shared).max(0.0), shared)
        }
        _ => (
            first.idle_cores,
            (first.loaded_cores - first.idle_cores).max(0.0),
        ),
    };
    Calibration {
        replicas: first.replicas,
        fixed_cores,
        shared_cores,
        base_kib: first.base_kib,
        loaded_kib: first.loaded_kib,
    }
}

fn add_inputs(inputs: &mut Table, store: &str, first: &Measured, calibration: &Calibration) {
    let from = format!("{store}, {} replica(s)", first.replicas);
    let likes = first.rates.likes_stored();
    inputs.row(vec![
        format!("CPU of an idle replica ({store})"),
        format!("{:.3} cores", first.idle_cores),
        format!("{from}, subscribers connected, no likes"),
    ]);
    inputs.row(vec![
        format!("CPU of a replica whatever its share of the load ({store})"),
        format!(
            "{:.3} cores, at {:.0} flush commits/s each",
            calibration.fixed_cores,
            first.rates.flushes() / first.replicas as f64
        ),
        format!("{from} and the next count: what does not divide among replicas"),
    ]);
    inputs.row(vec![
        format!("CPU per like beyond idle, its events included ({store})"),
        format!(
            "{:.1} µs",
            (first.loaded_cores - first.idle_cores) * first.replicas as f64 / likes.max(1.0) * 1e6
        ),
        format!("{from}, {} likes/s", count(likes)),
    ]);
    inputs.row(vec![
        format!("memory per idle subscriber ({store})"),
        format!(
            "{:.1} KiB",
            (first.idle_kib - first.base_kib) / first.subscribers_per_replica.max(1.0)
        ),
        from.clone(),
    ]);
    if store == "spanner" {
        let talk_commits = first.rates.summary_rows() / 2.0;
        let per_like = (first.rates.mutations() - scale_model::MUTATIONS_PER_TALK * talk_commits)
            / likes.max(1.0);
        inputs.row(vec![
            "Spanner mutations per like stored".into(),
            format!(
                "{per_like:.3}, with {} per talk in each flush commit",
                scale_model::MUTATIONS_PER_TALK
            ),
            format!("{from}: the flush commits' cells (the emulator returns no commit statistics)"),
        ]);
    }
}

/// `measured (model)`, flagged when further apart than `TOLERANCE`.
fn beside(measured: f64, model: f64, format: impl Fn(f64) -> String) -> String {
    let off = model > 0.0 && ((measured / model) - 1.0).abs() > TOLERANCE;
    let flag = if off { " †" } else { "" };
    format!("{} ({}){flag}", format(measured), format(model))
}

fn print_grid(
    store: &str,
    measured: &[Measured],
    calibration: &Calibration,
    options: &Options,
    linger: Duration,
) {
    let name = match store {
        "spanner" => "the Spanner emulator",
        _ => "SQLite",
    };
    let load = format!(
        "{} likes/s and {} subscribers over all replicas, on {} talk(s), --ack stored with a {} linger; measured (model)",
        count(options.rate as f64),
        count(options.subscribers as f64),
        options.talks,
        options.linger
    );
    let mut calls = Table::new(
        &format!("Scale on {name}, store calls: {load}"),
        &[
            "replicas",
            "flush commits/s",
            "mean commit",
            "store writes/s",
            "store reads/s",
            "rows read/s",
            "Spanner mutations per like",
            "time in flush tries per replica",
            "failed flush tries/s",
        ],
    );
    let mut replicas = Table::new(
        &format!("Scale on {name}, per replica and end to end: {load}"),
        &[
            "replicas",
            "CPU per replica",
            "RSS per replica",
            "like → event p50",
            "like → event p99",
            "events/s",
            "likes stored / acknowledged",
        ],
    );
    for run in measured {
        let load = Load {
            replicas: run.replicas,
            rate: options.rate as f64,
            requests: options.rate as f64 / options.talks as f64,
            subscribers: options.subscribers,
            talks: options.talks,
            probe_rate: options.probe_rate as f64,
            linger_seconds: linger.as_secs_f64(),
            commit_seconds: run.rates.commit_seconds(),
            window_seconds: WINDOW_SECONDS,
            interval_seconds: INTERVAL_SECONDS,
        };
        let model: Predicted = scale_model::predict(&load, calibration);
        let rates = &run.rates;
        let per_second = |x: f64| format!("{x:.1}");
        let mutations = match store {
            "spanner" => beside(
                rates.mutations() / rates.likes_stored().max(1.0),
                model.mutations_per_like,
                |x| format!("{x:.3}"),
            ),
            _ => "—".into(),
        };
        calls.row(vec![
            run.replicas.to_string(),
            beside(rates.flushes(), model.flushes, per_second),
            format!("{:.1} ms", rates.commit_seconds() * 1000.0),
            beside(rates.writes(), model.writes, per_second),
            beside(rates.reads(), model.reads, per_second),
            beside(rates.rows_read(), model.rows_read, count),
            mutations,
            format!(
                "{:.0} ms/s",
                rates.flushing() / run.replicas as f64 * 1000.0
            ),
            format!("{:.2}", rates.failed_tries()),
        ]);
        let mut latencies = run.latencies.clone();
        let seconds = |x: f64| format!("{x:.2} s");
        replicas.row(vec![
            run.replicas.to_string(),
            beside(run.loaded_cores, model.cores, |x| format!("{x:.3}")),
            beside(run.loaded_kib, model.kib, |x| {
                format!("{:.1} MiB", x / 1024.0)
            }),
            beside(percentile(&mut latencies, 50.0), model.latency.0, seconds),
            beside(percentile(&mut latencies, 99.0), model.latency.1, seconds),
            beside(run.events, model.events, count),
            format!(
                "{} / {}",
                count(run.stored_rows as f64),
                count(run.acknowledged as f64)
            ),
        ]);
    }
    calls.print();
    replicas.print();
}

fn print_notes() {
    println!(
        "\nThe model: a request waiting for its answer (`--ack stored`) starts a flush a \
         linger later and a replica runs one flush at a time, so each replica commits once \
         per request while they come further apart than a linger and a commit (the mean \
         commit measured in the same run), and once per linger and commit when closer; \
         each replica reports its audience once a second and makes one observer read, \
         which returns every replica's bucket of every talk for the window's 14 seconds, \
         so rows read grow with the square of the replicas. Spanner mutations are 5 per \
         like and 8 per talk in each commit. CPU: a part each replica spends whatever \
         its share (its ticks and its flush commits, as many with a small share as with \
         all of it) and a part that divides among the replicas, both solved from the two \
         runs with the fewest replicas; memory: what the load adds to the first run's \
         replica, divided among the replicas. Latency: a like is stored a linger and a commit after it arrives, then \
         waits for the next read (uniform over a second), on its own replica as on \
         another. † marks a figure more than {:.0}% from the model; docs/capacity.md \
         says why each is. On this machine every replica, the emulator and the load \
         share two cores, and the emulator runs one transaction at a time.",
        TOLERANCE * 100.0
    );
}

/// What a buffered like costs in memory.
struct BufferedMemory {
    likes: f64,
    rss_per_like: f64,
    estimate_per_like: f64,
}

/// Holds SQLite's write lock so every flush fails, sends likes until a
/// few hundred thousand are buffered, and divides the growth in resident
/// memory by them; then lets the store go and checks every one is stored.
async fn buffered_like_memory() -> anyhow::Result<BufferedMemory> {
    const LIKES: u64 = 200_000;
    const PER_REQUEST: usize = 25;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("buffered.db");
    // Every flush fails here, as meant: its warnings would only be noise.
    // Answered from memory, the likes pile up in the buffer while no flush
    // gets through (stored, they would wait for their answers instead).
    let store = format!("sqlite://{}", path.display());
    let replica = Replica::start_logging(&store, "buffered", &["--ack", "buffered"], "off").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let lock = rusqlite::Connection::open(&path)?;
    lock.execute_batch("BEGIN EXCLUSIVE")?;
    let before = replica.rss_kib();
    let answers = Arc::new(Answers::default());
    let seconds = 10.0;
    load::offer(
        replica.graphql(),
        load::document(PER_REQUEST, 1),
        LIKES as f64 / PER_REQUEST as f64 / seconds,
        Duration::from_secs_f64(seconds),
        4,
        answers.clone(),
    )
    .await?;
    let m = replica.metrics().await?;
    let buffered = m.get("likes_buffered").copied().unwrap_or(0.0);
    let estimate = m.get("likes_buffered_bytes").copied().unwrap_or(0.0);
    let grown = replica.rss_kib().saturating_sub(before) as f64 * 1024.0;
    if m.get("likes_stored_total").copied().unwrap_or(0.0) > 0.0 {
        bail!("a flush got through SQLite's write lock");
    }
    lock.execute_batch("COMMIT")?;
    drop(lock);
    let stored = replica.drained().await?;
    replica.stop().await?;
    if answers.refused() > 0 || stored != answers.acknowledged() {
        bail!(
            "{} likes acknowledged, {} refused, {stored} stored",
            answers.acknowledged(),
            answers.refused()
        );
    }
    Ok(BufferedMemory {
        likes: buffered,
        rss_per_like: grown / buffered.max(1.0),
        estimate_per_like: estimate / buffered.max(1.0),
    })
}
