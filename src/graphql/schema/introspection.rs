//! Introspection, declared like any other type so the one executor answers
//! it: `__schema` and `__type` on `Query`, and the types `__Schema`,
//! `__Type`, `__Field`, `__InputValue`, `__EnumValue` and `__Directive`,
//! whose resolvers read apollo-compiler's schema (built from the
//! declarations). The enums `__TypeKind` and `__DirectiveLocation` are leaves.

use super::Schema;
use super::types::{Args, Env, InputValue, Object, Out, PLAIN};
use apollo_compiler::ast::{
    DirectiveDefinition, DirectiveList, EnumValueDefinition, FieldDefinition, InputValueDefinition,
    Type,
};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{Name, Node};

/// `__type`'s argument.
const NAME: InputValue = InputValue::new("name", "String!", "");
/// The argument of the fields that list what may be deprecated.
const INCLUDE_DEPRECATED: InputValue =
    InputValue::new("includeDeprecated", "Boolean", "").or("false");

/// `Query.__schema` and `Query.__type`, added to `query`.
pub(super) fn meta_fields(query: Object) -> Object {
    query
        .field(
            "__schema",
            "__Schema!",
            "",
            PLAIN,
            |_: &super::Root, _, env| Out::Borrowed(env.schema),
        )
        .field(
            "__type",
            "__Type",
            "",
            (&[NAME], 0),
            |_: &super::Root, args, env| {
                let name = args.get(&NAME).and_then(|name| name.as_str());
                let listed = name.and_then(|name| env.schema.listed.iter().find(|n| *n == name));
                Out::or_null(listed, |name| Out::object(Type::Named(name.clone())))
            },
        )
}

/// The introspection object types.
pub(super) fn objects() -> Vec<Object> {
    vec![
        schema(),
        ty(),
        field(),
        input_value(),
        enum_value(),
        directive(),
    ]
}

fn schema() -> Object {
    Object::new("__Schema", "")
        .field("description", "String", "", PLAIN, |s: &Schema, _, _| {
            description(s.apollo.schema_definition.description.as_ref())
        })
        .field("types", "[__Type!]!", "", PLAIN, |s: &Schema, _, _| {
            Out::List(s.listed.iter().map(|n| named(n)).collect())
        })
        .field("queryType", "__Type!", "", PLAIN, |s: &Schema, _, _| {
            root(s.apollo.schema_definition.query.as_ref())
        })
        .field("mutationType", "__Type", "", PLAIN, |s: &Schema, _, _| {
            root(s.apollo.schema_definition.mutation.as_ref())
        })
        .field(
            "subscriptionType",
            "__Type",
            "",
            PLAIN,
            |s: &Schema, _, _| root(s.apollo.schema_definition.subscription.as_ref()),
        )
        .field(
            "directives",
            "[__Directive!]!",
            "",
            PLAIN,
            |s: &Schema, _, _| {
                let directives = s.directives.iter();
                Out::List(directives.map(|d| Out::Borrowed(d.as_ref())).collect())
            },
        )
}

