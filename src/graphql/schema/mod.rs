//! The schema, declared once (`contract` and `introspection`, in the terms
//! of `types`) and printed as SDL (`sdl`), which apollo-compiler parses and
//! validates at start-up. Every declaration is then checked against what
//! apollo-compiler built, built-in introspection types included, so the
//! validator and the executor agree on every name and type. No service state.

mod coerce;
mod contract;
mod introspection;
mod sdl;
mod types;

pub(crate) use coerce::{Place, coerce, literal};
pub(crate) use contract::Root;
pub(crate) use types::{AnyObject, Args, Env, Events, InputValue, Object, Out, SubscriptionField};

use apollo_compiler::ast::{DirectiveDefinition, InputValueDefinition};
use apollo_compiler::collections::IndexSet;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{Name, Node};
use types::InputObject;

/// The declared types, and apollo-compiler's schema built from them.
pub(crate) struct Schema {
    objects: Vec<Object>,
    subscriptions: Vec<SubscriptionField>,
    /// The schema as apollo-compiler validates documents against it.
    pub(crate) apollo: Valid<apollo_compiler::Schema>,
    /// The types introspection lists, as graphql-js orders them.
    listed: Vec<Name>,
    /// The directives introspection lists, in graphql-js's order.
    directives: Vec<Node<DirectiveDefinition>>,
    sdl: String,
    /// Whether `__schema` and `__type` may be queried.
    pub(crate) introspection: bool,
}

/// A declaration apollo-compiler does not accept, or that does not match
/// the schema it built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SchemaError {
    /// The printed SDL is not a valid schema.
    #[error("the declared schema is not valid: {0}")]
    Invalid(String),
    /// A declaration differs from the schema.
    #[error("the declaration of {0} does not match the schema")]
    Mismatch(String),
}

/// The contract's SDL, as served and printed by `likes schema`.
pub fn sdl() -> String {
    sdl::print(
        &contract::objects(),
        &contract::subscriptions(),
        &contract::inputs(),
    )
}

impl Schema {
    /// The contract's schema, checked; introspection answered if
    /// `introspection`.
    pub(crate) fn new(introspection: bool) -> Result<Self, SchemaError> {
        let mut objects = contract::objects();
        let query = objects.remove(0);
        objects.insert(0, introspection::meta_fields(query));
        objects.extend(introspection::objects());
        let (subscriptions, inputs) = (contract::subscriptions(), contract::inputs());
        Self::build(objects, subscriptions, inputs, introspection)
    }

    /// The schema of `objects` (`Query` and `Mutation` first, then the
    /// others, introspection's included), `subscriptions` and `inputs`.
    fn build(
        objects: Vec<Object>,
        subscriptions: Vec<SubscriptionField>,
        inputs: Vec<InputObject>,
        introspection: bool,
    ) -> Result<Self, SchemaError> {
        let sdl = sdl::print(&objects, &subscriptions, &inputs);
        let apollo = apollo_compiler::Schema::parse_and_validate(&sdl, "schema.graphql")
            .map_err(|invalid| SchemaError::Invalid(invalid.errors.to_string()))?;
        let undeclared = apollo.types.iter().find(|(name, ty)| {
            ty.is_object()
                && *name != "Subscription"
                && !objects.iter().any(|o| o.name == name.as_str())
        });
        if let Some((name, _)) = undeclared {
            return Err(SchemaError::Mismatch(format!(
                "type {name}, which has none"
            )));
        }
        for object in &objects {
            let fields = object.fields.iter().filter(|f| !f.name.starts_with("__"));
            check(
                &apollo,
                object.name,
                fields.map(|f| (f.name, f.ty, f.args)).collect(),
            )?;
        }
        let fields = subscriptions.iter().map(|f| (f.name, f.ty, f.args));
        check(&apollo, "Subscription", fields.collect())?;
        for input in &inputs {
            let Some(ExtendedType::InputObject(built)) = apollo.types.get(input.name) else {
                return Err(SchemaError::Mismatch(format!("input {}", input.name)));
            };
            check_values(
                input.name,
                input.fields,
                built.fields.values().map(|f| &***f),
            )?;
        }
        let mut directives: Vec<_> = apollo.directive_definitions.values().cloned().collect();
        let order = ["include", "skip", "deprecated", "specifiedBy"];
        directives.sort_by_key(|d| {
            order
                .iter()
                .position(|n| d.name == *n)
                .unwrap_or(order.len())
        });
        // In the SDL's order: the root types, the other objects, the inputs.
        let names = objects
            .iter()
            .map(|o| o.name)
            .filter(|n| !n.starts_with("__"));
        let (roots, others) = names.partition::<Vec<_>, _>(|n| ["Query", "Mutation"].contains(n));
        let declared = (roots.into_iter().chain(["Subscription"]).chain(others))
            .chain(inputs.iter().map(|i| i.name));
        let listed = listed(&apollo, &directives, declared);
        Ok(Self {
            objects,
            subscriptions,
            apollo,
            listed,
            directives,
            sdl,
            introspection,
        })
    }

