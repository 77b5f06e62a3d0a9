//! Writing a response's JSON from a plan, with no value tree in between:
//! each field's conditions and arguments evaluated, its resolver called,
//! its value written. A field error nulls the nearest nullable field above
//! it, as the spec says: what was written below that field is cut back.

use super::super::errors::{GraphQLError, PathSegment};
use super::super::input::Input;
use super::super::prepare::{Call, Kind, Planned, Selection, Shape, Template, When};
use super::super::schema::{AnyObject, Args, Env, Object, Out, Root, Schema};
use super::{Response, Variables, internal, write_errors};
use async_graphql::Pos;

/// A non-null field failed: the nearest nullable field above is null.
#[derive(Debug)]
pub(super) struct Nulled;

/// The path to the value being written, kept on the stack and written
/// out only for an error.
#[derive(Clone, Copy)]
pub(super) enum Path<'p> {
    /// The response's `data`.
    Root,
    /// A field's response key.
    Key(&'p Path<'p>, &'p str),
    /// A list's item.
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

/// Writes one response, collecting its errors.
pub(super) struct Writer<'r, 'a> {
    schema: &'r Schema,
    variables: &'r Variables<'a>,
    env: &'r Env<'r>,
    errors: Vec<GraphQLError>,
}

impl<'r, 'a> Writer<'r, 'a> {
    pub(super) fn new(schema: &'r Schema, variables: &'r Variables<'a>, env: &'r Env<'r>) -> Self {
        Self {
            schema,
            variables,
            env,
            errors: Vec::new(),
        }
    }

    /// Closes `body` (which holds `{"data":…`) with the errors, if any.
    pub(super) fn finish(self, mut body: Vec<u8>) -> Response {
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
    pub(super) fn selection(
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
            let at = Path::Key(at, &planned.key);
            let Some((value, call)) =
                self.resolve(planned, object_type, object, &at, &mut first, out)?
            else {
                continue;
            };
            self.position(value, &call.shape, call, planned.pos, &at, out)?;
        }
        out.push(b'}');
        Ok(())
    }

    /// Writes a mutation's root fields, one after another: a field whose
    /// resolver waits (`Out::Later`) is done before the next starts.
    pub(super) async fn mutation(
        &mut self,
        selection: &'r Selection,
        type_index: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), Nulled> {
        let object_type = self.schema.object_at(type_index);
        out.push(b'{');
        let mut first = true;
        for planned in &selection.fields {
            if !self.included(&planned.when) {
                continue;
            }
            let at = Path::Key(&Path::Root, &planned.key);
            let Some((value, call)) =
                self.resolve(planned, object_type, &Root, &at, &mut first, out)?
            else {
                continue;
            };
            let value = match value {
                Out::Later(later) => later.await,
                value => value,
            };
            self.position(value, &call.shape, call, planned.pos, &at, out)?;
        }
        out.push(b'}');
        Ok(())
    }

    /// Writes `planned`'s key (after a comma unless `first`) and resolves
    /// it on `object`: its value and call, or `None` for `__typename`,
    /// written already.
    fn resolve<'o>(
        &mut self,
        planned: &'r Planned,
        object_type: &'r Object,
        object: &'o AnyObject,
        at: &Path<'_>,
        first: &mut bool,
        out: &mut Vec<u8>,
    ) -> Result<Option<(Out<'o>, &'r Call)>, Nulled>
    where
        'r: 'o,
    {
        if !std::mem::take(first) {
            out.push(b',');
        }
        out.extend_from_slice(planned.key_json.as_bytes());
        match &planned.kind {
            Kind::Typename(name) => {
                out.extend_from_slice(name.as_bytes());
                Ok(None)
            }
            Kind::Field(call) => {
                let Some(field) = object_type.fields.get(call.index) else {
                    self.error(internal("a planned field is not declared"), planned.pos, at);
                    return Err(Nulled);
                };
                let value = (field.resolve)(object, &self.args(call), self.env);
                Ok(Some((value, call)))
            }
        }
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
            Out::Later(_) => {
                self.error(internal("only a mutation's root field may wait"), pos, at);
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
    pub(super) fn args(&self, call: &'r Call) -> Args<'_> {
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
