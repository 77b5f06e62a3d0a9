//! How the schema's types are declared: each object type with its fields'
//! names, types, descriptions, cache hints and resolvers; input objects;
//! the subscription fields. One declaration feeds both the executor
//! (`graphql::execute`) and async-graphql's dynamic schema (`dynamic`),
//! which validates documents, answers introspection and prints the SDL.
//! It holds no service state: resolvers get that through `Env`.

use crate::graphql::errors::ApiError;
use crate::graphql::input::Input;
use crate::graphql::services::{Services, SubscriptionSlots};
use async_graphql::dynamic::TypeRef;
use futures_util::stream::BoxStream;
use std::any::Any;
use std::borrow::Cow;
use std::net::IpAddr;

/// An object handed to its type's resolvers.
pub type AnyObject = dyn Any + Send + Sync;

/// What a resolver sees besides its object and arguments.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The service's parts.
    pub services: &'a Services,
    /// The client's address, for like rates.
    pub address: Option<IpAddr>,
    /// The WebSocket connection's allowance of subscriptions, if the
    /// operation came over one.
    pub slots: Option<&'a SubscriptionSlots>,
}

/// A field's arguments after coercion, by declared name; an argument the
/// request left out (and which has no default) is absent.
#[derive(Debug, Default)]
pub struct Args<'a>(pub Vec<(&'static str, Input<'a>)>);

impl<'a> Args<'a> {
    /// The argument `name`, if given.
    pub fn get(&self, name: &str) -> Option<&Input<'a>> {
        self.0
            .iter()
            .find_map(|(given, value)| (*given == name).then_some(value))
    }
}

/// What a field resolves to. Leaves must match the field's declared type;
/// an object's fields are resolved by the type the field declares.
pub enum Out<'a> {
    /// `null`.
    Null,
    /// A `Boolean`.
    Bool(bool),
    /// An `Int`.
    Int(i64),
    /// A `String` or an `ID`.
    Str(Cow<'a, str>),
    /// An object of the field's type.
    Object(Box<AnyObject>),
    /// An object of the field's type, held by the parent.
    Borrowed(&'a AnyObject),
    /// A list.
    List(Vec<Out<'a>>),
    /// The field failed.
    Error(ApiError),
    /// A mutation's root field that resolves once what it waits for is
    /// done (`createLike` under `--ack stored`); the next root field starts
    /// after it.
    Later(Later),
}

/// What an `Out::Later` waits for, then resolves to.
pub type Later = futures_util::future::BoxFuture<'static, Out<'static>>;

impl<'a> Out<'a> {
    /// `value`, or `null` when absent.
    pub fn or_null<T>(value: Option<T>, to_out: impl FnOnce(T) -> Self) -> Self {
        value.map_or(Self::Null, to_out)
    }

    /// A boxed object.
    pub fn object(value: impl Any + Send + Sync) -> Self {
        Self::Object(Box::new(value))
    }
}

impl<'a> From<Result<Out<'a>, ApiError>> for Out<'a> {
    fn from(result: Result<Out<'a>, ApiError>) -> Self {
        result.unwrap_or_else(Out::Error)
    }
}

/// A resolver, with its object's type erased.
pub type Resolve = Box<dyn for<'a> Fn(&'a AnyObject, &Args<'_>, &Env<'a>) -> Out<'a> + Send + Sync>;

/// A resolver for objects of type `T`.
pub type ResolveFn<T> = for<'a> fn(&'a T, &Args<'_>, &Env<'a>) -> Out<'a>;

/// One field of an object type.
pub struct Field {
    /// Its GraphQL name.
    pub name: &'static str,
    /// Its description in the schema.
    pub description: &'static str,
    /// Its type.
    pub ty: TypeRef,
    /// Its arguments, in order.
    pub args: Vec<Argument>,
    /// How long a GET answer selecting it may be cached, in seconds; 0 for
    /// never.
    pub max_age: u32,
    /// What computes it.
    pub resolve: Resolve,
}

