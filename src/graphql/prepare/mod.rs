//! Preparing documents once: parse, `limits`, validation by apollo-compiler
//! (corrected by `rules` where it departs from the spec), and a `plan` per
//! operation (`planner`). They are kept in a bounded, scan-resistant cache
//! by their text as requests write it in JSON (found without reading or
//! hashing it) and by its SHA-256 (automatic persisted queries).

mod limits;
mod plan;
mod planner;
mod rules;

pub(crate) use plan::{
    Call, Condition, Kind, Operation, Planned, Selection, Shape, Slot, Template,
};

use super::errors::{Code, GraphQLError, bounded};
use super::schema::Schema;
use crate::telemetry as names;
use apollo_compiler::parser::Parser;
use apollo_compiler::validation::{DiagnosticList, Valid};
use limits::MAX_NESTING;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::Arc;

/// A document as prepared; the same text always prepares the same way.
pub(crate) struct Prepared {
    /// Its operations planned, in document order, or why they cannot run.
    pub(crate) outcome: Result<Vec<Operation>, Vec<GraphQLError>>,
    /// Estimated bytes held, for the cache's bound.
    weight: u64,
}

/// The index of the operation `name`d, or of the only one.
pub(crate) fn operation(
    operations: &[Operation],
    name: Option<&str>,
) -> Result<usize, GraphQLError> {
    let refused = |message: String| GraphQLError::new(Code::OperationResolutionFailure, message);
    match name {
        Some(name) => operations
            .iter()
            .position(|op| op.name.as_deref() == Some(name))
            .ok_or_else(|| refused(format!("the document has no operation named \"{name}\""))),
        None if operations.len() == 1 => Ok(0),
        None => Err(refused(
            "the document has several operations: name one with operationName".into(),
        )),
    }
}

/// Prepares `text` against `schema`.
pub(crate) fn prepare(text: &str, schema: &Schema) -> Prepared {
    metrics::counter!(names::DOCUMENTS_PREPARED).increment(1);
    let outcome = plans(text, schema).map_err(bounded);
    let weight = match &outcome {
        // A parse tree and its plans take several times the text.
        Ok(_) => 1024 + 8 * text.len() as u64,
        Err(errors) => 256 + errors.iter().map(|e| e.message.len() as u64).sum::<u64>(),
    };
    Prepared { outcome, weight }
}

fn plans(text: &str, schema: &Schema) -> Result<Vec<Operation>, Vec<GraphQLError>> {
    // The operation's or fragment's own selection set is the parser's first.
    let mut parser = Parser::new().recursion_limit(MAX_NESTING + 1);
    let document = parser
        .parse_ast(text, "request.graphql")
        .map_err(|invalid| {
            let code = match parser.recursion_reached() > MAX_NESTING + 1 {
                true => Code::GraphqlValidationFailed,
                false => Code::GraphqlParseFailed,
            };
            // The first syntax error, as graphql-js reports.
            let mut errors = coded(&invalid.errors, code);
            errors.truncate(1);
            errors
        })?;
    limits::check_written(&document, schema.introspection).map_err(|e| vec![e])?;
    let document = match document.to_executable_validate(&schema.apollo) {
        Ok(document) => document,
        Err(invalid) => {
            let mut errors = coded(&invalid.errors, Code::GraphqlValidationFailed);
            if rules::one_root_field(&invalid.partial) {
                errors.retain(|e| {
                    !rules::SUBSCRIPTION_ROOT
                        .iter()
                        .any(|m| e.message.ends_with(m))
                });
            }
            if !errors.is_empty() {
                return Err(errors);
            }
            Valid::assume_valid(invalid.partial)
        }
    };
    limits::check_operations(&document, &schema.apollo).map_err(|e| vec![e])?;
    let operations = document.operations.iter().map(|definition| {
        planner::operation(schema, &document, definition).map_err(|error| {
            tracing::error!(%error, "a validated document could not be planned");
            vec![GraphQLError::internal()]
        })
    });
    operations.collect()
}

