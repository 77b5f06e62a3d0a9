//! A prepared operation's plan: its variables, and the fields it selects,
//! fragments expanded, fields of one response key merged, `@skip` and
//! `@include` kept as conditions on variables, each field bound to its
//! declaration and each argument a template of constants and variables.
//! Made once per document (`planner`); running it only evaluates the
//! conditions and templates (`graphql::execute`).

use crate::graphql::input::Input;
use async_graphql::Pos;
use async_graphql::dynamic::TypeRef;
use async_graphql::parser::types::OperationType;

/// One operation, ready to run.
#[derive(Debug)]
pub struct Operation {
    /// Its name in the document.
    pub name: Option<String>,
    /// Query, mutation or subscription.
    pub kind: OperationType,
    /// Its variables, in order; templates refer to them by index.
    pub variables: Vec<Variable>,
    /// What it selects on its root type.
    pub root: Selection,
    /// It selects `__schema` or `__type`: async-graphql answers it.
    pub introspective: bool,
    /// How long a GET answer may be cached, in seconds (0: never).
    pub max_age: u32,
}

/// A declared variable.
#[derive(Debug)]
pub struct Variable {
    /// Its name, without `$`.
    pub name: String,
    /// Its type.
    pub ty: TypeRef,
    /// Its default, coerced to its type.
    pub default: Option<Input<'static>>,
    /// Where it is declared.
    pub pos: Pos,
}

/// The fields selected on one object, in response order.
#[derive(Debug, Default)]
pub struct Selection {
    /// The fields.
    pub fields: Vec<Planned>,
}

/// One response key of a selection.
#[derive(Debug)]
pub struct Planned {
    /// The response key: the alias, or the field's name.
    pub key: String,
    /// The key written as JSON with its colon: `"key":`.
    pub key_json: Box<str>,
    /// When it is in the response.
    pub when: When,
    /// Where it is in the document (its first occurrence).
    pub pos: Pos,
    /// What answers it.
    pub kind: Kind,
}

/// What answers a planned field.
#[derive(Debug)]
pub enum Kind {
    /// `__typename`: this JSON string.
    Typename(Box<str>),
    /// The declared field at `index` of the parent's type.
    Field(Call),
}

/// A declared field's call: which field, with which arguments, and what
/// is selected on its value.
#[derive(Debug)]
pub struct Call {
    /// The field's index in its type (or the subscription field's index).
    pub index: usize,
    /// Its arguments, by declared name.
    pub args: Vec<(&'static str, Template)>,
    /// The shape of its type.
    pub shape: Shape,
    /// What is selected on it, for an object type: the type's index and
    /// the selection.
    pub selection: Option<(usize, Selection)>,
}

/// A field type's shape, down to its named type.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Never null.
    NonNull(Box<Shape>),
    /// A list of the inner shape.
    List(Box<Shape>),
    /// A scalar.
    Leaf,
    /// An object; its selection is the call's.
    Object,
}

/// When a planned field is in the response.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    /// Always.
    Always,
    /// When all conditions of any one list hold (one list per occurrence
    /// of the response key).
    AnyOf(Vec<Vec<Condition>>),
}

/// `@include(if: $v)` or `@skip(if: $v)`: the variable must be `include`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    /// The variable's index.
    pub variable: usize,
    /// The value it must have.
    pub include: bool,
}

/// An argument's value: constants, and variables by index.
#[derive(Debug, Clone)]
pub enum Template {
    /// A constant.
    Const(Input<'static>),
    /// A variable; absent if the request does not give it.
    Variable(usize),
    /// A list.
    List(Vec<Template>),
    /// An input object.
    Object(Vec<(String, Template)>),
    /// A variable given for an argument with a default: the default when
    /// the request does not give the variable.
    Defaulted(usize, Input<'static>),
}
