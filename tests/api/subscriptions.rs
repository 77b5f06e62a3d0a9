//! `likeAdded` over both WebSocket subprotocols with the `gql` client, and
//! likes sent over a WebSocket.

use crate::helpers::ws::{init, next_json, open_ws, send_json};
use crate::helpers::{Subscriber, TestApp, assert_acknowledged, eventually, spawn_app, talk};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// 25 likes on talk 1 at 100 ms spacing while 80 go to talks 2 and 3.
async fn send_scenario_likes(app: &TestApp) {
    let on_talk = async {
        for n in 0..25 {
            assert_acknowledged(
                &app.like(1, &format!("fan-{n}"), Some(&format!("m-{n}")))
                    .await,
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let elsewhere = async {
        for n in 0..80 {
            let session = 2 + (n % 2);
            assert_acknowledged(&app.like(session, &format!("other-{n}"), None).await);
            tokio::time::sleep(Duration::from_millis(31)).await;
        }
    };
    tokio::join!(on_talk, elsewhere);
}

async fn a_subscriber_sees_exactly_its_talks_likes(protocol: &str) {
    let app = spawn_app().await;
    let subscriber = app.subscribe(1, protocol).await;
    send_scenario_likes(&app).await;

    assert_eq!(
        eventually(Duration::from_secs(5), 25, || app.liked(1)).await,
        25
    );
    assert_eq!(
        eventually(Duration::from_secs(5), 40, || app.liked(2)).await,
        40
    );
    assert_eq!(
        eventually(Duration::from_secs(5), 40, || app.liked(3)).await,
        40
    );
    assert_eq!(
        subscriber.wait_for_sum(25, Duration::from_secs(5)).await,
        25
    );
    // Nothing more may arrive: no double counting after the fact.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let events = subscriber.events();
    assert_eq!(subscriber.sum(), 25, "events: {events:?}");
    assert!(
        events.len() >= 2,
        "likes over 2.5 s arrive in several events: {events:?}"
    );
    assert!(
        events.iter().all(|e| e["sessionId"] == 1),
        "another talk's event: {events:?}"
    );
    assert_eq!(events.last().unwrap()["total"], 25);
    subscriber.close().await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_subscriber_sees_exactly_its_talks_likes_over_graphql_transport_ws() {
    a_subscriber_sees_exactly_its_talks_likes("graphql-transport-ws").await;
}

#[tokio::test]
async fn a_subscriber_sees_exactly_its_talks_likes_over_legacy_graphql_ws() {
    a_subscriber_sees_exactly_its_talks_likes("graphql-ws").await;
}

#[tokio::test]
async fn an_ended_subscription_frees_what_it_held() {
    let app = spawn_app().await;
    let subscriber = app.subscribe(4, "graphql-transport-ws").await;
    let held = eventually(Duration::from_secs(5), 1, || async {
        app.listener.subscribers(talk(4))
    })
    .await;
    assert_eq!(held, 1);
    subscriber.close().await;
    let held = eventually(Duration::from_secs(5), 0, || async {
        app.listener.subscribers(talk(4))
    })
    .await;
    assert_eq!(held, 0, "the subscription outlived its client");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_subscription_to_an_unknown_talk_is_refused_with_not_found() {
    let app = spawn_app().await;
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let subscriber = Subscriber::start(&app.ws_url(), 11, protocol).await;
        let answered = eventually(Duration::from_secs(5), true, || async {
            subscriber.lines().iter().any(|l| l.get("error").is_some())
        })
        .await;
        assert!(
            answered,
            "no error for an unknown talk over {protocol}: {:?}",
            subscriber.lines()
        );
        let error = subscriber
            .lines()
            .into_iter()
            .find_map(|l| l.get("error").cloned())
            .unwrap();
        assert_eq!(error[0]["extensions"]["code"], "NOT_FOUND", "{error}");
        subscriber.close().await;
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_subscriber_that_joins_late_sees_only_new_likes() {
    let app = spawn_app().await;
    for n in 0..5 {
        assert_acknowledged(&app.like(5, &format!("early-{n}"), None).await);
    }
    eventually(Duration::from_secs(5), 5, || app.liked(5)).await;
    let subscriber = app.subscribe(5, "graphql-transport-ws").await;
    for n in 0..3 {
        assert_acknowledged(&app.like(5, &format!("late-{n}"), None).await);
    }
    assert_eq!(subscriber.wait_for_sum(3, Duration::from_secs(5)).await, 3);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(subscriber.sum(), 3);
    assert_eq!(subscriber.events().last().unwrap()["total"], 8);
    subscriber.close().await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_closes_subscriptions_with_service_restart_so_clients_reconnect() {
    let app = spawn_app().await;
    let legacy = app.subscribe(1, "graphql-ws").await;
    let current = app.subscribe(1, "graphql-transport-ws").await;
    app.stop().await.unwrap();
    for subscriber in [legacy, current] {
        let closed = eventually(Duration::from_secs(5), true, || async {
            subscriber.lines().iter().any(|l| l.get("closed").is_some())
        })
        .await;
        assert!(closed, "still open: {:?}", subscriber.lines());
        let code = subscriber
            .lines()
            .into_iter()
            .find_map(|l| l.get("closed").cloned())
            .unwrap();
        assert_eq!(code, 1012);
        subscriber.close().await;
    }
}

#[tokio::test]
async fn likes_sent_over_a_websocket_are_answered_once_each_and_stored() {
    let app = spawn_app().await;
    let mut ws = open_ws(&app, &[]).await.unwrap();
    init(&mut ws).await;
    let tap = |id: &str, uuid: &str| {
        json!({ "id": id, "type": "subscribe", "payload": {
            "query": "mutation($input: CreateLikeInput!) { createLike(input: $input) { clientMutationId } }",
            "variables": { "input": { "uuid": uuid, "sessionId": 6, "clientMutationId": id } } } })
    };
    for n in 0..4 {
        send_json(&mut ws, tap(&format!("m{n}"), &format!("ws-{n}"))).await;
    }
    let mut answers = BTreeMap::new();
    for _ in 0..8 {
        let message = next_json(&mut ws).await.expect("a message");
        let id = message["id"].as_str().unwrap().to_owned();
        answers.entry(id).or_insert_with(Vec::new).push(message);
    }
    for (id, messages) in &answers {
        let data = json!({ "createLike": { "clientMutationId": id } });
        assert_eq!(messages[0]["type"], "next", "{messages:?}");
        assert_eq!(
            messages[0]["payload"],
            json!({ "data": data }),
            "{messages:?}"
        );
        assert_eq!(messages[1]["type"], "complete", "{messages:?}");
    }
    assert_eq!(answers.len(), 4);
    assert_eq!(
        eventually(Duration::from_secs(5), 4, || app.liked(6)).await,
        4
    );
    app.stop().await.unwrap();
}
