//! A prepared operation's plan: its variables, and its fields, fragments
//! expanded and merged by response key, `@skip`/`@include` kept as
//! conditions on variables, each bound to its declaration, each argument a
//! template. Made once (`planner`); running it evaluates only conditions
//! and templates (`graphql::execute`).

use crate::graphql::errors::Location;
use crate::graphql::input::Input;
use apollo_compiler::ast::{OperationType, Type};

/// One operation, ready to run.
#[derive(Debug)]
pub(crate) struct Operation {
    /// Its name in the document.
    pub(crate) name: Option<String>,
    /// Query, mutation or subscription.
    pub(crate) kind: OperationType,
    /// Its variables, in order; templates refer to them by index.
    pub(crate) variables: Vec<Variable>,
    /// What it selects on its root type.
    pub(crate) root: Selection,
    /// The root type's index.
    pub(crate) root_type: usize,
    /// How long a GET answer may be cached, in seconds (0: never).
    pub(crate) max_age: u32,
}

/// A declared variable.
#[derive(Debug)]
pub(crate) struct Variable {
    /// Its name, without `$`.
    pub(crate) name: String,
    pub(crate) ty: Type,
    /// Its default, a value of its type.
    pub(crate) default: Option<Input<'static>>,
    /// Where it is declared.
    pub(crate) location: Option<Location>,
}

/// The fields selected on one object.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    /// One per response key, in the order of their first occurrences.
    pub(crate) fields: Vec<Planned>,
    /// When some occurrence has conditions: every occurrence, by index in
    /// `fields`, in document order (the spec's CollectFields).
    pub(crate) occurrences: Option<Vec<(usize, Vec<Condition>)>>,
}

/// One response key of a selection.
#[derive(Debug)]
pub(crate) struct Planned {
    /// The response key: the alias, or the field's name.
    pub(crate) key: String,
    /// The key written as JSON with its colon: `"key":`.
    pub(crate) key_json: Box<str>,
    /// Where its first occurrence is.
    pub(crate) location: Option<Location>,
    /// What answers it.
    pub(crate) kind: Kind,
}

/// What answers a planned field.
#[derive(Debug)]
pub(crate) enum Kind {
    /// `__typename`: this JSON string.
    Typename(Box<str>),
    /// The declared field at `index` of the parent's type.
    Field(Call),
}

/// A declared field's call.
#[derive(Debug)]
pub(crate) struct Call {
    /// The field's index in its type.
    pub(crate) index: usize,
    /// Its arguments, in the schema's order.
    pub(crate) args: Vec<Slot>,
    /// The shape of its type.
    pub(crate) shape: Shape,
    /// For an object type: its index, and what is selected on it.
    pub(crate) selection: Option<(usize, Selection)>,
}

/// A field type's shape, down to its named type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    /// Never null.
    NonNull(Box<Shape>),
    /// A list of the inner shape.
    List(Box<Shape>),
    /// A scalar or an enum.
    Leaf,
    /// An object; its selection is the call's.
    Object,
}

/// `@include(if: $v)` or `@skip(if: $v)`: the variable must be `include`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Condition {
    /// The variable's index.
    pub(crate) variable: usize,
    /// The value it must have.
    pub(crate) include: bool,
}

/// An argument or an input object's field, as the spec's
/// CoerceArgumentValues sees it.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) name: Box<str>,
    /// What the document gives it, if anything.
    pub(crate) value: Option<Template>,
    /// Its default, for when nothing is given.
    pub(crate) default: Option<Input<'static>>,
    /// Whether its type is non-null.
    pub(crate) non_null: bool,
}

/// A value of the document: constants, and variables by index.
#[derive(Debug)]
pub(crate) enum Template {
    /// A constant, a value of its type.
    Const(Input<'static>),
    /// A variable; absent if the request does not give it.
    Variable(usize),
    /// A list holding a variable, and whether its items are non-null.
    List(Vec<Template>, bool),
    /// An input object holding a variable: its fields.
    Object(Vec<Slot>),
}
