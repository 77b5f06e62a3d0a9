//! The schema: its SDL (`schema.graphql`), parsed and validated by
//! apollo-compiler at start-up, and its resolvers (`contract`,
//! `introspection`, in the terms of `types`), checked against what
//! apollo-compiler built so the validator and executor agree on every name.

mod coerce;
mod contract;
mod introspection;
mod types;

use crate::graphql::input::InputValue;
pub(crate) use coerce::{Place, coerce, literal};
pub(crate) use contract::{LikeEvent, Root};
pub(crate) use types::{AnyObject, Args, Env, Events, Object, Out};

use apollo_compiler::ast::DirectiveDefinition;
use apollo_compiler::collections::IndexSet;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{Name, Node};
use types::InputObject;

/// The schema in GraphQL's schema language, without built-ins.
const SDL: &str = include_str!("schema.graphql");

/// The resolvers, and apollo-compiler's schema built from the SDL.
pub(crate) struct Schema {
    /// The object types' resolvers; plans find them by index.
    pub(crate) objects: Vec<Object>,
    /// The schema as apollo-compiler validates documents against it.
    pub(crate) apollo: Valid<apollo_compiler::Schema>,
    /// The types introspection lists, as graphql-js orders them.
    listed: Vec<Name>,
    /// The directives introspection lists, in graphql-js's order.
    directives: Vec<Node<DirectiveDefinition>>,
    /// Whether `__schema` and `__type` may be queried.
    pub(crate) introspection: bool,
}

/// An invalid SDL, or resolvers that do not match it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SchemaError {
    /// The SDL is not a valid schema.
    #[error("the declared schema is not valid: {0}")]
    Invalid(String),
    /// A resolver, or its arguments, differ from the schema.
    #[error("the declaration of {0} does not match the schema")]
    Mismatch(String),
}

/// The contract's SDL, as served and printed by `likes schema`.
pub fn sdl() -> &'static str {
    SDL
}

impl Schema {
    /// The contract's schema, checked; introspection if `introspection`.
    pub(crate) fn new(introspection: bool) -> Result<Self, SchemaError> {
        let (objects, inputs) = declared();
        Self::build(SDL, objects, inputs, introspection)
    }

    /// The schema of `sdl`, resolved by `objects`, read as `inputs`.
    fn build(
        sdl: &str,
        objects: Vec<Object>,
        inputs: Vec<InputObject>,
        introspection: bool,
    ) -> Result<Self, SchemaError> {
        let apollo = apollo_compiler::Schema::parse_and_validate(sdl, "schema.graphql")
            .map_err(|invalid| SchemaError::Invalid(invalid.errors.to_string()))?;
        check(&apollo, &objects, &inputs)?;
        let mut directives: Vec<_> = apollo.directive_definitions.values().cloned().collect();
        let order = ["include", "skip", "deprecated", "specifiedBy"];
        directives.sort_by_key(|d| {
            order
                .iter()
                .position(|n| d.name == *n)
                .unwrap_or(order.len())
        });
        // In the SDL's order.
        let declared = (apollo.types.iter())
            .filter(|(_, ty)| !ty.is_built_in())
            .map(|(name, _)| name.as_str());
        let listed = listed(&apollo, &directives, declared);
        Ok(Self {
            objects,
            apollo,
            listed,
            directives,
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
}

/// The resolvers, introspection's included, and the input objects.
fn declared() -> (Vec<Object>, Vec<InputObject>) {
    let mut objects = contract::objects();
    let query = objects.remove(0);
    objects.insert(0, introspection::meta_fields(query));
    objects.extend(introspection::objects());
    (objects, contract::inputs())
}

/// Every object type has a resolver for each of its fields and no other
/// (meta fields aside), each reading only arguments it has, and every input
/// object has the fields read.
fn check(
    apollo: &apollo_compiler::Schema,
    objects: &[Object],
    inputs: &[InputObject],
) -> Result<(), SchemaError> {
    let mismatch = |what: String| Err(SchemaError::Mismatch(what));
    let names = |args: &[InputValue]| args.iter().map(|a| a.0).collect::<Vec<_>>();
    let declared = objects.iter().map(|o| {
        let fields = o.fields.iter().filter(|f| !f.name.starts_with("__"));
        (o.name, fields.map(|f| (f.name, f.args)).collect::<Vec<_>>())
    });
    let mut resolved = 0;
    for (object, fields) in declared {
        let Some(ExtendedType::Object(built)) = apollo.types.get(object) else {
            return mismatch(format!("{object}, not an object type"));
        };
        if built.fields.len() != fields.len() {
            return mismatch(format!("{object}, whose fields are not all resolved"));
        }
        for (field, args) in fields {
            let built = built.fields.get(field).map(|f| f.arguments.iter());
            if !built.is_some_and(|built| built.map(|a| a.name.as_str()).eq(names(args))) {
                return mismatch(format!("{object}.{field}"));
            }
        }
        resolved += 1;
    }
    if resolved != apollo.types.values().filter(|ty| ty.is_object()).count() {
        return mismatch("every object type, some of which have no resolvers".into());
    }
    for input in inputs {
        let built = match apollo.types.get(input.name) {
            Some(ExtendedType::InputObject(built)) => built.fields.keys().map(Name::as_str),
            _ => return mismatch(input.name.to_owned()),
        };
        if !built.eq(names(input.fields)) {
            return mismatch(format!("{}'s fields", input.name));
        }
    }
    Ok(())
}

/// The types introspection lists, in graphql-js's order: the declared ones
/// in SDL order, each followed by what it references first, then the root
/// types', the directives' and introspection's (unreferenced scalars out).
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

    fn field<'a>(objects: &'a mut [Object], ty: &str, name: &str) -> &'a mut types::Field {
        let object = objects.iter_mut().find(|o| o.name == ty).unwrap();
        object.fields.iter_mut().find(|f| f.name == name).unwrap()
    }

    fn build(sdl: &str, edit: impl FnOnce(&mut Vec<Object>)) -> Result<Schema, SchemaError> {
        let (mut objects, inputs) = declared();
        edit(&mut objects);
        Schema::build(sdl, objects, inputs, true)
    }

    #[test]
    fn the_resolvers_are_those_of_the_schema_apollo_compiler_builds() {
        assert!(Schema::new(true).is_ok());
        assert!(build(SDL, |_| {}).is_ok());
    }

    #[test]
    fn a_misspelt_declaration_fails_at_start_up() {
        let mismatch = |built| matches!(built, Err(SchemaError::Mismatch(_)));
        let unknown = SDL.replace("session: Session!", "session: Sesion!");
        let built = build(&unknown, |_| {});
        assert!(
            matches!(built, Err(SchemaError::Invalid(_))),
            "an unknown type"
        );
        const MISSPELT: InputValue = InputValue("includeDeprecatd");
        let built = build(SDL, |o| field(o, "__Type", "fields").args = &[MISSPELT]);
        assert!(mismatch(built), "a misspelt argument");
        let built = build(SDL, |o| {
            field(o, "__Field", "isDeprecated").name = "deprecated"
        });
        assert!(mismatch(built), "a misspelt field");
        let unresolved = SDL.replace("  room: String\n", "  room: String\n  floor: Int\n");
        assert!(
            mismatch(build(&unresolved, |_| {})),
            "a field without a resolver"
        );
    }
}
