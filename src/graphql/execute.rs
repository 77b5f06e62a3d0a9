//! Running a prepared operation: coerce the request's variables, evaluate
//! each field's conditions and arguments, call the declared resolvers and
//! write the response's JSON as it goes, with no value tree in between. A
//! field error nulls the nearest nullable field above it, as the spec says:
//! what was written below that field is cut back. Nothing is parsed or
//! validated here.

use super::ApiError;
use super::errors::{BAD_USER_INPUT, GraphQLError, PathSegment};
use super::input::{Input, Place, coerce};
use super::prepare::{Call, Kind, Operation, Selection, Shape, Template, When};
use super::schema::{AnyObject, Args, Env, Events, Out, Root, Schema};
use async_graphql::Pos;
use async_graphql::dynamic::TypeRef;
use async_graphql::parser::types::OperationType;

/// A response's JSON, and whether it has a `data` entry (it has none when
/// the request failed before execution: the GraphQL-over-HTTP spec then
/// asks for a 4xx status).
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// `{"data":…,"errors":[…]}`, or `{"errors":[…]}`.
    pub body: Vec<u8>,
    /// Whether `data` is in it.
    pub data: bool,
    /// Whether `errors` is in it.
    pub errors: bool,
}

impl Response {
    /// A request error: `{"errors":[…]}`.
    pub fn errors(errors: &[GraphQLError]) -> Self {
        let mut body = ERRORS.to_vec();
        write_errors(errors, &mut body);
        body.push(b'}');
        Self {
            body,
            data: false,
            errors: true,
        }
    }

    /// The errors of a request error, as a JSON array; `None` for a
    /// response with `data`.
    pub fn request_errors(&self) -> Option<&[u8]> {
        (!self.data).then(|| {
            let end = self.body.len().saturating_sub(1);
            &self.body[ERRORS.len().min(end)..end]
        })
    }

    /// One request error.
    pub fn error(error: GraphQLError) -> Self {
        Self::errors(&[error])
    }

    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or_default()
    }
}

/// How a request error's body starts.
const ERRORS: &[u8] = b"{\"errors\":";

/// A request's variables, coerced to the operation's, by index; absent
/// ones (without a default) are `None`.
pub type Variables<'a> = Vec<Option<Input<'a>>>;

/// Coerces `given` (the request's `variables`, an object) to `operation`'s
/// variables: a request error says which does not fit and why.
pub fn variables<'a>(
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
                schema,
                &Place::Variable(&variable.name),
            )
            .map(Some),
            (None, Some(default)) => Ok(Some(default.clone())),
            (None, None) if matches!(variable.ty, TypeRef::NonNull(_)) => Err(format!(
                "${} of required type {} was not given",
                variable.name, variable.ty
            )),
            (None, None) => Ok(None),
        };
        match value {
            Ok(value) => coerced.push(value),
            Err(reason) => errors.push(
                GraphQLError::new(BAD_USER_INPUT, format!("invalid variable: {reason}"))
                    .located(variable.pos),
            ),
        }
    }
    if errors.is_empty() {
        Ok(coerced)
    } else {
        Err(errors)
    }
}

/// Runs a query or mutation (mutation fields one after another).
pub fn run(
    schema: &Schema,
    operation: &Operation,
    variables: &Variables<'_>,
    env: &Env<'_>,
) -> Response {
    let root_type = match operation.kind {
        OperationType::Mutation => "Mutation",
        _ => "Query",
    };
    let Some((type_index, _)) = schema.object(root_type) else {
        return Response::error(internal("no root type"));
    };
    let mut writer = Writer::new(schema, variables, env);
    let mut body = Vec::with_capacity(256);
    body.extend_from_slice(b"{\"data\":");
    let data = body.len();
    if writer
        .selection(&operation.root, type_index, &Root, &Path::Root, &mut body)
        .is_err()
    {
        body.truncate(data);
        body.extend_from_slice(b"null");
    }
    writer.finish(body)
}

