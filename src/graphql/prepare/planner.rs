//! Planning a validated document (`plan`): each operation's variables and
//! its selections collected as the spec's CollectFields does, constant
//! directives folded, those reading a variable kept as conditions.

use super::plan::{
    Call, Condition, Kind, Operation, Planned, Selection, Shape, Slot, Template, Variable,
};
use crate::graphql::errors::Location;
use crate::graphql::input::Input;
use crate::graphql::json_string;
use crate::graphql::schema::{Schema, literal};
use apollo_compiler::ast::{OperationType, Type, Value};
use apollo_compiler::executable::{self, DirectiveList, ExecutableDocument, Field, SelectionSet};
use apollo_compiler::{Node, schema::InputValueDefinition};

/// Plans `definition`, an operation of the validated `document`.
pub(super) fn operation(
    schema: &Schema,
    document: &ExecutableDocument,
    definition: &executable::Operation,
) -> Result<Operation, String> {
    let apollo = &schema.apollo;
    let variables: Vec<Variable> = definition
        .variables
        .iter()
        .map(|declared| Variable {
            name: declared.name.to_string(),
            ty: (*declared.ty).clone(),
            default: (declared.default_value.as_ref()).map(|v| literal(v, &declared.ty, apollo)),
            location: location(declared, document),
        })
        .collect();
    let planner = Planner {
        schema,
        document,
        variables: &variables,
    };
    let mut collected = Vec::new();
    planner.collect(&definition.selection_set, &[], &mut collected);
    let mut max_age = u32::MAX;
    let root_name = definition.selection_set.ty.as_str();
    let root = planner.selection(root_name, collected, &mut max_age)?;
    let (root_type, _) = (schema.object(root_name)).ok_or("no root type")?;
    let max_age = match definition.operation_type {
        OperationType::Query if max_age != u32::MAX => max_age,
        _ => 0,
    };
    Ok(Operation {
        name: definition.name.as_ref().map(|name| name.to_string()),
        kind: definition.operation_type,
        variables,
        root,
        root_type,
        max_age,
    })
}

/// A selected field, its response key and conditions.
type Occurrence<'d> = (&'d str, &'d Node<Field>, Vec<Condition>);

/// The occurrences of one response key: each field and its conditions.
type Occurrences<'d> = Vec<(&'d Node<Field>, Vec<Condition>)>;

struct Planner<'s> {
    schema: &'s Schema,
    document: &'s ExecutableDocument,
    variables: &'s [Variable],
}

impl<'s> Planner<'s> {
    /// The fields of `set`, fragments expanded, each with its conditions
    /// added to `inherited`; those always skipped left out.
    fn collect(
        &self,
        set: &'s SelectionSet,
        inherited: &[Condition],
        into: &mut Vec<Occurrence<'s>>,
    ) {
        for selection in &set.selections {
            let Some(conditions) = self.conditions(selection.directives(), inherited) else {
                continue;
            };
            let nested = match selection {
                executable::Selection::Field(field) => {
                    into.push((field.response_key().as_str(), field, conditions));
                    continue;
                }
                executable::Selection::FragmentSpread(spread) => {
                    match self.document.fragments.get(&spread.fragment_name) {
                        Some(fragment) => &fragment.selection_set,
                        None => continue,
                    }
                }
                executable::Selection::InlineFragment(inline) => &inline.selection_set,
            };
            // Every type is an object type: a fragment applies on its own.
            if nested.ty == set.ty {
                self.collect(nested, &conditions, into);
            }
        }
    }

