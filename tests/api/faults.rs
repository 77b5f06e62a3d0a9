//! Store outages under a steady like load, on real processes: Cloud Spanner
//! (the emulator behind a fault-injecting proxy that stalls, then refuses
//! and cuts connections) and SQLite (another process holding the write lock).
//! Every acknowledged like is stored exactly once after recovery,
//! subscribers converge to the exact totals, `/readyz` stays ready while the
//! buffer has room (the store is every replica's, so its outage is no reason
//! to leave the load balancer) and not ready once it is full, the buffer
//! stays within its bound, and `/metrics` agrees.

use crate::emulator;
use crate::helpers::{ServerProcess, Subscriber, eventually, liked};
use crate::proxy::FaultProxy;
use likes::model::TalkId;
use likes::store::{LikeStore, StoreOptions, StoreUrl};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Likes per second the load sends, spread over talks 1 to 3.
const LOAD_PER_SECOND: u64 = 100;
/// The buffer bound during the outage: less than the outage's likes.
const BUFFER: u64 = 2_000;
/// How long the store is down.
const OUTAGE: Duration = Duration::from_secs(30);

/// What the load saw.
#[derive(Debug, Default)]
struct LoadResult {
    acknowledged: HashMap<i32, u64>,
    refused: u64,
}

/// Sends likes (each with its own liker) at `LOAD_PER_SECOND` until `stop`.
/// Every answer is an acknowledgement or `UNAVAILABLE` with a retry hint.
fn start_load(url: String, stop: CancellationToken) -> tokio::task::JoinHandle<LoadResult> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut result = LoadResult::default();
        let mut ticks = tokio::time::interval(Duration::from_millis(1000 / LOAD_PER_SECOND));
        for n in 0u64.. {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let talk = 1 + (n % 3) as i32;
            let answer =
                crate::helpers::like(&client, &url, talk, &format!("load-{n}"), None).await;
            if answer["data"]["createLike"]["like"]["id"].is_string() {
                *result.acknowledged.entry(talk).or_default() += 1;
            } else {
                let error = &answer["errors"][0]["extensions"];
                assert_eq!(error["code"], "UNAVAILABLE", "{answer}");
                assert!(error["retryAfterSeconds"].as_u64() > Some(0), "{answer}");
                result.refused += 1;
            }
        }
        result
    })
}

/// What was sampled during the outage.
#[derive(Debug, Default)]
struct OutageSamples {
    /// Samples taken while the buffer had room: `/readyz` must say ready.
    with_room: usize,
    /// Samples taken while the buffer was full: `/readyz` must say not ready.
    full: usize,
    /// Samples whose buffer filled between the two reads around `/readyz`.
    filling: usize,
    /// Readiness answers that contradicted the buffer: (status, buffered before, after).
    wrong: Vec<(u16, f64, f64)>,
    max_buffered: f64,
    peak_rss_kib: u64,
}

impl OutageSamples {
    /// Reads the buffer, `/readyz`, then the buffer again: during the outage
    /// the buffer only grows, so if it still had room after, it had room
    /// when `/readyz` answered, and if it was full before, it was full then.
    async fn take(&mut self, server: &ServerProcess) {
        let before = server.metric("likes_buffered").await;
        let status = server.readiness().await;
        let after = server.metric("likes_buffered").await;
        let full = BUFFER as f64;
        if after < full {
            self.with_room += 1;
            if status != 200 {
                self.wrong.push((status, before, after));
            }
        } else if before >= full {
            self.full += 1;
            if status != 503 {
                self.wrong.push((status, before, after));
            }
        } else {
            self.filling += 1;
        }
        self.max_buffered = self.max_buffered.max(after);
        self.peak_rss_kib = self.peak_rss_kib.max(server.rss_kib());
    }

