//! SIGKILL under load, on real processes: what an acknowledgement is worth
//! when a replica dies without its drain. With `--ack stored` every
//! acknowledged like is stored exactly once, on SQLite and on Spanner (three
//! replicas, one killed); a store that is down acknowledges nothing until it
//! is back, then answers every waiting like; a retry after `UNAVAILABLE`
//! stores one like. With `--ack buffered` the loss is measured and held to
//! the documented bound: only likes acknowledged since the last stored flush.

use crate::emulator;
use crate::helpers::{ServerProcess, eventually, liked};
use crate::proxy::FaultProxy;
use chrono::{DateTime, Utc};
use likes::model::TalkId;
use likes::store::{Exported, LikeStore, StoreOptions, StoreUrl, TimeRange};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Concurrent likers, as in the measurement that found the loss.
const LIKERS: usize = 48;

const LIKE: &str = "mutation($input: CreateLikeInput!) {
  createLike(input: $input) { like { id } }
}";

/// One acknowledged like, as its liker saw it.
#[derive(Debug, Clone)]
struct Acked {
    /// The like's id (the UUID in `Like:<id>`).
    id: String,
    talk: i32,
    /// When the acknowledgement arrived.
    at: DateTime<Utc>,
}

/// What the likers saw: every acknowledgement, and the answers that were
/// not one (refusals, and requests cut by the kill).
#[derive(Debug, Default)]
struct Seen {
    acked: Vec<Acked>,
    unanswered: usize,
}

