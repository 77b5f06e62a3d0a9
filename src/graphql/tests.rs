//! The engine's rules, through `Endpoint` as the transports use it:
//! every document shape of a like, null propagation, variable coercion,
//! conditions, operation names, and the prepared documents' cache.

use super::*;
use crate::catalogue::Catalogue;
use crate::limits::RateLimits;
use crate::listener::Listener;
use crate::model::{ServerId, TalkId};
use crate::store::SlotCount;
use crate::store::{StoreOptions, StoreUrl};
use crate::storer::{FlushSettings, Storer};
use crate::timeline::Timelines;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// An endpoint on a store of its own (nothing is flushed), with the
/// sample catalogue's totals published unless `unread`, and then talk 2's
/// timeline: 4 likes in its slot of 14:14:00 UTC, 3 in that of 14:15:10.
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
        let timelines = Timelines::new(catalogue.ids());
        if published {
            for talk in catalogue.ids() {
                listener.publish(talk, 7, 0);
            }
            let slot = |start, likes| SlotCount {
                talk: TalkId(2),
                start,
                likes,
            };
            let slots = [slot(MINUTE, 4), slot(MINUTE + 70, 3)];
            timelines.apply_whole(
                &catalogue.ids().collect::<Vec<_>>(),
                &slots,
                &HashMap::new(),
            );
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

    /// Runs `query` with `variables` (and `operation`), as JSON.
    async fn ask(&self, query: &str, variables: Value, operation: Option<&str>) -> Value {
        serde_json::from_str(&self.raw(query, variables, operation).await).unwrap()
    }

    /// The answer's text, keys in the order written.
    async fn raw(&self, query: &str, variables: Value, operation: Option<&str>) -> String {
        let variables = serde_json::value::to_raw_value(&variables).unwrap();
        let request = Request {
            query: Some(query.into()),
            operation_name: operation.map(Into::into),
            variables: Some(&variables),
            extensions: None,
        };
        let response = match self.endpoint.ready(&request) {
            Ok(ready) => self.endpoint.run(&ready, None).await,
            Err(refused) => refused,
        };
        String::from_utf8(response.body).unwrap()
    }
}

/// 14:14:00 UTC on 2026-09-21 (Unix time), a whole minute.
const MINUTE: i64 = 1_790_000_040;

/// `answer` with every like's id, random for a like without a
/// `clientMutationId`, written `Like:*`.
fn masked(answer: String) -> String {
    let mut parts = answer.split("\"Like:");
    let first = parts.next().unwrap_or_default().to_owned();
    parts.fold(first, |out, rest| format!("{out}\"Like:*{}", &rest[36..]))
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
            "OPERATION_RESOLUTION_FAILURE"
        );
    }
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
    let schema = &replica.endpoint.schema;
    let documents = Documents::new(1 << 20);
    let text = "{ sessions { id } }";
    let not_found = documents.get(&asked(None, Some(sha256(text))), schema);
    assert_eq!(
        not_found.err().map(|e| e.extensions.code),
        Some(Code::PersistedQueryNotFound)
    );
    let first = documents
        .get(&asked(Some(text), Some(sha256(text))), schema)
        .unwrap();
    let by_hash = documents
        .get(&asked(None, Some(sha256(text))), schema)
        .unwrap();
    let by_text = documents.get(&asked(Some(text), None), schema).unwrap();
    assert!(Arc::ptr_eq(&first, &by_hash) && Arc::ptr_eq(&first, &by_text));
    let mismatch = documents.get(&asked(Some(text), Some(sha256("{ a }"))), schema);
    assert_eq!(
        mismatch.err().map(|e| e.extensions.code),
        Some(Code::BadRequest)
    );
    assert_eq!(documents.len(), 1);
}

#[tokio::test]
async fn a_flood_of_documents_seen_once_keeps_the_hot_ones_and_its_bound() {
    let replica = Replica::start().await;
    let schema = &replica.endpoint.schema;
    // Room for about 40 documents of this size.
    let documents = Documents::new(40 * 1300);
    let hot = ["{ sessions { id } }", "{ sessions { title } }"];
    let mut kept = Vec::new();
    for text in hot {
        for _ in 0..3 {
            kept.push(documents.get(&asked(Some(text), None), schema).unwrap());
        }
    }
    for n in 0..5_000 {
        let flood = format!("{{ sessions {{ id }} }} # {n}");
        documents.get(&asked(Some(&flood), None), schema).unwrap();
        if n % 50 == 0 {
            for (text, first) in hot.iter().zip([&kept[0], &kept[3]]) {
                let again = documents.get(&asked(Some(text), None), schema).unwrap();
                assert!(
                    Arc::ptr_eq(first, &again),
                    "{text} was prepared again after {n}"
                );
            }
        }
    }
    assert!(documents.len() <= 60, "{} kept", documents.len());
}

