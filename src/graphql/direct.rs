//! `createLike` answered without the general executor. Every tap on every
//! page sends the same small mutation, so for a document of exactly that
//! shape the answer is built straight from the request's variables: no
//! validation pass, no resolver futures, no per-request maps. A POSTed body
//! of such operations is read straight into the few fields they need
//! (`answer_posted`); a request async-graphql has already read gets the same
//! answer (`DirectLike::answer`). It halves the CPU a like costs.
//!
//! The shape: one mutation (anonymous, or the document's only named one),
//! no fragments and no directives, a single variable `$v: CreateLikeInput!`,
//! and `createLike(input: $v)` selecting only `clientMutationId`,
//! `__typename` and `like { id __typename }`, each at most once and without
//! aliases or arguments. The front end's mutation is one of these.
//!
//! Anything else goes through async-graphql as before: another document,
//! an operation name the document does not have, or an input value the
//! schema would have to coerce or reject (a missing field, a wrong type,
//! a number out of range). So async-graphql still owns every parse,
//! validation and coercion error. Checks done by `createLike` itself (the
//! input's sizes, the talk, the like rates, the buffer) are shared with its
//! resolver (`schema::create_like`) and reported the way async-graphql
//! reports a resolver's error. The tests below hold the two paths to the
//! same answers.

use super::schema::{CreateLikeInput, CreateLikePayload, create_like};
use super::{Documents, Services};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType,
    Selection, SelectionSet,
};
use async_graphql::{BatchResponse, PathSegment, Variables};
use async_graphql::{Name, Pos, Positioned, Request, Response, Value};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

/// The mutation field this path answers.
const FIELD: &str = "createLike";

/// How to answer one document directly, worked out once per document.
#[derive(Debug)]
pub struct DirectLike {
    /// The operation's name, when the document names it.
    operation: Option<String>,
    /// The variable holding the input.
    variable: Name,
    /// Where `createLike` is in the document, for errors.
    position: Pos,
    /// The payload's fields, in the document's order.
    payload: Vec<(Name, PayloadField)>,
}

#[derive(Debug)]
enum PayloadField {
    ClientMutationId,
    Typename,
    Like(Vec<(Name, LikeField)>),
}

#[derive(Debug)]
enum LikeField {
    Id,
    Typename,
}

impl DirectLike {
    /// The plan for `document`, if it has the shape this path answers.
    pub fn of(document: &ExecutableDocument) -> Option<Self> {
        if !document.fragments.is_empty() {
            return None;
        }
        let (operation, definition) = match &document.operations {
            DocumentOperations::Single(definition) => (None, &definition.node),
            DocumentOperations::Multiple(named) if named.len() == 1 => {
                let (name, definition) = named.iter().next()?;
                (Some(name.to_string()), &definition.node)
            }
            DocumentOperations::Multiple(_) => return None,
        };
        let (variable, field) = like_field(definition)?;
        let payload = selected(&field.node.selection_set.node, |name, field| {
            match (name, field.selection_set.node.items.is_empty()) {
                ("clientMutationId", true) => Some(PayloadField::ClientMutationId),
                ("__typename", true) => Some(PayloadField::Typename),
                ("like", false) => {
                    let like = selected(&field.selection_set.node, |name, field| {
                        match (name, field.selection_set.node.items.is_empty()) {
                            ("id", true) => Some(LikeField::Id),
                            ("__typename", true) => Some(LikeField::Typename),
                            _ => None,
                        }
                    })?;
                    Some(PayloadField::Like(like))
                }
                _ => None,
            }
        })?;
        Some(Self {
            operation,
            variable,
            position: field.pos,
            payload,
        })
    }

    /// The answer to `request`, whose document this plan was made from; or
    /// `None` when async-graphql must answer it (nothing has happened yet).
    pub fn answer(
        &self,
        request: &Request,
        services: &Services,
        address: Option<IpAddr>,
    ) -> Option<Response> {
        if !self.runs(request.operation_name.as_deref()) {
            return None;
        }
        let input = self.input(&request.variables)?;
        Some(self.respond(input, services, address))
    }

    /// Whether a request naming `operation` (or none) runs this document's
    /// mutation; otherwise async-graphql reports the unknown name.
    fn runs(&self, operation: Option<&str>) -> bool {
        operation.is_none() || operation == self.operation.as_deref()
    }

    fn respond(
        &self,
        input: CreateLikeInput,
        services: &Services,
        address: Option<IpAddr>,
    ) -> Response {
        match create_like(services, input, address) {
            Ok(payload) => {
                let mut data = IndexMap::with_capacity(1);
                data.insert(Name::new(FIELD), self.payload(&payload));
                Response::new(Value::Object(data))
            }
            Err(error) => {
                // As async-graphql answers a failed mutation field: no data at all.
                let mut error = async_graphql::Error::from(error).into_server_error(self.position);
                error.path = vec![PathSegment::Field(FIELD.into())];
                Response::from_errors(vec![error])
            }
        }
    }

