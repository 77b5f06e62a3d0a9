//! Coercion of input values to the declared input types, as the spec's
//! CoerceVariableValues and input coercion say: `Int` in 32 bits, `ID` from
//! a string or an integer, input objects with no unknown fields and every
//! required one, a single value where a list is expected.

use super::{Schema, scalar};
use crate::graphql::input::Input;
use async_graphql::dynamic::TypeRef;
use std::borrow::Cow;
use std::fmt;

/// Where a value is, for error messages (`$input.uuid`); written out only
/// when one is needed.
#[derive(Debug, Clone, Copy)]
pub enum Place<'p> {
    /// A variable.
    Variable(&'p str),
    /// An input object's field.
    Field(&'p Place<'p>, &'p str),
    /// A list's item.
    Item(&'p Place<'p>, usize),
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Variable(name) => write!(f, "${name}"),
            Self::Field(parent, name) => write!(f, "{parent}.{name}"),
            Self::Item(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// Coerces `value` to type `ty`, as a variable's value (or a default) is:
/// `Err` says why it does not fit, naming the place by `at`.
pub fn coerce<'a>(
    value: Input<'a>,
    ty: &TypeRef,
    schema: &Schema,
    at: &Place<'_>,
) -> Result<Input<'a>, String> {
    match ty {
        TypeRef::NonNull(inner) => match value {
            Input::Null => Err(format!("{at} must not be null (type {ty})")),
            value => coerce(value, inner, schema, at),
        },
        TypeRef::List(item) => match value {
            Input::Null => Ok(Input::Null),
            Input::List(items) => {
                let mut coerced = Vec::with_capacity(items.len());
                for (index, value) in items.into_iter().enumerate() {
                    coerced.push(coerce(value, item, schema, &Place::Item(at, index))?);
                }
                Ok(Input::List(coerced))
            }
            single => Ok(Input::List(vec![coerce(single, item, schema, at)?])),
        },
        TypeRef::Named(name) => match value {
            Input::Null => Ok(Input::Null),
            value if scalar::is_builtin(name) => {
                coerce_scalar(value, name).ok_or_else(|| format!("{at} is not a valid {name}"))
            }
            value => coerce_object(value, name, schema, at),
        },
    }
}

fn coerce_scalar<'a>(value: Input<'a>, name: &str) -> Option<Input<'a>> {
    let integral = |f: f64| (f.fract() == 0.0 && f.abs() < 2f64.powi(53)).then_some(f as i64);
    match (name, value) {
        (scalar::INT, Input::Int(n)) => i32::try_from(n).ok().map(|n| Input::Int(n.into())),
        (scalar::INT, Input::Float(f)) => integral(f)
            .and_then(|n| i32::try_from(n).ok())
            .map(|n| Input::Int(n.into())),
        (scalar::FLOAT, Input::Int(n)) => Some(Input::Float(n as f64)),
        (scalar::FLOAT, value @ Input::Float(_)) => Some(value),
        (scalar::STRING, value @ Input::Str(_)) => Some(value),
        (scalar::BOOLEAN, value @ Input::Bool(_)) => Some(value),
        (scalar::ID, value @ Input::Str(_)) => Some(value),
        (scalar::ID, Input::Int(n)) => Some(Input::Str(Cow::Owned(n.to_string()))),
        _ => None,
    }
}

fn coerce_object<'a>(
    value: Input<'a>,
    name: &str,
    schema: &Schema,
    at: &Place<'_>,
) -> Result<Input<'a>, String> {
    let Some(declared) = schema.input_object(name) else {
        return Err(format!("{at} has the unknown type {name}"));
    };
    let Input::Object(given) = value else {
        return Err(format!("{at} must be an object of type {name}"));
    };
    if let Some((unknown, _)) = given
        .iter()
        .find(|(field, _)| !declared.fields.iter().any(|f| f.name == field.as_ref()))
    {
        return Err(format!("{at} has no field \"{unknown}\" (type {name})"));
    }
    let mut given = given;
    let mut coerced = Vec::with_capacity(given.len());
    for field in &declared.fields {
        let at = Place::Field(at, field.name);
        match given.iter().position(|(f, _)| f.as_ref() == field.name) {
            Some(index) => {
                let (name, value) = given.swap_remove(index);
                coerced.push((name, coerce(value, &field.ty, schema, &at)?));
            }
            None if matches!(field.ty, TypeRef::NonNull(_)) => {
                return Err(format!("{at} of required type {} was not given", field.ty));
            }
            None => {}
        }
    }
    Ok(Input::Object(coerced))
}
