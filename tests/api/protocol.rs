//! graphql-transport-ws to the letter of graphql-ws's PROTOCOL.md, over a
//! raw socket: each close code (4400, 4401, 4403, 4408, 4409, 4429), the
//! `error` message's rules, ids free again after `complete` or `error`;
//! and the legacy `graphql-ws` subprotocol as it has always behaved here.

use crate::helpers::ws::{Ws, close, init, next_json, open_ws, open_ws_with_protocol, send_json};
use crate::helpers::{TestApp, assert_acknowledged, eventually, spawn_app, spawn_app_with, talk};
use futures_util::SinkExt;
use likes::limits::AllowedOrigins;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const WITHIN: Duration = Duration::from_secs(5);

fn subscribe(id: &str, query: &str, variables: Value) -> Value {
    json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } })
}

/// The page's subscription on talk `talk`.
fn like_added(id: &str, talk: i32) -> Value {
    subscribe(
        id,
        "subscription($s: Int!) { likeAdded(sessionId: $s) { sessionId likes } }",
        json!({ "s": talk }),
    )
}

async fn initialised(app: &TestApp) -> Ws {
    let mut ws = open_ws(app, &[]).await.unwrap();
    init(&mut ws).await;
    ws
}

async fn subscribers_become(app: &TestApp, id: i32, count: usize) {
    let now = || async { app.listener.subscribers(talk(id)) };
    assert_eq!(eventually(WITHIN, count, now).await, count);
}

/// Sends a ping and returns the messages that came before its pong: what
/// the server had sent by then.
async fn before_pong(ws: &mut Ws) -> Vec<Value> {
    send_json(ws, json!({ "type": "ping", "payload": { "marker": 1 } })).await;
    let mut seen = Vec::new();
    loop {
        let message = next_json(ws).await.expect("a message");
        if message["type"] == "pong" {
            assert_eq!(
                message["payload"],
                json!({ "marker": 1 }),
                "the payload is echoed"
            );
            return seen;
        }
        seen.push(message);
    }
}