/// Starts a subscription operation: the events of its root field, or the
/// request error that kept it from starting.
pub fn subscribe(
    schema: &Schema,
    operation: &Operation,
    variables: &Variables<'_>,
    env: &Env<'_>,
) -> Result<Events, Response> {
    let Some(planned) = operation.root.fields.first() else {
        return Err(Response::error(internal("a subscription without a field")));
    };
    let Kind::Field(call) = &planned.kind else {
        return Err(Response::error(internal("a subscription to __typename")));
    };
    let writer = Writer::new(schema, variables, env);
    let field = schema.subscription_at(call.index);
    (field.subscribe)(&writer.args(call), env).map_err(|error| {
        let path = vec![PathSegment::Key(planned.key.clone())];
        Response::error(GraphQLError::at(&error, planned.pos, path))
    })
}

/// Appends the response for one event of a subscription operation:
/// `{"data":{"likeAdded":{…}}}`.
pub fn write_event(
    schema: &Schema,
    operation: &Operation,
    variables: &Variables<'_>,
    env: &Env<'_>,
    event: &AnyObject,
    out: &mut Vec<u8>,
) {
    let mut writer = Writer::new(schema, variables, env);
    out.extend_from_slice(b"{\"data\":");
    let data = out.len();
    let written = match operation.root.fields.first() {
        Some(planned) => match &planned.kind {
            Kind::Field(Call {
                selection: Some((type_index, selection)),
                ..
            }) => {
                out.push(b'{');
                out.extend_from_slice(planned.key_json.as_bytes());
                let at = Path::Key(&Path::Root, &planned.key);
                let written = writer.selection(selection, *type_index, event, &at, out);
                out.push(b'}');
                written
            }
            _ => Err(Nulled),
        },
        None => Err(Nulled),
    };
    if written.is_err() {
        out.truncate(data);
        out.extend_from_slice(b"null");
    }
    let body = std::mem::take(out);
    *out = writer.finish(body).body;
}

/// A non-null field failed: the nearest nullable field above is null.
#[derive(Debug)]
struct Nulled;

/// The path to the value being written, kept on the stack and written
/// out only for an error.
#[derive(Clone, Copy)]
enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl Path<'_> {
    fn segments(&self) -> Vec<PathSegment> {
        let mut segments = Vec::new();
        let mut at = self;
        loop {
            match at {
                Path::Root => break,
                Path::Key(parent, key) => {
                    segments.push(PathSegment::Key((*key).to_owned()));
                    at = parent;
                }
                Path::Index(parent, index) => {
                    segments.push(PathSegment::Index(*index));
                    at = parent;
                }
            }
        }
        segments.reverse();
        segments
    }
}

struct Writer<'r, 'a> {
    schema: &'r Schema,
    variables: &'r Variables<'a>,
    env: &'r Env<'r>,
    errors: Vec<GraphQLError>,
}

impl<'r, 'a> Writer<'r, 'a> {
    fn new(schema: &'r Schema, variables: &'r Variables<'a>, env: &'r Env<'r>) -> Self {
        Self {
            schema,
            variables,
            env,
            errors: Vec::new(),
        }
    }

    /// Closes `body` (which holds `{"data":…`) with the errors, if any.
    fn finish(self, mut body: Vec<u8>) -> Response {
        let errors = !self.errors.is_empty();
        if errors {
            body.extend_from_slice(b",\"errors\":");
            write_errors(&self.errors, &mut body);
        }
        body.push(b'}');
        Response {
            body,
            data: true,
            errors,
        }
    }

