//! The limits that keep a small request from asking for unbounded work:
//! nesting (the parser), aliases, directives and introspection (the written
//! document, with the one rule apollo-compiler misses: an input object names
//! each field once), then depth and complexity (the validated one, in the
//! walk that also applies `rules` on variables).

use crate::graphql::errors::{Code, GraphQLError};
use apollo_compiler::ast::{self, Argument, Definition, InputValueDefinition, Value};
use apollo_compiler::executable::{ExecutableDocument, Selection, SelectionSet};
use apollo_compiler::{Name, Node, Schema};

/// Deepest nesting of selection sets the parser follows (fragments not
/// expanded).
pub(crate) const MAX_NESTING: usize = 16;
/// Deepest chain of fields, fragments expanded (the contract's deepest
/// useful query is 4).
pub(crate) const MAX_DEPTH: usize = 8;
/// Most fields one operation selects, fragments expanded.
pub(crate) const MAX_COMPLEXITY: usize = 200;
/// Most aliases in one document (the contract's documents use none).
pub(crate) const MAX_ALIASES: usize = 30;
/// Most directives on one field.
pub(crate) const MAX_DIRECTIVES: usize = 4;

/// A document refused by a limit or a rule of validation.
pub(super) fn refused(message: String) -> GraphQLError {
    GraphQLError::new(Code::GraphqlValidationFailed, message)
}

/// Aliases, directives per field, introspection unless `introspection` and
/// repeated input fields, in the document as written.
pub(super) fn check_written(
    document: &ast::Document,
    introspection: bool,
) -> Result<(), GraphQLError> {
    let mut aliases = 0;
    let mut sets: Vec<&[ast::Selection]> = Vec::new();
    let mut values: Vec<&Value> = Vec::new();
    for definition in &document.definitions {
        match definition {
            Definition::OperationDefinition(operation) => {
                sets.push(&operation.selection_set);
                let defaults = operation
                    .variables
                    .iter()
                    .filter_map(|v| v.default_value.as_ref());
                values.extend(defaults.map(|v| &**v));
            }
            Definition::FragmentDefinition(fragment) => sets.push(&fragment.selection_set),
            _ => {}
        }
    }
    while let Some(set) = sets.pop() {
        for selection in set {
            match selection {
                ast::Selection::Field(field) => {
                    aliases += usize::from(field.alias.is_some());
                    if field.directives.len() > MAX_DIRECTIVES {
                        return Err(refused(format!(
                            "a field may carry at most {MAX_DIRECTIVES} directives, {} carries {}",
                            field.name,
                            field.directives.len()
                        )));
                    }
                    if !introspection && ["__schema", "__type"].contains(&field.name.as_str()) {
                        return Err(refused(format!(
                            "introspection is off on this server; {} cannot be queried",
                            field.name
                        )));
                    }
                    values.extend(field.arguments.iter().map(|a| &*a.value));
                    sets.push(&field.selection_set);
                }
                ast::Selection::InlineFragment(inline) => sets.push(&inline.selection_set),
                ast::Selection::FragmentSpread(_) => {}
            }
        }
    }
    if let Some(name) = values.into_iter().find_map(repeated_field) {
        let at = name
            .location()
            .and_then(|at| at.line_column(&document.sources));
        let error = refused(format!(
            "there can be only one input field named \"{name}\""
        ));
        return Err(error.located(at));
    }
    if aliases > MAX_ALIASES {
        return Err(refused(format!(
            "documents are limited to {MAX_ALIASES} aliases, this one has {aliases}"
        )));
    }
    Ok(())
}

/// The first input field named twice in one object of `value`.
fn repeated_field(value: &Value) -> Option<&apollo_compiler::Name> {
    match value {
        Value::Object(fields) => fields
            .iter()
            .enumerate()
            .find_map(|(index, (name, value))| {
                let repeated = fields[..index].iter().any(|(seen, _)| seen == name);
                repeated.then_some(name).or_else(|| repeated_field(value))
            }),
        Value::List(items) => items.iter().find_map(|item| repeated_field(item)),
        _ => None,
    }
}

/// Depth and complexity of each operation of a validated document, then
/// `rules` on variables whose default is `null`: one walk each.
pub(super) fn check_operations(
    document: &ExecutableDocument,
    schema: &Schema,
) -> Result<(), GraphQLError> {
    let mut misplaced = None;
    for operation in document.operations.iter() {
        let mut walk = Walk {
            document,
            schema,
            nulls: (operation.variables.iter())
                .filter(|v| !v.ty.is_non_null() && v.default_value.as_deref() == Some(&Value::Null))
                .map(|v| &v.name)
                .collect(),
            depth: 0,
            fields: 0,
            misplaced: None,
        };
        walk.set(&operation.selection_set, 1);
        if walk.depth > MAX_DEPTH {
            return Err(refused(format!(
                "operations are limited to a depth of {MAX_DEPTH} fields"
            )));
        }
        if walk.fields > MAX_COMPLEXITY {
            return Err(refused(format!(
                "operations are limited to {MAX_COMPLEXITY} fields, fragments expanded"
            )));
        }
        misplaced = misplaced.or(walk.misplaced);
    }
    misplaced.map_or(Ok(()), Err)
}

/// One operation's walk, fragments expanded: its deepest chain of fields,
/// how many it selects (it stops past the limits, so a fragment spread a
/// million times costs no more), the first misplaced `null` default.
pub(super) struct Walk<'d> {
    pub(super) document: &'d ExecutableDocument,
    pub(super) schema: &'d Schema,
    /// The operation's variables whose default is `null`.
    pub(super) nulls: Vec<&'d Name>,
    depth: usize,
    fields: usize,
    misplaced: Option<GraphQLError>,
}

impl Walk<'_> {
    fn set(&mut self, set: &SelectionSet, depth: usize) {
        for selection in &set.selections {
            if self.depth > MAX_DEPTH || self.fields > MAX_COMPLEXITY {
                return;
            }
            for directive in selection.directives().iter() {
                if let Some(definition) = self.schema.directive_definitions.get(&directive.name) {
                    self.arguments(&directive.arguments, &definition.arguments);
                }
            }
            match selection {
                Selection::Field(field) => {
                    self.fields += 1;
                    self.depth = self.depth.max(depth);
                    self.arguments(&field.arguments, &field.definition.arguments);
                    self.set(&field.selection_set, depth + 1);
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.document.fragments.get(&spread.fragment_name) {
                        self.set(&fragment.selection_set, depth);
                    }
                }
                Selection::InlineFragment(inline) => self.set(&inline.selection_set, depth),
            }
        }
    }

    /// Checks the arguments `given` against those `declared`.
    fn arguments(&mut self, given: &[Node<Argument>], declared: &[Node<InputValueDefinition>]) {
        if self.nulls.is_empty() || self.misplaced.is_some() {
            return;
        }
        for argument in given {
            if let Some(declared) = declared.iter().find(|d| d.name == argument.name)
                && let Err(error) = self.null_in(
                    &argument.value,
                    &declared.ty,
                    declared.default_value.is_some(),
                )
            {
                self.misplaced = Some(error);
                return;
            }
        }
    }
}
