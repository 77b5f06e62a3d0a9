//! The schema, declared once (`contract`, in the terms of `types`). From
//! it come the executor's plans and async-graphql's dynamic schema
//! (`dynamic`), which validates each new document, answers introspection
//! and prints the SDL. It holds no service state.

use std::sync::Arc;

mod coerce;
mod contract;
mod dynamic;
mod types;

pub use coerce::{Place, coerce};
pub use contract::{LikeEvent, Root};
pub use dynamic::{Checked, Checking};
pub use types::{
    AnyObject, Args, Env, Events, InputObject, Object, Out, SubscriptionField, scalar,
};

/// The schema's declarations, with async-graphql's schema built from them.
pub struct Schema {
    declared: Arc<Declared>,
    /// Validates documents, answers introspection; built from `declared`,
    /// whose resolvers it calls.
    checker: async_graphql::dynamic::Schema,
}

/// The declared types.
pub struct Declared {
    objects: Vec<Object>,
    inputs: Vec<InputObject>,
    subscriptions: Vec<SubscriptionField>,
}

/// What async-graphql checks besides the spec's rules.
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    /// Deepest selection.
    pub max_depth: usize,
    /// Most fields selected, fragments expanded.
    pub max_complexity: usize,
    /// Deepest nesting the parser follows.
    pub max_recursive_depth: usize,
    /// Most directives on one field.
    pub max_directives: usize,
    /// Whether introspection is answered.
    pub introspection: bool,
}

impl Schema {
    /// The contract's schema, with these checks.
    pub fn new(checks: Checks) -> Self {
        let declared = Arc::new(Declared {
            objects: contract::objects(),
            inputs: contract::inputs(),
            subscriptions: contract::subscriptions(),
        });
        Self {
            checker: dynamic::build(&declared, checks),
            declared,
        }
    }

    /// The object type `name`, with its index.
    pub fn object(&self, name: &str) -> Option<(usize, &Object)> {
        self.declared
            .objects
            .iter()
            .enumerate()
            .find(|(_, object)| object.name == name)
    }

    /// The object type at `index` (from `object`).
    pub fn object_at(&self, index: usize) -> &Object {
        &self.declared.objects[index]
    }

    /// The input object type `name`.
    pub fn input_object(&self, name: &str) -> Option<&InputObject> {
        self.declared.inputs.iter().find(|input| input.name == name)
    }

    /// The subscription field `name`, with its index.
    pub fn subscription(&self, name: &str) -> Option<(usize, &SubscriptionField)> {
        self.declared
            .subscriptions
            .iter()
            .enumerate()
            .find(|(_, field)| field.name == name)
    }

    /// The subscription field at `index` (from `subscription`).
    pub fn subscription_at(&self, index: usize) -> &SubscriptionField {
        &self.declared.subscriptions[index]
    }

    /// async-graphql's view of the schema.
    pub fn checker(&self) -> &async_graphql::dynamic::Schema {
        &self.checker
    }

    /// The schema in SDL.
    pub fn sdl(&self) -> String {
        self.checker.sdl()
    }
}
