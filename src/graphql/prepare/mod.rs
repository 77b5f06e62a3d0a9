//! Preparing documents once: parse, the alias limit, validation by
//! async-graphql (against the declared schema, without variables), and a
//! plan per operation (`planner` makes a `plan`). Prepared documents are kept in a bounded,
//! scan-resistant cache keyed by the SHA-256 of their text, which is also
//! how automatic persisted queries find them (`Documents`).

mod aliases;
mod plan;
mod planner;

pub use aliases::MAX_ALIASES;
pub use plan::{Call, Kind, Operation, Planned, Selection, Shape, Template, When};

use super::errors::{
    BAD_REQUEST, GraphQLError, OPERATION_RESOLUTION_FAILURE, PARSE_FAILED,
    PERSISTED_QUERY_NOT_FOUND, VALIDATION_FAILED, bounded,
};
use super::schema::{Checking, Schema};
use crate::telemetry as names;
use async_graphql::ValidationResult;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A document as prepared: its operations planned, or the errors that
/// keep it from running. The same text always prepares the same way.
pub struct Prepared {
    /// The plans, or the parse and validation errors.
    pub outcome: Result<Plans, Vec<GraphQLError>>,
    /// Estimated bytes held, for the cache's bound.
    weight: u64,
}

/// A valid document's operations.
pub struct Plans {
    /// Its operations, in document order.
    pub operations: Vec<Operation>,
    /// The parse, kept when an operation is introspective (async-graphql
    /// runs those), with async-graphql's validation result.
    pub introspection: Option<(ExecutableDocument, ValidationResult)>,
}

impl Plans {
    /// The operation a request names, or the only one when it names none.
    pub fn operation(&self, name: Option<&str>) -> Result<&Operation, GraphQLError> {
        match name {
            Some(name) => self
                .operations
                .iter()
                .find(|op| op.name.as_deref() == Some(name))
                .ok_or_else(|| {
                    GraphQLError::new(
                        OPERATION_RESOLUTION_FAILURE,
                        format!("the document has no operation named \"{name}\""),
                    )
                }),
            None => match self.operations.as_slice() {
                [only] => Ok(only),
                _ => Err(GraphQLError::new(
                    OPERATION_RESOLUTION_FAILURE,
                    "the document has several operations: name one with operationName",
                )),
            },
        }
    }
}

/// Prepares `text` against `schema`.
pub async fn prepare(text: &str, schema: &Schema) -> Prepared {
    metrics::counter!(names::DOCUMENTS_PREPARED).increment(1);
    let outcome = plans(text, schema).await.map_err(bounded);
    let weight = match &outcome {
        // A parse tree and its plans take several times the text.
        Ok(_) => 1024 + 8 * text.len() as u64,
        Err(errors) => 256 + errors.iter().map(|e| e.message.len() as u64).sum::<u64>(),
    };
    Prepared { outcome, weight }
}

async fn plans(text: &str, schema: &Schema) -> Result<Plans, Vec<GraphQLError>> {
    let document = async_graphql::parser::parse_query(text)
        .map_err(|error| vec![GraphQLError::from_server(error.into(), PARSE_FAILED)])?;
    let aliases = aliases::count(&document);
    if aliases > MAX_ALIASES {
        return Err(vec![GraphQLError::new(
            VALIDATION_FAILED,
            format!("documents are limited to {MAX_ALIASES} aliases, this one has {aliases}"),
        )]);
    }
    let validation = validate(&document, schema).await?;
    let definitions: Vec<_> = match &document.operations {
        DocumentOperations::Single(definition) => vec![(None, &definition.node)],
        DocumentOperations::Multiple(named) => named
            .iter()
            .map(|(name, definition)| (Some(name.to_string()), &definition.node))
            .collect(),
    };
    let mut operations = Vec::with_capacity(definitions.len());
    for (name, definition) in definitions {
        let operation =
            planner::operation(schema, &document, name, definition).map_err(|error| {
                tracing::error!(%error, "a validated document could not be planned");
                vec![GraphQLError::new(VALIDATION_FAILED, error)]
            })?;
        operations.push(operation);
    }
    let introspection = operations
        .iter()
        .any(|op| op.introspective)
        .then_some((document, validation));
    Ok(Plans {
        operations,
        introspection,
    })
}

/// async-graphql's validation of `document`, without variables: the same
/// for every request that sends it.
async fn validate(
    document: &ExecutableDocument,
    schema: &Schema,
) -> Result<ValidationResult, Vec<GraphQLError>> {
    let checking = Arc::new(Checking::default());
    let mut request = async_graphql::Request::new("");
    request.set_parsed_query(document.clone());
    let response = schema
        .checker()
        .execute(request.data(checking.clone()))
        .await;
    let outcome = checking.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    let errors = match outcome {
        Some(Ok(validation)) => return Ok(validation),
        Some(Err(errors)) => errors,
        // Refused before validation: too deep, or too many directives.
        None => response.errors,
    };
    Err(errors
        .into_iter()
        .map(|error| GraphQLError::from_server(error, VALIDATION_FAILED))
        .collect())
}

/// What a request gives to find its document: the text, and Apollo's
/// `extensions.persistedQuery` hash.
pub struct Asked<'a> {
    /// The document's text.
    pub text: Option<&'a str>,
    /// Its SHA-256, as the client computed it.
    pub hash: Option<[u8; 32]>,
}

/// Prepared documents by the SHA-256 of their text, bounded by their
/// estimated size. Its policy (S3-FIFO) admits a new document on trial,
/// so a flood of documents seen once cannot push out the few that every
/// client sends.
pub struct Documents {
    cache: quick_cache::sync::Cache<[u8; 32], Arc<Prepared>, Weight>,
}

#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<[u8; 32], Arc<Prepared>> for Weight {
    fn weight(&self, _: &[u8; 32], prepared: &Arc<Prepared>) -> u64 {
        prepared.weight
    }
}

impl Documents {
    /// Keeps about `bytes` of prepared documents.
    pub fn new(bytes: u64) -> Self {
        Self {
            cache: quick_cache::sync::Cache::with_weighter(
                (bytes / 4096).max(16) as usize,
                bytes,
                Weight,
            ),
        }
    }

    /// The prepared document `asked` names: found by its hash, or prepared
    /// now and kept. A hash with no text that is not kept answers
    /// `PERSISTED_QUERY_NOT_FOUND`, and the client sends the text next.
    pub async fn get(
        &self,
        asked: &Asked<'_>,
        schema: &Schema,
    ) -> Result<Arc<Prepared>, GraphQLError> {
        match (asked.text, asked.hash) {
            (Some(text), hash) => {
                let key: [u8; 32] = Sha256::digest(text.as_bytes()).into();
                if hash.is_some_and(|hash| hash != key) {
                    return Err(GraphQLError::new(
                        BAD_REQUEST,
                        "provided sha does not match query",
                    ));
                }
                if let Some(prepared) = self.cache.get(&key) {
                    return Ok(prepared);
                }
                // Boxed: the common path's future stays small.
                let prepared = Arc::new(Box::pin(prepare(text, schema)).await);
                self.cache.insert(key, prepared.clone());
                Ok(prepared)
            }
            (None, Some(hash)) => self.cache.get(&hash).ok_or_else(|| {
                GraphQLError::new(PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound")
            }),
            (None, None) => Err(GraphQLError::new(
                BAD_REQUEST,
                "a request needs a query, or the hash of a persisted one",
            )),
        }
    }

    /// How many documents are kept.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}
