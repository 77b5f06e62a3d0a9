//! The GraphQL API: one engine for every operation from every transport.
//! The schema is declared once (`schema`); each distinct document is
//! prepared once (parsed, validated by async-graphql, planned) and kept by
//! its hash, which also serves persisted queries (`prepare`); running a
//! prepared operation only coerces the request's variables and calls the
//! resolvers, writing the JSON as it goes (`execute`). async-graphql runs
//! only introspection. Transports read requests (`request`) and frame the
//! responses; beyond its cache of documents this module holds no state.

mod errors;
mod execute;
mod input;
mod prepare;
mod request;
mod schema;
mod services;
#[cfg(test)]
mod tests;

pub use errors::{
    ApiError, BAD_REQUEST, BAD_USER_INPUT, GraphQLError, Location, OPERATION_RESOLUTION_FAILURE,
    PARSE_FAILED, PERSISTED_QUERY_NOT_FOUND, PathSegment, VALIDATION_FAILED,
};
pub use execute::Response;
pub use input::Input;
pub use prepare::{Documents, MAX_ALIASES};
pub use request::Request;
pub use schema::{AnyObject, Checks, Env, LikeEvent, Schema};
pub use services::{ClientAddress, Services, SubscriptionSlots};

use async_graphql::parser::types::OperationType;
use execute::Variables;
use prepare::{Operation, Prepared};
use schema::{Checked, Events};
use std::net::IpAddr;
use std::sync::Arc;

/// Deepest query accepted (the contract's deepest useful query is 4 levels).
pub const MAX_DEPTH: usize = 8;
/// Most complex query accepted (one per field selected).
pub const MAX_COMPLEXITY: usize = 200;
/// Deepest nesting the parser follows (lists, objects, selections).
pub const MAX_RECURSIVE_DEPTH: usize = 16;
/// Most directives on one field.
pub const MAX_DIRECTIVES: usize = 4;
/// Bytes of prepared documents kept (about a thousand of a typical size).
pub const DOCUMENTS_KEPT_BYTES: u64 = 4 << 20;

/// What answers GraphQL: the schema, the prepared documents, the services.
pub struct Endpoint {
    schema: Schema,
    documents: Documents,
    services: Services,
}

/// A request's operation, found and with its variables coerced: ready to
/// run or to subscribe.
pub struct Ready<'a> {
    prepared: Arc<Prepared>,
    /// The operation's index among the document's.
    index: usize,
    variables: Variables<'a>,
}

impl Ready<'_> {
    fn operation(&self) -> &Operation {
        match &self.prepared.outcome {
            Ok(plans) => &plans.operations[self.index],
            Err(_) => unreachable!("only a valid document is ready"),
        }
    }

    /// Query, mutation or subscription.
    pub fn kind(&self) -> OperationType {
        self.operation().kind
    }

    /// How long a GET answer may be cached, in seconds (0: never).
    pub fn max_age(&self) -> u32 {
        self.operation().max_age
    }

    /// The same, owning its variables: to run apart from the request.
    pub fn into_owned(self) -> Ready<'static> {
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
pub struct Subscription {
    /// What writes each event's response.
    pub plan: Arc<EventPlan>,
    /// The events, each an object of the subscription field's type.
    pub events: Events,
}

/// What writes the response for each event of one subscription: its
/// operation and variables.
pub struct EventPlan {
    prepared: Arc<Prepared>,
    index: usize,
    variables: Variables<'static>,
}

