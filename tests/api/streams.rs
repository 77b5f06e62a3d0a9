//! Subscriptions streamed over plain HTTP at `/graphql`, read off the wire:
//! graphql-sse's event stream (distinct connections mode) and Apollo's
//! multipart subscriptions. Their framing, keep-alives, ends (by shutdown
//! too), request errors, limits, the request SLI, and a reader that stops
//! reading.

use crate::helpers::{ServerProcess, TestApp, eventually, spawn_app_with, talk};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WITHIN: Duration = Duration::from_secs(5);

/// What graphql-sse's client sends.
const SSE: &str = "text/event-stream";
/// What Apollo Client 4's HttpLink sends for a subscription.
const APOLLO: &str = "multipart/mixed;boundary=graphql;subscriptionSpec=1.0,\
                      application/graphql-response+json,application/json;q=0.9";
/// A multipart part's head.
const PART_HEAD: &str = "\r\nContent-Type: application/json; charset=utf-8\r\n\r\n";

const WATCH: &str = "subscription($s: Int!) { likeAdded(sessionId: $s) { sessionId likes total } }";

/// An app whose streams keep alive every 100 ms.
async fn app() -> TestApp {
    spawn_app_with(|c| c.limits.stream_keepalive = Duration::from_millis(100)).await
}

/// A streamed response being read.
struct Streamed {
    response: reqwest::Response,
    /// Everything read so far.
    text: String,
}

impl Streamed {
    /// POSTs `body` accepting `accept`.
    async fn post(app: &TestApp, accept: &str, body: Value) -> Self {
        let response = app
            .client
            .post(app.url())
            .header("accept", accept)
            .json(&body)
            .send()
            .await
            .expect("the server answers");
        Self {
            response,
            text: String::new(),
        }
    }

    fn content_type(&self) -> &str {
        self.response.headers()["content-type"].to_str().unwrap()
    }

    /// Reads until `done(text)` holds; false if the body ended or `WITHIN`
    /// passed first.
    async fn read_until(&mut self, done: impl Fn(&str) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + WITHIN;
        while !done(&self.text) {
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.text.push_str(std::str::from_utf8(&chunk).unwrap()),
                _ => return false,
            }
        }
        true
    }

    /// Reads to the body's end.
    async fn read_to_end(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WITHIN;
        loop {
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.text.push_str(std::str::from_utf8(&chunk).unwrap()),
                Ok(Ok(None)) => return true,
                _ => return false,
            }
        }
    }
}

/// The results of an event stream, each `next` event's data; the stream
/// must be nothing but comments, `next` events and at most one final
/// `complete`.
fn next_events(text: &str) -> Vec<Value> {
    let mut results = Vec::new();
    let blocks: Vec<&str> = text.split("\n\n").collect();
    let (last, blocks) = blocks.split_last().unwrap();
    assert!(last.is_empty(), "an unfinished event: {text:?}");
    for (index, block) in blocks.iter().enumerate() {
        if *block == ":" {
            continue;
        }
        if *block == "event: complete\ndata:" {
            assert_eq!(index, blocks.len() - 1, "events after complete: {text:?}");
            continue;
        }
        let data = block
            .strip_prefix("event: next\ndata: ")
            .unwrap_or_else(|| panic!("not an event of the protocol: {block:?} in {text:?}"));
        results.push(serde_json::from_str(data).unwrap());
    }
    results
}

/// The JSON of each multipart part; the body must open with the
/// delimiter, and every part ends with the next one.
fn parts(text: &str) -> Vec<Value> {
    if text.is_empty() {
        return Vec::new();
    }
    let body = text
        .strip_prefix("\r\n---")
        .unwrap_or_else(|| panic!("no opening delimiter: {text:?}"));
    let body = body.strip_suffix("--\r\n").unwrap_or(body);
    body.split_terminator("\r\n---")
        .map(|part| {
            let json = part
                .strip_prefix(PART_HEAD)
                .unwrap_or_else(|| panic!("not a part: {part:?} in {text:?}"));
            serde_json::from_str(json).unwrap()
        })
        .collect()
}

/// The sum of `likes` over `results` of `likeAdded`.
fn likes(results: &[Value]) -> i64 {
    results
        .iter()
        .filter_map(|result| result["data"]["likeAdded"]["likes"].as_i64())
        .sum()
}

