//! async-graphql's dynamic schema, built from the declarations: it
//! validates each new document once (`Checking`), answers introspection
//! (running a validated document without validating it again: `Checked`)
//! and prints the SDL. Its resolvers call the declared ones, so a document
//! it runs answers as the executor would.

use super::contract::Root;
use super::types::{AnyObject, Args, Argument, Env, Out};
use super::{Checks, Declared};
use crate::graphql::errors::ApiError;
use crate::graphql::input::Input;
use crate::graphql::services::{ClientAddress, Services};
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Schema,
    Subscription, SubscriptionField, SubscriptionFieldFuture,
};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation,
};
use async_graphql::{Response, ServerError, ValidationResult, Value};
use futures_util::StreamExt;
use std::sync::{Arc, Mutex};

/// Put in a request's data (in an `Arc`) to validate its document without
/// running it; the outcome of validation is left here.
#[derive(Default)]
pub struct Checking(pub Mutex<Option<Result<ValidationResult, Vec<ServerError>>>>);

/// Put in a request's data to run a document validated before, without
/// validating it again.
pub struct Checked(pub ValidationResult);

/// An object the declared resolvers made, as async-graphql holds it.
struct Held(Box<AnyObject>);

/// The parent of the root types' fields.
static ROOT: Root = Root;

/// async-graphql's schema for `declared`, with `checks`.
pub(super) fn build(declared: &Arc<Declared>, checks: Checks) -> Schema {
    let mut builder = Schema::build("Query", Some("Mutation"), Some("Subscription"));
    for (index, object) in declared.objects.iter().enumerate() {
        let mut built = Object::new(object.name).description(object.description);
        for (field_index, field) in object.fields.iter().enumerate() {
            let declared = declared.clone();
            let resolver = field_resolver(move |ctx| {
                let resolved = resolve(&ctx, &declared.objects[index].fields[field_index]);
                FieldFuture::new(async move { resolved })
            });
            let mut dynamic =
                Field::new(field.name, field.ty.clone(), resolver).description(field.description);
            for argument in &field.args {
                dynamic = dynamic.argument(input_value(argument));
            }
            built = built.field(dynamic);
        }
        builder = builder.register(built);
    }
    for input in &declared.inputs {
        let mut built = InputObject::new(input.name).description(input.description);
        for field in &input.fields {
            built = built.field(input_value(field));
        }
        builder = builder.register(built);
    }
    let mut subscription = Subscription::new("Subscription").description("Subscriptions.");
    for (index, field) in declared.subscriptions.iter().enumerate() {
        let declared = declared.clone();
        let subscribe = subscription_resolver(move |ctx| {
            let field = &declared.subscriptions[index];
            let args = args_of(&ctx, &field.args);
            // The engine runs subscriptions; this resolver only completes
            // the schema, so it is told of no selection.
            let events = env(&ctx).and_then(|env| Ok((field.subscribe)(&args, &env, &[])?));
            SubscriptionFieldFuture::new(async move {
                Ok(events?.map(|event| Ok(FieldValue::owned_any(Held(event)))))
            })
        });
        let mut dynamic = SubscriptionField::new(field.name, field.ty.clone(), subscribe)
            .description(field.description);
        for argument in &field.args {
            dynamic = dynamic.argument(input_value(argument));
        }
        subscription = subscription.field(dynamic);
    }
    builder = builder
        .register(subscription)
        .limit_depth(checks.max_depth)
        .limit_complexity(checks.max_complexity)
        .limit_recursive_depth(checks.max_recursive_depth)
        .limit_directives(checks.max_directives)
        .extension(Gate);
    if !checks.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish().expect("the declared schema is consistent")
}

/// `resolver`, typed as async-graphql takes it.
fn field_resolver<F>(resolver: F) -> F
where
    F: for<'a> Fn(ResolverContext<'a>) -> FieldFuture<'a> + Send + Sync + 'static,
{
    resolver
}

/// `subscribe`, typed as async-graphql takes it.
fn subscription_resolver<F>(subscribe: F) -> F
where
    F: for<'a> Fn(ResolverContext<'a>) -> SubscriptionFieldFuture<'a> + Send + Sync + 'static,
{
    subscribe
}

fn input_value(argument: &Argument) -> InputValue {
    InputValue::new(argument.name, argument.ty.clone()).description(argument.description)
}

/// The services and the client's address, from the request's data.
fn env<'a>(ctx: &ResolverContext<'a>) -> async_graphql::Result<Env<'a>> {
    Ok(Env {
        services: ctx.data::<Services>()?,
        address: ctx.data_opt::<ClientAddress>().map(|address| address.0),
        slots: None,
    })
}

/// The declared arguments async-graphql coerced already.
fn args_of(ctx: &ResolverContext<'_>, declared: &[Argument]) -> Args<'static> {
    Args(
        declared
            .iter()
            .filter_map(|argument| {
                let value = ctx.args.get(argument.name)?;
                Some((argument.name, Input::from_const(value.as_value())))
            })
            .collect(),
    )
}

/// Runs the declared resolver of `field` for async-graphql.
fn resolve(
    ctx: &ResolverContext<'_>,
    field: &super::types::Field,
) -> async_graphql::Result<Option<FieldValue<'static>>> {
    let parent: &AnyObject = match ctx.parent_value.downcast_ref::<Held>() {
        Some(held) => held.0.as_ref(),
        None => &ROOT,
    };
    let args = args_of(ctx, &field.args);
    field_value((field.resolve)(parent, &args, &env(ctx)?))
}

fn field_value(out: Out<'_>) -> async_graphql::Result<Option<FieldValue<'static>>> {
    Ok(Some(match out {
        Out::Null => return Ok(None),
        Out::Bool(b) => FieldValue::value(b),
        Out::Int(n) => FieldValue::value(n),
        Out::Str(text) => FieldValue::value(text.into_owned()),
        Out::Object(object) => FieldValue::owned_any(Held(object)),
        // Only the payload of a mutation holds its objects, and async-graphql
        // runs only introspection queries.
        Out::Borrowed(_) => return Err(ApiError::Internal.into()),
        Out::List(items) => {
            let items = items
                .into_iter()
                .map(|item| Ok(field_value(item)?.unwrap_or(FieldValue::NULL)))
                .collect::<async_graphql::Result<Vec<_>>>()?;
            FieldValue::list(items)
        }
        Out::Error(error) => return Err(error.into()),
        // Only mutations wait, and async-graphql runs only introspection.
        Out::Later(_) => return Err(ApiError::Internal.into()),
    }))
}

/// Validates a document once and skips running it (`Checking`), or runs
/// one validated before without validating it again (`Checked`).
struct Gate;

impl ExtensionFactory for Gate {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Gate)
    }
}

#[async_trait::async_trait]
impl Extension for Gate {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        if let Some(Checked(result)) = ctx.data_opt::<Checked>() {
            return Ok(*result);
        }
        let outcome = next.run(ctx).await;
        if let Some(checking) = ctx.data_opt::<Arc<Checking>>() {
            let mut slot = checking.0.lock().unwrap_or_else(|e| e.into_inner());
            *slot = Some(outcome.clone());
        }
        outcome
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if ctx.data_opt::<Arc<Checking>>().is_some() {
            return Response::new(Value::Null);
        }
        next.run(ctx, operation_name).await
    }
}
