//! Introspection, declared like any other type so the one executor answers
//! it: `__schema` and `__type` on `Query`, and the `__` types, whose
//! resolvers read apollo-compiler's schema.

use super::types::{Args, Env, Object, Out};
use super::{Root, Schema};
use crate::graphql::input::InputValue;
use apollo_compiler::ast::{DirectiveDefinition as Directive, DirectiveList, Type};
use apollo_compiler::ast::{EnumValueDefinition, FieldDefinition, InputValueDefinition};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{Name, Node};
use std::any::Any;
use std::borrow::Borrow;

/// `__type`'s argument.
const NAME: InputValue = InputValue("name");
/// The argument of the fields that list what may be deprecated.
const INCLUDE_DEPRECATED: InputValue = InputValue("includeDeprecated");
/// Declares a field's argument `includeDeprecated`.
const WITH_DEPRECATED: (&[InputValue], u32) = (&[INCLUDE_DEPRECATED], 0);

/// `Query.__schema` and `Query.__type`, added to `query`.
pub(super) fn meta_fields(query: Object) -> Object {
    query
        .with("__schema", |_: &Root, _, env| Out::Borrowed(env.schema))
        .field("__type", (&[NAME], 0), |_: &Root, args, env| {
            let name = args.get(&NAME).and_then(|name| name.as_str());
            maybe_named(name.and_then(|name| env.schema.listed.iter().find(|n| *n == name)))
        })
}

/// The introspection object types.
pub(super) fn objects() -> Vec<Object> {
    let schema = Object::new("__Schema")
        .with("description", |s: &Schema, _, _| {
            description(s.apollo.schema_definition.description.as_ref())
        })
        .with("types", |s: &Schema, _, _| {
            Out::List(s.listed.iter().map(named).collect())
        })
        .with("queryType", |s: &Schema, _, _| {
            maybe_named(s.apollo.schema_definition.query.as_deref())
        })
        .with("mutationType", |s: &Schema, _, _| {
            maybe_named(s.apollo.schema_definition.mutation.as_deref())
        })
        .with("subscriptionType", |s: &Schema, _, _| {
            maybe_named(s.apollo.schema_definition.subscription.as_deref())
        })
        .with("directives", |s: &Schema, _, _| {
            list(s.directives.iter().map(|d| &**d))
        });
    let field = named_item::<FieldDefinition>("__Field")
        .field("args", WITH_DEPRECATED, |f: &FieldDefinition, args, _| {
            shown(f.arguments.iter().map(|a| &**a), args)
        })
        .with("type", |f: &FieldDefinition, _, _| Out::Borrowed(&f.ty));
    let input_value = named_item::<InputValueDefinition>("__InputValue")
        .with("type", |v: &InputValueDefinition, _, _| {
            Out::Borrowed(v.ty.as_ref())
        })
        .with("defaultValue", |v: &InputValueDefinition, _, _| {
            let value = v.default_value.as_ref();
            value.map_or(Out::Null, |value| Out::Str(value.to_string().into()))
        });
    let directive = named_item::<Directive>("__Directive")
        .with("locations", |d: &Directive, _, _| {
            Out::List(d.locations.iter().map(|l| Out::str(l.name())).collect())
        })
        .field("args", WITH_DEPRECATED, |d: &Directive, args, _| {
            shown(d.arguments.iter().map(|a| &**a), args)
        })
        .with("isRepeatable", |d: &Directive, _, _| {
            Out::Bool(d.repeatable)
        });
    vec![
        schema,
        ty(),
        deprecable::<FieldDefinition>(field),
        deprecable::<InputValueDefinition>(input_value),
        deprecable::<EnumValueDefinition>(named_item::<EnumValueDefinition>("__EnumValue")),
        directive,
    ]
}

