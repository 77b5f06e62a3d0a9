//! Limits on a GraphQL document beyond the engine's own depth and complexity
//! limits: the number of aliases, which would otherwise let one small request
//! ask for the same field hundreds of times. Counted once per document,
//! fragments included, before validation.

use super::VALIDATION_FAILED;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};
use std::sync::Arc;

/// Most aliases in one document (the contract's documents use none).
pub const MAX_ALIASES: usize = 30;

/// Refuses documents with more than `MAX_ALIASES` aliases.
pub struct AliasLimit;

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimit)
    }
}

#[async_trait::async_trait]
impl Extension for AliasLimit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let aliases = count_aliases(&document);
        if aliases > MAX_ALIASES {
            let mut error = ServerError::new(
                format!("documents are limited to {MAX_ALIASES} aliases, this one has {aliases}"),
                None,
            );
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", VALIDATION_FAILED);
            return Err(error);
        }
        Ok(document)
    }
}

/// Aliases written in the document (each fragment counted once).
pub fn count_aliases(document: &ExecutableDocument) -> usize {
    let operations = document
        .operations
        .iter()
        .map(|(_, op)| in_set(&op.node.selection_set.node));
    let fragments = document
        .fragments
        .values()
        .map(|fragment| in_set(&fragment.node.selection_set.node));
    operations.chain(fragments).sum()
}

fn in_set(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + in_set(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliases(query: &str) -> usize {
        count_aliases(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn aliases_are_counted_everywhere_once() {
        assert_eq!(aliases("{ sessions { liked } }"), 0);
        assert_eq!(
            aliases("{ a: sessions { b: liked } c: session(sessionId: 1) { liked } }"),
            3
        );
        assert_eq!(
            aliases(
                "query { ...F ...F ... on Query { d: sessions { id } } } fragment F on Query { e: sessions { id } }"
            ),
            2
        );
    }
}
