//! Planning a validated document (`plan`): for each operation, its
//! variables with their defaults coerced, and its selections collected:
//! fragments expanded, directives folded where they are constant, fields
//! of one response key merged, each bound to its declaration.

use super::plan::{
    Call, Condition, Kind, Operation, Planned, Selection, Shape, Template, Variable, When,
};
use crate::graphql::input::Input;
use crate::graphql::schema::{Place, Schema, coerce};
use async_graphql::dynamic::TypeRef;
use async_graphql::parser::Positioned;
use async_graphql::parser::types::{
    BaseType, Directive, ExecutableDocument, Field, OperationDefinition, OperationType,
    Selection as AstSelection, SelectionSet, Type,
};
use async_graphql_value::Value as AstValue;

/// Plans `definition` of a validated `document`.
pub fn operation(
    schema: &Schema,
    document: &ExecutableDocument,
    name: Option<String>,
    definition: &OperationDefinition,
) -> Result<Operation, String> {
    let variables = definition
        .variable_definitions
        .iter()
        .map(|declared| {
            let declared = &declared.node;
            let ty = type_ref(&declared.var_type.node);
            let default = match &declared.default_value {
                Some(value) => {
                    let at = Place::Variable(&declared.name.node);
                    Some(coerce(Input::from_const(&value.node), &ty, schema, &at)?)
                }
                None => None,
            };
            Ok(Variable {
                name: declared.name.node.to_string(),
                ty,
                default,
                pos: declared.name.pos,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let planner = Planner {
        schema,
        document,
        variables: &variables,
    };
    let root_type = match definition.ty {
        OperationType::Query => "Query",
        OperationType::Mutation => "Mutation",
        OperationType::Subscription => "Subscription",
    };
    let mut collected = Vec::new();
    planner.collect(&definition.selection_set.node, &[], &mut collected)?;
    let introspective = definition.ty == OperationType::Query
        && collected
            .iter()
            .any(|(_, field, _)| ["__schema", "__type"].contains(&field.node.name.node.as_str()));
    let mut max_age = u32::MAX;
    let root = if introspective {
        Selection::default()
    } else {
        planner.selection(root_type, collected, &mut max_age)?
    };
    let max_age = match definition.ty {
        OperationType::Query if max_age != u32::MAX => max_age,
        _ => 0,
    };
    Ok(Operation {
        name,
        kind: definition.ty,
        variables,
        root,
        introspective,
        max_age,
    })
}

/// A selected field with the response key it answers and the conditions
/// on its occurrence.
type Occurrence<'d> = (String, &'d Positioned<Field>, Vec<Condition>);

/// The occurrences of one response key: each field and its conditions.
type Occurrences<'d> = Vec<(&'d Positioned<Field>, Vec<Condition>)>;

struct Planner<'s> {
    schema: &'s Schema,
    document: &'s ExecutableDocument,
    variables: &'s [Variable],
}

impl<'s> Planner<'s> {
    /// The fields of `set`, fragments expanded, each with the conditions
    /// of the directives around it added to `inherited`; fields that are
    /// skipped whatever the variables are left out.
    fn collect(
        &self,
        set: &'s SelectionSet,
        inherited: &[Condition],
        into: &mut Vec<Occurrence<'s>>,
    ) -> Result<(), String> {
        for item in &set.items {
            let (directives, nested) = match &item.node {
                AstSelection::Field(field) => (&field.node.directives, None),
                AstSelection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    let fragment = self
                        .document
                        .fragments
                        .get(name)
                        .ok_or_else(|| format!("unknown fragment {name}"))?;
                    (
                        &spread.node.directives,
                        Some(&fragment.node.selection_set.node),
                    )
                }
                AstSelection::InlineFragment(fragment) => (
                    &fragment.node.directives,
                    Some(&fragment.node.selection_set.node),
                ),
            };
            let Some(conditions) = self.conditions(directives, inherited) else {
                continue;
            };
            match (&item.node, nested) {
                (AstSelection::Field(field), _) => {
                    let key = field
                        .node
                        .alias
                        .as_ref()
                        .unwrap_or(&field.node.name)
                        .node
                        .to_string();
                    into.push((key, field, conditions));
                }
                (_, Some(nested)) => self.collect(nested, &conditions, into)?,
                (_, None) => {}
            }
        }
        Ok(())
    }

    /// `inherited` with the conditions of `directives`; `None` when they
    /// skip the selection whatever the variables are.
    fn conditions(
        &self,
        directives: &[Positioned<Directive>],
        inherited: &[Condition],
    ) -> Option<Vec<Condition>> {
        let mut conditions = inherited.to_vec();
        for directive in directives {
            let include = match directive.node.name.node.as_str() {
                "include" => true,
                "skip" => false,
                _ => continue,
            };
            match directive.node.get_argument("if").map(|value| &value.node) {
                Some(AstValue::Boolean(value)) if *value != include => return None,
                Some(AstValue::Variable(name)) => {
                    let variable = self
                        .variables
                        .iter()
                        .position(|v| v.name == name.as_str())?;
                    conditions.push(Condition { variable, include });
                }
                _ => {}
            }
        }
        Some(conditions)
    }

    /// The planned selection on object type `type_name` of `collected`,
    /// merging the fields of one response key; lowers `max_age` to the
    /// least cache time of a field planned.
    fn selection(
        &self,
        type_name: &str,
        collected: Vec<Occurrence<'s>>,
        max_age: &mut u32,
    ) -> Result<Selection, String> {
        let mut keys: Vec<(String, Occurrences<'s>)> = Vec::new();
        for (key, field, conditions) in collected {
            match keys.iter_mut().find(|(seen, _)| *seen == key) {
                Some((_, occurrences)) => occurrences.push((field, conditions)),
                None => keys.push((key, vec![(field, conditions)])),
            }
        }
        let mut fields = Vec::with_capacity(keys.len());
        for (key, occurrences) in keys {
            let first = occurrences[0].0;
            let when = if occurrences.iter().any(|(_, c)| c.is_empty()) {
                When::Always
            } else {
                When::AnyOf(occurrences.iter().map(|(_, c)| c.clone()).collect())
            };
            let name = first.node.name.node.as_str();
            let kind = if name == "__typename" {
                Kind::Typename(json(type_name).into())
            } else {
                Kind::Field(self.call(type_name, name, &occurrences, max_age)?)
            };
            fields.push(Planned {
                key_json: format!("{}:", json(&key)).into(),
                key,
                when,
                pos: first.pos,
                kind,
            });
        }
        Ok(Selection { fields })
    }

    /// The call of field `name` of type `type_name`, selecting what its
    /// occurrences select.
    fn call(
        &self,
        type_name: &str,
        name: &str,
        occurrences: &[(&'s Positioned<Field>, Vec<Condition>)],
        max_age: &mut u32,
    ) -> Result<Call, String> {
        let (index, ty, declared_args) = if type_name == "Subscription" {
            let (index, field) = self
                .schema
                .subscription(name)
                .ok_or_else(|| format!("unknown subscription {name}"))?;
            *max_age = 0;
            (index, &field.ty, &field.args)
        } else {
            let (_, object) = self
                .schema
                .object(type_name)
                .ok_or_else(|| format!("unknown type {type_name}"))?;
            let (index, field) = object
                .field_named(name)
                .ok_or_else(|| format!("unknown field {type_name}.{name}"))?;
            *max_age = (*max_age).min(field.max_age);
            (index, &field.ty, &field.args)
        };
        let first = &occurrences[0].0.node;
        let args = declared_args
            .iter()
            .filter_map(|declared| {
                let default = declared.default_value().map(|v| Input::from_const(&v));
                let template = match (first.get_argument(declared.name), default) {
                    (Some(value), Some(default)) => match self.template(&value.node) {
                        Template::Variable(index) => Template::Defaulted(index, default),
                        written => written,
                    },
                    (Some(value), None) => self.template(&value.node),
                    (None, Some(default)) => Template::Const(default),
                    (None, None) => return None,
                };
                Some((declared.name, template))
            })
            .collect();
        let named = named_type(ty);
        let selection = match self.schema.object(named) {
            Some((object_index, _)) => {
                let mut collected = Vec::new();
                for (field, conditions) in occurrences {
                    self.collect(&field.node.selection_set.node, conditions, &mut collected)?;
                }
                Some((object_index, self.selection(named, collected, max_age)?))
            }
            None => None,
        };
        Ok(Call {
            index,
            args,
            shape: shape(ty, selection.is_some()),
            selection,
        })
    }

    fn template(&self, value: &AstValue) -> Template {
        match value {
            AstValue::Variable(name) => {
                match self.variables.iter().position(|v| v.name == name.as_str()) {
                    Some(index) => Template::Variable(index),
                    None => Template::Const(Input::Null),
                }
            }
            AstValue::List(items) => {
                Template::List(items.iter().map(|v| self.template(v)).collect())
            }
            AstValue::Object(fields) => Template::Object(
                fields
                    .iter()
                    .map(|(name, value)| (name.to_string(), self.template(value)))
                    .collect(),
            ),
            constant => Template::Const(
                constant
                    .clone()
                    .into_const()
                    .map_or(Input::Null, |value| Input::from_const(&value)),
            ),
        }
    }
}

/// A type of the document as a type reference.
pub fn type_ref(ty: &Type) -> TypeRef {
    let base = match &ty.base {
        BaseType::Named(name) => TypeRef::named(name.as_str()),
        BaseType::List(item) => TypeRef::List(Box::new(type_ref(item))),
    };
    if ty.nullable {
        base
    } else {
        TypeRef::NonNull(Box::new(base))
    }
}

/// The named type inside `ty`.
fn named_type(ty: &TypeRef) -> &str {
    match ty {
        TypeRef::Named(name) => name,
        TypeRef::NonNull(inner) | TypeRef::List(inner) => named_type(inner),
    }
}

fn shape(ty: &TypeRef, object: bool) -> Shape {
    match ty {
        TypeRef::Named(_) if object => Shape::Object,
        TypeRef::Named(_) => Shape::Leaf,
        TypeRef::NonNull(inner) => Shape::NonNull(Box::new(shape(inner, object))),
        TypeRef::List(inner) => Shape::List(Box::new(shape(inner, object))),
    }
}

/// `text` as a JSON string.
fn json(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}
