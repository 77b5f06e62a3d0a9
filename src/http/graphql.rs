//! GraphQL over HTTP, as its spec says: POSTed JSON (one operation or a
//! batch), GET for queries (cacheable, with a `Cache-Control` from the
//! fields selected), the two JSON media types and their status codes. A
//! client that accepts a streamed framing (`stream`) subscribes here too,
//! and gets a single result in it when it prefers it to JSON.

use super::accept::{Accepts, MediaType};
use super::error::EdgeError;
use super::stream;
use super::{HttpState, MAX_BATCHED_OPERATIONS};
use crate::graphql::{self, GraphQLError, OperationType, Request, Response as GraphQLResponse};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Answers a POSTed body: one operation, or a batch of 1 to `MAX_BATCHED_OPERATIONS`.
pub(crate) async fn post(
    state: &Arc<HttpState>,
    address: IpAddr,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, EdgeError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(EdgeError::UnsupportedMediaType);
    }
    let accepts = Accepts::of(headers, false);
    if accepts.media.is_err() && accepts.framing.is_none() {
        return Err(EdgeError::NotAcceptable);
    }
    let text = body.trim_ascii_start();
    if text.is_empty() {
        return Err(EdgeError::BadRequest("the body is empty".into()));
    }
    let not_graphql = |error: serde_json::Error| {
        EdgeError::BadRequest(format!("the body is not a GraphQL request: {error}"))
    };
    if text.starts_with(b"[") {
        let batch: Vec<Request<'_>> = serde_json::from_slice(text).map_err(not_graphql)?;
        for request in &batch {
            check(request)?;
        }
        if !(1..=MAX_BATCHED_OPERATIONS).contains(&batch.len()) {
            return Err(EdgeError::BadRequest(format!(
                "batches hold 1 to {MAX_BATCHED_OPERATIONS} operations, this one has {}",
                batch.len()
            )));
        }
        let media = accepts.media?;
        // Run together, in order: mutations that wait for their flush
        // (`--ack stored`) share one.
        let runs = batch.iter().map(|request| async move {
            match state.graphql.ready(request) {
                Err(refused) => refused,
                Ok(ready) if ready.kind() == OperationType::Subscription => {
                    GraphQLResponse::error(not_streamed())
                }
                Ok(ready) => state.graphql.run(&ready, Some(address)).await,
            }
        });
        let responses = futures_util::future::join_all(runs).await;
        let bodies: Vec<&[u8]> = responses.iter().map(|r| r.body.as_slice()).collect();
        let answer = [b"[".as_slice(), &bodies.join(&b','), b"]"].concat();
        return Ok(respond(StatusCode::OK, media, answer, None));
    }
    let request: Request<'_> = serde_json::from_slice(text).map_err(not_graphql)?;
    check(&request)?;
    if request.query.is_none() && request.extensions.is_none() {
        return Err(EdgeError::BadRequest("a request needs a query".into()));
    }
    answer(state, address, &request, &accepts, Method::POST).await
}