    /// Writes the fields of `selection` on `object`, of the type at
    /// `type_index`, as a JSON object.
    fn selection(
        &mut self,
        selection: &'r Selection,
        type_index: usize,
        object: &AnyObject,
        at: &Path<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Nulled> {
        let object_type = self.schema.object_at(type_index);
        out.push(b'{');
        let mut first = true;
        for planned in &selection.fields {
            if !self.included(&planned.when) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(planned.key_json.as_bytes());
            match &planned.kind {
                Kind::Typename(name) => out.extend_from_slice(name.as_bytes()),
                Kind::Field(call) => {
                    let at = Path::Key(at, &planned.key);
                    let Some(field) = object_type.fields.get(call.index) else {
                        self.error(
                            internal("a planned field is not declared"),
                            planned.pos,
                            &at,
                        );
                        return Err(Nulled);
                    };
                    let value = (field.resolve)(object, &self.args(call), self.env);
                    self.position(value, &call.shape, call, planned.pos, &at, out)?;
                }
            }
        }
        out.push(b'}');
        Ok(())
    }

    /// Writes `value` at a position of `shape`: a failure below a nullable
    /// position makes it null; below a non-null one, it goes up.
    fn position(
        &mut self,
        value: Out<'_>,
        shape: &'r Shape,
        call: &'r Call,
        pos: Pos,
        at: &Path<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Nulled> {
        let (non_null, inner) = match shape {
            Shape::NonNull(inner) => (true, inner.as_ref()),
            other => (false, other),
        };
        let start = out.len();
        let written = match value {
            Out::Null if non_null => {
                self.error(internal("a non-null field resolved to null"), pos, at);
                Err(Nulled)
            }
            Out::Null => {
                out.extend_from_slice(b"null");
                Ok(())
            }
            Out::Error(error) => {
                self.errors
                    .push(GraphQLError::at(&error, pos, at.segments()));
                Err(Nulled)
            }
            value => self.complete(value, inner, call, pos, at, out),
        };
        match written {
            Err(Nulled) if !non_null => {
                out.truncate(start);
                out.extend_from_slice(b"null");
                Ok(())
            }
            written => written,
        }
    }

    /// Writes a non-null `value` of a nullable `shape`.
    fn complete(
        &mut self,
        value: Out<'_>,
        shape: &'r Shape,
        call: &'r Call,
        pos: Pos,
        at: &Path<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Nulled> {
        match (shape, value, &call.selection) {
            (Shape::Object, Out::Object(object), Some((type_index, selection))) => {
                self.selection(selection, *type_index, object.as_ref(), at, out)
            }
            (Shape::Object, Out::Borrowed(object), Some((type_index, selection))) => {
                self.selection(selection, *type_index, object, at, out)
            }
            (Shape::List(item), Out::List(items), _) => {
                out.push(b'[');
                for (index, value) in items.into_iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    self.position(value, item, call, pos, &Path::Index(at, index), out)?;
                }
                out.push(b']');
                Ok(())
            }
            (Shape::Leaf, Out::Bool(b), _) => {
                out.extend_from_slice(if b { b"true" } else { b"false" });
                Ok(())
            }
            (Shape::Leaf, Out::Int(n), _) => {
                out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
                Ok(())
            }
            (Shape::Leaf, Out::Str(text), _) => {
                let _ = serde_json::to_writer(&mut *out, text.as_ref());
                Ok(())
            }
            _ => {
                self.error(
                    internal("a resolver's value does not fit its type"),
                    pos,
                    at,
                );
                Err(Nulled)
            }
        }
    }

    /// Whether a planned field is in the response, given the variables.
    fn included(&self, when: &When) -> bool {
        match when {
            When::Always => true,
            When::AnyOf(occurrences) => occurrences.iter().any(|conditions| {
                conditions.iter().all(|condition| {
                    matches!(
                        self.variables.get(condition.variable),
                        Some(Some(Input::Bool(value))) if *value == condition.include
                    )
                })
            }),
        }
    }

    /// The arguments of `call`, with the variables put in.
    fn args(&self, call: &'r Call) -> Args<'_> {
        Args(
            call.args
                .iter()
                .filter_map(|(name, template)| Some((*name, self.evaluate(template)?)))
                .collect(),
        )
    }

    fn evaluate(&self, template: &'r Template) -> Option<Input<'_>> {
        match template {
            Template::Const(value) => Some(value.borrowed()),
            Template::Variable(index) => self.variables.get(*index)?.as_ref().map(Input::borrowed),
            Template::List(items) => Some(Input::List(
                items
                    .iter()
                    .filter_map(|item| self.evaluate(item))
                    .collect(),
            )),
            Template::Object(fields) => Some(Input::Object(
                fields
                    .iter()
                    .filter_map(|(name, value)| Some((name.as_str().into(), self.evaluate(value)?)))
                    .collect(),
            )),
        }
    }

    fn error(&mut self, error: GraphQLError, pos: Pos, at: &Path<'_>) {
        let mut error = error.located(pos);
        error.path = at.segments();
        self.errors.push(error);
    }
}

/// An error inside the service; clients see `INTERNAL`, the log sees why.
fn internal(why: &str) -> GraphQLError {
    tracing::error!(why, "a GraphQL operation failed inside");
    GraphQLError::new(ApiError::Internal.code(), ApiError::Internal.message())
}

fn write_errors(errors: &[GraphQLError], out: &mut Vec<u8>) {
    if serde_json::to_writer(&mut *out, errors).is_err() {
        out.extend_from_slice(b"[]");
    }
}