/// An argument, or an input object's field.
pub struct Argument {
    /// Its GraphQL name.
    pub name: &'static str,
    /// Its description in the schema.
    pub description: &'static str,
    /// Its type.
    pub ty: TypeRef,
}

impl Argument {
    /// An argument or input field `name` of type `ty`.
    pub fn new(name: &'static str, ty: TypeRef, description: &'static str) -> Self {
        Self {
            name,
            description,
            ty,
        }
    }
}

/// An object type.
pub struct Object {
    /// Its GraphQL name.
    pub name: &'static str,
    /// Its description in the schema.
    pub description: &'static str,
    /// Its fields, in order.
    pub fields: Vec<Field>,
}

impl Object {
    /// An object type with no fields yet.
    pub fn new(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            description,
            fields: Vec::new(),
        }
    }

    /// Adds field `name` of type `ty`, resolved by `resolve` from objects of
    /// type `T`, with `args`; GET answers selecting it may be cached for
    /// `max_age` seconds.
    pub fn field<T: Any>(
        mut self,
        name: &'static str,
        ty: TypeRef,
        description: &'static str,
        (args, max_age): (Vec<Argument>, u32),
        resolve: ResolveFn<T>,
    ) -> Self {
        let resolve: Resolve =
            Box::new(
                move |object, args, env| match (object as &dyn Any).downcast_ref::<T>() {
                    Some(object) => resolve(object, args, env),
                    None => {
                        tracing::error!(field = name, "a resolver got an object of another type");
                        Out::Error(ApiError::Internal)
                    }
                },
            );
        self.fields.push(Field {
            name,
            description,
            ty,
            args,
            max_age,
            resolve,
        });
        self
    }

    /// The field `name`, with its index.
    pub fn field_named(&self, name: &str) -> Option<(usize, &Field)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, field)| field.name == name)
    }
}

/// No arguments; never cached.
pub const PLAIN: (Vec<Argument>, u32) = (Vec::new(), 0);

/// No arguments; cached for `seconds`.
pub fn cached(seconds: u32) -> (Vec<Argument>, u32) {
    (Vec::new(), seconds)
}

/// An input object type.
pub struct InputObject {
    /// Its GraphQL name.
    pub name: &'static str,
    /// Its description in the schema.
    pub description: &'static str,
    /// Its fields, in order.
    pub fields: Vec<Argument>,
}

/// The items of a subscription, each an object of the field's type.
pub type Events = BoxStream<'static, Box<AnyObject>>;

/// Starts a subscription, given the names of the fields its document
/// selects on each event: its events, or why it cannot start.
pub type Subscribe =
    Box<dyn Fn(&Args<'_>, &Env<'_>, &[&'static str]) -> Result<Events, ApiError> + Send + Sync>;

/// A field of the subscription type.
pub struct SubscriptionField {
    /// Its GraphQL name.
    pub name: &'static str,
    /// Its description in the schema.
    pub description: &'static str,
    /// The type of each event.
    pub ty: TypeRef,
    /// Its arguments, in order.
    pub args: Vec<Argument>,
    /// What starts it.
    pub subscribe: Subscribe,
}

/// Type names of the built-in scalars.
pub mod scalar {
    /// `Int`: a signed 32-bit integer.
    pub const INT: &str = "Int";
    /// `Float`.
    pub const FLOAT: &str = "Float";
    /// `String`.
    pub const STRING: &str = "String";
    /// `Boolean`.
    pub const BOOLEAN: &str = "Boolean";
    /// `ID`: a string, or an integer given as one.
    pub const ID: &str = "ID";

    /// Whether `name` is a built-in scalar.
    pub fn is_builtin(name: &str) -> bool {
        [INT, FLOAT, STRING, BOOLEAN, ID].contains(&name)
    }
}
