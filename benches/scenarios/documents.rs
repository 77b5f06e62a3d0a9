//! Scenario 1b, prepared documents: what a document the server has not
//! seen costs (every request a new document, from `wrk`, against the same
//! document every time), and a flood of new documents from a cache-busting
//! client beside a client sending its one document: whether the flood
//! pushes that document out (it is prepared again) and whether memory
//! stays bounded.

use crate::shapes::{SHAPES, wrk_script};
use crate::support::{Replica, Table, count, mib, require};
use anyhow::{Context, bail};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::process::Command;

#[derive(clap::Args)]
pub struct Options {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Connections of each load.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Flood rounds, each of `seconds`.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

const PREPARED: &str = "likes_graphql_documents_prepared_total";
const ACKNOWLEDGED: &str = "likes_acknowledged_total";

/// The README's like with a comment that makes each request's document new.
fn new_each_time() -> String {
    let shape = &SHAPES[0];
    let query = serde_json::to_string(&format!("{}\n# @LIKER@", shape.query)).expect("a string");
    format!(r#"{{"query":{query},"variables":{}}}"#, shape.variables)
}

pub async fn run(options: &Options) -> anyhow::Result<()> {
    require("wrk", "apt-get install wrk")?;
    let dir = tempfile::tempdir()?;
    let store = format!("sqlite://{}", dir.path().join("documents.db").display());
    // What preparing costs, without waiting for the store.
    let replica = Replica::start(&store, "documents", &["--ack", "buffered"]).await?;

    let mut cost = Table::new(
        "A first-seen document: the same like, its document new to the server on every \
         request, against one document sent every time (wrk)",
        &[
            "document",
            "likes/s",
            "server CPU per like",
            "documents prepared",
        ],
    );
    let mut cpu = Vec::new();
    for (name, template) in [
        ("the same every time", SHAPES[0].body()),
        ("new every time", new_each_time()),
    ] {
        let before = replica.metrics().await?;
        let cpu_before = replica.cpu_seconds();
        let started = Instant::now();
        wrk(
            &replica.graphql(),
            &template,
            name,
            options.connections,
            options.seconds,
        )
        .await?;
        let elapsed = started.elapsed().as_secs_f64();
        let after = replica.metrics().await?;
        let delta = |name: &str| after.get(name).unwrap_or(&0.0) - before.get(name).unwrap_or(&0.0);
        let likes = delta(ACKNOWLEDGED);
        let per_like = (replica.cpu_seconds() - cpu_before) / likes.max(1.0);
        cpu.push(per_like);
        cost.row(vec![
            name.into(),
            count(likes / elapsed),
            format!("{:.1} µs", per_like * 1e6),
            count(delta(PREPARED)),
        ]);
    }
    cost.row(vec![
        "cost of a first-seen document".into(),
        String::new(),
        format!("{:.1} µs", (cpu[1] - cpu[0]) * 1e6),
        String::new(),
    ]);
    cost.print();

    let mut flood = Table::new(
        "A flood of new documents (one client, every request a new document) beside a client \
         sending its own document throughout (64 requests in flight each)",
        &[
            "round",
            "new documents",
            "hot likes/s",
            "hot document prepared again",
            "RSS after",
        ],
    );
    let hot = reqwest::Client::new();
    let rss_before = replica.rss_kib();
    for round in 1..=options.rounds {
        let before = replica.metrics().await?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hot_load = tokio::spawn(send_until(
            hot.clone(),
            replica.graphql(),
            SHAPES[0].body(),
            None,
            options.connections,
            stop.clone(),
        ));
        let sent = Arc::new(AtomicU64::new(0));
        let flood_load = tokio::spawn(send_until(
            reqwest::Client::new(),
            replica.graphql(),
            new_each_time(),
            Some(sent.clone()),
            options.connections,
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_secs(options.seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let hot_likes = hot_load.await??;
        flood_load.await??;
        let after = replica.metrics().await?;
        let delta = |name: &str| after.get(name).unwrap_or(&0.0) - before.get(name).unwrap_or(&0.0);
        let new_documents = sent.load(Ordering::Relaxed) as f64;
        // Every flood request prepared its document; anything more was the
        // hot document prepared again.
        let again = delta(PREPARED) - new_documents;
        flood.row(vec![
            round.to_string(),
            count(new_documents),
            count(hot_likes as f64 / options.seconds as f64),
            format!("{again:.0}"),
            mib(replica.rss_kib()),
        ]);
        if again < 0.0 {
            bail!("fewer documents prepared than sent: the count is wrong");
        }
    }
    flood.row(vec![
        "before".into(),
        String::new(),
        String::new(),
        String::new(),
        mib(rss_before),
    ]);
    flood.print();
    replica.stop().await
}

/// Sends `template` (a new liker, or a new document, each time) from
/// `connections` tasks until `stop`; counts the requests answered into
/// `sent`, and returns the likes acknowledged.
async fn send_until(
    client: reqwest::Client,
    url: String,
    template: String,
    sent: Option<Arc<AtomicU64>>,
    connections: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<u64> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, url, template, sent, stop) = (
            client.clone(),
            url.clone(),
            template.clone(),
            sent.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("d{}", NEXT.fetch_add(1, Ordering::Relaxed));
                let answer: serde_json::Value = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(template.replace(crate::shapes::LIKER, &id))
                    .send()
                    .await?
                    .json()
                    .await?;
                if let Some(sent) = &sent {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                if answer["errors"].is_array() {
                    bail!("a like failed: {answer}");
                }
                acknowledged += 1;
            }
            anyhow::Ok(acknowledged)
        }));
    }
    let mut acknowledged = 0;
    for task in tasks {
        acknowledged += task.await??;
    }
    Ok(acknowledged)
}

/// `wrk` POSTing `template` to `url`.
async fn wrk(
    url: &str,
    template: &str,
    salt: &str,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let script = wrk_script(template, &salt.replace(' ', "-"))?;
    let output = Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .arg("-s")
        .arg(script.path())
        .arg(url)
        .stderr(Stdio::inherit())
        .output()
        .await
        .context("running wrk")?;
    let text = String::from_utf8(output.stdout)?;
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        bail!("wrk saw errors:\n{text}");
    }
    Ok(())
}
