//! The engine's rules, through `Endpoint` as the transports use it:
//! every document shape of a like, null propagation, variable coercion,
//! conditions, operation names, and the prepared documents' cache.

use super::*;
use crate::catalogue::Catalogue;
use crate::limits::RateLimits;
use crate::listener::Listener;
use crate::model::ServerId;
use crate::store::{StoreOptions, StoreUrl};
use crate::storer::{FlushSettings, Storer};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// An endpoint on a store of its own (nothing is flushed), with the
/// sample catalogue's totals published unless `unread`.
struct Replica {
    endpoint: Endpoint,
    _dir: tempfile::TempDir,
}

impl Replica {
    async fn start() -> Self {
        Self::with_totals(true).await
    }

    async fn with_totals(published: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = StoreUrl::Sqlite(dir.path().join("likes.db"));
        let options = StoreOptions {
            lock_timeout: Duration::from_secs(5),
            op_timeout: Duration::from_secs(5),
            bucket_retention: Duration::from_secs(3600),
            commit_limits: None,
        };
        let store = crate::store::open(&url, &options).await.unwrap();
        let storer = Storer::new(
            store.clone(),
            ServerId::new("test").unwrap(),
            FlushSettings {
                interval: Duration::from_secs(3600),
                try_timeout: Duration::from_secs(1),
                hard_timeout: Duration::from_secs(1),
                max_batch: 100,
                max_buffered: 1000,
                max_buffered_bytes: 1 << 20,
                shutdown_grace: Duration::ZERO,
            },
        );
        let catalogue = Arc::new(Catalogue::sample());
        let listener = Listener::new(catalogue.ids());
        if published {
            for talk in catalogue.ids() {
                listener.publish(talk, 7, 0);
            }
        }
        let services = Services {
            listener,
            catalogue,
            storer,
            store,
            shutdown: CancellationToken::new(),
            rate_limits: Arc::new(RateLimits::new(
                "off".parse().unwrap(),
                "off".parse().unwrap(),
            )),
        };
        Self {
            endpoint: Endpoint::new(services, true),
            _dir: dir,
        }
    }

    /// Runs `query` with `variables` (and `operation`), as JSON.
    async fn ask(&self, query: &str, variables: Value, operation: Option<&str>) -> Value {
        let variables = serde_json::value::to_raw_value(&variables).unwrap();
        let request = Request {
            query: Some(query.into()),
            operation_name: operation.map(Into::into),
            variables: Some(&variables),
            extensions: None,
        };
        let response = match self.endpoint.ready(&request).await {
            Ok(ready) => self.endpoint.run(&ready, None).await,
            Err(refused) => refused,
        };
        serde_json::from_slice(&response.body).unwrap()
    }
}

/// `answer` with like ids (random for a like without clientMutationId)
/// replaced by `Like:*`.
fn masked(mut answer: Value) -> Value {
    fn mask(value: &mut Value) {
        match value {
            Value::String(text) if text.starts_with("Like:") => *text = "Like:*".into(),
            Value::Array(items) => items.iter_mut().for_each(mask),
            Value::Object(fields) => fields.values_mut().for_each(mask),
            _ => {}
        }
    }
    mask(&mut answer);
    answer
}

#[tokio::test]
async fn every_shape_of_a_like_is_answered_in_its_own_words() {
    let replica = Replica::start().await;
    let input = json!({ "uuid": "u", "sessionId": 2, "clientMutationId": "m" });
    let cases = [
        (
            "the README's",
            "mutation($input: CreateLikeInput!) { createLike(input: $input) { clientMutationId like { id session { sessionId liked } } } }",
            json!({ "input": input }),
            json!({ "createLike": { "clientMutationId": "m", "like": { "id": "Like:*", "session": { "sessionId": 2, "liked": 7 } } } }),
        ),
        (
            "an inline input",
            "mutation LikeSession($randomId: String!, $sessionId: Int!) { createLike(input: {uuid: $randomId, sessionId: $sessionId}) { clientMutationId like { id session { id liked } } } }",
            json!({ "randomId": "u", "sessionId": 2 }),
            json!({ "createLike": { "clientMutationId": null, "like": { "id": "Like:*", "session": { "id": "Session:2", "liked": 7 } } } }),
        ),
        (
            "Apollo's",
            "mutation Like($input: CreateLikeInput!) {\n  createLike(input: $input) {\n    clientMutationId\n    like {\n      id\n      session {\n        sessionId\n        liked\n        __typename\n      }\n      __typename\n    }\n    __typename\n  }\n}",
            json!({ "input": input }),
            json!({ "createLike": { "clientMutationId": "m", "like": { "id": "Like:*", "session": { "sessionId": 2, "liked": 7, "__typename": "Session" }, "__typename": "Like" }, "__typename": "CreateLikePayload" } }),
        ),
        (
            "a fragment and aliases",
            "mutation($i: CreateLikeInput!) { tap: createLike(input: $i) { ...Tap } } fragment Tap on CreateLikePayload { echo: clientMutationId like { ... on Like { id } talk: session { n: sessionId } } }",
            json!({ "i": input }),
            json!({ "tap": { "echo": "m", "like": { "id": "Like:*", "talk": { "n": 2 } } } }),
        ),
        (
            "a literal input, two likes merged and skipped",
            "mutation { a: createLike(input: {uuid: \"u\", sessionId: 1}) { like { id } like { session { sessionId } } clientMutationId @skip(if: true) } }",
            json!({}),
            json!({ "a": { "like": { "id": "Like:*", "session": { "sessionId": 1 } } } }),
        ),
    ];
    for (what, query, variables, data) in cases {
        let answer = masked(replica.ask(query, variables, None).await);
        assert_eq!(answer, json!({ "data": data }), "{what}");
    }
}

