//! Property tests of hostile input: generated GraphQL documents (from the
//! schema's own words and punctuation, and arbitrary text), arbitrary
//! variables, arbitrary request bodies, and arbitrary WebSocket frames on
//! both subprotocols. The server never panics or hangs: every answer comes
//! within a deadline, every error carries an `extensions.code`, and the
//! server keeps serving.

use crate::helpers::{CREATE_LIKE, TestApp, spawn_app_with};
use futures_util::{SinkExt, StreamExt};
use likes::limits::Rate;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const DEADLINE: Duration = Duration::from_secs(5);

const WORDS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    ":",
    "$",
    "!",
    "...",
    "@",
    "[",
    "]",
    "=",
    ",",
    "|",
    "&",
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "createLike",
    "likeAdded",
    "session",
    "sessions",
    "liked",
    "input",
    "sessionId",
    "uuid",
    "clientMutationId",
    "like",
    "id",
    "title",
    "__schema",
    "__type",
    "__typename",
    "@include(if: true)",
    "@skip",
    "Int!",
    "String",
    "CreateLikeInput!",
    "null",
];

fn document() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(str::to_owned),
        1 => "[a-zA-Z_][a-zA-Z0-9_]{0,6}",
        1 => "-?[0-9]{1,12}(\\.[0-9]{1,3})?",
        1 => "\"[ -~]{0,8}\"",
    ];
    prop_oneof![
        4 => prop::collection::vec(token, 0..80).prop_map(|t| t.join(" ")),
        1 => any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,80}".prop_map(Value::from),
    ];
    let key = prop_oneof![
        prop::sample::select(&["input", "uuid", "sessionId", "clientMutationId", "query"][..])
            .prop_map(str::to_owned),
        "[a-zA-Z]{1,6}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every error in a GraphQL answer (or in each answer of a batch) has a
/// code; an answer without errors has data.
fn assert_well_formed(answer: &Value) {
    if let Some(answers) = answer.as_array() {
        assert!(!answers.is_empty(), "an empty batch answer");
        answers.iter().for_each(assert_well_formed);
        return;
    }
    match answer["errors"].as_array() {
        Some(errors) => {
            assert!(!errors.is_empty(), "an empty error list: {answer}");
            for error in errors {
                let code = error["extensions"]["code"].as_str().unwrap_or("");
                assert!(!code.is_empty(), "an error without a code: {answer}");
            }
        }
        None => assert!(
            !answer["data"].is_null(),
            "neither data nor errors: {answer}"
        ),
    }
}

struct Fuzzed {
    runtime: Runtime,
    app: TestApp,
}

impl Fuzzed {
    fn start() -> Self {
        let runtime = Runtime::new().unwrap();
        let app = runtime.block_on(spawn_app_with(|c| {
            c.limits.rate_per_liker = Rate::OFF;
            c.limits.rate_per_address = Rate::OFF;
        }));
        Self { runtime, app }
    }

    fn post(&self, body: Vec<u8>) -> Value {
        self.runtime.block_on(async {
            let send = self
                .app
                .client
                .post(self.app.url())
                .header("content-type", "application/json")
                .body(body)
                .send();
            let response = tokio::time::timeout(DEADLINE, send)
                .await
                .expect("an answer within the deadline")
                .expect("the server answers");
            let status = response.status().as_u16();
            assert!(matches!(status, 200 | 400 | 413), "status {status}");
            response.json().await.expect("the answer is JSON")
        })
    }

    fn still_serving(&self) {
        let answer = self
            .runtime
            .block_on(self.app.graphql("{ sessions { sessionId } }", json!({})));
        assert!(answer["data"]["sessions"].is_array(), "{answer}");
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

#[test]
fn generated_documents_get_data_or_coded_errors() {
    let fuzzed = Fuzzed::start();
    runner(1000)
        .run(&document(), |query| {
            let answer = fuzzed.post(json!({ "query": query }).to_string().into_bytes());
            assert_well_formed(&answer);
            Ok(())
        })
        .unwrap();
    fuzzed.still_serving();
}

#[test]
fn arbitrary_variables_are_acknowledged_or_refused_with_a_code() {
    let fuzzed = Fuzzed::start();
    runner(600)
        .run(&json_value(), |variables| {
            let body = json!({ "query": CREATE_LIKE, "variables": variables });
            let answer = fuzzed.post(body.to_string().into_bytes());
            assert_well_formed(&answer);
            Ok(())
        })
        .unwrap();
    fuzzed.still_serving();
}

#[test]
fn arbitrary_bodies_get_coded_errors() {
    let fuzzed = Fuzzed::start();
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..4096),
        json_value().prop_map(|v| v.to_string().into_bytes()),
    ];
    runner(600)
        .run(&body, |body| {
            let answer = fuzzed.post(body);
            assert_well_formed(&answer);
            Ok(())
        })
        .unwrap();
    fuzzed.still_serving();
}

fn frame() -> impl Strategy<Value = Message> {
    let kinds = &[
        "connection_init",
        "subscribe",
        "start",
        "complete",
        "stop",
        "ping",
        "pong",
        "next",
        "error",
        "connection_terminate",
        "bogus",
    ][..];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512).prop_map(Message::binary),
        ".{0,200}".prop_map(Message::text),
        (
            prop::sample::select(kinds),
            prop::option::of("[0-9a-z]{0,4}"),
            json_value()
        )
            .prop_map(|(kind, id, payload)| {
                Message::text(json!({ "type": kind, "id": id, "payload": payload }).to_string())
            }),
        (
            prop::sample::select(&["subscribe", "start"][..]),
            document()
        )
            .prop_map(|(kind, query)| {
                Message::text(
                    json!({ "type": kind, "id": "1", "payload": { "query": query } }).to_string(),
                )
            }),
    ]
}