    /// `posted`'s input, read straight from its JSON under the same rules
    /// as `input`.
    fn posted_input(&self, posted: &Posted<'_>) -> Option<CreateLikeInput> {
        let variables: HashMap<Cow<'_, str>, &RawValue> =
            serde_json::from_str(posted.variables?.get()).ok()?;
        let input: PostedInput<'_> =
            serde_json::from_str(variables.get(self.variable.as_str())?.get()).ok()?;
        Some(CreateLikeInput {
            client_mutation_id: input.client_mutation_id.map(Cow::into_owned),
            uuid: input.uuid.into_owned(),
            session_id: input.session_id,
        })
    }

    /// The input, when its value needs no coercion the schema would do:
    /// an object with a string `uuid`, an `Int` `sessionId` and a string or
    /// null `clientMutationId`, and nothing else.
    fn input(&self, variables: &Variables) -> Option<CreateLikeInput> {
        let Value::Object(fields) = variables.get(&self.variable)? else {
            return None;
        };
        let (mut uuid, mut session_id, mut client_mutation_id) = (None, None, None);
        for (name, value) in fields {
            match (name.as_str(), value) {
                ("uuid", Value::String(text)) => uuid = Some(text.clone()),
                ("sessionId", Value::Number(number)) => {
                    session_id = Some(i32::try_from(number.as_i64()?).ok()?);
                }
                ("clientMutationId", Value::String(text)) => {
                    client_mutation_id = Some(text.clone());
                }
                ("clientMutationId", Value::Null) => {}
                _ => return None,
            }
        }
        Some(CreateLikeInput {
            client_mutation_id,
            uuid: uuid?,
            session_id: session_id?,
        })
    }

    fn payload(&self, payload: &CreateLikePayload) -> Value {
        let fields = self.payload.iter().map(|(name, field)| {
            let value = match field {
                PayloadField::ClientMutationId => payload
                    .client_mutation_id
                    .clone()
                    .map_or(Value::Null, Value::String),
                PayloadField::Typename => Value::String("CreateLikePayload".into()),
                PayloadField::Like(like) => Value::Object(
                    like.iter()
                        .map(|(name, field)| {
                            let value = match field {
                                LikeField::Id => Value::String(payload.like.relay_id()),
                                LikeField::Typename => Value::String("Like".into()),
                            };
                            (name.clone(), value)
                        })
                        .collect(),
                ),
            };
            (name.clone(), value)
        });
        Value::Object(fields.collect())
    }
}

/// A POSTed operation, read only as far as the direct path needs: other
/// members (`extensions`) are ignored, as async-graphql ignores them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Posted<'a> {
    #[serde(borrow)]
    query: Cow<'a, str>,
    #[serde(borrow, default)]
    operation_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    variables: Option<&'a RawValue>,
}

/// `CreateLikeInput` as JSON that needs no coercion: anything else (a
/// missing or unknown field, a number that is not an `Int`, a `null`
/// uuid) fails to read here and is left to async-graphql.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PostedInput<'a> {
    #[serde(borrow)]
    uuid: Cow<'a, str>,
    session_id: i32,
    #[serde(borrow, default)]
    client_mutation_id: Option<Cow<'a, str>>,
}

/// Answers a POSTed body, one operation or a batch of 1 to `max_batch`,
/// when every operation in it is a plain like with a plan in `documents`
/// and an input that reads as is; `None` otherwise, before anything has
/// happened. Reading the JSON straight into these few fields skips
/// building async-graphql's request (its maps and names) for every tap.
pub(super) fn answer_posted(
    body: &[u8],
    documents: &Documents,
    services: &Services,
    address: Option<IpAddr>,
    max_batch: usize,
) -> Option<BatchResponse> {
    let plan = |posted: &Posted<'_>| {
        let direct = documents.direct(&posted.query)?;
        if !direct.runs(posted.operation_name.as_deref()) {
            return None;
        }
        let input = direct.posted_input(posted)?;
        Some((direct, input))
    };
    if body.trim_ascii_start().starts_with(b"[") {
        let batch: Vec<Posted<'_>> = serde_json::from_slice(body).ok()?;
        if !(1..=max_batch).contains(&batch.len()) {
            return None;
        }
        let planned = batch.iter().map(plan).collect::<Option<Vec<_>>>()?;
        let answers = planned
            .into_iter()
            .map(|(direct, input)| direct.respond(input, services, address))
            .collect();
        Some(BatchResponse::Batch(answers))
    } else {
        let posted: Posted<'_> = serde_json::from_slice(body).ok()?;
        let (direct, input) = plan(&posted)?;
        Some(BatchResponse::Single(
            direct.respond(input, services, address),
        ))
    }
}