/// Answers a GET: a query in the URL's parameters (`query`,
/// `operationName`, `variables`, `extensions`), or GraphiQL for a browser.
pub(crate) async fn get(
    state: &Arc<HttpState>,
    address: IpAddr,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response, EdgeError> {
    let accepts = Accepts::of(headers, state.access.graphiql);
    if accepts.media.is_err() && accepts.framing.is_none() {
        return Err(EdgeError::NotAcceptable);
    }
    let params: HashMap<Cow<'_, str>, Cow<'_, str>> = query
        .map(|query| form_urlencoded::parse(query.as_bytes()).collect())
        .unwrap_or_default();
    if accepts.media == Ok(MediaType::Html) {
        return Ok(super::assets::graphiql());
    }
    if !params.contains_key("query") && !params.contains_key("extensions") {
        return Err(EdgeError::BadRequest(
            "a GET needs a query parameter (or POST the request, or open a WebSocket)".into(),
        ));
    }
    let json = |name: &str| -> Result<Option<&RawValue>, EdgeError> {
        params
            .get(name)
            .map(|text| serde_json::from_str(text))
            .transpose()
            .map_err(|_| EdgeError::BadRequest(format!("{name} must be JSON")))
    };
    // Written as a POST's JSON writes it, as documents are kept.
    let query = params
        .get("query")
        .map(serde_json::value::to_raw_value)
        .transpose()
        .map_err(|_| EdgeError::BadRequest("query must be text".into()))?;
    let request = Request {
        query: query.as_deref(),
        operation_name: params
            .get("operationName")
            .map(|n| Cow::Borrowed(n.as_ref())),
        variables: json("variables")?,
        extensions: json("extensions")?,
    };
    check(&request)?;
    answer(state, address, &request, &accepts, Method::GET).await
}

/// Refuses a request whose parameters are not of their types with 400.
fn check(request: &Request<'_>) -> Result<(), EdgeError> {
    request
        .check()
        .map_err(|error| EdgeError::BadRequest(error.message))
}

/// The request error of a subscription asked for as JSON.
fn not_streamed() -> GraphQLError {
    GraphQLError::new(
        graphql::Code::BadRequest,
        "subscribe over a WebSocket (graphql-transport-ws or graphql-ws), or over HTTP \
         accepting text/event-stream or multipart/mixed;subscriptionSpec=1.0",
    )
}

/// Answers one request: a subscription streams in the framing the client
/// accepts; a query or mutation, or a request error, answers JSON, or in
/// the framing if the client prefers it.
async fn answer(
    state: &Arc<HttpState>,
    address: IpAddr,
    request: &Request<'_>,
    accepts: &Accepts,
    method: Method,
) -> Result<Response, EdgeError> {
    let endpoint = &state.graphql;
    let json = |response: GraphQLResponse, max_age: u32| {
        let media = accepts.media.clone()?;
        let cache = (method == Method::GET).then(|| {
            (response.data && !response.errors && max_age > 0)
                .then(|| format!("public, max-age={max_age}"))
        });
        // Under the spec's own media type, a request that did not run
        // answers 400.
        let status = match media {
            MediaType::GraphQLResponse if !response.data => StatusCode::BAD_REQUEST,
            _ => StatusCode::OK,
        };
        Ok(respond(status, media, response.body, cache))
    };
    let ready = match endpoint.ready(request) {
        Ok(ready) => ready,
        Err(refused) => {
            return match accepts.stream() {
                Some(framing) => Ok(stream::once(framing, &refused.body)),
                None => json(refused, 0),
            };
        }
    };
    match ready.kind() {
        OperationType::Subscription => match accepts.framing {
            Some(framing) => Ok(stream::subscribe(state, framing, ready, address)),
            None if method == Method::GET => Err(EdgeError::MethodNotAllowed(
                "a GET runs queries, or subscribes accepting text/event-stream",
            )),
            None => json(GraphQLResponse::error(not_streamed()), 0),
        },
        OperationType::Mutation if method == Method::GET => Err(EdgeError::MethodNotAllowed(
            "a mutation must be POSTed; a GET runs queries only",
        )),
        _ => {
            let response = endpoint.run(&ready, Some(address)).await;
            match accepts.stream() {
                Some(framing) => Ok(stream::once(framing, &response.body)),
                None => json(response, ready.max_age()),
            }
        }
    }
}

/// A response with `body`; a GET says how long it may be cached and that
/// it varies with `Accept`.
fn respond(
    status: StatusCode,
    media: MediaType,
    body: Vec<u8>,
    cache: Option<Option<String>>,
) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    if let Some(cache) = cache {
        let value = cache
            .and_then(|cache| HeaderValue::from_str(&cache).ok())
            .unwrap_or(HeaderValue::from_static("no-store"));
        headers.insert(header::CACHE_CONTROL, value);
        headers.insert(header::VARY, HeaderValue::from_static("accept"));
    }
    response
}
