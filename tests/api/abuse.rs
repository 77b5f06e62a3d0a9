//! Abuse and bad input: rate limits per liker and per client address (also
//! behind a trusted proxy), origin checks and CORS, production switches,
//! document and batch limits, and the WebSocket limits (subscriptions per
//! connection, connection-init deadline, keepalive, connections per process).

use crate::helpers::ws::{init, next_json, open_ws, open_ws_with_protocol, send_json};
use crate::helpers::{CREATE_LIKE, TestApp, eventually, spawn_app_with, talk};
use futures_util::StreamExt;
use likes::limits::{AllowedOrigins, Rate};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{self, Message};

fn code(answer: &Value) -> &str {
    answer["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

async fn like_with_headers(app: &TestApp, uuid: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let input = json!({ "uuid": uuid, "sessionId": 1 });
    let mut request = app
        .client
        .post(app.url())
        .json(&json!({ "query": CREATE_LIKE, "variables": { "input": input } }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_liker_over_its_rate_is_refused_with_rate_limited_and_others_are_not() {
    let app = spawn_app_with(|c| c.limits.rate_per_liker = Rate::per_second(3)).await;
    for _ in 0..3 {
        let (_, answer) = like_with_headers(&app, "tapper", &[]).await;
        assert!(answer["data"]["createLike"].is_object(), "{answer}");
    }
    let (status, answer) = like_with_headers(&app, "tapper", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(code(&answer), "RATE_LIMITED", "{answer}");
    assert!(answer["errors"][0]["extensions"]["retryAfterSeconds"].as_u64() >= Some(1));
    let (_, answer) = like_with_headers(&app, "someone-else", &[]).await;
    assert!(answer["data"]["createLike"].is_object(), "{answer}");
    // Only the acknowledged likes are stored.
    let stored = eventually(Duration::from_secs(5), 4, || app.liked(1)).await;
    assert_eq!(stored, 4);
}

#[tokio::test]
async fn behind_a_proxy_the_address_comes_from_the_trusted_header_entry() {
    let app = spawn_app_with(|c| {
        c.limits.rate_per_address = Rate::per_second(2);
        c.limits.client_ip.header = Some("x-forwarded-for".parse().unwrap());
        c.limits.client_ip.hop = 2;
    })
    .await;
    // A client forging a first entry does not escape its own address's limit.
    for (n, forged) in ["1.1.1.1", "2.2.2.2"].iter().enumerate() {
        let header = format!("{forged}, 203.0.113.7, 34.120.0.1");
        let (_, answer) =
            like_with_headers(&app, &format!("a{n}"), &[("x-forwarded-for", &header)]).await;
        assert!(answer["data"]["createLike"].is_object(), "{answer}");
    }
    let header = "3.3.3.3, 203.0.113.7, 34.120.0.1";
    let (_, answer) = like_with_headers(&app, "a3", &[("x-forwarded-for", header)]).await;
    assert_eq!(code(&answer), "RATE_LIMITED", "{answer}");
    // Another client behind the same balancer is not affected.
    let header = "203.0.113.8, 34.120.0.1";
    let (_, answer) = like_with_headers(&app, "b", &[("x-forwarded-for", header)]).await;
    assert!(answer["data"]["createLike"].is_object(), "{answer}");
}

#[tokio::test]
async fn other_sites_pages_can_neither_open_websockets_nor_post_likes() {
    let app = spawn_app_with(|c| {
        c.access.allowed_origins = "https://conference.example"
            .parse::<AllowedOrigins>()
            .unwrap();
    })
    .await;
    // graphql-transport-ws closes with 4403 (`protocol.rs`); the legacy
    // protocol keeps its HTTP answer.
    let refused =
        open_ws_with_protocol(&app, "graphql-ws", &[("origin", "https://evil.example")]).await;
    let Err(tungstenite::Error::Http(response)) = refused else {
        panic!("a legacy WebSocket from another site was accepted: {refused:?}")
    };
    assert_eq!(response.status().as_u16(), 403);
    let (status, answer) =
        like_with_headers(&app, "x", &[("origin", "https://evil.example")]).await;
    assert_eq!(
        (status, code(&answer)),
        (403, "FORBIDDEN_ORIGIN"),
        "{answer}"
    );

    // The listed site, the service's own pages, and non-browser clients pass.
    let mut ws = open_ws(&app, &[("origin", "https://conference.example")])
        .await
        .unwrap();
    init(&mut ws).await;
    let own = format!("http://{}", app.addr);
    open_ws(&app, &[("origin", &own)]).await.unwrap();
    open_ws(&app, &[]).await.unwrap();
    let (status, answer) =
        like_with_headers(&app, "y", &[("origin", "https://conference.example")]).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["data"]["createLike"].is_object(), "{answer}");
}

#[tokio::test]
async fn cors_answers_follow_the_allow_list() {
    let app = spawn_app_with(|c| {
        c.access.allowed_origins = "https://conference.example"
            .parse::<AllowedOrigins>()
            .unwrap();
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url())
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://conference.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://conference.example"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // Every answer varies with the CORS request headers (a cache must not
    // give one origin's answer to another); a GET's with Accept too.
    let cors_vary = "origin, access-control-request-method, access-control-request-headers";
    let healthz = format!("http://{}/healthz", app.addr);
    let plain = app.client.get(healthz).send().await.unwrap();
    for answer in [&allowed, &refused, &plain] {
        let varies: Vec<_> = answer.headers().get_all("vary").iter().collect();
        assert_eq!(varies, [cors_vary], "{:?}", answer.headers());
    }
    let get = app.client.get(app.url());
    let get = get
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .unwrap();
    let varies: Vec<_> = get.headers().get_all("vary").iter().collect();
    assert_eq!(varies, ["accept", cors_vary], "{:?}", get.headers());

    // A like takes a way of its own past the router, through the same
    // layers: the same CORS answer, `Vary`, request id and length.
    let input = json!({ "uuid": "cors", "sessionId": 1 });
    let like = json!({ "query": CREATE_LIKE, "variables": { "input": input } });
    let post = app.client.post(app.url()).json(&like);
    let post = post.header("origin", "https://conference.example");
    let post = post.header("x-request-id", "like-1").send().await.unwrap();
    assert_eq!(post.status(), 200);
    let headers = post.headers().clone();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://conference.example"
    );
    let varies: Vec<_> = headers.get_all("vary").iter().collect();
    assert_eq!(varies, [cors_vary], "{headers:?}");
    assert_eq!(headers["x-request-id"], "like-1");
    let body = post.bytes().await.unwrap();
    assert_eq!(headers["content-length"], body.len().to_string().as_str());
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert!(answer["data"]["createLike"].is_object(), "{answer}");
    // And a method /graphql does not take is still the router's to refuse.
    let put = app.client.put(app.url()).json(&like).send().await.unwrap();
    assert_eq!(put.status(), 405);
    assert_eq!(put.headers()["allow"], "GET,HEAD,POST");
}

#[tokio::test]
async fn production_switches_turn_off_introspection_and_graphiql() {
    let app = spawn_app_with(|c| {
        c.access.introspection = false;
        c.access.graphiql = false;
    })
    .await;
    let answer = app
        .graphql(
            "{ __schema { types { name } } __type(name: \"Mutation\") { fields { name } } }",
            json!({}),
        )
        .await;
    assert!(
        answer["data"]["__schema"].is_null(),
        "introspection answered: {answer}"
    );
    assert!(
        answer["data"]["__type"].is_null(),
        "introspection answered: {answer}"
    );
    let page = app.open_in_browser().await;
    assert_eq!(page.status().as_u16(), 400);
    assert!(
        !page
            .text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("graphiql")
    );
    // The API itself still works.
    let answer = app.graphql("{ sessions { sessionId } }", json!({})).await;
    assert!(answer["data"]["sessions"].is_array(), "{answer}");
}

#[tokio::test]
async fn batches_and_aliases_are_bounded() {
    let app = spawn_app_with(|_| {}).await;
    let one = json!({ "query": "{ sessions { id } }" });
    let batch = Value::Array(vec![one.clone(); 11]);
    let (status, answer) = app.post_raw(batch.to_string()).await;
    assert_eq!((status, code(&answer)), (400, "BAD_REQUEST"), "{answer}");
    let (status, answer) = app.post_raw(Value::Array(vec![one; 10]).to_string()).await;
    assert_eq!(status, 200, "{answer}");

    let aliased: String = (0..31)
        .map(|n| format!("a{n}: sessions {{ id }} "))
        .collect();
    let answer = app.graphql(&format!("{{ {aliased} }}"), json!({})).await;
    assert_eq!(code(&answer), "GRAPHQL_VALIDATION_FAILED", "{answer}");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("aliases")
    );
}

fn subscribe(id: &str) -> Value {
    json!({ "id": id, "type": "subscribe", "payload": {
        "query": "subscription { likeAdded(sessionId: 1) { sessionId likes } }" } })
}

#[tokio::test]
async fn a_connection_holds_at_most_its_subscriptions_and_an_ended_one_frees_its_slot() {
    let app = spawn_app_with(|c| c.limits.max_subscriptions_per_connection = 2).await;
    let mut ws = open_ws(&app, &[]).await.unwrap();
    init(&mut ws).await;
    for id in ["1", "2", "3"] {
        send_json(&mut ws, subscribe(id)).await;
    }
    // The third is refused with the protocol's `error`, which ends it.
    let refused = next_json(&mut ws).await.unwrap();
    assert_eq!(
        (refused["type"].as_str(), refused["id"].as_str()),
        (Some("error"), Some("3")),
        "{refused}"
    );
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{refused}"
    );
    assert_eq!(app.listener.subscribers(talk(1)), 2);

    send_json(&mut ws, json!({ "id": "1", "type": "complete" })).await;
    let freed = eventually(Duration::from_secs(2), 1, || async {
        app.listener.subscribers(talk(1))
    })
    .await;
    assert_eq!(freed, 1);
    send_json(&mut ws, subscribe("4")).await;
    let held = eventually(Duration::from_secs(2), 2, || async {
        app.listener.subscribers(talk(1))
    })
    .await;
    assert_eq!(held, 2, "the freed slot was not reusable");
}

#[tokio::test]
async fn idle_subscribers_are_pinged_and_silent_ones_are_dropped() {
    let app = spawn_app_with(|c| c.limits.ws_keepalive = Duration::from_millis(200)).await;
    // A live client answers pings (the library does it while reading).
    let mut live = open_ws(&app, &[]).await.unwrap();
    init(&mut live).await;
    send_json(&mut live, subscribe("1")).await;
    let mut pings = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(Some(message)) = tokio::time::timeout_at(until, live.next()).await {
        match message.unwrap() {
            Message::Ping(_) => pings += 1,
            Message::Close(frame) => panic!("a live client was closed: {frame:?}"),
            _ => {}
        }
    }
    assert!(pings >= 4, "{pings} pings in 1.5 s at a 200 ms keepalive");

    // Keep the live client reading (and so answering pings) from now on.
    let live_reader = tokio::spawn(async move {
        while let Some(message) = live.next().await {
            if let Ok(Message::Close(frame)) = message {
                panic!("a live client was closed: {frame:?}");
            }
        }
    });

    // A client that stops reading stops answering, and is dropped.
    let mut silent = open_ws(&app, &[]).await.unwrap();
    init(&mut silent).await;
    send_json(&mut silent, subscribe("2")).await;
    let both = eventually(Duration::from_secs(2), 2, || async {
        app.listener.subscribers(talk(1))
    })
    .await;
    assert_eq!(both, 2);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let left = eventually(Duration::from_secs(2), 1, || async {
        app.listener.subscribers(talk(1))
    })
    .await;
    assert_eq!(left, 1, "the silent client's subscription is still held");
    assert!(
        !live_reader.is_finished(),
        "the live client's connection ended"
    );
    live_reader.abort();
}

async fn healthz_over(stream: &mut tokio::net::TcpStream) -> Option<String> {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .ok()?;
    let mut answer = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut answer))
        .await
        .ok()?
        .ok()?;
    (n > 0).then(|| String::from_utf8_lossy(&answer[..n]).into_owned())
}

#[tokio::test]
async fn connections_past_the_limit_are_closed_at_once() {
    let app = spawn_app_with(|c| c.limits.max_connections = 2).await;
    let mut first = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut second = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    assert!(
        healthz_over(&mut first)
            .await
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        healthz_over(&mut second)
            .await
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
    let mut third = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    assert_eq!(
        healthz_over(&mut third).await,
        None,
        "a third connection was served"
    );
    drop(first);
    let served = eventually(Duration::from_secs(2), true, || async {
        let mut again = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        healthz_over(&mut again).await.is_some()
    })
    .await;
    assert!(served, "a closed connection's place was not freed");
    assert!(
        healthz_over(&mut second).await.is_some(),
        "the open connection was harmed"
    );
}

#[tokio::test]
async fn the_buffer_byte_bound_refuses_with_unavailable_and_keeps_what_it_acknowledged() {
    let app = spawn_app_with(|c| {
        c.ack = likes::config::Ack::Buffered;
        c.buffer_max_bytes = 1_000;
        c.flush_interval = Duration::from_secs(3600);
    })
    .await;
    let store = app.store.clone();
    let (mut acknowledged, mut refused) = (0, 0);
    for n in 0..20 {
        let uuid = format!("{n:064}");
        let (_, answer) = like_with_headers(&app, &uuid, &[]).await;
        if answer["data"]["createLike"].is_object() {
            acknowledged += 1;
        } else {
            assert_eq!(code(&answer), "UNAVAILABLE", "{answer}");
            assert!(answer["errors"][0]["extensions"]["retryAfterSeconds"].as_u64() >= Some(1));
            refused += 1;
        }
    }
    assert!(
        acknowledged > 0 && refused > 0,
        "{acknowledged} acknowledged, {refused} refused"
    );
    app.stop().await.unwrap();
    assert_eq!(store.count_likes(talk(1)).await.unwrap(), acknowledged);
}