#[tokio::test]
async fn a_failed_field_nulls_the_nearest_nullable_field_above_it() {
    // Before the first read of the totals, `liked` (Int!) fails.
    let replica = Replica::with_totals(false).await;
    let answer = replica
        .ask("{ session(sessionId: 1) { id liked } }", json!({}), None)
        .await;
    assert_eq!(answer["data"], json!({ "session": null }), "{answer}");
    assert_eq!(answer["errors"][0]["path"], json!(["session", "liked"]));
    assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAVAILABLE");
    // [Session!]! and Query.sessions non-null: up to `data`.
    let answer = replica
        .ask("{ sessions { id liked } }", json!({}), None)
        .await;
    assert_eq!(answer["data"], Value::Null, "{answer}");
    assert_eq!(answer["errors"][0]["path"], json!(["sessions", 0, "liked"]));
    // A failed nullable field is null, its siblings answer.
    let answer = replica
        .ask(
            "mutation { a: createLike(input: {uuid: \"u\", sessionId: 99}) { clientMutationId } b: createLike(input: {uuid: \"u\", sessionId: 1}) { clientMutationId } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        answer["data"],
        json!({ "a": null, "b": { "clientMutationId": null } })
    );
    assert_eq!(answer["errors"][0]["extensions"]["code"], "NOT_FOUND");
    assert_eq!(answer["errors"][0]["path"], json!(["a"]));
}

#[tokio::test]
async fn variables_are_coerced_as_the_spec_says() {
    let replica = Replica::start().await;
    let like =
        "mutation($input: CreateLikeInput!) { createLike(input: $input) { clientMutationId } }";
    for (what, input) in [
        ("missing", Value::Null),
        ("a required field missing", json!({ "sessionId": 1 })),
        (
            "an unknown field",
            json!({ "uuid": "u", "sessionId": 1, "extra": 1 }),
        ),
        (
            "Int out of range",
            json!({ "uuid": "u", "sessionId": 1u64 << 31 }),
        ),
        ("Int not integral", json!({ "uuid": "u", "sessionId": 1.5 })),
        (
            "String given a number",
            json!({ "uuid": 5, "sessionId": 1 }),
        ),
        ("not an object", json!("u")),
    ] {
        let answer = replica.ask(like, json!({ "input": input }), None).await;
        assert!(answer.get("data").is_none(), "{what}: {answer}");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{what}"
        );
        assert_eq!(answer["errors"][0]["locations"][0]["line"], 1, "{what}");
    }
    // An integral float is an Int; an integer is an ID; a default fills in.
    let answer = replica
        .ask(
            like,
            json!({ "input": { "uuid": "u", "sessionId": 1.0 } }),
            None,
        )
        .await;
    assert_eq!(
        answer["data"]["createLike"]["clientMutationId"],
        Value::Null,
        "{answer}"
    );
    let answer = replica
        .ask(
            "query($s: Int = 3) { session(sessionId: $s) { id } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        answer,
        json!({ "data": { "session": { "id": "Session:3" } } })
    );
}

