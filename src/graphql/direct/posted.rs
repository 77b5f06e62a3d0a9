//! Reading a POSTed body for the direct path: the document's text, the
//! operation name and the raw variables, and the like's input from them,
//! without building async-graphql's request.

use super::DirectLike;
use crate::graphql::schema::CreateLikeInput;
use crate::graphql::{Documents, Services};
use async_graphql::BatchResponse;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

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

/// `CreateLikeInput` as JSON that needs no coercion: a string `uuid`, an
/// `Int` `sessionId` and a string or null `clientMutationId`, nothing else.
/// Anything else (a missing or unknown field, a number that is not an
/// `Int`, a `null` uuid) fails to read here and is left to async-graphql.
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
pub(in crate::graphql) fn answer_posted(
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
        let input = input(&direct, posted)?;
        Some((direct, input))
    };
    if crate::graphql::is_batch(body) {
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

/// `posted`'s input to `direct`'s mutation, when it reads as is.
fn input(direct: &DirectLike, posted: &Posted<'_>) -> Option<CreateLikeInput> {
    let variables: HashMap<Cow<'_, str>, &RawValue> =
        serde_json::from_str(posted.variables?.get()).ok()?;
    let input: PostedInput<'_> =
        serde_json::from_str(variables.get(direct.variable.as_str())?.get()).ok()?;
    Some(CreateLikeInput {
        client_mutation_id: input.client_mutation_id.map(Cow::into_owned),
        uuid: input.uuid.into_owned(),
        session_id: input.session_id,
    })
}
