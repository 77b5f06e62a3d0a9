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
        let mut declared = signatures(&objects, &subscriptions, &inputs);
        let mut built = built_signatures(&apollo);
        declared.sort();
        built.sort();
        if let Some((declared, _)) = declared.iter().zip(&built).find(|(d, b)| d != b) {
            return Err(SchemaError::Mismatch(declared.clone()));
        }
        if declared.len() != built.len() {
            return Err(SchemaError::Mismatch("the number of fields".into()));
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

/// Every declared field as `Type.field(argument: Type = default): Type`,
/// and every input field as `Input.field: Type = default`.
fn signatures(
    objects: &[Object],
    subscriptions: &[SubscriptionField],
    inputs: &[InputObject],
) -> Vec<String> {
    let value = |v: &InputValue| {
        format!(
            "{}: {}{}",
            v.name,
            v.ty,
            v.default.map(|d| format!(" = {d}")).unwrap_or_default()
        )
    };
    let field = |owner: &str, name: &str, args: &[InputValue], ty: &str| {
        let args: Vec<_> = args.iter().map(value).collect();
        format!("{owner}.{name}({}): {ty}", args.join(", "))
    };
    let objects = objects.iter().flat_map(|o| {
        let fields = o.fields.iter().filter(|f| !f.name.starts_with("__"));
        fields.map(|f| field(o.name, f.name, f.args, f.ty))
    });
    let subscriptions = subscriptions
        .iter()
        .map(|f| field("Subscription", f.name, f.args, f.ty));
    let inputs = inputs
        .iter()
        .flat_map(|i| i.fields.iter().map(|f| format!("{}.{}", i.name, value(f))));
    objects.chain(subscriptions).chain(inputs).collect()
}

/// `signatures` of the schema apollo-compiler built.
fn built_signatures(apollo: &apollo_compiler::Schema) -> Vec<String> {
    let value = |v: &InputValueDefinition| {
        let default = v.default_value.as_ref().map(|d| format!(" = {d}"));
        format!("{}: {}{}", v.name, v.ty, default.unwrap_or_default())
    };
    let mut signatures = Vec::new();
    for (name, ty) in &apollo.types {
        match ty {
            ExtendedType::Object(object) => signatures.extend(object.fields.values().map(|f| {
                let args: Vec<_> = f.arguments.iter().map(|a| value(a)).collect();
                format!("{name}.{}({}): {}", f.name, args.join(", "), f.ty)
            })),
            ExtendedType::InputObject(input) => signatures.extend(
                input
                    .fields
                    .values()
                    .map(|f| format!("{name}.{}", value(f))),
            ),
            _ => {}
        }
    }
    signatures
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
    fn an_argument_default_is_printed_and_checked() {
        const EVERY: InputValue = InputValue::new("every", "Int", "Seconds.").or("60");
        let (mut objects, subscriptions, inputs) = declared();
        field(&mut objects, "Query", "sessions").args = &[EVERY];
        let schema = Schema::build(objects, subscriptions, inputs, true).unwrap();
        assert!(
            schema
                .sdl()
                .contains("    every: Int = 60\n  ): [Session!]!"),
            "{}",
            schema.sdl()
        );
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
