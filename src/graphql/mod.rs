//! The GraphQL API: one engine for every operation from every transport.
//! The schema is declared once (`schema`); each distinct document is
//! prepared once, kept by text and hash (`prepare`); running it coerces the
//! variables and writes the JSON as it goes (`execute`). Beyond the
//! documents' cache and subscriptions' shared plans (`Plans`), no state.

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
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// Bytes of prepared documents kept, each counted under its text and its
/// hash: about a thousand of a typical size.
const DOCUMENTS_KEPT_BYTES: u64 = 8 << 20;

/// Distinct subscription plans shared (`Plans`); more are not shared.
const PLANS_SHARED: usize = 64;

/// What answers GraphQL: the schema, the prepared documents, the services.
pub(crate) struct Endpoint {
    schema: Schema,
    documents: Documents,
    services: Services,
    plans: Plans,
}

/// A request's operation, found, its variables coerced: ready to run.
pub(crate) struct Ready<'a> {
    prepared: Arc<Prepared>,
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

/// Equal: the same operation of the same document, the same variables.
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
            plans: Plans::default(),
        })
    }

    /// What the resolvers use.
    pub(crate) fn services(&self) -> &Services {
        &self.services
    }

    /// `request`'s operation, prepared if new, its variables coerced.
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

/// Live subscriptions' plans, one per distinct operation and variables:
/// a talk's subscribers then find their event's response, written once per
/// thread, by the plan's address, without reading their own variables.
#[derive(Default)]
struct Plans(Mutex<Vec<Weak<Ready<'static>>>>);

impl Plans {
    /// The live plan equal to `plan`, or `plan`, shared from now on.
    fn share(&self, plan: Ready<'static>) -> Arc<Ready<'static>> {
        let mut plans = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        plans.retain(|kept| kept.strong_count() > 0);
        if let Some(kept) = plans
            .iter()
            .filter_map(Weak::upgrade)
            .find(|kept| **kept == plan)
        {
            return kept;
        }
        let plan = Arc::new(plan);
        if plans.len() < PLANS_SHARED {
            plans.push(Arc::downgrade(&plan));
        }
        plan
    }
}

/// `text` as a JSON string, allocated at its exact length when nothing
/// needs escaping (not shrunk after: that leaves gaps in the heap), as
/// plans and WebSocket operations keep theirs for their whole lives.
pub(crate) fn json_string(text: &str) -> String {
    let mut json = Vec::with_capacity(text.len() + 2);
    // Writing a `str` to a `Vec` cannot fail, and is UTF-8.
    let _ = serde_json::to_writer(&mut json, text);
    String::from_utf8(json).unwrap_or_default()
}
