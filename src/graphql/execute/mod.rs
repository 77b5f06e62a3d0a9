//! Running a prepared operation: coerce the request's variables (here),
//! then call the resolvers and write the JSON as it goes (`writer`).

mod writer;

use super::errors::{Code, GraphQLError, MAX_ERRORS, PathSegment, bounded};
use super::input::Input;
use super::prepare::{Kind, Operation};
use super::schema::{AnyObject, Place, Root, Schema, coerce};
use super::{Endpoint, Ready, Subscription, SubscriptionSlots};
use apollo_compiler::ast::OperationType;
use std::net::IpAddr;
use writer::{Path, Writer};

/// A response's JSON; without `data` when the request failed before
/// execution (GraphQL over HTTP then asks for a 4xx).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Response {
    /// `{"data":…,"errors":[…]}`, or `{"errors":[…]}`.
    pub(crate) body: Vec<u8>,
    /// Whether `data` is in it.
    pub(crate) data: bool,
    /// Whether `errors` is in it.
    pub(crate) errors: bool,
}

impl Response {
    /// A request error: `{"errors":[…]}`.
    pub(crate) fn errors(errors: &[GraphQLError]) -> Self {
        let mut body = ERRORS.to_vec();
        write_errors(errors, &mut body);
        body.push(b'}');
        Self {
            body,
            data: false,
            errors: true,
        }
    }

    /// A request error's errors, as a JSON array.
    pub(crate) fn request_errors(&self) -> Option<&[u8]> {
        (!self.data).then(|| {
            let end = self.body.len().saturating_sub(1);
            &self.body[ERRORS.len().min(end)..end]
        })
    }

    /// One request error.
    pub(crate) fn error(error: GraphQLError) -> Self {
        Self::errors(&[error])
    }
}

/// How a request error's body starts.
const ERRORS: &[u8] = b"{\"errors\":";

/// A request's variables, coerced, by index; `None` if absent.
pub(crate) type Variables<'a> = Vec<Option<Input<'a>>>;

/// Coerces `given`, the request's `variables`, to `operation`'s.
pub(super) fn variables<'a>(
    operation: &Operation,
    given: Input<'a>,
    schema: &Schema,
) -> Result<Variables<'a>, Vec<GraphQLError>> {
    let mut given = match given {
        Input::Object(fields) => fields,
        _ => Vec::new(),
    };
    let mut errors = Vec::new();
    let mut coerced = Vec::with_capacity(operation.variables.len());
    for variable in &operation.variables {
        let value = given
            .iter()
            .position(|(name, _)| name.as_ref() == variable.name)
            .map(|index| given.swap_remove(index).1);
        let value = match (value, &variable.default) {
            (Some(value), _) => coerce(
                value,
                &variable.ty,
                &schema.apollo,
                &Place::Variable(&variable.name),
            )
            .map(Some),
            (None, Some(default)) => Ok(Some(default.clone())),
            (None, None) if variable.ty.is_non_null() => Err(format!(
                "${} of required type {} was not given",
                variable.name, variable.ty
            )),
            (None, None) => Ok(None),
        };
        match value {
            Ok(value) => coerced.push(value),
            Err(reason) => errors.push(
                GraphQLError::new(Code::BadUserInput, format!("invalid variable: {reason}"))
                    .located(variable.location),
            ),
        }
    }
    errors.is_empty().then_some(coerced).ok_or(errors)
}

impl Endpoint {
    /// Runs a query or mutation for a client at `address`.
    pub(crate) async fn run(&self, ready: &Ready<'_>, address: Option<IpAddr>) -> Response {
        let (env, operation) = (self.env(address, None), ready.operation());
        let mut writer = Writer::new(&self.schema, &ready.variables, &env);
        let (root, root_type) = (&operation.root, operation.root_type);
        let mut body = Vec::with_capacity(256);
        body.extend_from_slice(DATA);
        let written = match operation.kind {
            OperationType::Mutation => writer.mutation(root, root_type, &mut body).await,
            _ => writer.selection(root, root_type, &Root, &Path::Root, &mut body),
        };
        writer.finish(body, written)
    }

    /// Starts a subscription for a client at `address`, holding one of
    /// `slots` while it lives.
    pub(crate) fn subscribe(
        &self,
        ready: Ready<'_>,
        address: Option<IpAddr>,
        slots: Option<&SubscriptionSlots>,
    ) -> Result<Subscription, Response> {
        let (env, operation) = (self.env(address, slots), ready.operation());
        let root = &self.schema.objects[operation.root_type];
        let planned = operation.root.fields.first();
        let Some((planned, Kind::Field(call))) = planned.map(|p| (p, &p.kind)) else {
            return Err(Response::error(internal("a subscription without a field")));
        };
        let Some(subscribe) = (root.fields.get(call.index)).and_then(|field| field.subscribe)
        else {
            return Err(Response::error(internal("not a subscription field")));
        };
        let selected = call.selection.as_ref().map(|(type_index, selection)| {
            let event = &self.schema.objects[*type_index];
            let fields = selection
                .fields
                .iter()
                .filter_map(|planned| match &planned.kind {
                    Kind::Field(call) => Some(event.fields[call.index].name),
                    Kind::Typename(_) => None,
                });
            fields.collect::<Vec<_>>()
        });
        let writer = Writer::new(&self.schema, &ready.variables, &env);
        let args = writer.args(call).map_err(GraphQLError::bad_input);
        let events = args
            .and_then(|args| subscribe(&args, &env, selected.as_deref().unwrap_or_default()))
            .map_err(|error| {
                let path = vec![PathSegment::Key(planned.key.clone())];
                Response::error(error.at(planned.location, path))
            })?;
        Ok(Subscription {
            plan: self.plans.share(ready.into_owned()),
            events,
        })
    }

    /// The response for one `event` of a subscription.
    pub(crate) fn write_event(&self, plan: &Ready<'_>, event: &AnyObject) -> Vec<u8> {
        let (env, operation) = (self.env(None, None), plan.operation());
        let mut writer = Writer::new(&self.schema, &plan.variables, &env);
        let mut body = Vec::with_capacity(128);
        body.extend_from_slice(DATA);
        let (root, root_type) = (&operation.root, operation.root_type);
        let written = writer.selection(root, root_type, event, &Path::Root, &mut body);
        writer.finish(body, written).body
    }
}

/// How a response with `data` starts.
const DATA: &[u8] = b"{\"data\":";

/// An error inside the service; clients see `INTERNAL`, the log sees why.
pub(super) fn internal(why: &str) -> GraphQLError {
    tracing::error!(why, "a GraphQL operation failed inside");
    GraphQLError::internal()
}

pub(super) fn write_errors(errors: &[GraphQLError], out: &mut Vec<u8>) {
    let written = match errors.len() > MAX_ERRORS {
        true => serde_json::to_writer(&mut *out, &bounded(errors.to_vec())),
        false => serde_json::to_writer(&mut *out, errors),
    };
    if written.is_err() {
        out.extend_from_slice(b"[]");
    }
}
