//! Writing a response's JSON from a plan, with no value tree in between. A
//! field error nulls the nearest nullable field above it, as the spec says:
//! what was written below that field is cut back.

use super::super::errors::{Code, GraphQLError, Location, PathSegment};
use super::super::input::Input;
use super::super::prepare::{Call, Condition, Kind, Planned, Selection, Shape, Slot, Template};
use super::super::schema::{AnyObject, Args, Env, Object, Out, Root, Schema};
use super::{DATA, Response, Variables, internal, write_errors};
use std::borrow::Cow;

/// A non-null field failed: the nearest nullable field above is null.
#[derive(Debug)]
pub(super) struct Nulled;

/// The path to the value being written, on the stack until an error.
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
        let (parent, segment) = match self {
            Path::Root => return Vec::new(),
            Path::Key(parent, key) => (parent, PathSegment::Key((*key).to_owned())),
            Path::Index(parent, index) => (parent, PathSegment::Index(*index)),
        };
        let mut segments = parent.segments();
        segments.push(segment);
        segments
    }
}

/// `selection`'s fields in `order` (as `Writer::order` gives it).
fn in_order<'s>(
    selection: &'s Selection,
    order: Option<&[usize]>,
) -> impl Iterator<Item = &'s Planned> {
    let count = order.map_or(selection.fields.len(), <[usize]>::len);
    (0..count).map(move |nth| &selection.fields[order.map_or(nth, |order| order[nth])])
}