#[tokio::test]
async fn a_timeline_is_cut_by_its_argument_its_variable_or_its_default() {
    let replica = Replica::start().await;
    let by_minute = json!([
        { "start": "2026-09-21T14:14:00Z", "likes": 4 },
        { "start": "2026-09-21T14:15:00Z", "likes": 3 },
    ]);
    let timeline = |answer: Value| answer["data"]["session"]["timeline"].clone();
    let query = "{ session(sessionId: 2) { timeline { start likes } } }";
    assert_eq!(
        timeline(replica.ask(query, json!({}), None).await),
        by_minute
    );
    let query =
        "query($every: Int) { session(sessionId: 2) { timeline(every: $every) { likes } } }";
    let answer = replica.ask(query, json!({}), None).await;
    assert_eq!(
        timeline(answer),
        json!([{ "likes": 4 }, { "likes": 3 }]),
        "an absent variable leaves the default"
    );
    let answer = replica.ask(query, json!({ "every": 30 }), None).await;
    assert_eq!(
        timeline(answer),
        json!([{ "likes": 4 }, { "likes": 0 }, { "likes": 3 }])
    );
    let query = "{ session(sessionId: 2) { t: timeline(every: 3600) { start likes } } }";
    let answer = replica.ask(query, json!({}), None).await;
    assert_eq!(
        answer["data"]["session"]["t"],
        json!([{ "start": "2026-09-21T14:00:00Z", "likes": 7 }])
    );
    let query = "{ session(sessionId: 1) { timeline { start } } }";
    assert_eq!(
        timeline(replica.ask(query, json!({}), None).await),
        json!([])
    );
}

#[tokio::test]
async fn an_interval_length_that_is_not_one_is_bad_user_input() {
    let replica = Replica::start().await;
    let query = "query($every: Int) { sessions { timeline(every: $every) { likes } } }";
    for every in [json!(0), json!(45), json!(7200), json!(-60), Value::Null] {
        let answer = replica.ask(query, json!({ "every": every }), None).await;
        assert_eq!(answer["data"], Value::Null, "{every}: {answer}");
        let error = &answer["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{every}: {answer}"
        );
        assert!(
            error["message"].as_str().unwrap().contains("every must be"),
            "{answer}"
        );
        assert_eq!(error["path"], json!(["sessions", 0, "timeline"]));
    }
    let unread = Replica::with_totals(false).await;
    let answer = unread
        .ask(
            "{ session(sessionId: 2) { timeline { likes } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAVAILABLE");
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
/// (keys in their order), or the code of every error of a request that is
/// refused. Cases are separated by blank lines; `#` starts a comment. What
/// the differential suite (`tests/api/differential.rs`) compares is left to
/// it; these are what it does not compare: messages, locations and the
/// order of `__schema.types`.
const CASES: &str = r#"
# Every shape of a like, in its own words: the README's, an inline input,
# Apollo's, fragments and aliases, a literal input with two likes merged.
mutation($input: CreateLikeInput!) { createLike(input: $input) { clientMutationId like { id session { sessionId liked } } } }
{"input": {"uuid": "u", "sessionId": 2, "clientMutationId": "m"}}
{"data":{"createLike":{"clientMutationId":"m","like":{"id":"Like:*","session":{"sessionId":2,"liked":7}}}}}

mutation LikeSession($randomId: String!, $sessionId: Int!) { createLike(input: {uuid: $randomId, sessionId: $sessionId}) { clientMutationId like { id session { id liked } } } }
{"randomId": "u", "sessionId": 2}
{"data":{"createLike":{"clientMutationId":null,"like":{"id":"Like:*","session":{"id":"Session:2","liked":7}}}}}

mutation Like($input: CreateLikeInput!) { createLike(input: $input) { clientMutationId like { id session { sessionId liked __typename } __typename } __typename } }
{"input": {"uuid": "u", "sessionId": 2, "clientMutationId": "m"}}
{"data":{"createLike":{"clientMutationId":"m","like":{"id":"Like:*","session":{"sessionId":2,"liked":7,"__typename":"Session"},"__typename":"Like"},"__typename":"CreateLikePayload"}}}

mutation($i: CreateLikeInput!) { tap: createLike(input: $i) { ...Tap } } fragment Tap on CreateLikePayload { echo: clientMutationId like { ... on Like { id } talk: session { n: sessionId } } }
{"i": {"uuid": "u", "sessionId": 2, "clientMutationId": "m"}}
{"data":{"tap":{"echo":"m","like":{"id":"Like:*","talk":{"n":2}}}}}

mutation { a: createLike(input: {uuid: "u", sessionId: 1}) { like { id } like { session { sessionId } } clientMutationId @skip(if: true) } }
{}
{"data":{"a":{"like":{"id":"Like:*","session":{"sessionId":1}}}}}

# A default fills in for an absent variable; an explicit null where only the
# default allowed one is an error of the field (of the operation at the root).
query($s: Int = 3) { session(sessionId: $s) { id } }
{}
{"data":{"session":{"id":"Session:3"}}}

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
    let replica = Replica::start().await;
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
    assert!(cases.len() > 10, "the table was not read");
    for (document, variables, expected) in cases {
        let answer = masked(replica.raw(document, variables, None).await);
        match expected.starts_with('{') {
            true => assert_eq!(answer, expected, "{document}"),
            false => {
                let (data, codes) = codes(&answer);
                let refused = !data && !codes.is_empty() && codes.iter().all(|c| c == expected);
                assert!(refused, "{document}: {answer}");
            }
        }
    }
}

