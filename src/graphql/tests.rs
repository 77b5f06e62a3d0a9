//! The engine's rules, through `Endpoint` as the transports use it, where
//! the differential suite (`tests/api/differential.rs`) does not look:
//! messages and locations, a field failing before the first read, the
//! prepared documents' cache, introspection off, equal subscription plans.

use super::*;
use crate::catalogue::Catalogue;
use crate::limits::RateLimits;
use crate::listener::Listener;
use crate::model::ServerId;
use crate::store::{StoreOptions, StoreUrl};
use crate::storer::{FlushSettings, Storer};
use crate::timeline::Timelines;
use serde_json::{Value, json};
use std::time::Duration;

/// An endpoint on a store of its own (nothing is flushed), with the
/// sample catalogue's totals published unless `unread`.
struct Replica {
    endpoint: Endpoint,
    _dir: tempfile::TempDir,
}

impl Replica {
    async fn start(published: bool) -> Self {
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
        let timelines = Timelines::new(catalogue.ids());
        if published {
            for talk in catalogue.ids() {
                listener.publish(talk, 7, 0);
            }
        }
        let services = Services {
            listener,
            timelines,
            catalogue,
            storer,
            rate_limits: Arc::new(RateLimits::new(
                "off".parse().unwrap(),
                "off".parse().unwrap(),
            )),
        };
        Self {
            endpoint: Endpoint::new(services, true).unwrap(),
            _dir: dir,
        }
    }

    /// Runs `query` with `variables`, as JSON.
    async fn ask(&self, query: &str, variables: Value) -> Value {
        serde_json::from_str(&answer(&self.endpoint, query, variables).await).unwrap()
    }
}

/// `endpoint`'s answer to `query` with `variables`, as text, keys in the
/// order written.
async fn answer(endpoint: &Endpoint, query: &str, variables: Value) -> String {
    let variables = serde_json::value::to_raw_value(&variables).unwrap();
    let query = serde_json::value::to_raw_value(query).unwrap();
    let request = Request {
        query: Some(&query),
        variables: Some(&variables),
        ..Request::default()
    };
    let response = match endpoint.ready(&request) {
        Ok(ready) => endpoint.run(&ready, None).await,
        Err(refused) => refused,
    };
    String::from_utf8(response.body).unwrap()
}

#[tokio::test]
async fn a_failed_field_nulls_the_nearest_nullable_field_above_it() {
    // Before the first read of the totals, `liked` (Int!) fails.
    let replica = Replica::start(false).await;
    let answer = replica
        .ask("{ session(sessionId: 1) { id liked } }", json!({}))
        .await;
    assert_eq!(answer["data"], json!({ "session": null }), "{answer}");
    assert_eq!(answer["errors"][0]["path"], json!(["session", "liked"]));
    assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAVAILABLE");
    // [Session!]! and Query.sessions non-null: up to `data`.
    let answer = replica.ask("{ sessions { id liked } }", json!({})).await;
    assert_eq!(answer["data"], Value::Null, "{answer}");
    assert_eq!(answer["errors"][0]["path"], json!(["sessions", 0, "liked"]));
}

/// The document of a request with `text` (written in JSON, as requests
/// carry it) or `hash`.
fn find(
    documents: &Documents,
    text: Option<&str>,
    hash: Option<[u8; 32]>,
    schema: &Schema,
) -> Result<Arc<Prepared>, GraphQLError> {
    let json = text.map(|text| serde_json::to_string(text).unwrap());
    let asked = prepare::Asked {
        json: json.as_deref(),
        hash,
    };
    documents.get(&asked, schema)
}

