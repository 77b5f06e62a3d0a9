//! The direct path against async-graphql: same answers, or none.

use super::*;
use crate::catalogue::Catalogue;
use crate::graphql::{ClientAddress, Documents, Endpoint, LikesSchema, Started, build_schema};
use crate::limits::RateLimits;
use crate::listener::Listener;
use crate::model::ServerId;
use crate::store::{StoreOptions, StoreUrl};
use crate::storer::{FlushSettings, Storer};
use async_graphql::parser::parse_query;
use async_graphql::{BatchResponse, Request, Variables};
use serde_json::json;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The mutation the load benchmarks send.
const LIKE: &str = "mutation($i:CreateLikeInput!){createLike(input:$i){clientMutationId like{id}}}";
/// The front end's mutation (`web/src/likes.js`).
const PAGE: &str = "mutation($input: CreateLikeInput!) {
  createLike(input: $input) { clientMutationId }
}";
const NAMED: &str = "mutation Tap($i: CreateLikeInput!) {
  createLike(input: $i) { __typename like { __typename id } }
}";
const ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Likes one buffer takes before it is full.
const ROOM: usize = 12;

fn plan(document: &str) -> Option<DirectLike> {
    DirectLike::of(&parse_query(document).expect("parses"))
}

/// A replica's services and schema, on a store of their own, buffering
/// up to `ROOM` likes (nothing is flushed), two likes a minute per liker.
pub(super) struct Replica {
    pub(super) services: Services,
    schema: LikesSchema,
    _dir: tempfile::TempDir,
}

impl Replica {
    pub(super) async fn start() -> Self {
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
                max_buffered: ROOM,
                max_buffered_bytes: 1 << 20,
                shutdown_grace: Duration::ZERO,
            },
        );
        let catalogue = Arc::new(Catalogue::sample());
        let services = Services {
            listener: Listener::new(catalogue.ids()),
            catalogue,
            storer,
            store,
            shutdown: CancellationToken::new(),
            rate_limits: Arc::new(RateLimits::new(
                "2/min".parse().unwrap(),
                "off".parse().unwrap(),
            )),
        };
        Self {
            schema: build_schema(services.clone(), false),
            services,
            _dir: dir,
        }
    }
}

fn request(document: &str, variables: serde_json::Value) -> Request {
    Request::new(document).variables(Variables::from_json(variables))
}

/// `replica`'s direct answer to a POSTed body of `document`, already seen,
/// with `variables` and `operation`; `None` if it is left to async-graphql.
fn answer(
    replica: &Replica,
    document: &str,
    variables: serde_json::Value,
    operation: Option<&str>,
) -> Option<Response> {
    let documents = Documents::new(4);
    documents.prepare(&mut Request::new(document));
    let body = json!({"query": document, "variables": variables, "operationName": operation});
    let answer = answer_posted(
        body.to_string().as_bytes(),
        &documents,
        &replica.services,
        Some(ADDRESS),
        10,
    )?;
    match answer {
        BatchResponse::Single(response) => Some(response),
        BatchResponse::Batch(_) => panic!("one operation was posted"),
    }
}

/// Asks `direct` directly and `general` through async-graphql; both
/// answers as JSON. Like ids made from a random id are masked when
/// `random_ids`.
async fn ask(
    direct: &Replica,
    general: &Replica,
    document: &str,
    variables: serde_json::Value,
    random_ids: bool,
) -> (serde_json::Value, serde_json::Value) {
    let answered = answer(direct, document, variables.clone(), None).expect("answered directly");
    let general_answer = general
        .schema
        .execute(request(document, variables).data(ClientAddress(ADDRESS)))
        .await;
    let json = |response: &Response| {
        let text = serde_json::to_string(response).unwrap();
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        if random_ids {
            mask_like_ids(&mut value);
        }
        value
    };
    (json(&answered), json(&general_answer))
}

fn mask_like_ids(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => {
            let id = text.strip_prefix("Like:").map(uuid::Uuid::parse_str);
            if let Some(Ok(_)) = id {
                *text = "Like:<random>".into();
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_like_ids),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(mask_like_ids),
        _ => {}
    }
}