    /// The object type `name`, with its index.
    pub(crate) fn object(&self, name: &str) -> Option<(usize, &Object)> {
        self.objects
            .iter()
            .enumerate()
            .find(|(_, object)| object.name == name)
    }

    /// The object type at `index` (from `object`).
    pub(crate) fn object_at(&self, index: usize) -> &Object {
        &self.objects[index]
    }

    /// The subscription field `name`, with its index.
    pub(crate) fn subscription(&self, name: &str) -> Option<(usize, &SubscriptionField)> {
        self.subscriptions
            .iter()
            .enumerate()
            .find(|(_, field)| field.name == name)
    }

    /// The subscription field at `index` (from `subscription`).
    pub(crate) fn subscription_at(&self, index: usize) -> &SubscriptionField {
        &self.subscriptions[index]
    }

    /// The schema in SDL.
    pub(crate) fn sdl(&self) -> &str {
        &self.sdl
    }
}

/// Checks the declared fields of object type `name` (names, types,
/// arguments) against the schema's, in order.
fn check(
    apollo: &apollo_compiler::Schema,
    name: &str,
    declared: Vec<(&str, &str, &[InputValue])>,
) -> Result<(), SchemaError> {
    let mismatch = |what: String| SchemaError::Mismatch(what);
    let Some(ExtendedType::Object(object)) = apollo.types.get(name) else {
        return Err(mismatch(format!("type {name}")));
    };
    if object.fields.len() != declared.len() {
        return Err(mismatch(format!("{name}'s fields")));
    }
    for (field, (declared, ty, args)) in object.fields.values().zip(declared) {
        let owner = format!("{name}.{declared}");
        if field.name != declared || field.ty.to_string() != ty {
            return Err(mismatch(owner));
        }
        check_values(&owner, args, field.arguments.iter().map(|a| &**a))?;
    }
    Ok(())
}

/// Checks arguments or input fields (names, types, defaults) against the
/// schema's, in order.
fn check_values<'b>(
    owner: &str,
    declared: &[InputValue],
    built: impl ExactSizeIterator<Item = &'b InputValueDefinition>,
) -> Result<(), SchemaError> {
    let same = declared.len() == built.len()
        && declared.iter().zip(built).all(|(declared, built)| {
            let default = built.default_value.as_ref().map(|v| v.to_string());
            built.name == declared.name
                && built.ty.to_string() == declared.ty
                && default.as_deref() == declared.default
        });
    match same {
        true => Ok(()),
        false => Err(SchemaError::Mismatch(format!("the arguments of {owner}"))),
    }
}