/// `LIKERS` likers, each liking talks 1 to 3 in turn with a fresh
/// `clientMutationId` per like, spread over `urls`, until `stop`.
fn likers(urls: Vec<String>, tag: &str, stop: CancellationToken) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for liker in 0..LIKERS {
        let (client, urls, stop, seen) = (client.clone(), urls.clone(), stop.clone(), seen.clone());
        let uuid = format!("{tag}-{liker}");
        tokio::spawn(async move {
            for n in 0usize.. {
                let url = &urls[(liker + n) % urls.len()];
                let talk = 1 + (n % 3) as i32;
                let input = json!({ "uuid": uuid, "sessionId": talk, "clientMutationId": format!("tap-{n}") });
                let request = client
                    .post(url)
                    .json(&json!({ "query": LIKE, "variables": { "input": input } }))
                    .send();
                let answer = tokio::select! {
                    _ = stop.cancelled() => return,
                    answer = request => answer,
                };
                let body: Option<Value> = match answer {
                    Ok(response) => response.json().await.ok(),
                    Err(_) => None,
                };
                let id = body
                    .as_ref()
                    .and_then(|body| body["data"]["createLike"]["like"]["id"].as_str());
                let acked = id.and_then(|id| id.strip_prefix("Like:")).map(|id| Acked {
                    id: id.to_owned(),
                    talk,
                    at: Utc::now(),
                });
                let refused = acked.is_none();
                {
                    let mut seen = seen.lock().unwrap();
                    match acked {
                        Some(acked) => seen.acked.push(acked),
                        None => seen.unanswered += 1,
                    }
                }
                if refused {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
    }
    seen
}

/// A stored like: its talk, liker and acknowledgement time.
type Row = (i32, String, DateTime<Utc>);

/// Every stored like, by id.
async fn stored(store: &dyn LikeStore) -> HashMap<String, Row> {
    let (rows, mut read) = tokio::sync::mpsc::channel(1024);
    let export = store.export(TimeRange::default(), rows);
    let collect = async {
        let mut likes = HashMap::new();
        while let Some(row) = read.recv().await {
            if let Exported::Like(like) = row {
                let talk = i32::try_from(like.session_id).unwrap();
                likes.insert(like.id, (talk, like.liker, like.created_at));
            }
        }
        likes
    };
    let (exported, likes) = tokio::join!(export, collect);
    exported.unwrap();
    likes
}

/// Every acknowledged like is stored, and each talk's totals count its
/// rows once.
async fn assert_acknowledged_are_stored_once(store: &dyn LikeStore, acked: &[Acked]) -> usize {
    let rows = stored(store).await;
    let lost: Vec<&Acked> = acked
        .iter()
        .filter(|like| {
            rows.get(&like.id)
                .is_none_or(|(talk, _, _)| *talk != like.talk)
        })
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged likes were not stored: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
    let totals = store.totals().await.unwrap();
    for talk in 1..=3 {
        let count = rows.values().filter(|(t, _, _)| *t == talk).count() as u64;
        assert_eq!(
            totals.get(&TalkId(talk)).copied().unwrap_or(0),
            count,
            "talk {talk}: totals vs rows"
        );
        assert_eq!(store.count_likes(TalkId(talk)).await.unwrap(), count);
    }
    rows.len()
}

/// Starts `likes serve` on `db` with `flags`, likes for `after` (measured
/// from the next whole second, plus `phase` into it), then SIGKILLs it.
async fn like_then_kill(
    db: &std::path::Path,
    round: usize,
    flags: &[&str],
    phase: Duration,
) -> Seen {
    let server = ServerProcess::start(db, "crash", flags).await;
    let stop = CancellationToken::new();
    let seen = likers(
        vec![server.url.clone()],
        &format!("round-{round}"),
        stop.clone(),
    );
    // Flushes fall on whole seconds: kill `phase` into the second after the
    // next one, so each round dies at another point of the cycle.
    let now = Utc::now();
    let to_whole = 1_000_000 - i64::from(now.timestamp_subsec_micros());
    let kill_in = Duration::from_micros(to_whole as u64) + Duration::from_secs(1) + phase;
    tokio::time::sleep(kill_in).await;
    let status = server.signal("KILL").await;
    stop.cancel();
    assert_eq!(status.code(), None, "killed by a signal: {status}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    std::mem::take(&mut *seen.lock().unwrap())
}

#[tokio::test]
async fn with_ack_stored_sigkill_at_any_point_of_the_flush_cycle_loses_no_acknowledged_like() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("likes.db");
    let mut acked = Vec::new();
    for (round, phase_ms) in [50, 420, 870].into_iter().enumerate() {
        let seen = like_then_kill(
            &db,
            round,
            &["--ack", "stored"],
            Duration::from_millis(phase_ms),
        )
        .await;
        eprintln!(
            "round {round}: {} acknowledged before SIGKILL",
            seen.acked.len()
        );
        assert!(
            seen.acked.len() > 100,
            "too few likes to mean anything: {seen:?}"
        );
        acked.extend(seen.acked);
    }
    let store = likes::store::SqliteStore::open(&db, &StoreOptions::default())
        .await
        .unwrap();
    let rows = assert_acknowledged_are_stored_once(&store, &acked).await;
    eprintln!(
        "stored: {rows} likes, {} acknowledged (the rest were stored as the kill cut their answer)",
        acked.len()
    );
    // Restarted on the same file, it counts them all, once.
    let server = ServerProcess::start(&db, "crash", &[]).await;
    let client = reqwest::Client::new();
    let counted: i64 = {
        let mut sum = 0;
        for talk in 1..=3 {
            sum += liked(&client, &server.url, talk).await;
        }
        sum
    };
    assert_eq!(counted, rows as i64);
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn with_ack_buffered_sigkill_loses_only_likes_acknowledged_since_the_last_stored_flush() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("likes.db");
    let store = likes::store::SqliteStore::open(&db, &StoreOptions::default())
        .await
        .unwrap();
    for (round, phase_ms) in [100, 500, 900].into_iter().enumerate() {
        let seen = like_then_kill(
            &db,
            round,
            &["--ack", "buffered"],
            Duration::from_millis(phase_ms),
        )
        .await;
        let rows = stored(&store).await;
        let tag = format!("round-{round}");
        // The last flush that stored anything of this round took every like
        // acknowledged before it began: only later ones may be lost.
        let last_flush_took = rows
            .values()
            .filter(|(_, liker, _)| liker.starts_with(&format!("{tag}-")))
            .map(|(_, _, at)| *at)
            .max();
        let lost: Vec<&Acked> = seen
            .acked
            .iter()
            .filter(|like| !rows.contains_key(&like.id))
            .collect();
        let since_last_flush = seen
            .acked
            .iter()
            .filter(|like| last_flush_took.is_none_or(|took| like.at > took))
            .count();
        eprintln!(
            "{tag}, killed {phase_ms} ms into a flush second: {} of {} acknowledged likes lost; \
             {since_last_flush} were acknowledged after the last stored flush took its likes",
            lost.len(),
            seen.acked.len()
        );
        assert!(seen.acked.len() > 100, "too few likes to mean anything");
        for like in &lost {
            assert!(
                last_flush_took.is_none_or(|took| like.at > took),
                "a like acknowledged at {} before the last stored flush took its likes (at {:?}) was lost",
                like.at,
                last_flush_took
            );
        }
        assert!(lost.len() <= since_last_flush);
    }
}

#[tokio::test]
async fn with_ack_stored_three_replicas_on_spanner_lose_nothing_acknowledged_when_one_is_killed() {
    let database = emulator::database().await;
    let url = format!("spanner://{database}");
    let mut replicas = Vec::new();
    for id in ["crash-a", "crash-b", "crash-c"] {
        replicas.push(ServerProcess::start_on(&url, id, &["--ack", "stored"]).await);
    }
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    let stop = CancellationToken::new();
    let seen = likers(urls, "fleet", stop.clone());
    // The kill lands under load, however busy the machine is.
    let loaded = tokio::time::timeout(Duration::from_secs(60), async {
        while seen.lock().unwrap().acked.len() <= 150 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    loaded
        .await
        .expect("150 likes acknowledged within a minute");
    let killed = replicas.remove(1);
    let status = killed.signal("KILL").await;
    assert_eq!(status.code(), None, "killed by a signal: {status}");
    // The others keep taking likes (the killed one's share is refused).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    eprintln!(
        "{} acknowledged over three replicas, one killed",
        seen.acked.len()
    );
    assert!(seen.acked.len() > 100, "too few likes to mean anything");
    let store = likes::store::open(&url.parse::<StoreUrl>().unwrap(), &StoreOptions::default())
        .await
        .unwrap();
    let rows = assert_acknowledged_are_stored_once(store.as_ref(), &seen.acked).await;
    let client = reqwest::Client::new();
    let per_talk: Vec<i64> = {
        let rows = stored(store.as_ref()).await;
        (1..=3)
            .map(|talk| rows.values().filter(|(t, _, _)| *t == talk).count() as i64)
            .collect()
    };
    assert_eq!(per_talk.iter().sum::<i64>(), rows as i64);
    for replica in &replicas {
        for (talk, want) in (1..=3).zip(&per_talk) {
            let seen = eventually(Duration::from_secs(15), *want, || {
                liked(&client, &replica.url, talk)
            })
            .await;
            assert_eq!(seen, *want, "talk {talk}: Session.liked on {}", replica.url);
        }
    }
    for replica in replicas {
        assert!(replica.terminate().await.success());
    }
}

/// A replica with `--ack stored` and `--ack-timeout timeout` on a fresh
/// emulator database, which it reaches through a fault proxy; and the
/// database's URL.
async fn behind_proxy(name: &str, timeout: &str) -> (ServerProcess, FaultProxy, String) {
    let database = emulator::database().await;
    let url = format!("spanner://{database}");
    let proxy = FaultProxy::start(emulator::emulator().grpc_host.parse().unwrap()).await;
    let through_proxy = proxy.addr.to_string();
    let server = ServerProcess::start_with_env(
        &url,
        name,
        &["--ack", "stored", "--ack-timeout", timeout],
        &[("SPANNER_EMULATOR_HOST", &through_proxy)],
    )
    .await;
    (server, proxy, url)
}

#[tokio::test]
async fn with_ack_stored_a_store_that_is_down_acknowledges_nothing_then_answers_every_waiting_like()
{
    let (server, proxy, url) = behind_proxy("down", "30s").await;
    proxy.refuse();
    let client = reqwest::Client::new();
    let waiting: Vec<_> = (0..20)
        .map(|n| {
            let (client, url) = (client.clone(), server.url.clone());
            tokio::spawn(async move {
                let input = json!({ "uuid": format!("waiter-{n}"), "sessionId": 1, "clientMutationId": "tap" });
                let answer: Value = client
                    .post(&url)
                    .json(&json!({ "query": LIKE, "variables": { "input": input } }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                (answer, Utc::now())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        waiting.iter().all(|w| !w.is_finished()),
        "a like was answered while the store was down"
    );
    assert_eq!(server.metric("likes_acknowledged_total").await, 0.0);
    assert_eq!(
        server.metric("likes_unstored_ack_age_seconds").await,
        0.0,
        "nothing acknowledged waits for the store"
    );
    assert!(
        server.metric("likes_flush_failures_total").await > 0.0,
        "the store was not down"
    );
    let healed = Utc::now();
    proxy.heal();
    for answer in waiting {
        let (answer, at) = answer.await.unwrap();
        assert!(
            answer["data"]["createLike"]["like"]["id"].is_string(),
            "{answer}"
        );
        assert!(at > healed);
    }
    let store = likes::store::open(&url.parse::<StoreUrl>().unwrap(), &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), 20);
    assert_eq!(server.metric("likes_acknowledged_total").await, 20.0);
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn with_ack_stored_a_retry_after_unavailable_from_a_stalled_store_stores_and_counts_one_like()
{
    let (server, proxy, url) = behind_proxy("stalled", "2s").await;
    let subscriber =
        crate::helpers::Subscriber::start(&server.ws_url, 2, "graphql-transport-ws").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = reqwest::Client::new();
    let tap = || crate::helpers::like(&client, &server.url, 2, "retrier", Some("tap-1"));
    proxy.stall();
    for attempt in 0..2 {
        let answer = tap().await;
        let error = &answer["errors"][0];
        assert_eq!(error["extensions"]["code"], "UNAVAILABLE", "{answer}");
        assert!(
            error["extensions"]["retryAfterSeconds"].as_u64() >= Some(1),
            "{answer}"
        );
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("may still be stored") && message.contains("same clientMutationId"),
            "attempt {attempt}: {message}"
        );
    }
    proxy.heal();
    let answer = tap().await;
    assert_eq!(
        answer["data"]["createLike"]["like"]["session"]["liked"], 1,
        "{answer}"
    );
    // Later, everywhere, still one.
    assert_eq!(subscriber.wait_for_sum(1, Duration::from_secs(10)).await, 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(subscriber.sum(), 1, "counted twice");
    assert_eq!(liked(&client, &server.url, 2).await, 1);
    let store = likes::store::open(&url.parse::<StoreUrl>().unwrap(), &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(store.count_likes(TalkId(2)).await.unwrap(), 1);
    let metrics = server.metrics().await;
    assert_eq!(
        metrics[r#"likes_refused_total{reason="not_stored_yet"}"#],
        2.0
    );
    subscriber.close().await;
    assert!(server.terminate().await.success());
}

/// The likes not yet stored when a SIGTERM comes are stored and answered,
/// or answered UNAVAILABLE: never acknowledged and then dropped.
#[tokio::test]
async fn with_ack_stored_sigterm_answers_each_waiting_like_stored_or_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("likes.db");
    let flags = [
        "--ack",
        "stored",
        "--ack-timeout",
        "30s",
        "--flush-hard-timeout",
        "2s",
        "--shutdown-grace",
        "4s",
    ];
    let server = ServerProcess::start(&db, "replica-a", &flags).await;
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let client = reqwest::Client::new();
    let waiting: Vec<_> = (0..12)
        .map(|n| {
            let (client, url) = (client.clone(), server.url.clone());
            tokio::spawn(async move {
                crate::helpers::like(&client, &url, 1, &format!("w-{n}"), Some("tap")).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = server.terminate().await;
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(status.code(), Some(1), "exit status {status}");
    for answer in waiting {
        let answer = answer.await.unwrap();
        assert_eq!(
            crate::helpers::error_code(&answer),
            "UNAVAILABLE",
            "{answer}"
        );
    }
    let store = likes::store::SqliteStore::open(&db, &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(
        store.count_likes(TalkId(1)).await.unwrap(),
        0,
        "nothing acknowledged, nothing stored"
    );
}