    /// Samples twice a second for `length`.
    async fn during(&mut self, server: &ServerProcess, length: Duration) {
        let end = tokio::time::Instant::now() + length;
        while tokio::time::Instant::now() < end {
            self.take(server).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The scenario around an outage that `begin` starts, `midway` changes and
/// `end` ends; then checks that nothing was lost or counted twice.
async fn outage_under_load(
    server: &ServerProcess,
    store: Arc<dyn LikeStore>,
    begin: impl FnOnce(),
    midway: impl FnOnce(),
    end: impl FnOnce(),
) {
    let subscriber = Subscriber::start(&server.ws_url, 1, "graphql-transport-ws").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stop = CancellationToken::new();
    let load = start_load(server.url.clone(), stop.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_before = server.rss_kib();

    begin();
    let started = tokio::time::Instant::now();
    let mut samples = OutageSamples::default();
    let failing = eventually(Duration::from_secs(8), true, || async {
        server.metric("likes_flush_failures_total").await > 0.0
    })
    .await;
    assert!(failing, "no flush failed: the outage did not take effect");
    samples.during(server, OUTAGE / 2).await;
    // What a crash now would lose has waited about as long as the outage.
    let unstored_for = server.metric("likes_unstored_ack_age_seconds").await;
    assert!(
        unstored_for >= (OUTAGE / 2).as_secs_f64() - 3.0,
        "the oldest unstored acknowledged like is {unstored_for} s old, {:?} into the outage",
        started.elapsed()
    );
    midway();
    samples.during(server, OUTAGE / 2).await;
    end();
    let outage = started.elapsed();

    let ready = eventually(Duration::from_secs(30), 200, || server.readiness()).await;
    assert_eq!(ready, 200, "/readyz did not recover");
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    let result = load.await.unwrap();
    let acknowledged: u64 = result.acknowledged.values().sum();
    eprintln!(
        "outage of {outage:?}: {acknowledged} acknowledged, {} refused; ready in {} samples \
         with room, not ready in {} with the buffer full ({} filling); buffered at most {}; \
         RSS {} KiB before, {} KiB at most",
        result.refused,
        samples.with_room,
        samples.full,
        samples.filling,
        samples.max_buffered,
        rss_before,
        samples.peak_rss_kib
    );
    assert!(outage >= OUTAGE, "the outage lasted only {outage:?}");
    assert!(
        samples.wrong.is_empty(),
        "/readyz did not follow the buffer's room (status, buffered before, after): {:?}",
        samples.wrong
    );
    assert!(
        samples.with_room >= 10 && samples.full >= 4,
        "the outage did not show both states: {samples:?}"
    );
    assert!(
        result.refused > 0,
        "the buffer never filled, so its bound was not exercised: {result:?}"
    );
    assert!(
        samples.max_buffered <= BUFFER as f64,
        "the buffer exceeded its bound: {samples:?}"
    );
    assert!(
        samples.peak_rss_kib < rss_before + 64 * 1024,
        "memory grew by more than 64 MiB during the outage: {samples:?}, {rss_before} KiB before"
    );

    // Everything acknowledged reaches the store, once.
    let drained = eventually(Duration::from_secs(30), 0.0, || async {
        server.metric("likes_buffered").await
    })
    .await;
    assert_eq!(drained, 0.0, "likes still buffered after recovery");
    assert_eq!(server.metric("likes_unstored_ack_age_seconds").await, 0.0);
    for (talk, sent) in &result.acknowledged {
        let stored = store.count_likes(TalkId(*talk)).await.unwrap();
        assert_eq!(stored, *sent, "talk {talk}: stored vs acknowledged");
    }
    let metrics = server.metrics().await;
    assert_eq!(metrics["likes_acknowledged_total"], acknowledged as f64);
    assert_eq!(metrics["likes_stored_total"], acknowledged as f64);
    assert_eq!(
        metrics[r#"likes_refused_total{reason="buffer_full"}"#],
        result.refused as f64
    );
    assert!(metrics["likes_flush_failures_total"] > 0.0);

    // Counters converge exactly.
    let on_talk_1 = result.acknowledged[&1];
    let client = reqwest::Client::new();
    let liked = eventually(Duration::from_secs(20), on_talk_1 as i64, || {
        liked(&client, &server.url, 1)
    })
    .await;
    assert_eq!(liked, on_talk_1 as i64, "Session.liked after recovery");
    assert_eq!(
        subscriber
            .wait_for_sum(on_talk_1 as i64, Duration::from_secs(20))
            .await,
        on_talk_1 as i64,
        "the subscriber's deltas"
    );
    subscriber.close().await;

    // Each like is measured once from acknowledgement to push, except those
    // of a replayed flush: the store had them already, and their bucket
    // grew at the try whose answer was lost.
    let replayed = metrics["likes_already_stored_total"];
    let floor = acknowledged as f64 - replayed;
    let measured = eventually(Duration::from_secs(5), true, || async {
        server.metric("likes_ack_to_push_seconds_count").await >= floor
    })
    .await;
    let metrics = server.metrics().await;
    let count = metrics["likes_ack_to_push_seconds_count"];
    let within_2s = metrics[r#"likes_ack_to_push_seconds_bucket{le="2"}"#];
    eprintln!(
        "ack to push: {count} of {acknowledged} likes measured ({replayed} replayed), \
         {within_2s} within 2 s, mean {:.1} s",
        metrics["likes_ack_to_push_seconds_sum"] / count
    );
    assert!(
        measured && count <= acknowledged as f64,
        "{count} likes measured from ack to push, of {acknowledged} ({replayed} replayed)"
    );
    // The likes held through the outage took longer, unless all of them were
    // in the flush whose answer was lost at the recovery (which happens
    // when the store comes back during a try): then none of them is timed.
    if replayed < samples.max_buffered {
        assert!(
            within_2s < count,
            "likes held through a 30 s outage were all pushed within 2 s: {within_2s} of {count}"
        );
    }
}

#[tokio::test]
async fn a_spanner_outage_under_load_loses_nothing_and_counts_nothing_twice() {
    let database = emulator::database().await;
    let url = format!("spanner://{database}");
    let proxy = FaultProxy::start(emulator::emulator().grpc_host.parse().unwrap()).await;
    let through_proxy = proxy.addr.to_string();
    let server = ServerProcess::start_with_env(
        &url,
        "replica-a",
        &[
            "--buffer-max-likes",
            &BUFFER.to_string(),
            "--ack",
            "buffered",
        ],
        &[("SPANNER_EMULATOR_HOST", &through_proxy)],
    )
    .await;
    let store = likes::store::open(&url.parse::<StoreUrl>().unwrap(), &StoreOptions::default())
        .await
        .unwrap();
    // Hung for the first half (connections open, nothing answers), then
    // refusing connections, with the open ones cut.
    outage_under_load(
        &server,
        store,
        || proxy.stall(),
        || proxy.refuse(),
        || proxy.heal(),
    )
    .await;
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn a_sqlite_file_locked_by_another_process_loses_nothing_and_counts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("likes.db");
    let server = ServerProcess::start(
        &db,
        "replica-a",
        &[
            "--buffer-max-likes",
            &BUFFER.to_string(),
            "--ack",
            "buffered",
        ],
    )
    .await;
    let store: Arc<dyn LikeStore> = Arc::new(
        likes::store::SqliteStore::open(&db, &StoreOptions::default())
            .await
            .unwrap(),
    );
    // This test process is the other process: it takes the write lock.
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.busy_timeout(Duration::from_secs(5)).unwrap();
    outage_under_load(
        &server,
        store,
        || holder.execute_batch("BEGIN EXCLUSIVE").unwrap(),
        || {},
        || holder.execute_batch("ROLLBACK").unwrap(),
    )
    .await;
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn sigterm_with_the_store_down_logs_exactly_how_many_likes_were_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("likes.db");
    let flags = [
        "--ack",
        "buffered",
        "--flush-interval",
        "1h",
        "--flush-hard-timeout",
        "2s",
        "--shutdown-grace",
        "4s",
    ];
    let server = ServerProcess::start(&db, "replica-a", &flags).await;
    let client = reqwest::Client::new();
    for n in 0..57 {
        let answer = crate::helpers::like(&client, &server.url, 1, &format!("l-{n}"), None).await;
        crate::helpers::assert_acknowledged(&answer);
    }
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let started = tokio::time::Instant::now();
    let log = server.log_handle();
    let status = server.terminate().await;
    let took = started.elapsed();
    holder.execute_batch("ROLLBACK").unwrap();

    assert_eq!(status.code(), Some(1), "exit status {status}");
    assert!(
        took < Duration::from_secs(6),
        "shutdown took {took:?} with a 4 s grace"
    );
    let log = log.lock().unwrap().join("\n");
    assert!(
        log.contains("57 acknowledged likes were not stored"),
        "the log does not give the count: {log}"
    );
    // The count is exact: those 57 are the only likes missing.
    let store = likes::store::SqliteStore::open(&db, &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), 0);
}
