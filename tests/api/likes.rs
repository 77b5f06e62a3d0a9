//! `createLike`, `session` and `sessions` over HTTP.

use crate::helpers::{
    assert_acknowledged, error_code, eventually, spawn_app, spawn_app_with, talk,
};
use likes::config::Ack;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_like_is_acknowledged_and_counted_at_once_and_stored_by_the_next_flush() {
    let app = spawn_app().await;
    let answer = app.like(2, "browser-1", Some("m-1")).await;
    assert_acknowledged(&answer);
    let like = &answer["data"]["createLike"];
    assert_eq!(like["clientMutationId"], "m-1");
    assert!(like["like"]["id"].as_str().unwrap().starts_with("Like:"));
    assert_eq!(like["like"]["session"]["id"], "Session:2");
    assert_eq!(like["like"]["session"]["sessionId"], 2);
    assert_eq!(like["like"]["session"]["liked"], 1);

    let stored = eventually(Duration::from_secs(5), 1, || async {
        app.store.count_likes(talk(2)).await.unwrap()
    })
    .await;
    assert_eq!(stored, 1);
    assert_eq!(app.liked(2).await, 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_retried_mutation_with_the_same_client_mutation_id_stores_one_like() {
    let app = spawn_app().await;
    let first = app.like(3, "browser-1", Some("tap-7")).await;
    let retry = app.like(3, "browser-1", Some("tap-7")).await;
    assert_eq!(
        first["data"]["createLike"]["like"]["id"],
        retry["data"]["createLike"]["like"]["id"]
    );
    // Retried again after the first copy has been flushed to the store.
    let stored = eventually(Duration::from_secs(5), 1, || async {
        app.store.count_likes(talk(3)).await.unwrap()
    })
    .await;
    assert_eq!(stored, 1);
    assert_acknowledged(&app.like(3, "browser-1", Some("tap-7")).await);
    // The same mutation id from another liker is another like.
    assert_acknowledged(&app.like(3, "browser-2", Some("tap-7")).await);

    let liked = eventually(Duration::from_secs(5), 2, || app.liked(3)).await;
    assert_eq!(liked, 2);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.liked(3).await, 2, "a late duplicate was counted");
    assert_eq!(app.store.count_likes(talk(3)).await.unwrap(), 2);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_likes_payload_and_a_query_right_after_count_it_and_its_retries_count_nothing_more() {
    let app = spawn_app().await;
    // A reader polling all along never sees the count go down.
    let stop = tokio_util::sync::CancellationToken::new();
    let poller = {
        let (client, url, stop) = (app.client.clone(), app.url(), stop.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.is_cancelled() {
                seen.push(crate::helpers::liked(&client, &url, 4).await);
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            seen
        })
    };
    let payload_liked = |answer: &serde_json::Value| {
        answer["data"]["createLike"]["like"]["session"]["liked"]
            .as_i64()
            .unwrap_or_else(|| panic!("no count in {answer}"))
    };
    for n in 1..=6 {
        let liker = format!("reader-{n}");
        assert_eq!(payload_liked(&app.like(4, &liker, Some("tap")).await), n);
        assert_eq!(app.liked(4).await, n, "the query right after");
        // Retried at once (still buffered), then after a while (stored,
        // perhaps published): the same like, counted once.
        assert_eq!(payload_liked(&app.like(4, &liker, Some("tap")).await), n);
        tokio::time::sleep(Duration::from_millis(200 * n as u64)).await;
        assert_eq!(payload_liked(&app.like(4, &liker, Some("tap")).await), n);
        assert_eq!(app.liked(4).await, n);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.liked(4).await, 6, "once the observer holds them all");
    stop.cancel();
    let seen = poller.await.unwrap();
    assert!(
        seen.windows(2).all(|pair| pair[0] <= pair[1]),
        "a reader saw the count go down: {seen:?}"
    );
    assert_eq!(app.store.count_likes(talk(4)).await.unwrap(), 6);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn sessions_lists_the_catalogue_with_totals() {
    let app = spawn_app().await;
    for n in 0..3 {
        assert_acknowledged(&app.like(1, &format!("liker-{n}"), None).await);
    }
    eventually(Duration::from_secs(5), 3, || app.liked(1)).await;
    let answer = app
        .graphql("{ sessions { id sessionId title liked } }", json!({}))
        .await;
    let sessions = answer["data"]["sessions"].as_array().unwrap();
    let ids: Vec<i64> = sessions
        .iter()
        .map(|s| s["sessionId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(sessions[0]["liked"], 3);
    assert_eq!(sessions[0]["id"], "Session:1");
    assert_eq!(sessions[1]["liked"], 0);
    assert!(sessions[0]["title"].as_str().unwrap().len() > 3);

    let unknown = app
        .graphql("{ session(sessionId: 11) { title } }", json!({}))
        .await;
    assert_eq!(unknown["data"]["session"], serde_json::Value::Null);
    assert!(unknown.get("errors").is_none());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn health_and_readiness_answer_and_graphiql_is_served() {
    let app = spawn_app().await;
    let base = format!("http://{}", app.addr);
    for path in ["/healthz", "/readyz"] {
        let status = app
            .client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{path}");
    }
    // A browser opening the endpoint gets GraphiQL.
    let page = app.open_in_browser().await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("graphiql")
    );
    // A client without a query is told what to send.
    let bare = app.client.get(app.url()).send().await.unwrap();
    assert_eq!(bare.status(), 400);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_full_buffer_answers_unavailable_with_a_retry_hint_and_keeps_what_it_holds() {
    let app = spawn_app_with(|config| {
        config.ack = Ack::Buffered;
        config.buffer_max_likes = 3;
        config.flush_interval = Duration::from_secs(3600);
    })
    .await;
    for n in 0..3 {
        assert_acknowledged(&app.like(1, &format!("liker-{n}"), Some("tap")).await);
    }
    let refused = app.like(1, "one-too-many", None).await;
    assert_eq!(error_code(&refused), "UNAVAILABLE", "{refused}");
    let hint = &refused["errors"][0]["extensions"]["retryAfterSeconds"];
    assert!(hint.as_u64().is_some_and(|s| s >= 1), "{refused}");
    // A retry of a like the buffer already holds is still acknowledged.
    assert_acknowledged(&app.like(1, "liker-0", Some("tap")).await);
    let store = app.store.clone();
    app.stop().await.unwrap();
    assert_eq!(store.count_likes(talk(1)).await.unwrap(), 3);
}