/// Appends `bytes`, a value written.
fn put(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Nulled> {
    out.extend_from_slice(bytes);
    Ok(())
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

    /// Closes `body`, `{"data":` and what was `written`, with the errors.
    pub(super) fn finish(self, mut body: Vec<u8>, written: Result<(), Nulled>) -> Response {
        if written.is_err() {
            body.truncate(DATA.len());
            body.extend_from_slice(b"null");
        }
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

    /// Writes `selection` on `object`, of type `type_index`, as an object.
    pub(super) fn selection(
        &mut self,
        selection: &'r Selection,
        type_index: usize,
        object: &AnyObject,
        at: &Path<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Nulled> {
        let object_type = &self.schema.objects[type_index];
        out.push(b'{');
        let order = self.order(selection, at)?;
        for (nth, planned) in in_order(selection, order.as_deref()).enumerate() {
            let at = Path::Key(at, &planned.key);
            if let Some((value, call)) =
                self.resolve(planned, nth == 0, object_type, object, &at, out)?
            {
                self.position(value, &call.shape, call, planned.location, &at, out)?;
            }
        }
        out.push(b'}');
        Ok(())
    }

    /// The indices of `selection`'s fields to write at `at`, each where its
    /// first included occurrence is; `None` without conditions: all.
    fn order(
        &mut self,
        selection: &Selection,
        at: &Path<'_>,
    ) -> Result<Option<Vec<usize>>, Nulled> {
        let Some(occurrences) = &selection.occurrences else {
            return Ok(None);
        };
        let mut order = Vec::with_capacity(selection.fields.len());
        for (index, conditions) in occurrences {
            if !order.contains(index) && self.included(conditions, at)? {
                order.push(*index);
            }
        }
        Ok(Some(order))
    }

    /// Writes a mutation's root fields: one that waits (`Out::Later`) is
    /// done before the next starts.
    pub(super) async fn mutation(
        &mut self,
        selection: &'r Selection,
        type_index: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), Nulled> {
        let object_type = &self.schema.objects[type_index];
        out.push(b'{');
        let order = self.order(selection, &Path::Root)?;
        for (nth, planned) in in_order(selection, order.as_deref()).enumerate() {
            let at = Path::Key(&Path::Root, &planned.key);
            let Some((value, call)) =
                self.resolve(planned, nth == 0, object_type, &Root, &at, out)?
            else {
                continue;
            };
            let value = match value {
                Out::Later(later) => later.await,
                value => value,
            };
            self.position(value, &call.shape, call, planned.location, &at, out)?;
        }
        out.push(b'}');
        Ok(())
    }

    /// Writes `planned`'s key (after a comma unless `first`) and resolves
    /// it on `object`; `None` for `__typename`, written already.
    fn resolve<'o>(
        &mut self,
        planned: &'r Planned,
        first: bool,
        object_type: &'r Object,
        object: &'o AnyObject,
        at: &Path<'_>,
        out: &mut Vec<u8>,
    ) -> Result<Option<(Out<'o>, &'r Call)>, Nulled>
    where
        'r: 'o,
    {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(planned.key_json.as_bytes());
        let call = match &planned.kind {
            Kind::Typename(name) => {
                out.extend_from_slice(name.as_bytes());
                return Ok(None);
            }
            Kind::Field(call) => call,
        };
        let Some(field) = object_type.fields.get(call.index) else {
            return self.fail(
                internal("a planned field is not declared"),
                planned.location,
                at,
            );
        };
        let value = match self.args(call) {
            Ok(args) => (field.resolve)(object, &args, self.env),
            Err(reason) => GraphQLError::bad_input(reason).into(),
        };
        Ok(Some((value, call)))
    }

    /// Writes `value` at a position of `shape`; a failure makes a nullable
    /// position null, and goes up from a non-null one.
    fn position(
        &mut self,
        value: Out<'_>,
        shape: &'r Shape,
        call: &'r Call,
        location: Option<Location>,
        at: &Path<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Nulled> {
        let (non_null, inner) = match shape {
            Shape::NonNull(inner) => (true, inner.as_ref()),
            other => (false, other),
        };
        let start = out.len();
        let written = match (inner, value, &call.selection) {
            (_, Out::Null, _) if non_null => {
                self.fail(internal("a non-null field resolved to null"), location, at)
            }
            (_, Out::Null, _) => put(out, b"null"),
            (_, Out::Error(error), _) => self.fail(*error, location, at),
            (_, Out::Later(_), _) => self.fail(
                internal("only a mutation's root field may wait"),
                location,
                at,
            ),
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
                    self.position(value, item, call, location, &Path::Index(at, index), out)?;
                }
                out.push(b']');
                Ok(())
            }
            (Shape::Leaf, Out::Bool(b), _) => put(out, if b { b"true" } else { b"false" }),
            (Shape::Leaf, Out::Int(n), _) => put(out, itoa::Buffer::new().format(n).as_bytes()),
            (Shape::Leaf, Out::Str(text), _) => {
                let _ = serde_json::to_writer(&mut *out, text.as_ref());
                Ok(())
            }
            _ => self.fail(
                internal("a resolver's value does not fit its type"),
                location,
                at,
            ),
        };
        match written {
            Err(Nulled) if !non_null => {
                out.truncate(start);
                put(out, b"null")
            }
            written => written,
        }
    }

    /// Whether an occurrence with `conditions` is in the response; a `null`
    /// condition is an error of the object at `at`.
    fn included(&mut self, conditions: &[Condition], at: &Path<'_>) -> Result<bool, Nulled> {
        for condition in conditions {
            match self.variables.get(condition.variable) {
                Some(Some(Input::Bool(value))) if *value == condition.include => {}
                Some(Some(Input::Bool(_))) => return Ok(false),
                _ => {
                    let error = GraphQLError::new(
                        Code::BadUserInput,
                        "the argument \"if\" of @skip and @include must not be null",
                    );
                    return self.fail(error, None, at);
                }
            }
        }
        Ok(true)
    }

    /// The arguments of `call`, as the spec's CoerceArgumentValues makes them.
    pub(super) fn args(&self, call: &'r Call) -> Result<Args<'_>, String> {
        let mut values = Vec::with_capacity(call.args.len());
        for slot in &call.args {
            values.push((&*slot.name, self.slot(slot)?));
        }
        Ok(Args { values })
    }

    /// The value of an argument or input field, or its default; borrowed
    /// where it can be.
    fn slot(&self, slot: &'r Slot) -> Result<Option<Cow<'_, Input<'_>>>, String> {
        let value = match &slot.value {
            Some(template) => self.evaluate(template)?,
            None => None,
        };
        match value {
            None => match &slot.default {
                Some(default) => Ok(Some(Cow::Borrowed(default))),
                None if slot.non_null => {
                    Err(format!("{} of a non-null type was not given", slot.name))
                }
                None => Ok(None),
            },
            Some(value) if slot.non_null && *value == Input::Null => {
                Err(format!("{} of a non-null type must not be null", slot.name))
            }
            value => Ok(value),
        }
    }

    /// A template's value; `None` for a variable the request did not give.
    fn evaluate(&self, template: &'r Template) -> Result<Option<Cow<'_, Input<'_>>>, String> {
        Ok(Some(match template {
            Template::Const(value) => Cow::Borrowed(value),
            Template::Variable(index) => match self.variables.get(*index) {
                Some(Some(value)) => Cow::Borrowed(value),
                _ => return Ok(None),
            },
            Template::List(items, non_null) => {
                let items = items.iter().map(|item| {
                    let item = self.evaluate(item)?;
                    if *non_null && item.as_deref().is_none_or(|item| *item == Input::Null) {
                        return Err("a list item of a non-null type must not be null".to_owned());
                    }
                    Ok(item.map_or(Input::Null, Cow::into_owned))
                });
                Cow::Owned(Input::List(items.collect::<Result<_, _>>()?))
            }
            Template::Object(fields) => {
                let mut object = Vec::with_capacity(fields.len());
                for field in fields {
                    if let Some(value) = self.slot(field)? {
                        object.push((Cow::Borrowed(&*field.name), value.into_owned()));
                    }
                }
                Cow::Owned(Input::Object(object))
            }
        }))
    }

    /// Records `error` of the value at `at`, which is then null.
    fn fail<T>(
        &mut self,
        error: GraphQLError,
        location: Option<Location>,
        at: &Path<'_>,
    ) -> Result<T, Nulled> {
        self.errors.push(error.at(location, at.segments()));
        Err(Nulled)
    }
}