fn code(answer: &serde_json::Value) -> &str {
    answer["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("none")
}

#[test]
fn the_plain_like_mutations_are_answered_directly() {
    for document in [LIKE, PAGE, NAMED] {
        assert!(plan(document).is_some(), "{document}");
    }
}

#[test]
fn any_other_document_is_left_to_async_graphql() {
    for document in [
        "mutation($i:CreateLikeInput!){a:createLike(input:$i){clientMutationId}}",
        "mutation($i:CreateLikeInput!){createLike(input:$i) @skip(if:false) {clientMutationId}}",
        "mutation($i:CreateLikeInput!) @x {createLike(input:$i){clientMutationId}}",
        "mutation($i:CreateLikeInput){createLike(input:$i){clientMutationId}}",
        "mutation($i:CreateLikeInput!={uuid:\"u\",sessionId:1}){createLike(input:$i){clientMutationId}}",
        "mutation($i:CreateLikeInput!,$j:Int){createLike(input:$i){clientMutationId}}",
        "mutation{createLike(input:{uuid:\"u\",sessionId:1}){clientMutationId}}",
        "mutation($i:CreateLikeInput!){createLike(input:$i){clientMutationId like{id session{sessionId}}}}",
        "mutation($i:CreateLikeInput!){createLike(input:$i){clientMutationId clientMutationId}}",
        "mutation($i:CreateLikeInput!){createLike(input:$i){m:clientMutationId}}",
        "mutation($i:CreateLikeInput!){createLike(input:$i){...F}} fragment F on CreateLikePayload{clientMutationId}",
        "mutation($i:CreateLikeInput!){createLike(input:$i){... on CreateLikePayload{clientMutationId}}}",
        "mutation($i:CreateLikeInput!){createLike(input:$i){clientMutationId} b:createLike(input:$i){clientMutationId}}",
        "mutation A($i:CreateLikeInput!){createLike(input:$i){clientMutationId}} mutation B($i:CreateLikeInput!){createLike(input:$i){clientMutationId}}",
        "query($i:CreateLikeInput!){createLike(input:$i){clientMutationId}}",
        "mutation($i:CreateLikeInput!){createLike(input:$i){clientMutationId nope}}",
        "{ sessions { id } }",
    ] {
        assert!(plan(document).is_none(), "{document}");
    }
}

#[tokio::test]
async fn values_that_need_coercing_or_rejecting_are_left_to_async_graphql() {
    let replica = Replica::start().await;
    for (variables, operation) in [
        (json!({"i": {"uuid": "u", "sessionId": "1"}}), None),
        (json!({"i": {"uuid": "u", "sessionId": 1.5}}), None),
        (
            json!({"i": {"uuid": "u", "sessionId": 2_147_483_648_i64}}),
            None,
        ),
        (json!({"i": {"uuid": 7, "sessionId": 1}}), None),
        (json!({"i": {"sessionId": 1}}), None),
        (json!({"i": {"uuid": "u"}}), None),
        (
            json!({"i": {"uuid": "u", "sessionId": 1, "clientMutationId": 3}}),
            None,
        ),
        (
            json!({"i": {"uuid": "u", "sessionId": 1, "extra": true}}),
            None,
        ),
        (json!({"i": null}), None),
        (json!({}), None),
        (json!({"i": {"uuid": "u", "sessionId": 1}}), Some("Tap")),
    ] {
        let answered = answer(&replica, LIKE, variables.clone(), operation);
        assert!(answered.is_none(), "{variables} {operation:?}");
    }
    assert_eq!(replica.services.storer.buffered(), 0, "nothing was taken");

    let variables = json!({"i": {"uuid": "u", "sessionId": 1}});
    assert!(answer(&replica, NAMED, variables, Some("Tap")).is_some());
}

#[tokio::test]
async fn direct_answers_are_the_ones_async_graphql_gives() {
    let (direct, general) = (Replica::start().await, Replica::start().await);
    let too_long = "m".repeat(crate::model::MAX_CLIENT_MUTATION_ID_BYTES + 1);
    let mut codes = Vec::new();
    let steps = [
        (
            LIKE,
            json!({"i": {"uuid": "a", "sessionId": 1, "clientMutationId": "m1"}}),
            false,
        ),
        (
            PAGE,
            json!({"input": {"uuid": "a", "sessionId": 2, "clientMutationId": "m2"}}),
            false,
        ),
        // A retry: the same like again.
        (
            PAGE,
            json!({"input": {"uuid": "b", "sessionId": 2, "clientMutationId": "m2"}}),
            false,
        ),
        (
            PAGE,
            json!({"input": {"uuid": "b", "sessionId": 2, "clientMutationId": "m2"}}),
            false,
        ),
        (
            LIKE,
            json!({"i": {"uuid": "c", "sessionId": 3, "clientMutationId": null}}),
            true,
        ),
        (NAMED, json!({"i": {"sessionId": 3, "uuid": "d"}}), true),
        (LIKE, json!({"i": {"uuid": "", "sessionId": 1}}), true),
        (LIKE, json!({"i": {"uuid": "e\n", "sessionId": 1}}), true),
        (
            LIKE,
            json!({"i": {"uuid": "e", "sessionId": 1, "clientMutationId": too_long}}),
            true,
        ),
        (
            PAGE,
            json!({"input": {"uuid": "e", "sessionId": 999_999}}),
            true,
        ),
        // Over the liker's rate.
        (LIKE, json!({"i": {"uuid": "a", "sessionId": 1}}), true),
    ];
    for (document, variables, random_ids) in steps {
        let (answered, expected) =
            ask(&direct, &general, document, variables.clone(), random_ids).await;
        assert_eq!(answered, expected, "{document} {variables}");
        codes.push(code(&answered).to_owned());
    }
    // Until the buffer is full.
    for n in 0.. {
        let variables = json!({"i": {"uuid": format!("f{n}"), "sessionId": 4}});
        let (answered, expected) = ask(&direct, &general, LIKE, variables, true).await;
        assert_eq!(answered, expected);
        if answered["errors"].is_array() {
            codes.push(code(&answered).to_owned());
            break;
        }
        assert!(n < ROOM, "the buffer never filled");
    }
    for replica in [&direct, &general] {
        replica
            .services
            .storer
            .close_and_drain(Duration::ZERO)
            .await;
    }
    let variables = json!({"i": {"uuid": "g", "sessionId": 4}});
    let (answered, expected) = ask(&direct, &general, LIKE, variables, true).await;
    assert_eq!(answered, expected);
    assert!(
        answered["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("shutting down")
    );
    codes.push(code(&answered).to_owned());

    assert_eq!(
        codes,
        [
            "none",
            "none",
            "none",
            "none",
            "none",
            "none",
            "BAD_USER_INPUT",
            "BAD_USER_INPUT",
            "BAD_USER_INPUT",
            "NOT_FOUND",
            "RATE_LIMITED",
            "UNAVAILABLE",
            "UNAVAILABLE",
        ],
        "every outcome was compared"
    );
}

#[tokio::test]
async fn the_body_reader_and_the_websocket_take_the_inputs_async_graphql_takes_as_they_are() {
    let (direct, general) = (Replica::start().await, Replica::start().await);
    let websocket = Endpoint::new(Replica::start().await.services, false, 8);
    // Without an input, a plain document is left to async-graphql.
    let first = websocket.start_direct(&mut request(LIKE, json!({})), ClientAddress(ADDRESS));
    assert!(first.is_none());
    let samples = [
        json!({"uuid": "u", "sessionId": 1}),
        json!({"uuid": "u\u{e9}\n\"", "sessionId": -3, "clientMutationId": "m"}),
        json!({"sessionId": 2_147_483_647, "clientMutationId": null, "uuid": ""}),
        json!({"uuid": "u", "sessionId": 2_147_483_648_i64}),
        json!({"uuid": "u", "sessionId": -2_147_483_649_i64}),
        json!({"uuid": "u", "sessionId": 1.0}),
        json!({"uuid": "u", "sessionId": "1"}),
        json!({"uuid": null, "sessionId": 1}),
        json!({"uuid": 5, "sessionId": 1}),
        json!({"uuid": "u"}),
        json!({"sessionId": 1}),
        json!({"uuid": "u", "sessionId": 1, "clientMutationId": 2}),
        json!({"uuid": "u", "sessionId": 1, "clientMutationId": ["m"]}),
        json!({"uuid": "u", "sessionId": 1, "other": 1}),
        json!(null),
        json!([]),
        json!("text"),
    ];
    let mut taken = 0;
    for sample in samples {
        let variables = json!({"i": sample, "unused": 1});
        let expected = general
            .schema
            .execute(request(LIKE, variables.clone()).data(ClientAddress(ADDRESS)))
            .await;
        let mut expected = serde_json::to_value(&expected).unwrap();
        let over_websocket = websocket
            .start_direct(
                &mut request(LIKE, variables.clone()),
                ClientAddress(ADDRESS),
            )
            .map(|started| match started {
                Started::Answered(response) => serde_json::to_value(&response).unwrap(),
                Started::Subscribed(_) => panic!("a mutation subscribed"),
            });
        match answer(&direct, LIKE, variables, None) {
            Some(answered) => {
                let mut answered = serde_json::to_value(&answered).unwrap();
                mask_like_ids(&mut answered);
                mask_like_ids(&mut expected);
                assert_eq!(answered, expected, "{sample}");
                let mut over_websocket = over_websocket.expect("taken over a WebSocket too");
                mask_like_ids(&mut over_websocket);
                assert_eq!(over_websocket, expected, "{sample}");
                taken += 1;
            }
            None => {
                assert!(expected["errors"].is_array(), "{sample}: {expected}");
                assert_eq!(over_websocket, None, "{sample}");
            }
        }
    }
    assert_eq!(taken, 3, "the three inputs that need no coercion");
    for variables in [json!(null), json!({"j": {"uuid": "u", "sessionId": 1}})] {
        assert!(
            answer(&direct, LIKE, variables.clone(), None).is_none(),
            "{variables}"
        );
    }
}

#[tokio::test]
async fn posted_bodies_of_plain_likes_get_the_answers_async_graphql_gives() {
    let (direct, general) = (Replica::start().await, Replica::start().await);
    let documents = Documents::new(8);
    let body = |document: &str, variables: serde_json::Value| {
        json!({"query": document, "variables": variables}).to_string()
    };
    let first = body(LIKE, json!({"i": {"uuid": "a", "sessionId": 1}}));
    assert!(
        answer_posted(first.as_bytes(), &documents, &direct.services, None, 10).is_none(),
        "a document not seen yet goes the general way"
    );
    documents.prepare(&mut Request::new(LIKE));
    documents.prepare(&mut Request::new(PAGE));
    documents.prepare(&mut Request::new("{ sessions { id } }"));

    let like = |uuid: &str, mutation: &str| json!({"i": {"uuid": uuid, "sessionId": 2, "clientMutationId": mutation}});
    let page = json!({"input": {"uuid": "b", "sessionId": 3, "clientMutationId": "p"}});
    let single = body(LIKE, like("a", "m1"));
    let batch = format!(
        " [{}, {}, {}]",
        body(LIKE, like("a", "m2")),
        body(PAGE, page.clone()),
        body(LIKE, json!({"i": {"uuid": "", "sessionId": 2}}))
    );
    let asked = [
        (single, vec![(LIKE, like("a", "m1"))]),
        (
            batch,
            vec![
                (LIKE, like("a", "m2")),
                (PAGE, page),
                (LIKE, json!({"i": {"uuid": "", "sessionId": 2}})),
            ],
        ),
    ];
    for (text, operations) in asked {
        let answered = answer_posted(
            text.as_bytes(),
            &documents,
            &direct.services,
            Some(ADDRESS),
            10,
        )
        .expect("answered directly");
        let mut expected = Vec::new();
        for (document, variables) in operations {
            let request = request(document, variables).data(ClientAddress(ADDRESS));
            expected.push(general.schema.execute(request).await);
        }
        let expected = if text.starts_with(' ') {
            BatchResponse::Batch(expected)
        } else {
            BatchResponse::Single(expected.pop().unwrap())
        };
        assert_eq!(
            serde_json::to_value(&answered).unwrap(),
            serde_json::to_value(&expected).unwrap(),
            "{text}"
        );
    }

    let before = direct.services.storer.buffered();
    let like_body = body(LIKE, like("c", "m3"));
    for text in [
        format!("[{like_body}, {}]", body("{ sessions { id } }", json!({}))),
        format!("[{}]", [like_body.as_str(); 11].join(",")),
        "[]".to_owned(),
        json!({"query": LIKE, "operationName": "Other", "variables": like("c", "m3")}).to_string(),
        format!("{like_body} trailing"),
        "{\"query\": 1}".to_owned(),
    ] {
        let answered = answer_posted(
            text.as_bytes(),
            &documents,
            &direct.services,
            Some(ADDRESS),
            10,
        );
        assert!(answered.is_none(), "{text}");
    }
    assert_eq!(
        direct.services.storer.buffered(),
        before,
        "nothing was taken"
    );
}