#[tokio::test]
async fn conditions_on_variables_choose_the_fields_per_request() {
    let replica = Replica::start().await;
    let query = "query($full: Boolean!, $brief: Boolean!) { session(sessionId: 1) { id title @include(if: $full) ... @skip(if: $brief) { sessionId } ... on Session @include(if: $brief) { id } } }";
    let cases = [
        (
            true,
            false,
            json!({ "id": "Session:1", "title": "Opening keynote: counting things in real time", "sessionId": 1 }),
        ),
        (false, true, json!({ "id": "Session:1" })),
        (false, false, json!({ "id": "Session:1", "sessionId": 1 })),
    ];
    for (full, brief, session) in cases {
        let answer = replica
            .ask(query, json!({ "full": full, "brief": brief }), None)
            .await;
        assert_eq!(
            answer,
            json!({ "data": { "session": session } }),
            "{full} {brief}"
        );
    }
}

#[tokio::test]
async fn an_operation_is_chosen_by_its_name() {
    let replica = Replica::start().await;
    let document =
        "query A { session(sessionId: 1) { id } } query B { session(sessionId: 2) { id } }";
    let answer = replica.ask(document, json!({}), Some("B")).await;
    assert_eq!(answer["data"]["session"]["id"], "Session:2");
    for name in [None, Some("C")] {
        let answer = replica.ask(document, json!({}), name).await;
        assert!(answer.get("data").is_none(), "{answer}");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"],
            OPERATION_RESOLUTION_FAILURE
        );
    }
}

#[tokio::test]
async fn introspection_is_answered_from_the_declared_schema() {
    let replica = Replica::start().await;
    let answer = replica
        .ask(
            "query($t: String!) { __typename __type(name: $t) { fields { name } } sessions { sessionId } }",
            json!({ "t": "LikeEvent" }),
            None,
        )
        .await;
    let fields: Vec<&str> = answer["data"]["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| field["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["sessionId", "likes", "total", "watching", "publishedAt"],
        "{answer}"
    );
    assert_eq!(answer["data"]["sessions"][0]["sessionId"], 1, "{answer}");
    assert_eq!(answer["data"]["__typename"], "Query");
}

fn asked(text: Option<&str>, hash: Option<[u8; 32]>) -> prepare::Asked<'_> {
    prepare::Asked { text, hash }
}

fn sha256(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

#[tokio::test]
async fn a_document_is_prepared_once_and_found_again_by_its_hash() {
    let replica = Replica::start().await;
    let schema = replica.endpoint.schema();
    let documents = Documents::new(1 << 20);
    let text = "{ sessions { id } }";
    let not_found = documents
        .get(&asked(None, Some(sha256(text))), schema)
        .await;
    assert_eq!(
        not_found.err().map(|e| e.extensions.code),
        Some(PERSISTED_QUERY_NOT_FOUND)
    );
    let first = documents
        .get(&asked(Some(text), Some(sha256(text))), schema)
        .await
        .unwrap();
    let by_hash = documents
        .get(&asked(None, Some(sha256(text))), schema)
        .await
        .unwrap();
    let by_text = documents
        .get(&asked(Some(text), None), schema)
        .await
        .unwrap();
    assert!(Arc::ptr_eq(&first, &by_hash) && Arc::ptr_eq(&first, &by_text));
    let mismatch = documents
        .get(&asked(Some(text), Some(sha256("{ a }"))), schema)
        .await;
    assert_eq!(mismatch.err().map(|e| e.extensions.code), Some(BAD_REQUEST));
    assert_eq!(documents.len(), 1);
}

#[tokio::test]
async fn a_flood_of_documents_seen_once_keeps_the_hot_ones_and_its_bound() {
    let replica = Replica::start().await;
    let schema = replica.endpoint.schema();
    // Room for about 40 documents of this size.
    let documents = Documents::new(40 * 1300);
    let hot = ["{ sessions { id } }", "{ sessions { title } }"];
    let mut kept = Vec::new();
    for text in hot {
        for _ in 0..3 {
            kept.push(
                documents
                    .get(&asked(Some(text), None), schema)
                    .await
                    .unwrap(),
            );
        }
    }
    for n in 0..5_000 {
        let flood = format!("{{ sessions {{ id }} }} # {n}");
        documents
            .get(&asked(Some(&flood), None), schema)
            .await
            .unwrap();
        if n % 50 == 0 {
            for (text, first) in hot.iter().zip([&kept[0], &kept[3]]) {
                let again = documents
                    .get(&asked(Some(text), None), schema)
                    .await
                    .unwrap();
                assert!(
                    Arc::ptr_eq(first, &again),
                    "{text} was prepared again after {n}"
                );
            }
        }
    }
    assert!(documents.len() <= 60, "{} kept", documents.len());
}