    /// `inherited` with the conditions of `directives`; `None` when they
    /// skip the selection whatever the variables are.
    fn conditions(
        &self,
        directives: &DirectiveList,
        inherited: &[Condition],
    ) -> Option<Vec<Condition>> {
        let mut conditions = inherited.to_vec();
        for directive in directives.iter() {
            let include = match directive.name.as_str() {
                "include" => true,
                "skip" => false,
                _ => continue,
            };
            match directive.specified_argument_by_name("if").map(|v| &**v) {
                Some(Value::Boolean(value)) if *value != include => return None,
                Some(Value::Variable(name)) => {
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

    /// The selection on object type `type_name` of `collected`, merged by
    /// response key; lowers `max_age` to each field's.
    fn selection(
        &self,
        type_name: &str,
        collected: Vec<Occurrence<'s>>,
        max_age: &mut u32,
    ) -> Result<Selection, String> {
        let mut keys: Vec<(&str, Occurrences<'s>)> = Vec::new();
        let mut order = Vec::with_capacity(collected.len());
        let conditional = collected
            .iter()
            .any(|(_, _, conditions)| !conditions.is_empty());
        for (key, field, conditions) in collected {
            let index = match keys.iter().position(|(seen, _)| *seen == key) {
                Some(index) => index,
                None => {
                    keys.push((key, Vec::new()));
                    keys.len() - 1
                }
            };
            if conditional {
                order.push((index, conditions.clone()));
            }
            keys[index].1.push((field, conditions));
        }
        let mut fields = Vec::with_capacity(keys.len());
        for (key, occurrences) in keys {
            let first = occurrences[0].0;
            let kind = match first.name.as_str() {
                "__typename" => Kind::Typename(json_string(type_name).into()),
                name => Kind::Field(self.call(type_name, name, &occurrences, max_age)?),
            };
            fields.push(Planned {
                key_json: format!("{}:", json_string(key)).into(),
                key: key.to_owned(),
                location: location(first, self.document),
                kind,
            });
        }
        Ok(Selection {
            fields,
            occurrences: conditional.then_some(order),
        })
    }

    /// The call of field `name` of type `type_name`, selecting what its
    /// occurrences select.
    fn call(
        &self,
        type_name: &str,
        name: &str,
        occurrences: &[(&'s Node<Field>, Vec<Condition>)],
        max_age: &mut u32,
    ) -> Result<Call, String> {
        let unknown = || format!("no declaration of {type_name}.{name}");
        let (_, object) = self.schema.object(type_name).ok_or_else(unknown)?;
        let (index, field) = object.field_named(name).ok_or_else(unknown)?;
        *max_age = (*max_age).min(field.max_age);
        let first = occurrences[0].0;
        let args = first.definition.arguments.iter().map(|argument| {
            let given = first.arguments.iter().find(|a| a.name == argument.name);
            self.slot(argument, given.map(|a| &*a.value))
        });
        let named = first.definition.ty.inner_named_type().as_str();
        let selection = match self.schema.object(named) {
            Some((object_index, _)) => {
                let mut collected = Vec::new();
                for (field, conditions) in occurrences {
                    self.collect(&field.selection_set, conditions, &mut collected);
                }
                Some((object_index, self.selection(named, collected, max_age)?))
            }
            None => None,
        };
        Ok(Call {
            index,
            args: args.collect(),
            shape: shape(&first.definition.ty, selection.is_some()),
            selection,
        })
    }

    /// An argument or input field `declared`, given `value` by the document.
    fn slot(&self, declared: &InputValueDefinition, value: Option<&Value>) -> Slot {
        let apollo = &self.schema.apollo;
        Slot {
            name: declared.name.as_str().into(),
            value: value.map(|value| self.template(value, &declared.ty)),
            default: (declared.default_value.as_ref()).map(|v| literal(v, &declared.ty, apollo)),
            non_null: declared.ty.is_non_null(),
        }
    }

    /// `value`, of type `ty`: a constant unless it holds a variable.
    fn template(&self, value: &Value, ty: &Type) -> Template {
        match value {
            Value::Variable(name) => {
                let index = self.variables.iter().position(|v| v.name == name.as_str());
                index.map_or(Template::Const(Input::Null), Template::Variable)
            }
            Value::List(items) if ty.is_list() && holds_variable(value) => {
                let item = ty.item_type();
                let items = items.iter().map(|v| self.template(v, item)).collect();
                Template::List(items, item.is_non_null())
            }
            Value::Object(given) if holds_variable(value) => {
                let named = ty.inner_named_type();
                let Some(input) = self.schema.apollo.get_input_object(named) else {
                    return Template::Const(Input::Null);
                };
                let fields = input.fields.values().map(|field| {
                    let value = given.iter().find(|(name, _)| *name == field.name);
                    self.slot(field, value.map(|(_, v)| &**v))
                });
                Template::Object(fields.collect())
            }
            constant => Template::Const(literal(constant, ty, &self.schema.apollo)),
        }
    }
}

/// Whether `value` holds a variable anywhere.
fn holds_variable(value: &Value) -> bool {
    match value {
        Value::Variable(_) => true,
        Value::List(items) => items.iter().any(|v| holds_variable(v)),
        Value::Object(fields) => fields.iter().any(|(_, v)| holds_variable(v)),
        _ => false,
    }
}

/// Where `node` starts in `document`.
pub(super) fn location<T>(node: &Node<T>, document: &ExecutableDocument) -> Option<Location> {
    node.location()?.line_column(&document.sources)
}

fn shape(ty: &Type, object: bool) -> Shape {
    let named = || if object { Shape::Object } else { Shape::Leaf };
    match ty {
        Type::Named(_) => named(),
        Type::NonNullNamed(_) => Shape::NonNull(Box::new(named())),
        Type::List(item) => Shape::List(Box::new(shape(item, object))),
        Type::NonNullList(item) => {
            Shape::NonNull(Box::new(Shape::List(Box::new(shape(item, object)))))
        }
    }
}