#[tokio::test]
async fn operations_of_any_shape_run_side_by_side_and_end_as_the_protocol_says() {
    let app = spawn_app().await;
    let mut ws = initialised(&app).await;

    // A query: `next`, then `complete`.
    send_json(
        &mut ws,
        subscribe("q", "{ session(sessionId: 1) { id } }", json!({})),
    )
    .await;
    let answer = next_json(&mut ws).await.unwrap();
    assert_eq!(
        answer,
        json!({ "type": "next", "id": "q", "payload": { "data": { "session": { "id": "Session:1" } } } })
    );
    assert_eq!(
        next_json(&mut ws).await.unwrap(),
        json!({ "type": "complete", "id": "q" })
    );

    // Subscriptions of two shapes on one talk.
    send_json(&mut ws, like_added("a", 1)).await;
    let aliased = "subscription S($s: Int!) { added: likeAdded(sessionId: $s) { ...E __typename } } \
                   fragment E on LikeEvent { talk: sessionId n: likes }";
    send_json(&mut ws, subscribe("b", aliased, json!({ "s": 1 }))).await;
    subscribers_become(&app, 1, 2).await;

    // A mutation over the socket, with an inline input.
    let like =
        "mutation($u: String!) { createLike(input: {uuid: $u, sessionId: 1}) { like { id } } }";
    send_json(
        &mut ws,
        subscribe("m", like, json!({ "u": "over-the-socket" })),
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next_json(&mut ws).await.unwrap());
    }
    seen.sort_by_key(|m| {
        (
            m["id"].as_str().unwrap().to_owned(),
            m["type"].as_str().unwrap().to_owned(),
        )
    });
    assert_eq!(
        seen[0],
        json!({ "type": "next", "id": "a", "payload": { "data": { "likeAdded": { "sessionId": 1, "likes": 1 } } } })
    );
    assert_eq!(
        seen[1],
        json!({ "type": "next", "id": "b", "payload": { "data": { "added": { "talk": 1, "n": 1, "__typename": "LikeEvent" } } } })
    );
    assert_eq!(seen[2], json!({ "type": "complete", "id": "m" }));
    assert!(
        seen[3]["payload"]["data"]["createLike"]["like"]["id"].is_string(),
        "{}",
        seen[3]
    );

    // A client's `complete` is not answered; the subscription ends and
    // its id is free again.
    send_json(&mut ws, json!({ "type": "complete", "id": "a" })).await;
    send_json(&mut ws, json!({ "type": "complete", "id": "never-used" })).await;
    assert_eq!(before_pong(&mut ws).await, Vec::<Value>::new());
    subscribers_become(&app, 1, 1).await;
    send_json(&mut ws, like_added("a", 2)).await;
    subscribers_become(&app, 2, 1).await;
    assert_acknowledged(&app.like(2, "second", None).await);
    assert_eq!(
        next_json(&mut ws).await.unwrap(),
        json!({ "type": "next", "id": "a", "payload": { "data": { "likeAdded": { "sessionId": 2, "likes": 1 } } } })
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_operation_that_cannot_start_gets_one_error_and_frees_its_id() {
    let app = spawn_app().await;
    let mut ws = initialised(&app).await;
    let cases = [
        (
            "subscription { likeAdded(sessionId: 1) { nope } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "subscription { likeAdded(sessionId: 1) { likes ",
            json!({}),
            "GRAPHQL_PARSE_FAILED",
        ),
        (
            "subscription($s: Int!) { likeAdded(sessionId: $s) { likes } }",
            json!({ "s": "one" }),
            "BAD_USER_INPUT",
        ),
        (
            "subscription { likeAdded(sessionId: 404) { likes } }",
            json!({}),
            "NOT_FOUND",
        ),
    ];
    for (query, variables, code) in cases {
        send_json(&mut ws, subscribe("x", query, variables)).await;
        let refused = next_json(&mut ws).await.unwrap();
        assert_eq!(
            (refused["type"].as_str(), refused["id"].as_str()),
            (Some("error"), Some("x")),
            "{query}: {refused}"
        );
        let errors = refused["payload"]
            .as_array()
            .expect("a list of GraphQL errors");
        assert_eq!(errors[0]["extensions"]["code"], code, "{query}: {refused}");
        // No `complete` follows an `error`.
        assert_eq!(before_pong(&mut ws).await, Vec::<Value>::new(), "{query}");
    }
    // The id is free: a good subscription under it runs.
    send_json(&mut ws, like_added("x", 1)).await;
    subscribers_become(&app, 1, 1).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_message_the_protocol_does_not_specify_closes_with_4400() {
    let app = spawn_app().await;
    let cases: [(&str, Message); 6] = [
        ("not JSON", Message::text("{ not json")),
        (
            "unknown type",
            Message::text(r#"{"type":"start","id":"1","payload":{"query":"{ __typename }"}}"#),
        ),
        (
            "a server's message",
            Message::text(r#"{"type":"next","id":"1","payload":{}}"#),
        ),
        (
            "subscribe without an id",
            Message::text(r#"{"type":"subscribe","payload":{"query":"{ __typename }"}}"#),
        ),
        (
            "subscribe without a query",
            Message::text(r#"{"type":"subscribe","id":"1","payload":{}}"#),
        ),
        (
            "binary that is not UTF-8",
            Message::binary(vec![0xff, 0xfe, 0x00]),
        ),
    ];
    for (what, message) in cases {
        let mut ws = initialised(&app).await;
        ws.send(message).await.unwrap();
        let (code, _) = close(&mut ws, WITHIN).await.expect(what);
        assert_eq!(code, 4400, "{what}");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_subscribe_before_the_acknowledgement_closes_with_4401() {
    let app = spawn_app().await;
    let mut ws = open_ws(&app, &[]).await.unwrap();
    send_json(&mut ws, like_added("1", 1)).await;
    assert_eq!(
        close(&mut ws, WITHIN).await,
        Some((4401, "Unauthorized".into()))
    );
    assert_eq!(app.listener.subscribers(talk(1)), 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_page_of_another_site_is_refused_with_4403_before_anything_is_read() {
    let app = spawn_app_with(|c| {
        c.access.allowed_origins = "https://conference.example"
            .parse::<AllowedOrigins>()
            .unwrap();
    })
    .await;
    // The socket opens, and closes at once: the client's messages are not
    // waited for, and nothing else is sent.
    let mut ws = open_ws(&app, &[("origin", "https://evil.example")])
        .await
        .unwrap();
    assert_eq!(
        close(&mut ws, WITHIN).await,
        Some((4403, "Forbidden: this origin may not use the API".into())),
    );
    assert_eq!(app.listener.subscribers(talk(1)), 0);
    let mut ws = open_ws(&app, &[("origin", "https://conference.example")])
        .await
        .unwrap();
    init(&mut ws).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn no_connection_init_in_time_closes_with_4408() {
    let app = spawn_app_with(|c| c.limits.ws_init_timeout = Duration::from_millis(300)).await;
    let mut ws = open_ws(&app, &[]).await.unwrap();
    assert_eq!(
        close(&mut ws, WITHIN).await,
        Some((4408, "Connection initialisation timeout".into()))
    );
    // A client that initialises in time keeps its connection.
    let mut ws = initialised(&app).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    send_json(&mut ws, like_added("1", 1)).await;
    subscribers_become(&app, 1, 1).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_subscribe_under_a_live_id_closes_with_4409() {
    let app = spawn_app().await;
    let mut ws = initialised(&app).await;
    send_json(&mut ws, like_added("same", 1)).await;
    subscribers_become(&app, 1, 1).await;
    send_json(&mut ws, like_added("same", 2)).await;
    assert_eq!(
        close(&mut ws, WITHIN).await,
        Some((4409, "Subscriber for same already exists".into()))
    );
    subscribers_become(&app, 1, 0).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_second_connection_init_closes_with_4429() {
    let app = spawn_app().await;
    let mut ws = initialised(&app).await;
    send_json(&mut ws, json!({ "type": "connection_init" })).await;
    assert_eq!(
        close(&mut ws, WITHIN).await,
        Some((4429, "Too many initialisation requests".into()))
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_legacy_protocol_behaves_as_it_always_has() {
    let app = spawn_app().await;
    let open = || async {
        let mut ws = open_ws_with_protocol(&app, "graphql-ws", &[])
            .await
            .unwrap();
        send_json(&mut ws, json!({ "type": "connection_init" })).await;
        assert_eq!(next_json(&mut ws).await.unwrap()["type"], "connection_ack");
        ws
    };
    let start =
        |id: &str, query: &str| json!({ "id": id, "type": "start", "payload": { "query": query } });
    let mut ws = open().await;
    send_json(
        &mut ws,
        start("1", "subscription { likeAdded(sessionId: 1) { likes } }"),
    )
    .await;
    subscribers_become(&app, 1, 1).await;
    assert_acknowledged(&app.like(1, "legacy", None).await);
    assert_eq!(
        next_json(&mut ws).await.unwrap(),
        json!({ "type": "data", "id": "1", "payload": { "data": { "likeAdded": { "likes": 1 } } } })
    );
    // `stop` is answered with `complete`.
    send_json(&mut ws, json!({ "id": "1", "type": "stop" })).await;
    assert_eq!(
        next_json(&mut ws).await.unwrap(),
        json!({ "type": "complete", "id": "1" })
    );
    subscribers_become(&app, 1, 0).await;
    // An operation that cannot run: its errors as `data`, then `complete`.
    send_json(
        &mut ws,
        start("2", "subscription { likeAdded(sessionId: 1) { nope } }"),
    )
    .await;
    let refused = next_json(&mut ws).await.unwrap();
    assert_eq!(
        (refused["type"].as_str(), refused["id"].as_str()),
        (Some("data"), Some("2"))
    );
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert_eq!(
        next_json(&mut ws).await.unwrap(),
        json!({ "type": "complete", "id": "2" })
    );
    // What it cannot read closes with 1002; a start before init with 1011.
    ws.send(Message::text("{ not json")).await.unwrap();
    assert_eq!(
        close(&mut ws, WITHIN).await.map(|(code, _)| code),
        Some(1002)
    );
    let mut ws = open_ws_with_protocol(&app, "graphql-ws", &[])
        .await
        .unwrap();
    send_json(&mut ws, start("1", "{ __typename }")).await;
    assert_eq!(
        close(&mut ws, WITHIN).await.map(|(code, _)| code),
        Some(1011)
    );
    app.stop().await.unwrap();
}