/// Sends one frame after `connection_init` and checks the server either
/// answers (a message or a close frame) or keeps servicing the connection.
async fn one_frame(app: &TestApp, protocol: &str, frame: Message) {
    let mut request = app.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the upgrade");
    let init = json!({ "type": "connection_init" }).to_string();
    ws.send(Message::text(init)).await.unwrap();
    let ack = tokio::time::timeout(DEADLINE, ws.next())
        .await
        .expect("an ack in time");
    assert!(matches!(ack, Some(Ok(Message::Text(_)))), "{ack:?}");
    if ws.send(frame).await.is_err() {
        return;
    }
    match tokio::time::timeout(Duration::from_millis(500), ws.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => {
            let message: Value = serde_json::from_str(&text).expect("server messages are JSON");
            if let Some(errors) = message["payload"].as_array() {
                for error in errors {
                    assert!(error["extensions"]["code"].is_string(), "{message}");
                }
            }
        }
        // A close frame carries a valid code, or none after the client's
        // own `connection_terminate`.
        Ok(Some(Ok(Message::Close(frame)))) => {
            if let Some(frame) = frame {
                assert!(u16::from(frame.code) >= 1000, "{frame:?}");
            }
        }
        Ok(other) => panic!("an unexpected answer: {other:?}"),
        // Silence is fine for frames that need no answer (a pong, a stop
        // of an unknown id), if the connection is still serviced.
        Err(_) => {
            ws.send(Message::Ping(b"alive".to_vec().into()))
                .await
                .unwrap();
            let pong = async {
                while let Some(message) = ws.next().await {
                    match message {
                        Ok(Message::Pong(_)) => return true,
                        Ok(Message::Close(_)) | Err(_) => return true,
                        Ok(_) => continue,
                    }
                }
                true
            };
            assert!(
                tokio::time::timeout(DEADLINE, pong).await.is_ok(),
                "the connection hangs"
            );
        }
    }
}

#[test]
fn arbitrary_websocket_frames_never_hang_a_connection() {
    let fuzzed = Fuzzed::start();
    let cases = (
        prop::sample::select(&["graphql-transport-ws", "graphql-ws"][..]),
        frame(),
    );
    runner(300)
        .run(&cases, |(protocol, frame)| {
            fuzzed
                .runtime
                .block_on(one_frame(&fuzzed.app, protocol, frame));
            Ok(())
        })
        .unwrap();
    fuzzed.still_serving();
}
