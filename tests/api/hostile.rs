//! Hostile clients over real TCP: slow and silent connections closed within
//! their timeouts while others are served, per-address caps and rates that
//! tell IPv4 clients of a dual-stack listener apart, what the edge echoes
//! (request ids, `clientMutationId`, error lists), and the operation rate
//! of one WebSocket.

use crate::helpers::ServerProcess;
use crate::helpers::ws::{init, next_json, open_ws, send_json};
use crate::helpers::{CREATE_LIKE, error_code, eventually, spawn_app, spawn_app_with};
use likes::limits::Rate;
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A TCP connection to `server` from the loopback address `from`.
async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let from: IpAddr = from.parse().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(server).await.unwrap()
}

/// A client whose connections come from the loopback address `from`.
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

fn address_of(base: &str) -> SocketAddr {
    base.trim_start_matches("http://").parse().unwrap()
}

/// How a connection ended: after how long, and what the server wrote.
struct Ended {
    after: Duration,
    answer: String,
}

/// Sends `start`, then one byte of `trickle` every 300 ms, until the server
/// closes the connection (or 15 s pass: then `None`).
async fn trickle_until_closed(mut stream: TcpStream, start: &[u8], trickle: u8) -> Option<Ended> {
    let began = Instant::now();
    if !start.is_empty() {
        stream.write_all(start).await.ok()?;
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let mut tick = tokio::time::interval(Duration::from_millis(300));
    tick.tick().await;
    let deadline = tokio::time::sleep(Duration::from_secs(15));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            },
            _ = tick.tick(), if trickle != 0 => {
                // The server may be closing: a failed write ends nothing here.
                let _ = stream.write_all(&[trickle]).await;
            }
            () = &mut deadline => return None,
        }
    }
    Some(Ended {
        after: began.elapsed(),
        answer: String::from_utf8_lossy(&answer).into_owned(),
    })
}

const SLOW_BODY_HEAD: &[u8] = b"POST /graphql HTTP/1.1\r\nhost: t\r\n\
content-type: application/json\r\ncontent-length: 300\r\n\r\n{";

#[tokio::test]
async fn slow_and_silent_connections_are_closed_in_time_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--header-read-timeout",
        "2s",
        "--body-read-timeout",
        "2s",
        "--idle-timeout",
        "4s",
        "--max-connections",
        "40",
        "--max-connections-per-address",
        "30",
        "--rate-per-address",
        "off",
    ];
    let server = ServerProcess::start(&dir.path().join("likes.db"), "slow", &flags).await;
    let addr = address_of(&server.base);

    // 30 connections from 127.0.0.4 take its whole allowance (nothing else
    // here uses that address: the start-up probe and the scrapes come from
    // 127.0.0.1). 10 send a request head a byte at a time, 10 a body, 10
    // nothing.
    let mut attackers = Vec::new();
    for kind in ["header", "body", "silent"] {
        for _ in 0..10 {
            let stream = connect_from("127.0.0.4", addr).await;
            attackers.push((
                kind,
                tokio::spawn(async move {
                    match kind {
                        "header" => {
                            trickle_until_closed(
                                stream,
                                b"POST /graphql HTTP/1.1\r\nx-slow: ",
                                b'a',
                            )
                            .await
                        }
                        "body" => trickle_until_closed(stream, SLOW_BODY_HEAD, b' ').await,
                        _ => trickle_until_closed(stream, b"", 0).await,
                    }
                }),
            ));
        }
    }
    // Past the allowance, a connection from that address is closed at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut over = Vec::new();
    for _ in 0..5 {
        let stream = connect_from("127.0.0.4", addr).await;
        over.push(tokio::spawn(trickle_until_closed(stream, b"", 0)));
    }
    // A connection idle after one request lives past the header timeout,
    // until the idle timeout.
    let mut idle = connect_from("127.0.0.3", addr).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let idle = tokio::spawn(trickle_until_closed(idle, b"", 0));

    // Another client likes all along, and is served every time.
    let client = client_from("127.0.0.2");
    let began = Instant::now();
    let mut liked = 0;
    while began.elapsed() < Duration::from_secs(5) {
        let input = json!({ "uuid": format!("fan-{liked}"), "sessionId": 1 });
        let answer: Value = client
            .post(&server.url)
            .json(&json!({ "query": CREATE_LIKE, "variables": { "input": input } }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(answer["data"]["createLike"].is_object(), "{answer}");
        liked += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(liked >= 20, "only {liked} likes in 5 s");

    for refused in over {
        let ended = refused.await.unwrap().expect("refused at once");
        assert!(ended.after < Duration::from_secs(1), "{:?}", ended.after);
        assert_eq!(ended.answer, "");
    }
    let mut closed_after: Vec<(&str, Duration)> = Vec::new();
    for (kind, attacker) in attackers {
        let ended = attacker
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("a {kind} connection was still open after 15 s"));
        closed_after.push((kind, ended.after));
        assert!(
            ended.after >= Duration::from_millis(1_500)
                && ended.after < Duration::from_millis(4_500),
            "a {kind} connection closed after {:?}, not at its 2 s timeout",
            ended.after
        );
        if kind == "body" {
            assert!(ended.answer.starts_with("HTTP/1.1 408"), "{}", ended.answer);
            assert!(ended.answer.contains("REQUEST_TIMEOUT"), "{}", ended.answer);
        }
    }
    for kind in ["header", "body", "silent"] {
        let times = closed_after
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, t)| t);
        let (low, high) = (times.clone().min().unwrap(), times.max().unwrap());
        eprintln!("slow {kind} connections closed after {low:.2?} to {high:.2?}");
    }
    let idle = idle.await.unwrap().expect("the idle connection was closed");
    eprintln!("the idle connection closed after {:.2?}", idle.after);
    assert!(
        idle.after >= Duration::from_millis(3_000) && idle.after < Duration::from_millis(6_500),
        "the idle connection closed after {:?}, not at its 4 s timeout",
        idle.after
    );
    let refused = server
        .metric(r#"likes_connections_refused_total{reason="max_connections_per_address"}"#)
        .await;
    assert_eq!(refused, 5.0);
    let stored = eventually(Duration::from_secs(5), liked as f64, || {
        server.metric("likes_stored_total")
    })
    .await;
    assert_eq!(stored, liked as f64);
}

