//! Input values: what a request's variables and a document's arguments
//! hold, read from JSON without copying its strings. Their coercion to the
//! declared types lives with the declarations (`schema::coerce`).

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// An argument or an input object's field, by name (checked at start-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InputValue(pub(crate) &'static str);

/// A GraphQL input value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Input<'a> {
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
    pub(crate) fn as_i32(&self) -> Option<i32> {
        match self {
            Self::Int(n) => i32::try_from(*n).ok(),
            _ => None,
        }
    }

    /// The value as a string, if it is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(text) => Some(text),
            _ => None,
        }
    }

    /// The value as a `Boolean`, if it is one.
    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// An input object's `field`, if given.
    pub(crate) fn field(&self, field: &InputValue) -> Option<&Input<'a>> {
        match self {
            Self::Object(fields) => fields
                .iter()
                .find_map(|(given, value)| (given == field.0).then_some(value)),
            _ => None,
        }
    }

    /// The same value, owning its strings.
    pub(crate) fn into_owned(self) -> Input<'static> {
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
        // Borrowed unless escaped: a plain `Cow` would always be copied.
        #[derive(serde::Deserialize)]
        struct Name<'a>(#[serde(borrow)] Cow<'a, str>);
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(Name(name)) = map.next_key()? {
            let value = map.next_value()?;
            fields.push((name, value));
        }
        Ok(Input::Object(fields))
    }
}
