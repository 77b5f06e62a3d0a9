//! The number of aliases in a document, limited beyond async-graphql's own
//! depth and complexity limits: aliases would otherwise let one small
//! request ask for the same field hundreds of times. Counted once per
//! document, fragments included, before validation.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// Most aliases in one document (the contract's documents use none).
pub const MAX_ALIASES: usize = 30;

/// Aliases written in the document (each fragment counted once).
pub fn count(document: &ExecutableDocument) -> usize {
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
        count(&async_graphql::parser::parse_query(query).unwrap())
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