impl Endpoint {
    /// The schema over `services`; `introspection: false` hides the schema
    /// from clients (production).
    pub fn new(services: Services, introspection: bool) -> Self {
        Self {
            schema: Schema::new(Checks {
                max_depth: MAX_DEPTH,
                max_complexity: MAX_COMPLEXITY,
                max_recursive_depth: MAX_RECURSIVE_DEPTH,
                max_directives: MAX_DIRECTIVES,
                introspection,
            }),
            documents: Documents::new(DOCUMENTS_KEPT_BYTES),
            services,
        }
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// What the resolvers use.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The prepared documents.
    pub fn documents(&self) -> &Documents {
        &self.documents
    }

    /// Finds `request`'s document (prepared now if it is new) and its
    /// operation, and coerces its variables; a request error otherwise.
    pub async fn ready<'a>(&self, request: &'a Request<'_>) -> Result<Ready<'a>, Response> {
        request.check().map_err(Response::error)?;
        let asked = request.asked().map_err(Response::error)?;
        let prepared = self
            .documents
            .get(&asked, &self.schema)
            .await
            .map_err(Response::error)?;
        let plans = prepared.outcome.as_ref().map_err(|e| Response::errors(e))?;
        let operation = plans
            .operation(request.operation_name.as_deref())
            .map_err(Response::error)?;
        let index = plans
            .operations
            .iter()
            .position(|op| std::ptr::eq(op, operation))
            .unwrap_or_default();
        let given = request.variables().map_err(Response::error)?;
        let variables = execute::variables(operation, given, &self.schema)
            .map_err(|errors| Response::errors(&errors))?;
        Ok(Ready {
            prepared: prepared.clone(),
            index,
            variables,
        })
    }

    /// Runs a query or mutation for a client at `address`.
    pub async fn run(&self, ready: &Ready<'_>, address: Option<IpAddr>) -> Response {
        let operation = ready.operation();
        let env = self.env(address, None);
        if operation.introspective {
            return Box::pin(self.introspect(ready, &env)).await;
        }
        execute::run(&self.schema, operation, &ready.variables, &env).await
    }

    /// Starts a subscription for a client at `address`, holding one of
    /// `slots` while it lives.
    pub fn subscribe(
        &self,
        ready: Ready<'_>,
        address: Option<IpAddr>,
        slots: Option<&SubscriptionSlots>,
    ) -> Result<Subscription, Response> {
        let env = self.env(address, slots);
        let events = execute::subscribe(&self.schema, ready.operation(), &ready.variables, &env)?;
        let plan = EventPlan {
            variables: ready
                .variables
                .into_iter()
                .map(|value| value.map(Input::into_owned))
                .collect(),
            prepared: ready.prepared,
            index: ready.index,
        };
        Ok(Subscription {
            plan: Arc::new(plan),
            events,
        })
    }

    /// Appends the response for one `event` of a subscription.
    pub fn write_event(&self, plan: &EventPlan, event: &AnyObject, out: &mut Vec<u8>) {
        let Ok(plans) = &plan.prepared.outcome else {
            return;
        };
        let env = self.env(None, None);
        execute::write_event(
            &self.schema,
            &plans.operations[plan.index],
            &plan.variables,
            &env,
            event,
            out,
        );
    }

    fn env<'a>(&'a self, address: Option<IpAddr>, slots: Option<&'a SubscriptionSlots>) -> Env<'a> {
        Env {
            services: &self.services,
            address,
            slots,
        }
    }

    /// Runs an introspection query with async-graphql, which validated it
    /// when it was prepared.
    async fn introspect(&self, ready: &Ready<'_>, env: &Env<'_>) -> Response {
        let operation = ready.operation();
        let Ok(plans) = &ready.prepared.outcome else {
            return Response::errors(&[]);
        };
        let Some((document, validation)) = &plans.introspection else {
            return Response::errors(&[]);
        };
        let variables = operation
            .variables
            .iter()
            .zip(&ready.variables)
            .filter_map(|(declared, value)| {
                let value = value.as_ref()?.to_const();
                Some((async_graphql::Name::new(&declared.name), value))
            })
            .collect();
        let mut request = async_graphql::Request::new("")
            .variables(async_graphql::Variables::from_value(
                async_graphql::Value::Object(variables),
            ))
            .data(Checked(*validation))
            .data(self.services.clone());
        if let Some(address) = env.address {
            request = request.data(ClientAddress(address));
        }
        request.operation_name = operation.name.clone();
        request.set_parsed_query(document.clone());
        let response = self.schema.checker().execute(request).await;
        from_async_graphql(response)
    }
}

/// async-graphql's response in this module's form, every error coded.
fn from_async_graphql(response: async_graphql::Response) -> Response {
    let errors: Vec<GraphQLError> = response
        .errors
        .into_iter()
        .map(|error| {
            let code = match error.extensions.as_ref().and_then(|e| e.get("code")) {
                Some(async_graphql::Value::String(code)) => match code.as_str() {
                    "NOT_FOUND" => "NOT_FOUND",
                    "UNAVAILABLE" => "UNAVAILABLE",
                    "INTERNAL" => "INTERNAL",
                    _ => BAD_USER_INPUT,
                },
                _ => BAD_USER_INPUT,
            };
            let path = error
                .path
                .iter()
                .map(|segment| match segment {
                    async_graphql::PathSegment::Field(key) => PathSegment::Key(key.clone()),
                    async_graphql::PathSegment::Index(index) => PathSegment::Index(*index),
                })
                .collect();
            let mut coded = GraphQLError::from_server(error, code);
            coded.path = path;
            coded
        })
        .collect();
    let mut body = b"{\"data\":".to_vec();
    if serde_json::to_writer(&mut body, &response.data).is_err() {
        body.truncate(8);
        body.extend_from_slice(b"null");
    }
    if !errors.is_empty() {
        body.extend_from_slice(b",\"errors\":");
        let _ = serde_json::to_writer(&mut body, &errors);
    }
    body.push(b'}');
    Response {
        body,
        data: true,
        errors: !errors.is_empty(),
    }
}
