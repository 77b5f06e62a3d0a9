//! Input coercion, as the spec's CoerceVariableValues and input coercion
//! say, against apollo-compiler's schema; also the constants of the schema
//! and of documents (defaults, literal arguments) read into values.

use crate::graphql::input::Input;
use apollo_compiler::Schema;
use apollo_compiler::ast::{Type, Value};
use apollo_compiler::schema::ExtendedType;
use std::borrow::Cow;
use std::fmt;

/// Where a value is, for error messages (`$input.uuid`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Place<'p> {
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

/// Coerces `value`, at `at`, to type `ty`; `Err` says why it does not fit.
pub(crate) fn coerce<'a>(
    value: Input<'a>,
    ty: &Type,
    schema: &Schema,
    at: &Place<'_>,
) -> Result<Input<'a>, String> {
    match (ty, value) {
        (_, Input::Null) if ty.is_non_null() => Err(format!("{at} must not be null (type {ty})")),
        (_, Input::Null) => Ok(Input::Null),
        (Type::List(item) | Type::NonNullList(item), Input::List(items)) => items
            .into_iter()
            .enumerate()
            .map(|(index, value)| coerce(value, item, schema, &Place::Item(at, index)))
            .collect::<Result<_, _>>()
            .map(Input::List),
        (Type::List(item) | Type::NonNullList(item), single) => {
            Ok(Input::List(vec![coerce(single, item, schema, at)?]))
        }
        // The built-in scalars, known without looking them up.
        (Type::Named(name) | Type::NonNullNamed(name), value) if is_built_in(name) => {
            scalar(value, name).ok_or_else(|| format!("{at} is not a valid {name}"))
        }
        (Type::Named(name) | Type::NonNullNamed(name), value) => match schema.types.get(name) {
            Some(ExtendedType::InputObject(input)) => {
                let Input::Object(mut given) = value else {
                    return Err(format!("{at} must be an object of type {name}"));
                };
                // Coerced where they are, then the defaults of those not given.
                for (given_name, value) in &mut given {
                    let Some(field) = input.fields.get(given_name.as_ref()) else {
                        return Err(format!("{at} has no field \"{given_name}\" (type {name})"));
                    };
                    let at = Place::Field(at, given_name);
                    *value = coerce(
                        std::mem::replace(value, Input::Null),
                        &field.ty,
                        schema,
                        &at,
                    )?;
                }
                for (field_name, field) in &input.fields {
                    if given.iter().any(|(given, _)| given == field_name.as_str()) {
                        continue;
                    }
                    match &field.default_value {
                        Some(default) => given.push((
                            Cow::Owned(field_name.to_string()),
                            literal(default, &field.ty, schema),
                        )),
                        None if field.ty.is_non_null() => {
                            let at = Place::Field(at, field_name);
                            return Err(format!(
                                "{at} of required type {} was not given",
                                field.ty
                            ));
                        }
                        None => {}
                    }
                }
                Ok(Input::Object(given))
            }
            Some(ExtendedType::Enum(values)) => match value {
                Input::Str(text) if values.values.contains_key(text.as_ref()) => {
                    Ok(Input::Str(text))
                }
                _ => Err(format!("{at} is not a value of the enum {name}")),
            },
            // Other scalars take any value.
            _ => Ok(value),
        },
    }
}

/// Whether `name` is one of the spec's built-in scalars.
fn is_built_in(name: &str) -> bool {
    matches!(name, "Int" | "Float" | "String" | "Boolean" | "ID")
}

/// A built-in scalar's input coercion.
fn scalar<'a>(value: Input<'a>, name: &str) -> Option<Input<'a>> {
    let integral = |f: f64| (f.fract() == 0.0 && f.abs() < 2f64.powi(53)).then_some(f as i64);
    match (name, value) {
        ("Int", Input::Int(n)) => i32::try_from(n).ok().map(|n| Input::Int(n.into())),
        ("Int", Input::Float(f)) => integral(f)
            .and_then(|n| i32::try_from(n).ok())
            .map(|n| Input::Int(n.into())),
        ("Float", Input::Int(n)) => Some(Input::Float(n as f64)),
        ("Float", value @ Input::Float(_))
        | ("String" | "ID", value @ Input::Str(_))
        | ("Boolean", value @ Input::Bool(_)) => Some(value),
        ("ID", Input::Int(n)) => Some(Input::Str(Cow::Owned(n.to_string()))),
        ("ID", Input::Float(f)) => integral(f).map(|n| Input::Str(Cow::Owned(n.to_string()))),
        _ => None,
    }
}

/// A constant of a validated document or of the schema, as a value of type
/// `ty`, coerced as a variable's value is.
pub(crate) fn literal(value: &Value, ty: &Type, schema: &Schema) -> Input<'static> {
    coerce(constant(value), ty, schema, &Place::Variable("")).unwrap_or(Input::Null)
}

/// `value` as an input value, before it meets its type.
fn constant(value: &Value) -> Input<'static> {
    let owned = |text: &str| Input::Str(Cow::Owned(text.to_owned()));
    match value {
        Value::Null | Value::Variable(_) => Input::Null,
        Value::Int(n) => (n.as_str().parse())
            .map_or(Input::Float(n.try_to_f64().unwrap_or(f64::NAN)), Input::Int),
        Value::Float(f) => Input::Float(f.try_to_f64().unwrap_or(f64::NAN)),
        Value::String(text) => owned(text),
        Value::Enum(name) => owned(name),
        Value::Boolean(b) => Input::Bool(*b),
        Value::List(items) => Input::List(items.iter().map(|item| constant(item)).collect()),
        Value::Object(fields) => Input::Object(
            (fields.iter())
                .map(|(name, value)| (Cow::Owned(name.to_string()), constant(value)))
                .collect(),
        ),
    }
}
