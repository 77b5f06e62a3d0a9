//! How the schema's resolvers are declared: each object type's fields with
//! the arguments they read (constants, so each name is written once), cache
//! hints and resolvers; input objects' fields; subscription fields.

use super::Schema;
use crate::graphql::errors::GraphQLError;
use crate::graphql::input::{Input, InputValue};
use crate::graphql::services::{Services, SubscriptionSlots};
use futures_util::stream::BoxStream;
use std::any::Any;
use std::borrow::Cow;
use std::net::IpAddr;

/// An object handed to its type's resolvers.
pub(crate) type AnyObject = dyn Any + Send + Sync;

/// What a resolver sees besides its object and arguments.
#[derive(Clone, Copy)]
pub(crate) struct Env<'a> {
    /// The service's parts.
    pub(crate) services: &'a Services,
    /// The schema, for introspection.
    pub(crate) schema: &'a Schema,
    /// The client's address, for like rates.
    pub(crate) address: Option<IpAddr>,
    /// The WebSocket connection's allowance of subscriptions, if the
    /// operation came over one.
    pub(crate) slots: Option<&'a SubscriptionSlots>,
}

/// A field's arguments after coercion, by name, in declared order.
pub(crate) struct Args<'a> {
    /// Each argument's name and value.
    pub(crate) values: Vec<(&'a str, Option<Cow<'a, Input<'a>>>)>,
}

impl<'a> Args<'a> {
    /// The value of `argument`, one of the field's declared arguments.
    pub(crate) fn get(&self, argument: &InputValue) -> Option<&Input<'a>> {
        let found = self.values.iter().find(|(name, _)| *name == argument.0);
        debug_assert!(found.is_some(), "{} is not declared", argument.0);
        found?.1.as_deref()
    }
}

/// What a field resolves to, which must match its declared type.
pub(crate) enum Out<'a> {
    /// `null`.
    Null,
    /// A `Boolean`.
    Bool(bool),
    /// An `Int`.
    Int(i64),
    /// A `String`, an `ID` or an enum value.
    Str(Cow<'a, str>),
    /// An object of the field's type.
    Object(Box<AnyObject>),
    /// An object of the field's type, held by the parent or the schema.
    Borrowed(&'a AnyObject),
    /// A list.
    List(Vec<Out<'a>>),
    /// The field failed (boxed: the other values are smaller).
    Error(Box<GraphQLError>),
    /// A mutation's root field that resolves once what it waits for is
    /// done (`createLike` under `--ack stored`).
    Later(Later),
}

/// What an `Out::Later` waits for, then resolves to.
pub type Later = futures_util::future::BoxFuture<'static, Out<'static>>;

impl<'a> Out<'a> {
    /// A boxed object.
    pub(crate) fn object(value: impl Any + Send + Sync) -> Self {
        Self::Object(Box::new(value))
    }

    /// A string borrowed for as long as the object.
    pub(crate) fn str(text: &'a str) -> Self {
        Self::Str(Cow::Borrowed(text))
    }
}

impl From<GraphQLError> for Out<'_> {
    fn from(error: GraphQLError) -> Self {
        Self::Error(Box::new(error))
    }
}

impl<'a> From<Result<Out<'a>, GraphQLError>> for Out<'a> {
    fn from(result: Result<Out<'a>, GraphQLError>) -> Self {
        result.unwrap_or_else(Out::from)
    }
}

/// A resolver, with its object's type erased.
pub(crate) type Resolve =
    Box<dyn for<'a> Fn(&'a AnyObject, &Args<'_>, &Env<'a>) -> Out<'a> + Send + Sync>;

/// A resolver for objects of type `T`.
pub(crate) type ResolveFn<T> = for<'a> fn(&'a T, &Args<'_>, &Env<'a>) -> Out<'a>;

/// One field of an object type.
pub(crate) struct Field {
    pub(crate) name: &'static str,
    /// The arguments its resolver reads.
    pub(crate) args: &'static [InputValue],
    /// How long a GET answer selecting it may be cached, in seconds.
    pub(crate) max_age: u32,
    /// What computes it (on a subscription's root field: from each event).
    pub(crate) resolve: Resolve,
    /// What starts it, on a subscription's root field.
    pub(crate) subscribe: Option<Subscribe>,
}

/// An object type's resolvers.
pub(crate) struct Object {
    pub(crate) name: &'static str,
    /// Its fields, in order.
    pub(crate) fields: Vec<Field>,
    /// How long a GET answer may cache the fields `with` adds, in seconds.
    max_age: u32,
}

impl Object {
    /// An object type with no fields yet.
    pub(crate) fn new(name: &'static str) -> Self {
        Self {
            name,
            fields: Vec::new(),
            max_age: 0,
        }
    }

    /// The fields `with` adds from now on may be cached for `seconds` in
    /// GET answers (at first, never).
    pub(crate) fn cached(mut self, seconds: u32) -> Self {
        self.max_age = seconds;
        self
    }

    /// Adds field `name`, resolved by `resolve` from objects of type `T`,
    /// reading `args`, cached for `max_age` seconds.
    pub(crate) fn field<T: Any>(
        mut self,
        name: &'static str,
        (args, max_age): (&'static [InputValue], u32),
        resolve: ResolveFn<T>,
    ) -> Self {
        let resolve: Resolve = Box::new(move |object, args, env| {
            let Some(object) = object.downcast_ref::<T>() else {
                tracing::error!(field = name, "a resolver got an object of another type");
                return GraphQLError::internal().into();
            };
            resolve(object, args, env)
        });
        self.fields.push(Field {
            name,
            args,
            max_age,
            resolve,
            subscribe: None,
        });
        self
    }

    /// Adds subscription root field `name`, reading `args`, started by
    /// `subscribe`.
    pub(crate) fn subscription<T: Any + Send + Sync>(
        self,
        name: &'static str,
        args: &'static [InputValue],
        subscribe: Subscribe,
    ) -> Self {
        let mut this = self.field(name, (args, 0), |event: &T, _, _| Out::Borrowed(event));
        this.fields.last_mut().expect("just added").subscribe = Some(subscribe);
        this
    }

    /// Adds field `name`, without arguments, cached as `cached` said.
    pub(crate) fn with<T: Any>(self, name: &'static str, resolve: ResolveFn<T>) -> Self {
        let max_age = self.max_age;
        self.field(name, (&[], max_age), resolve)
    }

    /// The field `name`, with its index.
    pub(crate) fn field_named(&self, name: &str) -> Option<(usize, &Field)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, field)| field.name == name)
    }
}

/// An input object type, by the fields its readers read.
pub(crate) struct InputObject {
    pub(crate) name: &'static str,
    pub(crate) fields: &'static [InputValue],
}

/// The items of a subscription, each an object of the field's type.
pub(crate) type Events = BoxStream<'static, Box<AnyObject>>;

/// Starts a subscription, given the fields it selects on each event.
pub(crate) type Subscribe =
    fn(&Args<'_>, &Env<'_>, &[&'static str]) -> Result<Events, GraphQLError>;
