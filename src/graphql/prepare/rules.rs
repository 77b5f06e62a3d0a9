//! Where apollo-compiler's validation departs from the October 2021 spec
//! (and graphql-js): a subscription's one root field may be selected
//! several times under one key, and others skipped; a variable whose
//! default is `null` may not go where a non-null value is expected
//! (checked in `limits`' walk).

use super::limits::{Walk, refused};
use super::planner::location;
use crate::graphql::errors::GraphQLError;
use apollo_compiler::ast::{OperationType, Type, Value};
use apollo_compiler::executable::{DirectiveList, ExecutableDocument, Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{Name, Node};

/// How apollo-compiler words its refusals of a subscription's root, which
/// follow a newer draft: fields counted before grouping, no directives.
pub(super) const SUBSCRIPTION_ROOT: [&str; 3] = [
    "can only have one root field",
    "can not have an introspection field as a root field",
    "can not specify @skip or @include on root fields",
];

/// Whether every subscription of `document` has one root field as the
/// spec counts them (CollectFields without variables: `@include(if: $v)`
/// leaves a selection out): one response key, not introspection.
pub(super) fn one_root_field(document: &ExecutableDocument) -> bool {
    fn collected(directives: &DirectiveList) -> bool {
        directives.iter().all(|directive| {
            let value = directive.specified_argument_by_name("if");
            !matches!(
                (directive.name.as_str(), value.map(|v| &**v)),
                ("skip", Some(Value::Boolean(true)))
                    | ("include", Some(Value::Boolean(false) | Value::Variable(_)))
            )
        })
    }
    fn fields<'d>(
        document: &'d ExecutableDocument,
        set: &'d SelectionSet,
        into: &mut Vec<(&'d Name, &'d Name)>,
    ) {
        for selection in &set.selections {
            if !collected(selection.directives()) {
                continue;
            }
            match selection {
                Selection::Field(field) => {
                    if !into.iter().any(|(key, _)| *key == field.response_key()) {
                        into.push((field.response_key(), &field.name));
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = document.fragments.get(&spread.fragment_name) {
                        fields(document, &fragment.selection_set, into);
                    }
                }
                Selection::InlineFragment(inline) => fields(document, &inline.selection_set, into),
            }
        }
    }
    let subscriptions = document.operations.iter();
    subscriptions
        .filter(|operation| operation.operation_type == OperationType::Subscription)
        .all(|operation| {
            let mut found = Vec::new();
            fields(document, &operation.selection_set, &mut found);
            matches!(found.as_slice(), [(_, name)] if !name.starts_with("__"))
        })
}

impl Walk<'_> {
    /// Refuses `value`, at a place of type `ty` (`defaulted` or not), if it
    /// puts a variable whose default is `null` where non-null is expected.
    pub(super) fn null_in(
        &self,
        value: &Node<Value>,
        ty: &Type,
        defaulted: bool,
    ) -> Result<(), GraphQLError> {
        match &**value {
            Value::Variable(name)
                if ty.is_non_null() && !defaulted && self.nulls.contains(&name) =>
            {
                let error = refused(format!(
                    "variable ${name}, whose default is null, is used where {ty} is expected"
                ));
                Err(error.located(location(value, self.document)))
            }
            Value::List(items) => items
                .iter()
                .try_for_each(|item| self.null_in(item, ty.item_type(), false)),
            Value::Object(fields) => {
                let Some(ExtendedType::InputObject(input)) =
                    self.schema.types.get(ty.inner_named_type())
                else {
                    return Ok(());
                };
                fields
                    .iter()
                    .try_for_each(|(name, value)| match input.fields.get(name) {
                        Some(field) => {
                            self.null_in(value, &field.ty, field.default_value.is_some())
                        }
                        None => Ok(()),
                    })
            }
            _ => Ok(()),
        }
    }
}