/// The types introspection lists, in the order graphql-js's schema collects
/// them: the declared ones in SDL order, each followed by what it references
/// first, then the root types', the directives' and introspection's.
/// Built-in scalars nothing references are left out, as the spec says.
fn listed<'a>(
    apollo: &apollo_compiler::Schema,
    directives: &[Node<DirectiveDefinition>],
    declared: impl Iterator<Item = &'a str> + Clone,
) -> Vec<Name> {
    let mut set: IndexSet<Name> = declared.clone().filter_map(|n| Name::new(n).ok()).collect();
    for name in declared {
        set.shift_remove(name);
        collect(apollo, name, &mut set);
    }
    for name in ["Query", "Mutation", "Subscription"] {
        collect(apollo, name, &mut set);
    }
    for argument in directives.iter().flat_map(|d| &d.arguments) {
        collect(apollo, argument.ty.inner_named_type(), &mut set);
    }
    collect(apollo, "__Schema", &mut set);
    set.into_iter().collect()
}

/// Adds `name` and, depth first, the types it references to `set`.
fn collect(apollo: &apollo_compiler::Schema, name: &str, set: &mut IndexSet<Name>) {
    let Some((name, ty)) = apollo.types.get_key_value(name) else {
        return;
    };
    if !set.insert(name.clone()) {
        return;
    }
    let fields = match ty {
        ExtendedType::Object(object) => {
            for interface in &object.implements_interfaces {
                collect(apollo, interface, set);
            }
            object.fields.values()
        }
        ExtendedType::Interface(interface) => interface.fields.values(),
        ExtendedType::Union(union) => {
            for member in &union.members {
                collect(apollo, member, set);
            }
            return;
        }
        ExtendedType::InputObject(input) => {
            for field in input.fields.values() {
                collect(apollo, field.ty.inner_named_type(), set);
            }
            return;
        }
        _ => return,
    };
    for field in fields {
        collect(apollo, field.ty.inner_named_type(), set);
        for argument in &field.arguments {
            collect(apollo, argument.ty.inner_named_type(), set);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> (Vec<Object>, Vec<SubscriptionField>, Vec<InputObject>) {
        let mut objects = contract::objects();
        objects.extend(introspection::objects());
        (objects, contract::subscriptions(), contract::inputs())
    }

    fn field<'a>(objects: &'a mut [Object], ty: &str, name: &str) -> &'a mut types::Field {
        let object = objects.iter_mut().find(|o| o.name == ty).unwrap();
        object.fields.iter_mut().find(|f| f.name == name).unwrap()
    }

    #[test]
    fn the_declarations_are_the_schema_apollo_compiler_builds() {
        let schema = Schema::new(true).unwrap();
        assert!(schema.sdl().contains("type Session {"));
        let (objects, subscriptions, inputs) = declared();
        Schema::build(objects, subscriptions, inputs, true).unwrap();
    }

    #[test]
    fn a_misspelt_declaration_fails_at_start_up() {
        let (mut objects, subscriptions, inputs) = declared();
        field(&mut objects, "Like", "session").ty = "Sesion!";
        let built = Schema::build(objects, subscriptions, inputs, true);
        assert!(
            matches!(built, Err(SchemaError::Invalid(_))),
            "an unknown type"
        );

        const MISSPELT: InputValue = InputValue::new("includeDeprecatd", "Boolean", "").or("false");
        let (mut objects, subscriptions, inputs) = declared();
        field(&mut objects, "__Type", "fields").args = &[MISSPELT];
        let built = Schema::build(objects, subscriptions, inputs, true);
        assert!(
            matches!(built, Err(SchemaError::Mismatch(_))),
            "a misspelt argument"
        );

        let (mut objects, subscriptions, inputs) = declared();
        field(&mut objects, "__Field", "isDeprecated").name = "deprecated";
        let built = Schema::build(objects, subscriptions, inputs, true);
        assert!(
            matches!(built, Err(SchemaError::Mismatch(_))),
            "a misspelt field"
        );
    }
}
