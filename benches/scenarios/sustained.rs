//! Scenario 4, sustained flush: a fixed rate of likes offered to one
//! replica on SQLite for a minute. Each request is one mutation document
//! carrying `per_request` aliased `createLike`s (under the alias limit), so
//! the load generator can offer tens of thousands of likes a second. The
//! buffer must stay bounded and every acknowledged like be stored once.

use crate::load::{self, Answers};
use crate::support::{Replica, Table, count, mib};
use anyhow::bail;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Options {
    #[arg(long, default_value_t = 50_000)]
    pub rate: u64,
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Aliased likes per mutation document.
    #[arg(long, default_value_t = 25)]
    pub per_request: usize,
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
}

pub async fn run(options: &Options) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("sustained.db");
    // The buffer's bound under a rate the flush must keep up with; each
    // request's aliased likes would wait for a flush each under `--ack
    // stored` (scenario 6 measures that mode).
    let store = format!("sqlite://{}", db.display());
    let replica = Replica::start(&store, "sustained", &["--ack", "buffered"]).await?;
    let answers = Arc::new(Answers::default());
    let started = Instant::now();
    let until = started + Duration::from_secs(options.seconds);
    let load = tokio::spawn(load::offer(
        replica.graphql(),
        load::document(options.per_request, 6),
        options.rate as f64 / options.per_request as f64,
        Duration::from_secs(options.seconds),
        options.connections,
        answers.clone(),
    ));
    let mut most_buffered = 0.0f64;
    let mut most_bytes = 0.0f64;
    let mut per_second = Table::new(
        "Sustained load: the replica's buffer, sampled every 5 s",
        &[
            "second",
            "acknowledged so far",
            "buffered likes",
            "buffered bytes",
        ],
    );
    let mut sample = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < until {
        sample.tick().await;
        let m = replica.metrics().await?;
        let buffered = m.get("likes_buffered").copied().unwrap_or(0.0);
        let bytes = m.get("likes_buffered_bytes").copied().unwrap_or(0.0);
        most_buffered = most_buffered.max(buffered);
        most_bytes = most_bytes.max(bytes);
        let second = started.elapsed().as_secs();
        if second.is_multiple_of(5) {
            per_second.row(vec![
                second.to_string(),
                count(answers.acknowledged() as f64),
                count(buffered),
                count(bytes),
            ]);
        }
    }
    load.await??;
    let elapsed = started.elapsed().as_secs_f64();
    let drained_in = Instant::now();
    let stored = replica.drained().await?;
    let drained_in = drained_in.elapsed();
    let peak = replica.peak_rss_kib();
    let flush_p99 = histogram_quantile(&replica.metrics().await?, "likes_flush_seconds", 0.99);
    replica.stop().await?;
    let rows: u64 =
        rusqlite::Connection::open(&db)?
            .query_row("SELECT COUNT(*) FROM Likes", [], |row| row.get(0))?;
    let acknowledged = answers.acknowledged();
    let refused = answers.refused();

    per_second.print();
    let mut table = Table::new(
        "Sustained load on SQLite: offered rate for the whole run",
        &["measure", "value"],
    );
    table.row(vec![
        "offered".into(),
        format!(
            "{} likes/s for {} s",
            count(options.rate as f64),
            options.seconds
        ),
    ]);
    table.row(vec![
        "acknowledged".into(),
        format!(
            "{} ({} likes/s)",
            count(acknowledged as f64),
            count(acknowledged as f64 / elapsed)
        ),
    ]);
    table.row(vec!["refused".into(), count(refused as f64)]);
    table.row(vec!["most likes buffered".into(), count(most_buffered)]);
    table.row(vec!["most bytes buffered".into(), count(most_bytes)]);
    table.row(vec![
        "flush try p99 (histogram bucket)".into(),
        format!("≤ {flush_p99} s"),
    ]);
    table.row(vec![
        "buffer empty after the load in".into(),
        format!("{:.1} s", drained_in.as_secs_f64()),
    ]);
    table.row(vec![
        "stored (metrics) / rows in Likes".into(),
        format!("{} / {}", count(stored as f64), count(rows as f64)),
    ]);
    table.row(vec!["peak RSS of the replica".into(), mib(peak)]);
    table.print();
    if stored != acknowledged || rows != acknowledged {
        bail!("acknowledged {acknowledged}, stored {stored}, rows {rows}");
    }
    Ok(())
}

/// The upper bound of the histogram bucket holding quantile `q`.
pub fn histogram_quantile(
    metrics: &std::collections::HashMap<String, f64>,
    name: &str,
    q: f64,
) -> String {
    let mut buckets: Vec<(f64, f64)> = metrics
        .iter()
        .filter_map(|(key, count)| {
            let le = key
                .strip_prefix(&format!("{name}_bucket{{le=\""))?
                .strip_suffix("\"}")?;
            Some((
                if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                },
                *count,
            ))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last().map_or(0.0, |b| b.1);
    buckets
        .iter()
        .find(|(_, count)| *count >= q * total)
        .map_or("n/a".into(), |(le, _)| le.to_string())
}