async fn like_from(client: &reqwest::Client, url: &str, uuid: &str) -> Value {
    let input = json!({ "uuid": uuid, "sessionId": 1 });
    client
        .post(url)
        .json(&json!({ "query": CREATE_LIKE, "variables": { "input": input } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn healthz(stream: &mut TcpStream) -> bool {
    if stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 256];
    match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
        Ok(Ok(n)) => buf[..n].starts_with(b"HTTP/1.1 200"),
        _ => false,
    }
}

#[tokio::test]
async fn ipv4_clients_of_a_dual_stack_listener_have_their_own_caps_and_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--rate-per-address",
        "3/s",
        "--rate-per-liker",
        "off",
        "--max-connections-per-address",
        "2",
    ];
    let server =
        ServerProcess::start_listening("[::]", &dir.path().join("likes.db"), "dual", &flags).await;
    let addr = address_of(&server.base);

    // Connections: two from 127.0.0.2 are served, a third is not; one from
    // 127.0.0.3 still is.
    let mut first = connect_from("127.0.0.2", addr).await;
    let mut second = connect_from("127.0.0.2", addr).await;
    assert!(healthz(&mut first).await && healthz(&mut second).await);
    let mut third = connect_from("127.0.0.2", addr).await;
    assert!(!healthz(&mut third).await, "a third connection was served");
    let mut other = connect_from("127.0.0.3", addr).await;
    assert!(healthz(&mut other).await, "another address was refused");
    drop((first, second, third, other));
    // Their places come back once the server has seen them close (the
    // scrape's own connection is the one left).
    let freed = eventually(Duration::from_secs(5), true, || async {
        server.metric("likes_connections").await <= 1.0
    })
    .await;
    assert!(freed, "closed connections kept their places");

    // Likes: 127.0.0.2 spends its 3, 127.0.0.3 still has its own.
    let (a, b) = (client_from("127.0.0.2"), client_from("127.0.0.3"));
    for i in 0..3 {
        let answer = like_from(&a, &server.url, &format!("a-{i}")).await;
        assert!(answer["data"]["createLike"].is_object(), "{answer}");
    }
    let answer = like_from(&a, &server.url, "a-3").await;
    assert_eq!(error_code(&answer), "RATE_LIMITED", "{answer}");
    let answer = like_from(&b, &server.url, "b-0").await;
    assert!(
        answer["data"]["createLike"].is_object(),
        "127.0.0.3 shared 127.0.0.2's bucket: {answer}"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_only_when_they_fit_a_log_line() {
    let app = spawn_app().await;
    let healthz = format!("http://{}/healthz", app.addr);
    let echoed = |ids: &[&str]| {
        let mut request = app.client.get(&healthz);
        for id in ids {
            request = request.header("x-request-id", *id);
        }
        async move {
            let response = request.send().await.unwrap();
            let ids: Vec<String> = response
                .headers()
                .get_all("x-request-id")
                .iter()
                .map(|id| id.to_str().unwrap().to_owned())
                .collect();
            assert_eq!(ids.len(), 1, "{ids:?}");
            ids[0].clone()
        }
    };
    assert_eq!(echoed(&["req-42.a/b"]).await, "req-42.a/b");
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert_eq!(echoed(&[traceparent]).await, traceparent);
    let long = "x".repeat(50_000);
    for unfit in [long.as_str(), "has space", "tab\there", ""] {
        let id = echoed(&[unfit]).await;
        assert_ne!(id, unfit);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "not a fresh id: {id}");
    }
    let id = echoed(&["one", "two"]).await;
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "two ids kept: {id}");
}

