//! The real binary: two processes sharing one SQLite file, SIGTERM, flags.

use crate::helpers::{ServerProcess, Subscriber, assert_acknowledged, eventually, like, liked};
use likes::model::TalkId;
use likes::store::{LikeStore, SqliteStore, StoreOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[tokio::test]
async fn two_processes_sharing_one_file_see_each_others_likes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let a = ServerProcess::start(&db, "replica-a", &[]).await;
    let b = ServerProcess::start(&db, "replica-b", &[]).await;
    let subscriber = Subscriber::start(&a.ws_url, 1, "graphql-transport-ws").await;
    // The subscribe message follows the connection acknowledgement; give it
    // time to arrive (the first like cannot be published for a flush and an
    // observer read anyway, well over a second later).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = reqwest::Client::new();

    for n in 0..25 {
        assert_acknowledged(&like(&client, &b.url, 1, &format!("b-{n}"), None).await);
        assert_acknowledged(&like(&client, &a.url, 2, &format!("a-{n}"), None).await);
        tokio::time::sleep(Duration::from_millis(40)).await;
    }

    assert_eq!(
        subscriber.wait_for_sum(25, Duration::from_secs(6)).await,
        25
    );
    for server in [&a, &b] {
        assert_eq!(
            eventually(Duration::from_secs(5), 25, || liked(
                &client,
                &server.url,
                1
            ))
            .await,
            25
        );
        assert_eq!(
            eventually(Duration::from_secs(5), 25, || liked(
                &client,
                &server.url,
                2
            ))
            .await,
            25
        );
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(subscriber.sum(), 25, "events: {:?}", subscriber.events());
    subscriber.close().await;
    assert!(a.terminate().await.success());
    assert!(b.terminate().await.success());
}

#[tokio::test]
async fn likes_acknowledged_just_before_sigterm_are_stored() {
    likes_acknowledged_just_before_a_signal_are_stored("TERM").await;
}

#[tokio::test]
async fn likes_acknowledged_just_before_ctrl_c_are_stored() {
    likes_acknowledged_just_before_a_signal_are_stored("INT").await;
}

async fn likes_acknowledged_just_before_a_signal_are_stored(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("likes.db");
    // A long flush interval: every like below is still only in memory at SIGTERM.
    let server = ServerProcess::start(&db, "replica-a", &["--flush-interval", "1h"]).await;
    let client = reqwest::Client::new();
    for n in 0..300 {
        assert_acknowledged(&like(&client, &server.url, 1 + n % 3, &format!("l-{n}"), None).await);
    }
    let status = server.signal(signal).await;
    assert!(status.success(), "exit status {status} after SIG{signal}");

    let store = SqliteStore::open(&db, &StoreOptions::default())
        .await
        .unwrap();
    let stored: u64 = [
        store.count_likes(TalkId(1)).await.unwrap(),
        store.count_likes(TalkId(2)).await.unwrap(),
        store.count_likes(TalkId(3)).await.unwrap(),
    ]
    .iter()
    .sum();
    assert_eq!(stored, 300);

    let restarted = ServerProcess::start(&db, "replica-a", &[]).await;
    for session in 1..=3 {
        assert_eq!(liked(&client, &restarted.url, session).await, 100);
    }
    assert!(restarted.terminate().await.success());
}

#[tokio::test]
async fn a_bad_flag_value_exits_non_zero_with_a_one_line_reason() {
    let cases: [&[&str]; 5] = [
        &["--flush-interval", "soon"],
        &["--flush-interval", "0s"],
        &["--store", "mysql://db"],
        &["--listen", "nowhere"],
        &["--sessions", "/no/such/catalogue.json"],
    ];
    for args in cases {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_likes"))
            .arg("serve")
            .args(args)
            .output()
            .await
            .unwrap();
        assert!(!output.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("likes: "), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn shutdown_ends_within_the_grace_period_even_with_a_stalled_request() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("likes.db");
    let flags = ["--flush-hard-timeout", "2s", "--shutdown-grace", "3s"];
    let server = ServerProcess::start(&db, "replica-a", &flags).await;
    let client = reqwest::Client::new();
    for n in 0..20 {
        assert_acknowledged(&like(&client, &server.url, 1, &format!("l-{n}"), None).await);
    }
    // A client that announces a body and never sends it.
    let addr = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/graphql")
        .to_owned();
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{"
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = tokio::time::Instant::now();
    let status = server.terminate().await;
    let took = started.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(
        took < Duration::from_secs(5),
        "shutdown took {took:?} with a 3 s grace"
    );
    drop(stalled);

    let store = SqliteStore::open(&db, &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), 20);
}

#[tokio::test]
async fn every_like_acknowledged_while_sigterm_arrives_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("likes.db");
    // A load test of shutdown, not of the rate limits.
    let unlimited = ["--rate-per-liker", "off", "--rate-per-address", "off"];
    let server = ServerProcess::start(&db, "replica-a", &unlimited).await;
    let url = server.url.clone();
    // Counted as they come, so SIGTERM arrives under load however busy the
    // machine is.
    let so_far = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..4)
        .map(|sender| {
            let (url, so_far) = (url.clone(), so_far.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut acknowledged = 0u64;
                for n in 0.. {
                    let input = serde_json::json!({
                        "uuid": format!("sender-{sender}"),
                        "sessionId": 1,
                        "clientMutationId": format!("tap-{n}"),
                    });
                    let body = serde_json::json!({
                        "query": crate::helpers::CREATE_LIKE,
                        "variables": { "input": input },
                    });
                    let Ok(response) = client.post(&url).json(&body).send().await else {
                        break;
                    };
                    let Ok(answer) = response.json::<serde_json::Value>().await else {
                        break;
                    };
                    if answer["data"]["createLike"]["like"]["id"].is_string() {
                        acknowledged += 1;
                        so_far.fetch_add(1, Ordering::Relaxed);
                    } else {
                        assert_eq!(
                            answer["errors"][0]["extensions"]["code"], "UNAVAILABLE",
                            "{answer}"
                        );
                    }
                }
                acknowledged
            })
        })
        .collect();
    let loaded = tokio::time::timeout(Duration::from_secs(60), async {
        while so_far.load(Ordering::Relaxed) <= 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    loaded
        .await
        .expect("200 likes acknowledged within a minute");
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status}");
    let mut acknowledged = 0;
    for sender in senders {
        acknowledged += sender.await.unwrap();
    }
    assert!(
        acknowledged > 100,
        "the load was too light to show anything: {acknowledged}"
    );

    let store = SqliteStore::open(&db, &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), acknowledged);
    assert_eq!(store.totals().await.unwrap()[&TalkId(1)], acknowledged);
}

#[tokio::test]
async fn json_logs_carry_each_requests_id_and_answers_return_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("likes.db").display());
    let env = [
        ("LIKES_LOG_FORMAT", "json"),
        ("LIKES_LOG", "info,tower_http=debug"),
    ];
    let server = ServerProcess::start_with_env(&db, "json", &[], &env).await;
    let client = reqwest::Client::new();
    let given = client
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "req-from-the-balancer")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "req-from-the-balancer");
    let made = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    let made = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");

    let log = server.log_handle();
    let ids = eventually(Duration::from_secs(5), true, || async {
        let lines = log.lock().unwrap().clone();
        let ids: Vec<String> = lines
            .iter()
            .map(|line| {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
            })
            .filter_map(|entry| entry["span"]["request_id"].as_str().map(str::to_owned))
            .collect();
        ids.contains(&"req-from-the-balancer".to_owned()) && ids.contains(&made)
    })
    .await;
    assert!(
        ids,
        "no log line named both request ids: {:?}",
        log.lock().unwrap()
    );
    server.terminate().await;
}