fn sha256(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

#[test]
fn a_document_is_prepared_once_and_found_again_by_its_hash() {
    let schema = &Schema::new(true).unwrap();
    let documents = Documents::new(1 << 20);
    let text = "{ sessions { id } }";
    let not_found = find(&documents, None, Some(sha256(text)), schema);
    assert_eq!(
        not_found.err().map(|e| e.extensions.code),
        Some(Code::PersistedQueryNotFound)
    );
    let first = find(&documents, Some(text), Some(sha256(text)), schema).unwrap();
    let by_hash = find(&documents, None, Some(sha256(text)), schema).unwrap();
    let by_text = find(&documents, Some(text), None, schema).unwrap();
    assert!(Arc::ptr_eq(&first, &by_hash) && Arc::ptr_eq(&first, &by_text));
    let mismatch = find(&documents, Some(text), Some(sha256("{ a }")), schema);
    assert_eq!(
        mismatch.err().map(|e| e.extensions.code),
        Some(Code::BadRequest)
    );
    let other = "{ sessions {\n title } }";
    let by_text = find(&documents, Some(other), None, schema).unwrap();
    let by_hash = find(&documents, None, Some(sha256(other)), schema);
    assert!(
        Arc::ptr_eq(&by_text, &by_hash.unwrap()),
        "sent without its hash"
    );
    assert_eq!(documents.len(), 4, "each by its text and by its hash");
}

#[test]
fn a_flood_of_documents_seen_once_keeps_the_hot_ones_and_its_bound() {
    let schema = &Schema::new(true).unwrap();
    // Room for about 40 documents of this size, each kept by its text and
    // by its hash.
    let documents = Documents::new(2 * 40 * 1300);
    let hot = ["{ sessions { id } }", "{ sessions { title } }"];
    let mut kept = Vec::new();
    for text in hot {
        for _ in 0..3 {
            kept.push(find(&documents, Some(text), None, schema).unwrap());
        }
    }
    for n in 0..5_000 {
        let flood = format!("{{ sessions {{ id }} }} # {n}");
        find(&documents, Some(&flood), None, schema).unwrap();
        if n % 50 == 0 {
            for (text, first) in hot.iter().zip([&kept[0], &kept[3]]) {
                let again = find(&documents, Some(text), None, schema).unwrap();
                assert!(
                    Arc::ptr_eq(first, &again),
                    "{text} was prepared again after {n}"
                );
            }
        }
    }
    assert!(documents.len() <= 2 * 60, "{} kept", documents.len());
}

/// The code of each error of `answer`, and whether it has `data`.
fn codes(answer: &str) -> (bool, Vec<String>) {
    let answer: Value = serde_json::from_str(answer).unwrap();
    let errors = answer["errors"].as_array().cloned().unwrap_or_default();
    let codes = errors
        .iter()
        .map(|e| e["extensions"]["code"].as_str().unwrap().to_owned());
    (answer.get("data").is_some(), codes.collect())
}

/// Documents the spec rules on, each as three lines: the document, its
/// variables, and the answer graphql-js gives over the same data, as text
/// (keys in their order). Cases are separated by blank lines; `#` starts a
/// comment. What the differential suite compares is left to it; these are
/// what it does not compare: messages, locations and the order of
/// `__schema.types`.
const CASES: &str = r#"
# An explicit null where only the default allowed one is an error of the
# field (of the operation at the root).
query($s: Int = 3) { session(sessionId: $s) { id } }
{"s": null}
{"data":{"session":null},"errors":[{"message":"sessionId of a non-null type must not be null","locations":[{"line":1,"column":22}],"path":["session"],"extensions":{"code":"BAD_USER_INPUT"}}]}

mutation($u: String = "x") { createLike(input: {uuid: $u, sessionId: 1}) { clientMutationId } }
{"u": null}
{"data":{"createLike":null},"errors":[{"message":"uuid of a non-null type must not be null","locations":[{"line":1,"column":30}],"path":["createLike"],"extensions":{"code":"BAD_USER_INPUT"}}]}

query($c: Boolean = true) { session(sessionId: 1) { id @include(if: $c) } }
{"c": null}
{"data":{"session":null},"errors":[{"message":"the argument \"if\" of @skip and @include must not be null","path":["session"],"extensions":{"code":"BAD_USER_INPUT"}}]}

query($c: Boolean = true) { a: __typename @include(if: $c) }
{"c": null}
{"data":null,"errors":[{"message":"the argument \"if\" of @skip and @include must not be null","extensions":{"code":"BAD_USER_INPUT"}}]}

# Introspection lists the types in graphql-js's order (which the
# differential suite leaves open); Float, which nothing uses, is not listed.
{ __schema { types { name } } }
{}
{"data":{"__schema":{"types":[{"name":"Query"},{"name":"Int"},{"name":"Mutation"},{"name":"Subscription"},{"name":"Session"},{"name":"ID"},{"name":"String"},{"name":"LikeInterval"},{"name":"Like"},{"name":"CreateLikePayload"},{"name":"LikeEvent"},{"name":"CreateLikeInput"},{"name":"Boolean"},{"name":"__Schema"},{"name":"__Type"},{"name":"__TypeKind"},{"name":"__Field"},{"name":"__InputValue"},{"name":"__EnumValue"},{"name":"__Directive"},{"name":"__DirectiveLocation"}]}}}
"#;

#[tokio::test]
async fn every_document_of_the_table_is_answered_as_graphql_js_answers_it() {
    let replica = Replica::start(true).await;
    let cases: Vec<_> = (CASES.split("\n\n"))
        .map(|case| {
            let lines: Vec<&str> = case
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .collect();
            assert_eq!(lines.len(), 3, "a case is three lines: {case}");
            (lines[0], serde_json::from_str(lines[1]).unwrap(), lines[2])
        })
        .collect();
    assert_eq!(cases.len(), 5, "the table was not read");
    for (document, variables, expected) in cases {
        let answer = answer(&replica.endpoint, document, variables).await;
        assert_eq!(answer, expected, "{document}");
    }
}

#[tokio::test]
async fn with_introspection_off_schema_and_type_are_refused_and_typename_is_not() {
    let replica = Replica::start(true).await;
    let endpoint = Endpoint::new(replica.endpoint.services.clone(), false).unwrap();
    let ask = async |query: &str| answer(&endpoint, query, json!({})).await;
    for query in [
        "{ __schema { queryType { name } } }",
        r#"{ ...F } fragment F on Query { __type(name: "Query") { name } }"#,
    ] {
        assert_eq!(
            codes(&ask(query).await),
            (false, vec!["GRAPHQL_VALIDATION_FAILED".into()]),
            "{query}"
        );
    }
    assert_eq!(
        ask("{ __typename }").await,
        r#"{"data":{"__typename":"Query"}}"#
    );
}

#[tokio::test]
async fn subscriptions_share_a_plan_only_with_the_same_document_and_variables() {
    let replica = Replica::start(true).await;
    let plan = |query: &'static str, talk: i32| {
        let endpoint = &replica.endpoint;
        async move {
            let variables = serde_json::value::to_raw_value(&json!({ "s": talk })).unwrap();
            let query = serde_json::value::to_raw_value(query).unwrap();
            let request = Request {
                query: Some(&query),
                variables: Some(&variables),
                ..Request::default()
            };
            let ready = endpoint.ready(&request).ok().unwrap();
            endpoint.subscribe(ready, None, None).ok().unwrap().plan
        }
    };
    let likes = "subscription($s: Int!) { likeAdded(sessionId: $s) { likes total } }";
    let total = "subscription($s: Int!) { likeAdded(sessionId: $s) { total } }";
    let first = plan(likes, 1).await;
    assert!(
        Arc::ptr_eq(&first, &plan(likes, 1).await),
        "another subscriber's"
    );
    assert!(*first != *plan(likes, 2).await, "another talk");
    assert!(*first != *plan(total, 1).await, "another selection");
    let other = plan(likes, 2).await;
    assert!(Arc::ptr_eq(&other, &plan(likes, 2).await));
    drop(other);
    let anew = plan(likes, 2).await;
    assert_eq!(
        Arc::strong_count(&anew),
        1,
        "a plan is kept only by its subscribers"
    );

    let event = LikeEvent {
        session_id: 1,
        likes: 2,
        total: 9,
        watching: 0,
        published: crate::listener::PublishedAt::now(),
    };
    let out = replica.endpoint.write_event(&first, &event);
    assert_eq!(
        serde_json::from_slice::<Value>(&out).unwrap(),
        json!({ "data": { "likeAdded": { "likes": 2, "total": 9 } } })
    );
}