/// `__Type`, whose objects are type references.
fn ty() -> Object {
    Object::new("__Type")
        .with("kind", |t: &Type, _, env| Out::str(kind(t, env)))
        .with("name", |t: &Type, _, _| match t {
            Type::Named(name) => Out::str(name),
            _ => Out::Null,
        })
        .with("description", |t: &Type, _, env| {
            description(definition(t, env).and_then(ExtendedType::description))
        })
        .field(
            "fields",
            WITH_DEPRECATED,
            |t: &Type, args, env| match definition(t, env) {
                Some(ExtendedType::Object(object)) => {
                    shown(object.fields.values().map(|f| &***f), args)
                }
                Some(ExtendedType::Interface(interface)) => {
                    shown(interface.fields.values().map(|f| &***f), args)
                }
                _ => Out::Null,
            },
        )
        .with("interfaces", |t: &Type, _, env| match definition(t, env) {
            Some(ExtendedType::Object(o)) => all_named(o.implements_interfaces.iter()),
            Some(ExtendedType::Interface(i)) => all_named(i.implements_interfaces.iter()),
            _ => Out::Null,
        })
        .with("possibleTypes", |t: &Type, _, env| {
            match definition(t, env) {
                Some(ExtendedType::Union(union)) => all_named(union.members.iter()),
                Some(ExtendedType::Interface(interface)) => {
                    let implementers = env.schema.apollo.implementers_map();
                    let objects = implementers.get(&interface.name).map(|i| i.objects.iter());
                    all_named(objects.into_iter().flatten())
                }
                _ => Out::Null,
            }
        })
        .field(
            "enumValues",
            WITH_DEPRECATED,
            |t: &Type, args, env| match definition(t, env) {
                Some(ExtendedType::Enum(values)) => {
                    shown(values.values.values().map(|v| &***v), args)
                }
                _ => Out::Null,
            },
        )
        .field(
            "inputFields",
            WITH_DEPRECATED,
            |t: &Type, args, env| match definition(t, env) {
                Some(ExtendedType::InputObject(input)) => {
                    shown(input.fields.values().map(|f| &***f), args)
                }
                _ => Out::Null,
            },
        )
        .with("ofType", |t: &Type, _, _| match t {
            Type::Named(_) => Out::Null,
            Type::NonNullNamed(name) => named(name),
            Type::NonNullList(item) => Out::object(Type::List(item.clone())),
            Type::List(item) => Out::Borrowed(item.as_ref()),
        })
        .with("specifiedByURL", |t: &Type, _, env| {
            let directive = definition(t, env).and_then(|d| d.directives().get("specifiedBy"));
            let url = directive.and_then(|d| d.specified_argument_by_name("url"));
            url.and_then(|url| url.as_str()).map_or(Out::Null, Out::str)
        })
}

/// What `__Field`, `__InputValue`, `__EnumValue` and `__Directive` share.
trait Item: Any + Send + Sync {
    fn name(&self) -> &str;
    fn description(&self) -> Option<&Node<str>>;
    fn directives(&self) -> &DirectiveList;
}

macro_rules! item {
    ($type:ty, $name:ident, $this:ident => $directives:expr) => {
        impl Item for $type {
            fn name(&self) -> &str {
                &self.$name
            }
            fn description(&self) -> Option<&Node<str>> {
                self.description.as_ref()
            }
            fn directives(&self) -> &DirectiveList {
                let $this = self;
                $directives
            }
        }
    };
}

/// A directive's own directives: none.
static NO_DIRECTIVES: DirectiveList = DirectiveList(Vec::new());

item!(FieldDefinition, name, this => &this.directives);
item!(InputValueDefinition, name, this => &this.directives);
item!(EnumValueDefinition, value, this => &this.directives);
item!(Directive, name, _this => &NO_DIRECTIVES);

/// Object type `name`, of items `T`, with their `name` and `description`.
fn named_item<T: Item>(name: &'static str) -> Object {
    Object::new(name)
        .with("name", |item: &T, _, _| Out::str(item.name()))
        .with("description", |item: &T, _, _| {
            description(item.description())
        })
}

/// `object`, of items `T`, with their `isDeprecated` and `deprecationReason`.
fn deprecable<T: Item>(object: Object) -> Object {
    object
        .with("isDeprecated", |item: &T, _, _| {
            Out::Bool(item.directives().get("deprecated").is_some())
        })
        .with("deprecationReason", |item: &T, _, env| {
            let Some(deprecated) = item.directives().get("deprecated") else {
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
            let reason = given.or_else(default).and_then(|v| v.as_str());
            reason.map_or(Out::Null, Out::str)
        })
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

fn maybe_named(name: Option<&Name>) -> Out<'static> {
    name.map_or(Out::Null, named)
}

fn all_named<'a, N: Borrow<Name> + 'a>(names: impl Iterator<Item = &'a N>) -> Out<'static> {
    Out::List(names.map(|name| named(name.borrow())).collect())
}

fn description(text: Option<&Node<str>>) -> Out<'_> {
    text.map_or(Out::Null, |text| Out::str(text))
}

fn list<'a, T: Any + Send + Sync>(items: impl Iterator<Item = &'a T>) -> Out<'a> {
    Out::List(items.map(|item| Out::Borrowed(item)).collect())
}

/// The `items` listed: the deprecated ones only if asked for.
fn shown<'a, T: Item>(items: impl Iterator<Item = &'a T>, args: &Args<'_>) -> Out<'a> {
    let deprecated = args.get(&INCLUDE_DEPRECATED).and_then(|v| v.as_bool()) == Some(true);
    list(items.filter(|item| deprecated || item.directives().get("deprecated").is_none()))
}
