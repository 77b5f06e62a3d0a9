//! Input values: what a request's variables and a document's arguments
//! hold, read from JSON without copying its strings, and their coercion to
//! the declared input types (the spec's CoerceVariableValues and input
//! coercion: `Int` in 32 bits, `ID` from a string or an integer, input
//! objects with no unknown fields and every required one, a single value
//! where a list is expected).

use super::schema::{Schema, scalar};
use async_graphql::dynamic::TypeRef;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A GraphQL input value.
#[derive(Debug, Clone, PartialEq)]
pub enum Input<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number that is not an integer (or too large for one).
    Float(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// A list.
    List(Vec<Input<'a>>),
    /// An object's fields, in the order given.
    Object(Vec<(Cow<'a, str>, Input<'a>)>),
}

impl<'a> Input<'a> {
    /// The value as an `Int`, if it is one.
    pub fn as_i32(&self) -> Option<i32> {
        match self {
            Self::Int(n) => i32::try_from(*n).ok(),
            _ => None,
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(text) => Some(text),
            _ => None,
        }
    }

    /// An object's field `name`, if given.
    pub fn field(&self, name: &str) -> Option<&Input<'a>> {
        match self {
            Self::Object(fields) => fields
                .iter()
                .find_map(|(given, value)| (given == name).then_some(value)),
            _ => None,
        }
    }

    /// The same value, borrowing its strings from `self`.
    pub fn borrowed(&self) -> Input<'_> {
        match self {
            Self::Null => Input::Null,
            Self::Bool(b) => Input::Bool(*b),
            Self::Int(n) => Input::Int(*n),
            Self::Float(f) => Input::Float(*f),
            Self::Str(text) => Input::Str(Cow::Borrowed(text)),
            Self::List(items) => Input::List(items.iter().map(Input::borrowed).collect()),
            Self::Object(fields) => Input::Object(
                fields
                    .iter()
                    .map(|(name, value)| (Cow::Borrowed(name.as_ref()), value.borrowed()))
                    .collect(),
            ),
        }
    }

    /// The same value, owning its strings.
    pub fn into_owned(self) -> Input<'static> {
        match self {
            Self::Null => Input::Null,
            Self::Bool(b) => Input::Bool(b),
            Self::Int(n) => Input::Int(n),
            Self::Float(f) => Input::Float(f),
            Self::Str(text) => Input::Str(Cow::Owned(text.into_owned())),
            Self::List(items) => Input::List(items.into_iter().map(Input::into_owned).collect()),
            Self::Object(fields) => Input::Object(
                fields
                    .into_iter()
                    .map(|(name, value)| (Cow::Owned(name.into_owned()), value.into_owned()))
                    .collect(),
            ),
        }
    }

    /// A constant of the document (a default value), owning its strings.
    pub fn from_const(value: &async_graphql::Value) -> Input<'static> {
        use async_graphql::Value as Const;
        match value {
            Const::Null => Input::Null,
            Const::Boolean(b) => Input::Bool(*b),
            Const::Number(n) => number(n),
            Const::String(text) => Input::Str(Cow::Owned(text.clone())),
            Const::Enum(name) => Input::Str(Cow::Owned(name.to_string())),
            Const::Binary(_) => Input::Null,
            Const::List(items) => Input::List(items.iter().map(Input::from_const).collect()),
            Const::Object(fields) => Input::Object(
                fields
                    .iter()
                    .map(|(name, value)| (Cow::Owned(name.to_string()), Input::from_const(value)))
                    .collect(),
            ),
        }
    }

    /// As async-graphql's constant value.
    pub fn to_const(&self) -> async_graphql::Value {
        use async_graphql::Value as Const;
        match self {
            Self::Null => Const::Null,
            Self::Bool(b) => Const::Boolean(*b),
            Self::Int(n) => Const::from(*n),
            Self::Float(f) => Const::from(*f),
            Self::Str(text) => Const::String(text.to_string()),
            Self::List(items) => Const::List(items.iter().map(Input::to_const).collect()),
            Self::Object(fields) => Const::Object(
                fields
                    .iter()
                    .map(|(name, value)| (async_graphql::Name::new(name), value.to_const()))
                    .collect(),
            ),
        }
    }
}

/// A number of the document or of JSON.
pub fn number(n: &serde_json::Number) -> Input<'static> {
    match n.as_i64() {
        Some(i) => Input::Int(i),
        None => Input::Float(n.as_f64().unwrap_or(f64::NAN)),
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Input<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(InputVisitor)
    }
}

struct InputVisitor;

impl<'de> Visitor<'de> for InputVisitor {
    type Value = Input<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Input::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Input::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Input::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Input::Int(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(n).map_or(Input::Float(n as f64), Input::Int))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Self::Value, E> {
        Ok(Input::Float(f))
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Input::Str(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Input::Str(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
        Ok(Input::Str(Cow::Owned(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Input::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            let value = map.next_value()?;
            fields.push((name, value));
        }
        Ok(Input::Object(fields))
    }
}

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