fn ty() -> Object {
    Object::new("__Type", "")
        .field("kind", "__TypeKind!", "", PLAIN, |t: &Type, _, env| {
            Out::str(kind(t, env))
        })
        .field("name", "String", "", PLAIN, |t: &Type, _, _| match t {
            Type::Named(name) => Out::str(name),
            _ => Out::Null,
        })
        .field("description", "String", "", PLAIN, |t: &Type, _, env| {
            description(definition(t, env).and_then(ExtendedType::description))
        })
        .field(
            "fields",
            "[__Field!]",
            "",
            (&[INCLUDE_DEPRECATED], 0),
            |t: &Type, args, env| {
                let fields = match definition(t, env) {
                    Some(ExtendedType::Object(object)) => object.fields.values(),
                    Some(ExtendedType::Interface(interface)) => interface.fields.values(),
                    _ => return Out::Null,
                };
                let fields = fields.filter(|f| shown(&f.directives, args));
                Out::List(fields.map(|f| Out::Borrowed(f.as_ref())).collect())
            },
        )
        .field(
            "interfaces",
            "[__Type!]",
            "",
            PLAIN,
            |t: &Type, _, env| match definition(t, env) {
                Some(ExtendedType::Object(object)) => names(&object.implements_interfaces),
                Some(ExtendedType::Interface(i)) => names(&i.implements_interfaces),
                _ => Out::Null,
            },
        )
        .field(
            "possibleTypes",
            "[__Type!]",
            "",
            PLAIN,
            |t: &Type, _, env| match definition(t, env) {
                Some(ExtendedType::Union(union)) => names(&union.members),
                Some(ExtendedType::Interface(interface)) => {
                    let implementers = env.schema.apollo.implementers_map();
                    let objects = implementers.get(&interface.name).map(|i| &i.objects);
                    Out::or_null(objects, |objects| {
                        Out::List(objects.iter().map(|n| named(n)).collect())
                    })
                }
                _ => Out::Null,
            },
        )
        .field(
            "enumValues",
            "[__EnumValue!]",
            "",
            (&[INCLUDE_DEPRECATED], 0),
            |t: &Type, args, env| {
                let Some(ExtendedType::Enum(values)) = definition(t, env) else {
                    return Out::Null;
                };
                let values = values
                    .values
                    .values()
                    .filter(|v| shown(&v.directives, args));
                Out::List(values.map(|v| Out::Borrowed(v.as_ref())).collect())
            },
        )
        .field(
            "inputFields",
            "[__InputValue!]",
            "",
            (&[INCLUDE_DEPRECATED], 0),
            |t: &Type, args, env| {
                let Some(ExtendedType::InputObject(input)) = definition(t, env) else {
                    return Out::Null;
                };
                let fields = input.fields.values().filter(|f| shown(&f.directives, args));
                Out::List(fields.map(|f| Out::Borrowed(f.as_ref())).collect())
            },
        )
        .field("ofType", "__Type", "", PLAIN, |t: &Type, _, _| match t {
            Type::Named(_) => Out::Null,
            Type::NonNullNamed(name) => named(name),
            Type::NonNullList(item) => Out::object(Type::List(item.clone())),
            Type::List(item) => Out::Borrowed(item.as_ref()),
        })
        .field("specifiedByURL", "String", "", PLAIN, |t: &Type, _, env| {
            let directive = definition(t, env).and_then(|d| d.directives().get("specifiedBy"));
            let url = directive.and_then(|d| d.specified_argument_by_name("url"));
            Out::or_null(url.and_then(|url| url.as_str()), Out::str)
        })
}

fn field() -> Object {
    Object::new("__Field", "")
        .field("name", "String!", "", PLAIN, |f: &FieldDefinition, _, _| {
            Out::str(&f.name)
        })
        .field(
            "description",
            "String",
            "",
            PLAIN,
            |f: &FieldDefinition, _, _| description(f.description.as_ref()),
        )
        .field(
            "args",
            "[__InputValue!]!",
            "",
            (&[INCLUDE_DEPRECATED], 0),
            |f: &FieldDefinition, args, _| arguments(&f.arguments, args),
        )
        .field("type", "__Type!", "", PLAIN, |f: &FieldDefinition, _, _| {
            Out::Borrowed(&f.ty)
        })
        .field(
            "isDeprecated",
            "Boolean!",
            "",
            PLAIN,
            |f: &FieldDefinition, _, _| Out::Bool(f.directives.get("deprecated").is_some()),
        )
        .field(
            "deprecationReason",
            "String",
            "",
            PLAIN,
            |f: &FieldDefinition, _, env| deprecation(&f.directives, env),
        )
}

fn input_value() -> Object {
    Object::new("__InputValue", "")
        .field(
            "name",
            "String!",
            "",
            PLAIN,
            |v: &InputValueDefinition, _, _| Out::str(&v.name),
        )
        .field(
            "description",
            "String",
            "",
            PLAIN,
            |v: &InputValueDefinition, _, _| description(v.description.as_ref()),
        )
        .field(
            "type",
            "__Type!",
            "",
            PLAIN,
            |v: &InputValueDefinition, _, _| Out::Borrowed(v.ty.as_ref()),
        )
        .field(
            "defaultValue",
            "String",
            "",
            PLAIN,
            |v: &InputValueDefinition, _, _| {
                Out::or_null(v.default_value.as_ref(), |value| {
                    Out::Str(value.to_string().into())
                })
            },
        )
        .field(
            "isDeprecated",
            "Boolean!",
            "",
            PLAIN,
            |v: &InputValueDefinition, _, _| Out::Bool(v.directives.get("deprecated").is_some()),
        )
        .field(
            "deprecationReason",
            "String",
            "",
            PLAIN,
            |v: &InputValueDefinition, _, env| deprecation(&v.directives, env),
        )
}