#[tokio::test]
async fn client_mutation_ids_with_control_characters_are_refused() {
    let app = spawn_app().await;
    for id in ["nul\u{0}here", "new\nline", "bell\u{7}", "del\u{7f}"] {
        let answer = app.like(1, "liker", Some(id)).await;
        assert_eq!(error_code(&answer), "BAD_USER_INPUT", "{id:?}: {answer}");
        assert!(answer["data"]["createLike"].is_null(), "{answer}");
    }
    let answer = app.like(1, "liker", Some("tap-1 ✓")).await;
    assert_eq!(answer["data"]["createLike"]["clientMutationId"], "tap-1 ✓");
    assert_eq!(
        eventually(Duration::from_secs(5), 1, || app.liked(1)).await,
        1
    );
}

#[tokio::test]
async fn a_document_with_a_thousand_faults_is_answered_with_twenty_errors() {
    let app = spawn_app().await;
    let variables: Vec<String> = (0..1_000).map(|i| format!("$v{i}: Int")).collect();
    let query = format!("query({}) {{ __typename }}", variables.join(", "));
    let response = app
        .client
        .post(app.url())
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let body = response.text().await.unwrap();
    assert!(body.len() < 4_000, "{} bytes of errors", body.len());
    let answer: Value = serde_json::from_str(&body).unwrap();
    let errors = answer["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 20);
    assert_eq!(
        errors[19]["message"],
        "981 more errors like these were left out"
    );
    assert_eq!(
        errors[19]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
}

#[tokio::test]
async fn one_websocket_runs_operations_at_its_rate_and_is_told_when_to_retry() {
    let app = spawn_app_with(|c| c.limits.ws_operation_rate = Rate::per_second(10)).await;
    let mut ws = open_ws(&app, &[]).await.unwrap();
    init(&mut ws).await;
    for id in 0..30 {
        let subscribe = json!({
            "id": id.to_string(),
            "type": "subscribe",
            "payload": { "query": "{ __typename }" },
        });
        send_json(&mut ws, subscribe).await;
    }
    let (mut ran, mut refused) = (0, 0);
    while ran + refused < 30 {
        let message = next_json(&mut ws).await.expect("the socket stays open");
        match message["type"].as_str().unwrap() {
            "next" => assert_eq!(message["payload"]["data"]["__typename"], "Query"),
            "complete" => ran += 1,
            "error" => {
                let error = &message["payload"][0];
                assert_eq!(error["extensions"]["code"], "RATE_LIMITED", "{message}");
                assert!(error["extensions"]["retryAfterSeconds"].as_u64() >= Some(1));
                refused += 1;
            }
            other => panic!("unexpected {other}: {message}"),
        }
    }
    assert!((10..=12).contains(&ran), "{ran} of 30 ran at 10/s");
    // After the wait it was told, the socket runs operations again.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let again =
        json!({ "id": "again", "type": "subscribe", "payload": { "query": "{ __typename }" } });
    send_json(&mut ws, again).await;
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "next");
}