/// apollo-compiler's diagnostics as errors with `code`.
fn coded(diagnostics: &DiagnosticList, code: Code) -> Vec<GraphQLError> {
    let errors = diagnostics.iter().map(|diagnostic| {
        let json = diagnostic.to_json();
        let mut error = GraphQLError::new(code, json.message);
        error.locations = json.locations;
        error
    });
    errors.collect()
}

/// What a request gives to find its document.
pub(crate) struct Asked<'a> {
    /// The document's text as a JSON string, quotes and escapes included.
    pub(crate) json: Option<&'a str>,
    /// Its SHA-256, as the client computed it.
    pub(crate) hash: Option<[u8; 32]>,
}

/// Prepared documents by their text (as JSON) and by its SHA-256, bounded
/// by their estimated size; S3-FIFO admits a new one on trial, so a flood
/// seen once cannot push out the few every client sends.
pub(crate) struct Documents {
    cache: quick_cache::sync::Cache<Key, Arc<Prepared>, Weight>,
}

/// What a prepared document is kept by; found by `Key<&str>`.
#[derive(Hash, PartialEq, Eq)]
enum Key<T = Box<str>> {
    /// Its text as a JSON string, as requests write it.
    Text(T),
    /// The SHA-256 of its text.
    Hash([u8; 32]),
}

impl quick_cache::Equivalent<Key> for Key<&str> {
    fn equivalent(&self, key: &Key) -> bool {
        match (self, key) {
            (Key::Text(text), Key::Text(kept)) => **text == **kept,
            (Key::Hash(hash), Key::Hash(kept)) => hash == kept,
            _ => false,
        }
    }
}

#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<Key, Arc<Prepared>> for Weight {
    fn weight(&self, _: &Key, prepared: &Arc<Prepared>) -> u64 {
        prepared.weight
    }
}

impl Documents {
    /// Keeps about `bytes` of prepared documents.
    pub(crate) fn new(bytes: u64) -> Self {
        Self {
            cache: quick_cache::sync::Cache::with_weighter(
                (bytes / 4096).max(16) as usize,
                bytes,
                Weight,
            ),
        }
    }

    /// The prepared document `asked` names, found or prepared now; an
    /// unknown hash without text is `PERSISTED_QUERY_NOT_FOUND`.
    pub(crate) fn get(
        &self,
        asked: &Asked<'_>,
        schema: &Schema,
    ) -> Result<Arc<Prepared>, GraphQLError> {
        match (asked.json, asked.hash) {
            (Some(json), hash) => {
                let by_text = self.cache.get(&Key::Text(json));
                if let (Some(prepared), None) = (&by_text, hash) {
                    return Ok(prepared.clone());
                }
                let text: Cow<'_, str> = serde_json::from_str(json)
                    .map_err(|_| GraphQLError::new(Code::BadRequest, "query must be a string"))?;
                let key: [u8; 32] = Sha256::digest(text.as_bytes()).into();
                if hash.is_some_and(|hash| hash != key) {
                    return Err(GraphQLError::new(
                        Code::BadRequest,
                        "provided sha does not match query",
                    ));
                }
                let by_hash = self.cache.get(&Key::<&str>::Hash(key));
                let prepared = (by_text.clone().or_else(|| by_hash.clone()))
                    .unwrap_or_else(|| Arc::new(prepare(&text, schema)));
                if by_text.is_none() {
                    self.cache.insert(Key::Text(json.into()), prepared.clone());
                }
                if by_hash.is_none() {
                    self.cache.insert(Key::Hash(key), prepared.clone());
                }
                Ok(prepared)
            }
            (None, Some(hash)) => self.cache.get(&Key::<&str>::Hash(hash)).ok_or_else(|| {
                GraphQLError::new(Code::PersistedQueryNotFound, "PersistedQueryNotFound")
            }),
            (None, None) => Err(GraphQLError::new(
                Code::BadRequest,
                "a request needs a query, or the hash of a persisted one",
            )),
        }
    }

    /// How many keys are kept: two a document.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.cache.len()
    }
}