/// The variable and the `createLike` field of a mutation that is nothing
/// but `createLike(input: $v)` with `$v: CreateLikeInput!`.
fn like_field(definition: &OperationDefinition) -> Option<(Name, &Positioned<Field>)> {
    if definition.ty != OperationType::Mutation || !definition.directives.is_empty() {
        return None;
    }
    let [declared] = definition.variable_definitions.as_slice() else {
        return None;
    };
    let declared = &declared.node;
    let is_input =
        matches!(&declared.var_type.node.base, BaseType::Named(name) if name == "CreateLikeInput");
    if !is_input
        || declared.var_type.node.nullable
        || declared.default_value.is_some()
        || !declared.directives.is_empty()
    {
        return None;
    }
    let [item] = definition.selection_set.node.items.as_slice() else {
        return None;
    };
    let Selection::Field(field) = &item.node else {
        return None;
    };
    let [(argument, value)] = field.node.arguments.as_slice() else {
        return None;
    };
    // The parser's non-constant value type is not re-exported; a variable
    // prints as `$name`.
    let passes_the_variable = value.node.to_string() == format!("${}", declared.name.node);
    (plain(&field.node, FIELD) && argument.node == "input" && passes_the_variable)
        .then(|| (declared.name.node.clone(), field))
}

/// A field with this name, no alias, no directives and no arguments
/// (`createLike`'s one argument is checked by its caller).
fn plain(field: &Field, name: &str) -> bool {
    field.alias.is_none() && field.directives.is_empty() && field.name.node == name
}

/// Each field of `set`, as `kind` sees it; `None` if any is not a plain
/// field `kind` knows, or comes twice.
fn selected<T>(
    set: &SelectionSet,
    kind: impl Fn(&str, &Field) -> Option<T>,
) -> Option<Vec<(Name, T)>> {
    let mut fields: Vec<(Name, T)> = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field = &field.node;
        let name = &field.name.node;
        if !plain(field, name)
            || !field.arguments.is_empty()
            || fields.iter().any(|(seen, _)| seen == name)
        {
            return None;
        }
        fields.push((name.clone(), kind(name, field)?));
    }
    (!fields.is_empty()).then_some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::graphql::{ClientAddress, LikesSchema, build_schema};
    use crate::limits::RateLimits;
    use crate::listener::Listener;
    use crate::model::ServerId;
    use crate::store::{StoreOptions, StoreUrl};
    use crate::storer::{FlushSettings, Storer};
    use async_graphql::parser::parse_query;
    use serde_json::json;
    use std::net::Ipv4Addr;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    /// The mutation the load benchmarks send.
    const LIKE: &str =
        "mutation($i:CreateLikeInput!){createLike(input:$i){clientMutationId like{id}}}";
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
    struct Replica {
        services: Services,
        schema: LikesSchema,
        _dir: tempfile::TempDir,
    }

    impl Replica {
        async fn start() -> Self {
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
        let asked = request(document, variables.clone());
        let answered = plan(document)
            .expect("a direct document")
            .answer(&asked, &direct.services, Some(ADDRESS))
            .expect("answered directly");
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
        let direct = plan(LIKE).unwrap();
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
            let mut asked = request(LIKE, variables.clone());
            asked.operation_name = operation.map(str::to_owned);
            let answer = direct.answer(&asked, &replica.services, Some(ADDRESS));
            assert!(answer.is_none(), "{variables} {operation:?}");
        }
        assert_eq!(replica.services.storer.buffered(), 0, "nothing was taken");

        let named = plan(NAMED).unwrap();
        let mut asked = request(NAMED, json!({"i": {"uuid": "u", "sessionId": 1}}));
        asked.operation_name = Some("Tap".into());
        assert!(named.answer(&asked, &replica.services, None).is_some());
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

    /// What an input reads as, for comparing the two readers.
    fn read(input: Option<CreateLikeInput>) -> Option<(String, i32, Option<String>)> {
        input.map(|i| (i.uuid, i.session_id, i.client_mutation_id))
    }

    #[test]
    fn inputs_read_from_the_body_are_the_ones_read_from_parsed_variables() {
        let direct = plan(LIKE).unwrap();
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
        for sample in samples {
            let variables = json!({"i": sample, "unused": 1});
            let parsed = read(direct.input(&Variables::from_json(variables.clone())));
            let text = json!({"query": LIKE, "variables": variables}).to_string();
            let posted: Posted<'_> = serde_json::from_str(&text).unwrap();
            assert_eq!(read(direct.posted_input(&posted)), parsed, "{sample}");
        }
        for text in [
            json!({"query": LIKE}).to_string(),
            json!({"query": LIKE, "variables": null}).to_string(),
            json!({"query": LIKE, "variables": {"j": {"uuid": "u", "sessionId": 1}}}).to_string(),
        ] {
            let posted: Posted<'_> = serde_json::from_str(&text).unwrap();
            assert!(direct.posted_input(&posted).is_none(), "{text}");
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
            json!({"query": LIKE, "operationName": "Other", "variables": like("c", "m3")})
                .to_string(),
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
}
