//! The GraphQL API: one engine for every operation from every transport.
//! The schema is declared once (`schema`); each distinct document is
//! prepared once (parsed and validated by apollo-compiler, held to the
//! server's limits, planned) and kept by its hash, which also serves
//! persisted queries (`prepare`); running a prepared operation only coerces
//! the request's variables and calls the resolvers, introspection's
//! included, writing the JSON as it goes (`execute`). Transports read
//! requests (`request`) and frame the responses; beyond its cache of
//! documents this module holds no state.

mod errors;
mod execute;
mod input;
mod prepare;
mod request;
mod schema;
mod services;
#[cfg(test)]
mod tests;

pub(crate) use apollo_compiler::ast::OperationType;
pub(crate) use errors::{Code, GraphQLError};
pub(crate) use execute::Response;
pub(crate) use request::Request;
pub(crate) use schema::SchemaError;
pub use schema::sdl;
pub(crate) use schema::{AnyObject, LikeEvent};
pub(crate) use services::{Services, SubscriptionSlots};

use execute::Variables;
use input::Input;
use prepare::{Documents, Operation, Prepared};
use schema::{Env, Events, Schema};
use std::net::IpAddr;
use std::sync::Arc;

/// Bytes of prepared documents kept, each counted under its text and its
/// hash: about a thousand of a typical size.
const DOCUMENTS_KEPT_BYTES: u64 = 8 << 20;

/// What answers GraphQL: the schema, the prepared documents, the services.
pub(crate) struct Endpoint {
    schema: Schema,
    documents: Documents,
    services: Services,
}

/// A request's operation, found and with its variables coerced: ready to
/// run or to subscribe.
pub(crate) struct Ready<'a> {
    prepared: Arc<Prepared>,
    /// The operation's index among the document's.
    index: usize,
    variables: Variables<'a>,
}

impl Ready<'_> {
    fn operation(&self) -> &Operation {
        match &self.prepared.outcome {
            Ok(operations) => &operations[self.index],
            Err(_) => unreachable!("only a valid document is ready"),
        }
    }

    /// Query, mutation or subscription.
    pub(crate) fn kind(&self) -> OperationType {
        self.operation().kind
    }

    /// How long a GET answer may be cached, in seconds (0: never).
    pub(crate) fn max_age(&self) -> u32 {
        self.operation().max_age
    }

    /// The same, owning its variables: to run apart from the request.
    pub(crate) fn into_owned(self) -> Ready<'static> {
        Ready {
            prepared: self.prepared,
            index: self.index,
            variables: self
                .variables
                .into_iter()
                .map(|value| value.map(Input::into_owned))
                .collect(),
        }
    }
}

/// A started subscription.
pub(crate) struct Subscription {
    /// What writes each event's response: its operation and variables.
    pub(crate) plan: Arc<Ready<'static>>,
    /// The events, each an object of the subscription field's type.
    pub(crate) events: Events,
}

/// Equal operations run the same operation of the same prepared document with
/// the same variables: they write the same response for the same event.
impl PartialEq for Ready<'_> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.prepared, &other.prepared)
            && self.index == other.index
            && self.variables == other.variables
    }
}

impl Endpoint {
    /// The schema over `services`, checked; `introspection: false` refuses
    /// `__schema` and `__type` (production).
    pub(crate) fn new(services: Services, introspection: bool) -> Result<Self, SchemaError> {
        Ok(Self {
            schema: Schema::new(introspection)?,
            documents: Documents::new(DOCUMENTS_KEPT_BYTES),
            services,
        })
    }

    /// What the resolvers use.
    pub(crate) fn services(&self) -> &Services {
        &self.services
    }

    /// Finds `request`'s document (prepared now if it is new) and its
    /// operation, and coerces its variables; a request error otherwise.
    pub(crate) fn ready<'a>(&self, request: &'a Request<'_>) -> Result<Ready<'a>, Response> {
        request.check().map_err(Response::error)?;
        let asked = request.asked().map_err(Response::error)?;
        let prepared = (self.documents.get(&asked, &self.schema)).map_err(Response::error)?;
        let operations = prepared.outcome.as_ref().map_err(|e| Response::errors(e))?;
        let index = prepare::operation(operations, request.operation_name.as_deref())
            .map_err(Response::error)?;
        let given = request.variables().map_err(Response::error)?;
        let variables = execute::variables(&operations[index], given, &self.schema)
            .map_err(|errors| Response::errors(&errors))?;
        Ok(Ready {
            prepared: prepared.clone(),
            index,
            variables,
        })
    }

    fn env<'a>(&'a self, address: Option<IpAddr>, slots: Option<&'a SubscriptionSlots>) -> Env<'a> {
        Env {
            services: &self.services,
            schema: &self.schema,
            address,
            slots,
        }
    }
}

/// `text` as a JSON string, at its exact length when nothing in it needs
/// escaping: plans and WebSocket operations keep theirs for their whole
/// lives (serde_json starts at 128 bytes). Written into room made for it
/// rather than shrunk after: a shrunk allocation leaves a gap beside it
/// that a long-lived one fills, and the heap grows around it.
pub(crate) fn json_string(text: &str) -> String {
    let mut json = Vec::with_capacity(text.len() + 2);
    // Writing a `str` to a `Vec` cannot fail, and is UTF-8.
    let _ = serde_json::to_writer(&mut json, text);
    String::from_utf8(json).unwrap_or_default()
}
