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
/// refused. Cases are separated by blank lines; `#` starts a comment.
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

# __typename is validated like any other field.
query($no: Boolean!) { a: __typename @include(if: $no) b: __typename }
{"no": false}
{"data":{"b":"Query"}}

{ __typename @nope }
{}
GRAPHQL_VALIDATION_FAILED

{ __typename(x: 1) }
{}
GRAPHQL_VALIDATION_FAILED

{ a: __typename @skip(if: $undefined) b: __typename }
{}
GRAPHQL_VALIDATION_FAILED

# A key is where its first included occurrence is; conditions are per request.
query($no: Boolean!) { a: session(sessionId: 1) @skip(if: $no) { id } b: session(sessionId: 2) { id } a: session(sessionId: 1) { sessionId } }
{"no": true}
{"data":{"b":{"id":"Session:2"},"a":{"sessionId":1}}}

query($no: Boolean!) { a: session(sessionId: 1) @skip(if: $no) { id } b: session(sessionId: 2) { id } a: session(sessionId: 1) { sessionId } }
{"no": false}
{"data":{"a":{"id":"Session:1","sessionId":1},"b":{"id":"Session:2"}}}

query($full: Boolean!, $brief: Boolean!) { session(sessionId: 1) { id title @include(if: $full) ... @skip(if: $brief) { sessionId } ... on Session @include(if: $brief) { id } } }
{"full": true, "brief": false}
{"data":{"session":{"id":"Session:1","title":"Opening keynote: counting things in real time","sessionId":1}}}

query($full: Boolean!, $brief: Boolean!) { session(sessionId: 1) { id title @include(if: $full) ... @skip(if: $brief) { sessionId } ... on Session @include(if: $brief) { id } } }
{"full": false, "brief": true}
{"data":{"session":{"id":"Session:1"}}}

# An object whose fields are all skipped is {}.
{ session(sessionId: 1) { id @skip(if: true) } __schema { queryType @skip(if: true) { name } } }
{}
{"data":{"session":{},"__schema":{}}}

# What breaks a rule of the spec is refused.
{ x: session(sessionId: 1) { a: id } x: session(sessionId: 1) { a: title } }
{}
GRAPHQL_VALIDATION_FAILED

{ session(sessionId: 1) { id } ...F } fragment F on Query { session(sessionId: 2) { id } }
{}
GRAPHQL_VALIDATION_FAILED

{ session(sessionId: 2147483648) { id } }
{}
GRAPHQL_VALIDATION_FAILED

mutation { createLike(input: {uuid: "u", sessionId: 2147483648}) { clientMutationId } }
{}
GRAPHQL_VALIDATION_FAILED

query($s: String!) { session(sessionId: $s) { id } }
{"s": "1"}
GRAPHQL_VALIDATION_FAILED

mutation { createLike(input: {uuid: "u", uuid: "v", sessionId: 1}) { clientMutationId } }
{}
GRAPHQL_VALIDATION_FAILED

subscription { likeAdded(sessionId: 1) { likes } b: likeAdded(sessionId: 2) { likes } }
{}
GRAPHQL_VALIDATION_FAILED

query($s: Int = null) { session(sessionId: $s) { id } }
{}
GRAPHQL_VALIDATION_FAILED

{ ...on } fragment on on Query { sessions { id } }
{}
GRAPHQL_PARSE_FAILED

# Variables are coerced to their types, or the request is refused.
mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }
{"i": null}
BAD_USER_INPUT

mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }
{"i": {"sessionId": 1}}
BAD_USER_INPUT

mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }
{"i": {"uuid": "u", "sessionId": 1, "extra": 1}}
BAD_USER_INPUT

mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }
{"i": {"uuid": "u", "sessionId": 1.5}}
BAD_USER_INPUT

mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }
{"i": {"uuid": 5, "sessionId": 1}}
BAD_USER_INPUT

mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }
{"i": "u"}
BAD_USER_INPUT

mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }
{"i": {"uuid": "u", "sessionId": 1.0, "clientMutationId": "m"}}
{"data":{"createLike":{"clientMutationId":"m"}}}

query($s: Int!) { session(sessionId: $s) { id } }
{"s": 2147483647}
{"data":{"session":null}}

query($s: Int!) { session(sessionId: $s) { id } }
{"s": 2147483648}
BAD_USER_INPUT

query($s: Int!) { session(sessionId: $s) { id } }
{"s": -2147483649}
BAD_USER_INPUT

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

# Literals: -0 is 0, a block string decodes \""".
{ session(sessionId: -0) { id } }
{}
{"data":{"session":null}}

mutation { createLike(input: {uuid: "u", sessionId: 1, clientMutationId: """a\"""b"""}) { clientMutationId } }
{}
{"data":{"createLike":{"clientMutationId":"a\"\"\"b"}}}

# Introspection, __typename on its types included, in graphql-js's order;
# Float, which nothing uses, is not listed.
{ __schema { __typename queryType { __typename name kind } } }
{}
{"data":{"__schema":{"__typename":"__Schema","queryType":{"__typename":"__Type","name":"Query","kind":"OBJECT"}}}}

{ __schema { types { name } } }
{}
{"data":{"__schema":{"types":[{"name":"Query"},{"name":"Int"},{"name":"Mutation"},{"name":"Subscription"},{"name":"Session"},{"name":"ID"},{"name":"String"},{"name":"Like"},{"name":"CreateLikePayload"},{"name":"LikeEvent"},{"name":"CreateLikeInput"},{"name":"Boolean"},{"name":"__Schema"},{"name":"__Type"},{"name":"__TypeKind"},{"name":"__Field"},{"name":"__InputValue"},{"name":"__EnumValue"},{"name":"__Directive"},{"name":"__DirectiveLocation"}]}}}

query($t: String!) { __type(name: $t) { fields { name type { kind ofType { name } } } } }
{"t": "LikeEvent"}
{"data":{"__type":{"fields":[{"name":"sessionId","type":{"kind":"NON_NULL","ofType":{"name":"Int"}}},{"name":"likes","type":{"kind":"NON_NULL","ofType":{"name":"Int"}}},{"name":"total","type":{"kind":"NON_NULL","ofType":{"name":"Int"}}},{"name":"watching","type":{"kind":"NON_NULL","ofType":{"name":"Int"}}},{"name":"publishedAt","type":{"kind":"NON_NULL","ofType":{"name":"String"}}}]}}}

{ __type(name: "Float") { name } }
{}
{"data":{"__type":null}}
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
    assert!(cases.len() > 30, "the table was not read");
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