async fn like_n_times(app: &TestApp, session: i32, n: usize) {
    for i in 0..n {
        crate::helpers::assert_acknowledged(
            &app.like(session, &format!("s-{session}-{i}"), None).await,
        );
    }
}

#[tokio::test]
async fn an_sse_subscription_streams_next_events_that_add_up_and_keeps_alive() {
    let app = app().await;
    let mut stream = Streamed::post(
        &app,
        SSE,
        json!({ "query": WATCH, "variables": { "s": 1 } }),
    )
    .await;
    assert_eq!(stream.response.status(), 200);
    assert_eq!(stream.content_type(), "text/event-stream; charset=utf-8");
    assert_eq!(stream.response.headers()["cache-control"], "no-store");
    assert_eq!(
        eventually(WITHIN, 1, || async { app.listener.subscribers(talk(1)) }).await,
        1,
        "the stream's subscription is counted like a WebSocket's"
    );
    // Keep-alive comments while nothing happens.
    assert!(
        stream
            .read_until(|text| text.matches(":\n\n").count() >= 4)
            .await,
        "{:?}",
        stream.text
    );
    like_n_times(&app, 1, 6).await;
    assert!(
        stream
            .read_until(|text| likes(&next_events(text)) >= 6)
            .await,
        "{:?}",
        stream.text
    );
    let results = next_events(&stream.text);
    assert_eq!(likes(&results), 6, "{results:?}");
    assert_eq!(results.last().unwrap()["data"]["likeAdded"]["total"], 6);
    assert!(
        results
            .iter()
            .all(|r| r["data"]["likeAdded"]["sessionId"] == 1)
    );

    drop(stream);
    assert_eq!(
        eventually(WITHIN, 0, || async { app.listener.subscribers(talk(1)) }).await,
        0,
        "a client that left still holds its subscription"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_multipart_subscription_streams_payload_parts_that_add_up_and_heartbeats() {
    let app = app().await;
    let mut stream = Streamed::post(
        &app,
        APOLLO,
        json!({ "query": WATCH, "variables": { "s": 2 } }),
    )
    .await;
    assert_eq!(stream.response.status(), 200);
    assert_eq!(
        stream.content_type(),
        "multipart/mixed; boundary=\"-\"; subscriptionSpec=\"1.0\""
    );
    let heartbeats = |text: &str| parts(text).iter().filter(|p| **p == json!({})).count();
    assert!(
        stream.read_until(|text| heartbeats(text) >= 3).await,
        "{:?}",
        stream.text
    );
    like_n_times(&app, 2, 4).await;
    let payloads = |text: &str| -> Vec<Value> {
        parts(text)
            .into_iter()
            .filter_map(|p| p.get("payload").cloned())
            .collect()
    };
    assert!(
        stream.read_until(|text| likes(&payloads(text)) >= 4).await,
        "{:?}",
        stream.text
    );
    assert_eq!(likes(&payloads(&stream.text)), 4);

    // The body after the opening delimiter is parts, each closed by the
    // next delimiter.
    assert!(
        stream.text.starts_with(&format!("\r\n---{PART_HEAD}")),
        "{:?}",
        stream.text
    );
    assert!(stream.text.ends_with("\r\n---"), "{:?}", stream.text);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_tells_streamed_subscribers_why_and_ends_their_streams_properly() {
    let app = app().await;
    let body = json!({ "query": WATCH, "variables": { "s": 3 } });
    let mut sse = Streamed::post(&app, SSE, body.clone()).await;
    let mut multipart = Streamed::post(&app, APOLLO, body).await;
    assert_eq!(
        eventually(WITHIN, 2, || async { app.listener.subscribers(talk(3)) }).await,
        2
    );
    app.stop().await.unwrap();

    assert!(
        sse.read_to_end().await,
        "the event stream did not end: {:?}",
        sse.text
    );
    assert!(
        sse.text.ends_with("event: complete\ndata:\n\n"),
        "{:?}",
        sse.text
    );
    let results = next_events(&sse.text);
    assert_eq!(
        results.last().unwrap()["errors"][0]["extensions"]["code"],
        "UNAVAILABLE"
    );

    assert!(
        multipart.read_to_end().await,
        "the multipart body did not end: {:?}",
        multipart.text
    );
    assert!(
        multipart.text.ends_with("\r\n-----\r\n"),
        "{:?}",
        multipart.text
    );
    let last = parts(&multipart.text).pop().unwrap();
    assert_eq!(last["payload"], Value::Null, "a transport error: {last}");
    assert_eq!(last["errors"][0]["extensions"]["code"], "UNAVAILABLE");
}

#[tokio::test]
async fn request_errors_are_answered_as_each_protocol_says() {
    let app = app().await;
    let unknown_talk = json!({ "query": WATCH, "variables": { "s": 11 } });
    let invalid = json!({ "query": "subscription { likeAdded(sessionId: 1) { nope } }" });

    // graphql-sse: errors before execution are a `next` in an accepted stream.
    for (body, code) in [
        (&invalid, "GRAPHQL_VALIDATION_FAILED"),
        (&unknown_talk, "NOT_FOUND"),
    ] {
        let mut stream = Streamed::post(&app, SSE, body.clone()).await;
        assert_eq!(stream.response.status(), 200);
        assert!(stream.read_to_end().await);
        let results = next_events(&stream.text);
        assert_eq!(results.len(), 1, "{:?}", stream.text);
        assert_eq!(results[0]["errors"][0]["extensions"]["code"], code);
        assert!(results[0].get("data").is_none());
        assert!(stream.text.ends_with("event: complete\ndata:\n\n"));
    }
    // A body that is no GraphQL request at all is refused as over JSON.
    let response = app
        .client
        .post(app.url())
        .header("accept", SSE)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // Apollo: a subscription that cannot start is a payload of errors,
    // then the end.
    let mut stream = Streamed::post(&app, APOLLO, unknown_talk.clone()).await;
    assert_eq!(stream.response.status(), 200);
    assert!(stream.read_to_end().await);
    assert!(stream.text.ends_with("\r\n-----\r\n"), "{:?}", stream.text);
    let parts = parts(&stream.text);
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert_eq!(
        parts[0]["payload"]["errors"][0]["extensions"]["code"],
        "NOT_FOUND"
    );
    // A document that does not validate answers as GraphQL over HTTP, in
    // the JSON type Apollo also accepts.
    let stream = Streamed::post(&app, APOLLO, invalid).await;
    assert_eq!(stream.response.status(), 400);
    assert_eq!(
        stream.content_type(),
        "application/graphql-response+json; charset=utf-8"
    );

    // Asked for as JSON only, a subscription says how to subscribe.
    let answer = app.graphql(WATCH, json!({ "s": 1 })).await;
    assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("text/event-stream")
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn queries_mutations_and_gets_accepting_only_a_stream_get_one_result_then_the_end() {
    let app = app().await;
    // A mutation POSTed to an event stream.
    let like = json!({
        "query": crate::helpers::CREATE_LIKE,
        "variables": { "input": { "uuid": "sse-tap", "sessionId": 4 } },
    });
    let mut stream = Streamed::post(&app, SSE, like).await;
    assert!(stream.read_to_end().await);
    let results = next_events(&stream.text);
    assert_eq!(results.len(), 1);
    assert!(
        results[0]["data"]["createLike"]["like"]["id"].is_string(),
        "{results:?}"
    );
    assert!(stream.text.ends_with("event: complete\ndata:\n\n"));

    // A GET, as an EventSource sends it: a query, then a subscription.
    let get = |params: Vec<(&'static str, String)>| {
        app.client
            .get(app.url())
            .header("accept", SSE)
            .query(&params)
            .send()
    };
    let query = vec![(
        "query",
        "{ session(sessionId: 4) { sessionId } }".to_owned(),
    )];
    let text = get(query).await.unwrap().text().await.unwrap();
    assert_eq!(
        next_events(&text),
        vec![json!({ "data": { "session": { "sessionId": 4 } } })],
        "{text:?}"
    );
    let subscription = vec![
        ("query", WATCH.to_owned()),
        ("variables", json!({ "s": 4 }).to_string()),
    ];
    let mut stream = Streamed {
        response: get(subscription).await.unwrap(),
        text: String::new(),
    };
    assert_eq!(stream.response.status(), 200);
    assert_eq!(
        eventually(WITHIN, 1, || async { app.listener.subscribers(talk(4)) }).await,
        1
    );
    like_n_times(&app, 4, 2).await;
    assert!(
        stream
            .read_until(|text| likes(&next_events(text)) >= 2)
            .await,
        "{:?}",
        stream.text
    );

    // A mutation is never run by a GET.
    let mutation = vec![(
        "query",
        "mutation { createLike(input: {uuid: \"g\", sessionId: 4}) { clientMutationId } }"
            .to_owned(),
    )];
    assert_eq!(get(mutation).await.unwrap().status(), 405);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn streamed_subscriptions_count_against_the_connection_caps() {
    let app = spawn_app_with(|c| c.limits.max_connections_per_address = 2).await;
    let body = json!({ "query": WATCH, "variables": { "s": 5 } });
    // Each stream holds its own connection.
    let first = Streamed::post(&app, SSE, body.clone()).await;
    let client = reqwest::Client::new();
    let second = client
        .post(app.url())
        .header("accept", APOLLO)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        eventually(WITHIN, 2, || async { app.listener.subscribers(talk(5)) }).await,
        2
    );
    let third = reqwest::Client::new()
        .post(app.url())
        .header("accept", SSE)
        .json(&body)
        .send()
        .await;
    assert!(
        third.is_err(),
        "a third connection from the address was served"
    );
    assert_eq!(app.listener.subscribers(talk(5)), 2);
    drop((first, second));
    assert_eq!(
        eventually(WITHIN, 0, || async { app.listener.subscribers(talk(5)) }).await,
        0
    );
    app.stop().await.unwrap();
}

/// Opens a socket that receives little at a time (a small receive buffer
/// and segment size, so the server's buffers for it are small too) and
/// asks it for a multipart subscription; reads only the response's head.
async fn stalled_subscriber(base: &str) -> tokio::net::TcpStream {
    let address: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.set_tcp_mss(536).unwrap();
    socket.connect(&address.into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut stream = tokio::net::TcpStream::from_std(socket.into()).unwrap();
    let body = json!({ "query": WATCH, "variables": { "s": 6 } }).to_string();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: test\r\naccept: {APOLLO}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).await.unwrap();
    assert!(
        head[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&head[..n])
    );
    stream
}

#[tokio::test]
async fn readers_that_stop_reading_are_cut_off_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // Heartbeats every millisecond fill a stalled reader's buffers in
    // about a second.
    let flags = ["--stream-keepalive", "1ms", "--write-timeout", "500ms"];
    let server = ServerProcess::start(&dir.path().join("likes.db"), "stalled", &flags).await;
    let rss_before = server.rss_kib();
    let mut stalled = Vec::new();
    for _ in 0..20 {
        stalled.push(stalled_subscriber(&server.base).await);
    }
    let subscribers = || async { server.metric("likes_subscribers").await };
    assert_eq!(eventually(WITHIN, 20.0, subscribers).await, 20.0);
    let freed = eventually(Duration::from_secs(30), 0.0, subscribers).await;
    assert_eq!(freed, 0.0, "stalled readers still hold their subscriptions");
    let grown = server.rss_kib().saturating_sub(rss_before);
    assert!(
        grown < 16 * 1024,
        "memory grew by {grown} KiB for 20 stalled readers"
    );
    // Their connections were closed: reading now drains what was sent, then ends.
    for mut stream in stalled {
        let mut sink = vec![0u8; 64 * 1024];
        let ended = tokio::time::timeout(WITHIN, async {
            loop {
                match stream.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(ended.is_ok(), "a stalled reader's connection is still open");
    }
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn a_long_stream_counts_as_one_quick_request_in_the_slis() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("likes.db"), "sli", &[]).await;
    let sample = |le: &str| {
        format!(
            "likes_http_request_duration_seconds_bucket{{route=\"/graphql\",outcome=\"success\",le=\"{le}\"}}"
        )
    };
    let mut response = reqwest::Client::new()
        .post(&server.url)
        .header("accept", SSE)
        .json(&json!({ "query": WATCH, "variables": { "s": 7 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.chunk().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(response);
    let metrics = server.metrics().await;
    let all = metrics[&sample("+Inf")];
    assert_eq!(all, 1.0, "{metrics:?}");
    assert_eq!(
        metrics[&sample("0.25")],
        all,
        "the stream's life was timed as its latency"
    );
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn a_page_on_an_allowed_origin_may_ask_for_a_stream_across_sites() {
    let app = spawn_app_with(|c| {
        c.access.allowed_origins = "https://conference.example".parse().unwrap();
    })
    .await;
    // An `Accept` with a quote is not CORS-safelisted: the browser asks first.
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url())
        .header("origin", "https://conference.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "accept,content-type")
        .send()
        .await
        .unwrap();
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("accept") && allowed.contains("content-type"),
        "{allowed}"
    );
    app.stop().await.unwrap();
}
