//! Bad input gets an error with `extensions.code`, stores nothing, and the
//! server keeps serving.

use crate::helpers::{
    CREATE_LIKE, assert_acknowledged, error_code, eventually, send_oversized_message, spawn_app,
    talk,
};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn bad_input_is_refused_with_a_code_and_harms_nothing() {
    let app = spawn_app().await;
    let cases = [
        (
            "empty uuid",
            json!({ "uuid": "", "sessionId": 1 }),
            "BAD_USER_INPUT",
        ),
        (
            "65-byte uuid",
            json!({ "uuid": "u".repeat(65), "sessionId": 1 }),
            "BAD_USER_INPUT",
        ),
        (
            "control characters in the uuid",
            json!({ "uuid": "a\u{0}b", "sessionId": 1 }),
            "BAD_USER_INPUT",
        ),
        (
            "65-byte clientMutationId",
            json!({ "uuid": "u", "sessionId": 1, "clientMutationId": "m".repeat(65) }),
            "BAD_USER_INPUT",
        ),
        (
            "unknown talk",
            json!({ "uuid": "u", "sessionId": 11 }),
            "NOT_FOUND",
        ),
        (
            "sessionId of the wrong type",
            json!({ "uuid": "u", "sessionId": "one" }),
            "BAD_USER_INPUT",
        ),
        ("missing uuid", json!({ "sessionId": 1 }), "BAD_USER_INPUT"),
        (
            "a field CreateLikeInput does not have",
            json!({ "uuid": "u", "sessionId": 1, "talk": 1 }),
            "BAD_USER_INPUT",
        ),
        (
            "sessionId out of Int's range",
            json!({ "uuid": "u", "sessionId": 1u64 << 33 }),
            "BAD_USER_INPUT",
        ),
    ];
    for (what, input, code) in cases {
        let answer = app.graphql(CREATE_LIKE, json!({ "input": input })).await;
        assert_eq!(error_code(&answer), code, "{what}: {answer}");
        assert!(answer["data"]["createLike"].is_null(), "{what}: {answer}");
    }
    // A 64-byte uuid is still fine.
    assert_acknowledged(&app.like(1, &"u".repeat(64), None).await);

    let documents = [
        (
            "malformed document",
            "mutation { createLike(input: {",
            "GRAPHQL_PARSE_FAILED",
        ),
        (
            "unknown field",
            "{ sessions { speakers } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "over-deep query",
            "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { name } } } } } } } } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ];
    for (what, document, code) in documents {
        let answer = app.graphql(document, json!({})).await;
        assert_eq!(error_code(&answer), code, "{what}: {answer}");
    }

    let (status, body) = app.post_raw("{ this is not json".into()).await;
    assert_eq!((status, error_code(&body)), (400, "BAD_REQUEST"), "{body}");

    // Valid JSON whose number no type holds: that request is refused, and
    // says why (graphql-js answers the same request with an error too).
    let input = r#"{"input":{"uuid":"huge","sessionId":1e400}}"#;
    let huge = format!(r#"{{"query":{},"variables":{input}}}"#, json!(CREATE_LIKE));
    let (status, body) = app.post_raw(huge).await;
    assert_eq!((status, error_code(&body)), (200, "BAD_REQUEST"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("number out of range"), "{body}");

    let oversized = format!(r#"{{"query":"{}"}}"#, " ".repeat(64 * 1024));
    let (status, body) = app.post_raw(oversized).await;
    assert_eq!(
        (status, error_code(&body)),
        (413, "PAYLOAD_TOO_LARGE"),
        "{body}"
    );

    // Still serving, and only the one good like was stored.
    assert_acknowledged(&app.like(1, "after-the-storm", None).await);
    assert_eq!(app.liked(1).await, 2);
    let stored = eventually(Duration::from_secs(5), 2, || async {
        app.store.count_likes(talk(1)).await.unwrap()
    })
    .await;
    assert_eq!(stored, 2);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_oversized_websocket_message_closes_that_connection_only() {
    let app = spawn_app().await;
    let bystander = app.subscribe(2, "graphql-transport-ws").await;
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let code = send_oversized_message(&app.ws_url(), protocol, 20_000).await;
        assert_eq!(code, Some(1009), "message too big, over {protocol}");
    }
    assert_acknowledged(&app.like(2, "still-serving", None).await);
    assert_eq!(bystander.wait_for_sum(1, Duration::from_secs(5)).await, 1);
    bystander.close().await;
    app.stop().await.unwrap();
}