fn enum_value() -> Object {
    Object::new("__EnumValue", "")
        .field(
            "name",
            "String!",
            "",
            PLAIN,
            |v: &EnumValueDefinition, _, _| Out::str(&v.value),
        )
        .field(
            "description",
            "String",
            "",
            PLAIN,
            |v: &EnumValueDefinition, _, _| description(v.description.as_ref()),
        )
        .field(
            "isDeprecated",
            "Boolean!",
            "",
            PLAIN,
            |v: &EnumValueDefinition, _, _| Out::Bool(v.directives.get("deprecated").is_some()),
        )
        .field(
            "deprecationReason",
            "String",
            "",
            PLAIN,
            |v: &EnumValueDefinition, _, env| deprecation(&v.directives, env),
        )
}

fn directive() -> Object {
    Object::new("__Directive", "")
        .field(
            "name",
            "String!",
            "",
            PLAIN,
            |d: &DirectiveDefinition, _, _| Out::str(&d.name),
        )
        .field(
            "description",
            "String",
            "",
            PLAIN,
            |d: &DirectiveDefinition, _, _| description(d.description.as_ref()),
        )
        .field(
            "locations",
            "[__DirectiveLocation!]!",
            "",
            PLAIN,
            |d: &DirectiveDefinition, _, _| {
                Out::List(d.locations.iter().map(|l| Out::str(l.name())).collect())
            },
        )
        .field(
            "args",
            "[__InputValue!]!",
            "",
            (&[INCLUDE_DEPRECATED], 0),
            |d: &DirectiveDefinition, args, _| arguments(&d.arguments, args),
        )
        .field(
            "isRepeatable",
            "Boolean!",
            "",
            PLAIN,
            |d: &DirectiveDefinition, _, _| Out::Bool(d.repeatable),
        )
}

/// The definition of a named type.
fn definition<'a>(ty: &Type, env: &Env<'a>) -> Option<&'a ExtendedType> {
    match ty {
        Type::Named(name) => env.schema.apollo.types.get(name),
        _ => None,
    }
}

fn kind(ty: &Type, env: &Env<'_>) -> &'static str {
    match (ty, definition(ty, env)) {
        (Type::NonNullNamed(_) | Type::NonNullList(_), _) => "NON_NULL",
        (Type::List(_), _) => "LIST",
        (_, Some(ExtendedType::Object(_))) => "OBJECT",
        (_, Some(ExtendedType::Interface(_))) => "INTERFACE",
        (_, Some(ExtendedType::Union(_))) => "UNION",
        (_, Some(ExtendedType::Enum(_))) => "ENUM",
        (_, Some(ExtendedType::InputObject(_))) => "INPUT_OBJECT",
        _ => "SCALAR",
    }
}

fn named(name: &Name) -> Out<'static> {
    Out::object(Type::Named(name.clone()))
}

fn names<'a, N: std::ops::Deref<Target = Name> + 'a>(
    names: impl IntoIterator<Item = &'a N>,
) -> Out<'static> {
    Out::List(names.into_iter().map(|n| named(n)).collect())
}

fn root(name: Option<&apollo_compiler::schema::ComponentName>) -> Out<'static> {
    Out::or_null(name, |name| named(name))
}

fn description(text: Option<&Node<str>>) -> Out<'_> {
    Out::or_null(text, |text| Out::str(text))
}

/// Whether an item with `directives` is listed: it is not deprecated, or
/// deprecated ones are asked for.
fn shown(directives: &DirectiveList, args: &Args<'_>) -> bool {
    let deprecated = || args.get(&INCLUDE_DEPRECATED).and_then(|v| v.as_bool()) == Some(true);
    directives.get("deprecated").is_none() || deprecated()
}

fn arguments<'a>(arguments: &'a [Node<InputValueDefinition>], args: &Args<'_>) -> Out<'a> {
    let shown = arguments.iter().filter(|a| shown(&a.directives, args));
    Out::List(shown.map(|a| Out::Borrowed(a.as_ref())).collect())
}

/// Why an item is deprecated: its `@deprecated`'s reason, or the
/// directive's default; `null` when it is not.
fn deprecation<'a>(directives: &'a DirectiveList, env: &Env<'a>) -> Out<'a> {
    let Some(deprecated) = directives.get("deprecated") else {
        return Out::Null;
    };
    let given = deprecated.specified_argument_by_name("reason");
    let default = || {
        let definition = env.schema.apollo.directive_definitions.get("deprecated")?;
        definition
            .argument_by_name("reason")?
            .default_value
            .as_ref()
    };
    Out::or_null(given.or_else(default).and_then(|v| v.as_str()), Out::str)
}
