//! A GraphQL request as every transport carries it: `query`,
//! `operationName`, `variables` and `extensions`, taken from the
//! transport's JSON (or URL parameters) as written, without copying, and
//! checked for shape before any GraphQL runs. The variables and a persisted
//! query's hash are read from their JSON only once the request is run.

use super::errors::{Code, GraphQLError};
use super::input::Input;
use super::prepare::Asked;
use serde::Deserialize;
use serde::de::Error as _;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One GraphQL request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Request<'a> {
    /// The document's text as the JSON writes it, a string with its quotes
    /// and escapes (absent when only a persisted hash is sent): documents
    /// are kept by it, so a known one is found without reading it.
    #[serde(borrow, default, deserialize_with = "json_text")]
    pub(crate) query: Option<&'a RawValue>,
    /// Which operation of the document to run.
    #[serde(borrow, default, deserialize_with = "text")]
    pub(crate) operation_name: Option<Cow<'a, str>>,
    /// The variables: a JSON object.
    #[serde(borrow, default)]
    pub(crate) variables: Option<&'a RawValue>,
    /// Protocol extensions: a JSON object (`persistedQuery`).
    #[serde(borrow, default)]
    pub(crate) extensions: Option<&'a RawValue>,
}

/// A string, borrowed from the JSON unless it has escapes (serde borrows a
/// `Cow` only when it is not inside an `Option`).
fn text<'de: 'a, 'a, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text<'a>>::deserialize(deserializer)?.map(|text| text.0))
}

/// A JSON string as written; any other value is refused as reading a
/// string refuses it.
fn json_text<'de: 'a, 'a, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<&'a RawValue>, D::Error> {
    let Some(raw) = Option::<&RawValue>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if !raw.get().starts_with('"') {
        let value: serde_json::Value = serde_json::from_str(raw.get()).map_err(D::Error::custom)?;
        String::deserialize(value).map_err(D::Error::custom)?;
    }
    Ok(Some(raw))
}

/// Apollo's automatic persisted query extension.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Persisted<'a> {
    version: i64,
    #[serde(borrow)]
    sha256_hash: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestExtensions<'a> {
    #[serde(borrow, default)]
    persisted_query: Option<Persisted<'a>>,
}

impl<'a> Request<'a> {
    /// Refuses a request whose `variables` or `extensions` is not an
    /// object (null counts as absent).
    pub(crate) fn check(&self) -> Result<(), GraphQLError> {
        for (name, value) in [
            ("variables", self.variables),
            ("extensions", self.extensions),
        ] {
            if let Some(value) = value
                && !is_object_or_null(value)
            {
                return Err(GraphQLError::new(
                    Code::BadRequest,
                    format!("{name} must be a JSON object"),
                ));
            }
        }
        Ok(())
    }

    /// The document the request asks for: its text, and the persisted
    /// query hash if the client sent one.
    pub(crate) fn asked(&self) -> Result<Asked<'_>, GraphQLError> {
        let bad = |message: &str| GraphQLError::new(Code::BadRequest, message);
        let hash = match self.extensions {
            Some(raw) if is_object_or_null(raw) && raw.get().contains("persistedQuery") => {
                let extensions: RequestExtensions<'_> = serde_json::from_str(raw.get())
                    .map_err(|_| bad("extensions.persistedQuery is not a persisted query"))?;
                match extensions.persisted_query {
                    Some(persisted) if persisted.version != 1 => {
                        return Err(bad("persisted queries are supported in version 1 only"));
                    }
                    Some(persisted) => {
                        let mut hash = [0; 32];
                        hex::decode_to_slice(persisted.sha256_hash.as_bytes(), &mut hash)
                            .map_err(|_| bad("sha256Hash must be 64 hexadecimal digits"))?;
                        Some(hash)
                    }
                    None => None,
                }
            }
            _ => None,
        };
        Ok(Asked {
            json: self.query.map(RawValue::get),
            hash,
        })
    }

    /// The variables, read from their JSON (an empty object when absent).
    pub(crate) fn variables(&self) -> Result<Input<'_>, GraphQLError> {
        match self.variables {
            None => Ok(Input::Object(Vec::new())),
            Some(raw) => match serde_json::from_str(raw.get()) {
                Ok(Input::Null) => Ok(Input::Object(Vec::new())),
                Ok(object @ Input::Object(_)) => Ok(object),
                Ok(_) => Err(GraphQLError::new(
                    Code::BadRequest,
                    "variables must be a JSON object",
                )),
                // Valid JSON that no value here holds, such as `1e400`.
                Err(error) => Err(GraphQLError::new(
                    Code::BadRequest,
                    format!("variables cannot be read: {error}"),
                )),
            },
        }
    }
}

fn is_object_or_null(raw: &RawValue) -> bool {
    let text = raw.get().trim_start();
    text.starts_with('{') || text == "null"
}
