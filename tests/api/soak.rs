//! A bounded soak: the binary under mixed load for `SOAK_SECONDS` (30 in
//! the test suite; `scripts/soak` runs the release build for 180), with
//! likes from many likers, subscribers joining and leaving every second, and
//! a store fault of a fifth of the run in the middle (SQLite: another process
//! holds the write lock; `SOAK_STORE=spanner`: the emulator behind the
//! fault proxy stalls). It prints acknowledged vs stored vs delivered and the
//! peak memory, and fails if any like is lost or counted twice.

use crate::emulator;
use crate::helpers::{ServerProcess, like};
use crate::proxy::FaultProxy;
use futures_util::{SinkExt, StreamExt};
use likes::model::TalkId;
use likes::store::{LikeStore, StoreOptions, StoreUrl};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;

const TALKS: i32 = 3;
const LIKERS: u64 = 4;
const LIKES_PER_SECOND_PER_LIKER: u64 = 50;
const LIVE_SUBSCRIBERS: usize = 40;

/// One subscriber's view: the totals it was told, in order.
#[derive(Debug, Default)]
struct Seen {
    talk: i32,
    /// (likes, total) per event.
    events: Vec<(u64, u64)>,
}

impl Seen {
    /// Each delta is exactly the growth of the total since the one before.
    fn consistent(&self) -> bool {
        self.events
            .windows(2)
            .all(|pair| pair[1].1 == pair[0].1 + pair[1].0)
    }
}

async fn subscriber(ws_url: String, talk: i32, seen: Arc<Mutex<Seen>>, stop: CancellationToken) {
    let mut request = ws_url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(request).await else {
        return;
    };
    let init = json!({ "type": "connection_init" });
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": format!("subscription {{ likeAdded(sessionId: {talk}) {{ likes total }} }}") } });
    for message in [init, subscribe] {
        if ws.send(Message::text(message.to_string())).await.is_err() {
            return;
        }
    }
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => return,
            message = ws.next() => message,
        };
        let Some(Ok(Message::Text(text))) = message else {
            match message {
                Some(Ok(_)) => continue,
                _ => return,
            }
        };
        let value: Value = serde_json::from_str(&text).unwrap();
        let event = &value["payload"]["data"]["likeAdded"];
        if let (Some(likes), Some(total)) = (event["likes"].as_u64(), event["total"].as_u64()) {
            seen.lock().unwrap().events.push((likes, total));
        }
    }
}

