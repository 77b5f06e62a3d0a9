//! `createLike` answered without the general executor. Every tap on every
//! page sends the same small mutation, so for a document of exactly that
//! shape the answer is built straight from the request's variables: no
//! validation pass, no resolver futures, no per-request maps. A POSTed body
//! of such operations is read straight into the few fields they need
//! (`posted`); over a WebSocket the input is taken from the request's
//! variables by the same rule (`input_of`). It halves the CPU a like costs.
//! The page's `likeAdded` subscription has a direct path too (`like_added`).
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
//! reports a resolver's error. The tests (`tests.rs`) hold the two paths
//! to the same answers.

mod like_added;
mod posted;
#[cfg(test)]
mod tests;

pub use like_added::DirectLikeAdded;
pub(super) use posted::answer_posted;

use super::Services;
use super::schema::{CreateLikeInput, CreateLikePayload, create_like};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType,
    Selection, SelectionSet, VariableDefinition,
};
use async_graphql::{Name, PathSegment, Pos, Positioned, Response, Value, Variables};
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
        let (operation, definition) = only_operation(document)?;
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

    /// Whether a request naming `operation` (or none) runs this document's
    /// mutation; otherwise async-graphql reports the unknown name.
    pub(super) fn runs(&self, operation: Option<&str>) -> bool {
        runs(self.operation.as_deref(), operation)
    }

    /// The input in a WebSocket request's variables, when it needs no
    /// coercion: the same rule as a POSTed body's (`posted`).
    pub(super) fn input_of(&self, variables: &Variables) -> Option<CreateLikeInput> {
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
                    client_mutation_id = Some(text.clone())
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

    /// Runs `createLike` with `input` and answers as async-graphql would.
    pub(super) fn respond(
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

    fn payload(&self, payload: &CreateLikePayload) -> Value {
        let fields = self.payload.iter().map(|(name, field)| {
            let value = match field {
                PayloadField::ClientMutationId => payload
                    .client_mutation_id
                    .clone()
                    .map_or(Value::Null, Value::String),
                PayloadField::Typename => Value::String("CreateLikePayload".into()),
                PayloadField::Like(like) => like_value(like, payload),
            };
            (name.clone(), value)
        });
        Value::Object(fields.collect())
    }
}

/// The `like { ... }` object of a payload.
fn like_value(fields: &[(Name, LikeField)], payload: &CreateLikePayload) -> Value {
    let fields = fields.iter().map(|(name, field)| {
        let value = match field {
            LikeField::Id => Value::String(payload.like.relay_id()),
            LikeField::Typename => Value::String("Like".into()),
        };
        (name.clone(), value)
    });
    Value::Object(fields.collect())
}

/// The variable and the `createLike` field of a mutation that is nothing
/// but `createLike(input: $v)` with `$v: CreateLikeInput!`.
fn like_field(definition: &OperationDefinition) -> Option<(Name, &Positioned<Field>)> {
    let (field, argument, value) = only_field(definition, OperationType::Mutation)?;
    let [declared] = definition.variable_definitions.as_slice() else {
        return None;
    };
    let declared = &declared.node;
    let passes_the_variable = value.strip_prefix('$') == Some(declared.name.node.as_str());
    (required_variable(declared, "CreateLikeInput")
        && plain(&field.node, FIELD)
        && argument == "input"
        && passes_the_variable)
        .then(|| (declared.name.node.clone(), field))
}

/// The name (if any) and definition of a document's only operation, when
/// the document has no fragments either.
fn only_operation(document: &ExecutableDocument) -> Option<(Option<String>, &OperationDefinition)> {
    if !document.fragments.is_empty() {
        return None;
    }
    match &document.operations {
        DocumentOperations::Single(definition) => Some((None, &definition.node)),
        DocumentOperations::Multiple(named) if named.len() == 1 => {
            let (name, definition) = named.iter().next()?;
            Some((Some(name.to_string()), &definition.node))
        }
        DocumentOperations::Multiple(_) => None,
    }
}

/// The only field of an operation of type `ty` without directives, when
/// it has exactly one argument: the field, the argument's name, and its
/// value as printed (the parser's non-constant value type is not
/// re-exported; a variable prints as `$name`, an integer as its digits).
fn only_field(
    definition: &OperationDefinition,
    ty: OperationType,
) -> Option<(&Positioned<Field>, &str, String)> {
    if definition.ty != ty || !definition.directives.is_empty() {
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
    Some((field, argument.node.as_str(), value.node.to_string()))
}

/// Whether a variable is declared as `$v: Type!` and nothing more: no
/// default value, no directives.
fn required_variable(declared: &VariableDefinition, type_name: &str) -> bool {
    matches!(&declared.var_type.node.base, BaseType::Named(name) if name == type_name)
        && !declared.var_type.node.nullable
        && declared.default_value.is_none()
        && declared.directives.is_empty()
}

/// Whether a request naming `asked` (or no operation) runs a document
/// whose only operation is `named`; otherwise async-graphql reports the
/// unknown name.
fn runs(named: Option<&str>, asked: Option<&str>) -> bool {
    asked.is_none() || asked == named
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
