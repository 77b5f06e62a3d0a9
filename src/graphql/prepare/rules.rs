//! Where apollo-compiler's validation differs from the October 2021 spec,
//! and so from graphql-js, corrected on the documents it builds: a
//! subscription may select its one root field several times under one
//! response key (the spec groups fields by key before counting them), and a
//! variable whose default is `null` is not allowed where a non-null value
//! is expected (only a non-null default makes a nullable variable fit there).

use super::planner::location;
use crate::graphql::errors::{Code, GraphQLError};
use apollo_compiler::ast::{OperationType, Type, Value};
use apollo_compiler::executable::{ExecutableDocument, Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{Name, Node, Schema};

/// How apollo-compiler words its refusal of a subscription with several
/// root fields, which it counts before grouping them by response key.
pub(super) const SEVERAL_ROOT_FIELDS: &str = "can only have one root field";

/// Whether every subscription of `document` selects one response key at its
/// root, fragments expanded.
pub(super) fn one_root_key(document: &ExecutableDocument) -> bool {
    fn keys<'d>(document: &'d ExecutableDocument, set: &'d SelectionSet, into: &mut Vec<&'d Name>) {
        for selection in &set.selections {
            match selection {
                Selection::Field(field) if !into.contains(&field.response_key()) => {
                    into.push(field.response_key())
                }
                Selection::Field(_) => {}
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = document.fragments.get(&spread.fragment_name) {
                        keys(document, &fragment.selection_set, into);
                    }
                }
                Selection::InlineFragment(inline) => keys(document, &inline.selection_set, into),
            }
        }
    }
    let subscriptions = document.operations.iter();
    subscriptions
        .filter(|operation| operation.operation_type == OperationType::Subscription)
        .all(|operation| {
            let mut found = Vec::new();
            keys(document, &operation.selection_set, &mut found);
            found.len() <= 1
        })
}

/// Refuses a variable with a `null` default where a non-null value is
/// expected and the place has no default of its own.
pub(super) fn null_defaults(
    document: &ExecutableDocument,
    schema: &Schema,
) -> Result<(), GraphQLError> {
    for operation in document.operations.iter() {
        let nulls: Vec<&Name> = (operation.variables.iter())
            .filter(|v| !v.ty.is_non_null() && v.default_value.as_deref() == Some(&Value::Null))
            .map(|v| &v.name)
            .collect();
        if !nulls.is_empty() {
            let check = Check {
                document,
                schema,
                nulls,
            };
            check.set(&operation.selection_set)?;
        }
    }
    Ok(())
}

struct Check<'d> {
    document: &'d ExecutableDocument,
    schema: &'d Schema,
    nulls: Vec<&'d Name>,
}

impl Check<'_> {
    fn set(&self, set: &SelectionSet) -> Result<(), GraphQLError> {
        for selection in &set.selections {
            for directive in selection.directives().iter() {
                let Some(definition) = self.schema.directive_definitions.get(&directive.name)
                else {
                    continue;
                };
                for argument in &directive.arguments {
                    if let Some(declared) = definition.argument_by_name(&argument.name) {
                        self.value(
                            &argument.value,
                            &declared.ty,
                            declared.default_value.is_some(),
                        )?;
                    }
                }
            }
            match selection {
                Selection::Field(field) => {
                    for argument in &field.arguments {
                        if let Some(declared) = field.definition.argument_by_name(&argument.name) {
                            self.value(
                                &argument.value,
                                &declared.ty,
                                declared.default_value.is_some(),
                            )?;
                        }
                    }
                    self.set(&field.selection_set)?;
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.document.fragments.get(&spread.fragment_name) {
                        self.set(&fragment.selection_set)?;
                    }
                }
                Selection::InlineFragment(inline) => self.set(&inline.selection_set)?,
            }
        }
        Ok(())
    }

    /// Checks `value`, at a place of type `ty` with a default or not.
    fn value(&self, value: &Node<Value>, ty: &Type, defaulted: bool) -> Result<(), GraphQLError> {
        match &**value {
            Value::Variable(name)
                if ty.is_non_null() && !defaulted && self.nulls.contains(&name) =>
            {
                let error = GraphQLError::new(
                    Code::GraphqlValidationFailed,
                    format!(
                        "variable ${name}, whose default is null, is used where {ty} is expected"
                    ),
                );
                Err(error.located(location(value, self.document)))
            }
            Value::List(items) => items
                .iter()
                .try_for_each(|item| self.value(item, ty.item_type(), false)),
            Value::Object(fields) => {
                let Some(ExtendedType::InputObject(input)) =
                    self.schema.types.get(ty.inner_named_type())
                else {
                    return Ok(());
                };
                fields
                    .iter()
                    .try_for_each(|(name, value)| match input.fields.get(name) {
                        Some(field) => self.value(value, &field.ty, field.default_value.is_some()),
                        None => Ok(()),
                    })
            }
            _ => Ok(()),
        }
    }
}