#[tokio::test]
async fn mixed_load_with_subscriber_churn_and_a_store_fault_loses_nothing() {
    let seconds: u64 = std::env::var("SOAK_SECONDS").map_or(30, |s| s.parse().unwrap());
    let on_spanner = std::env::var("SOAK_STORE").is_ok_and(|s| s == "spanner");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("likes.db");
    // The buffer's accounting under a fault: acknowledged at once, stored
    // after (the stored mode's outage is `faults`' and `crashes`').
    let unlimited = ["--rate-per-address", "off", "--ack", "buffered"];
    let (server, store, proxy): (ServerProcess, Arc<dyn LikeStore>, Option<FaultProxy>) =
        if on_spanner {
            let url = format!("spanner://{}", emulator::database().await);
            let proxy = FaultProxy::start(emulator::emulator().grpc_host.parse().unwrap()).await;
            let host = proxy.addr.to_string();
            let server = ServerProcess::start_with_env(
                &url,
                "soak",
                &unlimited,
                &[("SPANNER_EMULATOR_HOST", &host)],
            )
            .await;
            let store =
                likes::store::open(&url.parse::<StoreUrl>().unwrap(), &StoreOptions::default())
                    .await
                    .unwrap();
            (server, store, Some(proxy))
        } else {
            let server = ServerProcess::start(&db, "soak", &unlimited).await;
            let store = likes::store::open(&StoreUrl::Sqlite(db.clone()), &StoreOptions::default())
                .await
                .unwrap();
            (server, store, None)
        };

    let stop = CancellationToken::new();
    let acknowledged = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(Mutex::new(HashMap::<String, u64>::new()));
    let mut likers = Vec::new();
    for liker in 0..LIKERS {
        let (url, stop) = (server.url.clone(), stop.clone());
        let (acknowledged, refused) = (acknowledged.clone(), refused.clone());
        likers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut ticks =
                tokio::time::interval(Duration::from_millis(1000 / LIKES_PER_SECOND_PER_LIKER));
            for n in 0u64.. {
                tokio::select! { _ = stop.cancelled() => return, _ = ticks.tick() => {} }
                let talk = 1 + (n % TALKS as u64) as i32;
                // Many likers, each tapping a few times.
                let uuid = format!("liker-{liker}-{}", n / 5);
                let answer = like(&client, &url, talk, &uuid, Some(&n.to_string())).await;
                if answer["data"]["createLike"]["like"]["id"].is_string() {
                    acknowledged.fetch_add(1, Ordering::Relaxed);
                } else {
                    let code = answer["errors"][0]["extensions"]["code"]
                        .as_str()
                        .unwrap_or("?")
                        .to_owned();
                    *refused.lock().unwrap().entry(code).or_default() += 1;
                }
            }
        }));
    }

    // Subscribers join and leave every second; the ones alive at the end are checked.
    let started = Instant::now();
    let mut live: Vec<(Arc<Mutex<Seen>>, CancellationToken)> = Vec::new();
    let mut finished: Vec<Arc<Mutex<Seen>>> = Vec::new();
    let (mut joined, mut peak_rss, mut max_buffered) = (0u64, 0u64, 0f64);
    let fault_from = Duration::from_secs(seconds * 2 / 5);
    let fault_to = Duration::from_secs(seconds * 3 / 5);
    let holder = rusqlite::Connection::open(&db).unwrap();
    let (mut faulted, mut healed) = (false, false);
    while started.elapsed() < Duration::from_secs(seconds) {
        let elapsed = started.elapsed();
        if !faulted && elapsed >= fault_from {
            faulted = true;
            eprintln!("soak: store fault begins at {}s", elapsed.as_secs());
            match &proxy {
                Some(proxy) => proxy.stall(),
                None => holder.execute_batch("BEGIN EXCLUSIVE").unwrap(),
            }
        }
        if faulted && !healed && elapsed >= fault_to {
            healed = true;
            eprintln!("soak: store fault ends at {}s", elapsed.as_secs());
            match &proxy {
                Some(proxy) => proxy.heal(),
                None => holder.execute_batch("ROLLBACK").unwrap(),
            }
        }
        for _ in 0..3 {
            let talk = 1 + (joined % TALKS as u64) as i32;
            let seen = Arc::new(Mutex::new(Seen {
                talk,
                ..Seen::default()
            }));
            let token = CancellationToken::new();
            tokio::spawn(subscriber(
                server.ws_url.clone(),
                talk,
                seen.clone(),
                token.clone(),
            ));
            live.push((seen, token));
            joined += 1;
        }
        while live.len() > LIVE_SUBSCRIBERS {
            let (seen, token) = live.remove(joined as usize % live.len());
            token.cancel();
            finished.push(seen);
        }
        peak_rss = peak_rss.max(server.rss_kib());
        max_buffered = max_buffered.max(server.metric("likes_buffered").await);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if faulted && !healed {
        match &proxy {
            Some(proxy) => proxy.heal(),
            None => holder.execute_batch("ROLLBACK").unwrap(),
        }
    }
    stop.cancel();
    for liker in likers {
        liker.await.unwrap();
    }
    let acknowledged = acknowledged.load(Ordering::Relaxed);

    // Let the buffer drain and the observer catch up.
    let mut stored = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for talk in 1..=TALKS {
            stored.insert(talk, store.count_likes(TalkId(talk)).await.unwrap());
        }
        if stored.values().sum::<u64>() == acknowledged || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let metrics = server.metrics().await;
    let stored_total: u64 = stored.values().sum();
    let (mut converged, mut consistent, mut delivered) = (0, 0, 0u64);
    let survivors: Vec<_> = live.iter().map(|(seen, _)| seen.clone()).collect();
    for seen in survivors.iter().chain(&finished) {
        let seen = seen.lock().unwrap();
        delivered += seen.events.iter().map(|e| e.0).sum::<u64>();
        consistent += usize::from(seen.consistent());
    }
    for seen in &survivors {
        let seen = seen.lock().unwrap();
        let last = seen.events.last().map_or(0, |e| e.1);
        converged += usize::from(last == stored[&seen.talk]);
    }
    let all = survivors.len() + finished.len();
    println!("| figure | value |\n|---|---|");
    println!(
        "| duration | {seconds} s, store fault from {}s to {}s ({}) |",
        fault_from.as_secs(),
        fault_to.as_secs(),
        if on_spanner {
            "Spanner emulator stalled by the proxy"
        } else {
            "SQLite write lock held by another process"
        }
    );
    println!("| likes acknowledged (clients) | {acknowledged} |");
    println!("| likes refused, by code | {:?} |", refused.lock().unwrap());
    println!("| likes stored (store) | {stored_total} |");
    println!(
        "| /metrics acknowledged / stored / already stored | {} / {} / {} |",
        metrics["likes_acknowledged_total"],
        metrics["likes_stored_total"],
        metrics
            .get("likes_already_stored_total")
            .copied()
            .unwrap_or(0.0)
    );
    println!("| buffered at most | {max_buffered} |");
    println!(
        "| subscribers joined / alive at the end | {joined} / {} |",
        survivors.len()
    );
    println!("| likes delivered in deltas (summed over all subscribers) | {delivered} |");
    println!("| subscribers whose deltas add up exactly | {consistent} / {all} |");
    println!(
        "| subscribers at the end whose total = stored | {converged} / {} |",
        survivors.len()
    );
    println!("| peak RSS | {:.1} MiB |", peak_rss as f64 / 1024.0);
    for (_, token) in &live {
        token.cancel();
    }
    assert_eq!(stored_total, acknowledged, "acknowledged vs stored");
    assert_eq!(metrics["likes_acknowledged_total"], acknowledged as f64);
    assert_eq!(metrics["likes_stored_total"], acknowledged as f64);
    assert_eq!(consistent, all, "a subscriber's deltas did not add up");
    assert_eq!(converged, survivors.len(), "a subscriber did not converge");
    assert!(server.terminate().await.success());
}
