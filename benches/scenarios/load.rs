//! A paced load of `createLike`s: mutation documents carrying several
//! aliased likes each, sent at a fixed request rate over several keep-alive
//! connections, so one process can offer tens of thousands of likes a second.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::time::MissedTickBehavior;

/// What the service answered, counted as it arrives.
#[derive(Default)]
pub struct Answers {
    pub acknowledged: AtomicU64,
    pub refused: AtomicU64,
}

/// A mutation document with `n` aliased likes spread over talks 1..=`talks`.
pub fn document(n: usize, talks: usize) -> String {
    let likes: String = (0..n)
        .map(|i| {
            format!(
                "l{i}:createLike(input:{{uuid:\"load-{i}\",sessionId:{}}}){{clientMutationId}} ",
                i % talks + 1
            )
        })
        .collect();
    serde_json::json!({ "query": format!("mutation{{{likes}}}") }).to_string()
}

/// Sends `body` to `url` at `requests_per_second` over `connections`
/// connections for `duration`, counting likes into `answers`. A connection
/// that falls behind sends at once until it catches up.
pub async fn offer(
    url: String,
    body: String,
    requests_per_second: f64,
    duration: Duration,
    connections: usize,
    answers: Arc<Answers>,
) -> anyhow::Result<()> {
    let every = Duration::from_secs_f64(connections as f64 / requests_per_second);
    let started = Instant::now();
    let until = started + duration;
    let mut workers = Vec::new();
    for worker in 0..connections {
        let (url, body, answers) = (url.clone(), body.clone(), answers.clone());
        // Connections start spread over one period, so requests arrive evenly.
        let first = started + every.mul_f64(worker as f64 / connections as f64);
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut ticks = tokio::time::interval_at(first.into(), every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
            while Instant::now() < until {
                ticks.tick().await;
                let answer: serde_json::Value = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?
                    .json()
                    .await?;
                // Each refused like is one error; when all are, data is null.
                let refused = answer["errors"].as_array().map_or(0, Vec::len) as u64;
                let acknowledged = match &answer["data"] {
                    serde_json::Value::Object(likes) => {
                        likes.values().filter(|v| !v.is_null()).count() as u64
                    }
                    serde_json::Value::Null if refused > 0 => 0,
                    _ => anyhow::bail!("an answer without data or errors: {answer}"),
                };
                answers
                    .acknowledged
                    .fetch_add(acknowledged, Ordering::Relaxed);
                answers.refused.fetch_add(refused, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

impl Answers {
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Relaxed)
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}