#[tokio::test]
async fn with_introspection_off_schema_and_type_are_refused_and_typename_is_not() {
    let replica = Replica::start().await;
    let endpoint = Endpoint::new(replica.endpoint.services.clone(), false).unwrap();
    let ask = async |query: &str| {
        let request = Request {
            query: Some(query.into()),
            ..Request::default()
        };
        match endpoint.ready(&request) {
            Ok(ready) => String::from_utf8(endpoint.run(&ready, None).await.body).unwrap(),
            Err(refused) => String::from_utf8(refused.body).unwrap(),
        }
    };
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
async fn a_subscription_may_select_its_one_root_field_twice_under_one_key() {
    let replica = Replica::start().await;
    let ready = |query: &str| {
        let request = Request {
            query: Some(query.into()),
            ..Request::default()
        };
        replica
            .endpoint
            .ready(&request)
            .map(|_| ())
            .map_err(|refused| codes(std::str::from_utf8(&refused.body).unwrap()))
    };
    let merged = "subscription { ...R likeAdded(sessionId: 1, since: 0) { likes } } fragment R on Subscription { likeAdded(sessionId: 1, since: 0) { total } }";
    assert_eq!(ready(merged), Ok(()));
    let two = "subscription { likeAdded(sessionId: 1) { likes } ...R } fragment R on Subscription { b: likeAdded(sessionId: 1) { total } }";
    assert_eq!(
        ready(two),
        Err((false, vec!["GRAPHQL_VALIDATION_FAILED".into()]))
    );
}

#[tokio::test]
async fn subscriptions_plan_alike_only_with_the_same_document_and_variables() {
    let replica = Replica::start().await;
    let plan = |query: &'static str, talk: i32| {
        let endpoint = &replica.endpoint;
        async move {
            let variables = serde_json::value::to_raw_value(&json!({ "s": talk })).unwrap();
            let request = Request {
                query: Some(query.into()),
                operation_name: None,
                variables: Some(&variables),
                extensions: None,
            };
            let ready = endpoint.ready(&request).ok().unwrap();
            endpoint.subscribe(ready, None, None).ok().unwrap().plan
        }
    };
    let likes = "subscription($s: Int!) { likeAdded(sessionId: $s) { likes total } }";
    let total = "subscription($s: Int!) { likeAdded(sessionId: $s) { total } }";
    let first = plan(likes, 1).await;
    assert!(*first == *plan(likes, 1).await, "another subscriber's");
    assert!(*first != *plan(likes, 2).await, "another talk");
    assert!(*first != *plan(total, 1).await, "another selection");

    let event = LikeEvent {
        session_id: 1,
        likes: 2,
        total: 9,
        watching: 0,
        published: crate::listener::PublishedAt::now(),
    };
    let mut out = Vec::new();
    replica.endpoint.write_event(&first, &event, &mut out);
    assert_eq!(
        serde_json::from_slice::<Value>(&out).unwrap(),
        json!({ "data": { "likeAdded": { "likes": 2, "total": 9 } } })
    );
}
