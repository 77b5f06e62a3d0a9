//! `--ack stored` over every transport that carries mutations: HTTP POST,
//! a batch and both WebSocket subprotocols answer a like only once it is
//! stored, and over a WebSocket a mutation waiting for its flush holds up
//! no other operation on its socket.

use crate::helpers::ws::{Ws, init, next_json, open_ws_with_protocol, send_json};
use crate::helpers::{CREATE_LIKE, TestApp, spawn_app, talk};
use serde_json::{Value, json};
use std::time::Duration;

/// A `createLike` of talk 4 as a request's JSON.
fn tap(uuid: &str) -> Value {
    json!({ "query": CREATE_LIKE, "variables": { "input": { "uuid": uuid, "sessionId": 4, "clientMutationId": "tap" } } })
}

/// A WebSocket speaking `protocol`, initialised, that has asked for a like
/// (id `like`) and then a query (id `query`): the query's answer comes
/// first, while the like waits.
async fn like_then_query(app: &TestApp, protocol: &str) -> Ws {
    let mut ws = open_ws_with_protocol(app, protocol, &[]).await.unwrap();
    let start = if protocol == "graphql-ws" {
        "start"
    } else {
        "subscribe"
    };
    if protocol == "graphql-ws" {
        send_json(&mut ws, json!({ "type": "connection_init" })).await;
        assert_eq!(next_json(&mut ws).await.unwrap()["type"], "connection_ack");
    } else {
        init(&mut ws).await;
    }
    send_json(
        &mut ws,
        json!({ "type": start, "id": "like", "payload": tap(protocol) }),
    )
    .await;
    let query = json!({ "query": "{ session(sessionId: 4) { title } }" });
    send_json(
        &mut ws,
        json!({ "type": start, "id": "query", "payload": query }),
    )
    .await;
    let answer = next_json(&mut ws).await.unwrap();
    assert_eq!(answer["id"], "query", "{protocol}: {answer}");
    assert!(
        answer["payload"]["data"]["session"]["title"].is_string(),
        "{answer}"
    );
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "complete");
    ws
}

/// The like's answer on a socket from `like_then_query`.
async fn answered_like(ws: &mut Ws, protocol: &str) {
    let answer = next_json(ws).await.unwrap();
    assert_eq!(answer["id"], "like", "{protocol}: {answer}");
    assert!(
        answer["payload"]["data"]["createLike"]["like"]["id"].is_string(),
        "{protocol}: {answer}"
    );
    assert_eq!(next_json(ws).await.unwrap()["type"], "complete");
}

#[tokio::test]
async fn with_ack_stored_every_transport_answers_a_like_once_it_is_stored_and_no_sooner() {
    let app = spawn_app().await;
    // Another process holds the store's write lock: nothing can be stored.
    let holder = rusqlite::Connection::open(app.db()).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let post = {
        let (client, url) = (app.client.clone(), app.url());
        tokio::spawn(async move {
            let answer = client.post(url).json(&tap("post")).send().await.unwrap();
            answer.json::<Value>().await.unwrap()
        })
    };
    let batch = {
        let (client, url) = (app.client.clone(), app.url());
        let body = json!([tap("batch-1"), tap("batch-2"), tap("batch-3")]);
        tokio::spawn(async move {
            let answer = client.post(url).json(&body).send().await.unwrap();
            answer.json::<Value>().await.unwrap()
        })
    };
    let mut current = like_then_query(&app, "graphql-transport-ws").await;
    let mut legacy = like_then_query(&app, "graphql-ws").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !post.is_finished() && !batch.is_finished(),
        "answered before being stored"
    );
    assert_eq!(app.store.count_likes(talk(4)).await.unwrap(), 0);

    holder.execute_batch("ROLLBACK").unwrap();
    let post = post.await.unwrap();
    assert!(
        post["data"]["createLike"]["like"]["id"].is_string(),
        "{post}"
    );
    let batch = batch.await.unwrap();
    for answer in batch.as_array().unwrap() {
        assert!(
            answer["data"]["createLike"]["like"]["id"].is_string(),
            "{batch}"
        );
    }
    answered_like(&mut current, "graphql-transport-ws").await;
    answered_like(&mut legacy, "graphql-ws").await;
    // Each answer came once its like was in the store.
    assert_eq!(app.store.count_likes(talk(4)).await.unwrap(), 6);
    assert_eq!(app.liked(4).await, 6);
    app.stop().await.unwrap();
}
