//! What serves a connection's requests: one stack of layers (`Layers`)
//! before every route. A like, `POST /graphql` and by far the most
//! frequent request, goes through it straight to its handler, spared the
//! router's boxed route, futures and extensions; the rest go to the router.

use super::Shared;
use super::handoff::Handoff;
use super::requests::{GRAPHQL, ROUTES, Record};
use super::stamp::Stamp;
use crate::limits::connections::Peer;
use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, header};
use axum::response::Response;
use futures_util::future::{BoxFuture, Either};
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tower::{Layer, ServiceExt};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::cors::{Cors, CorsLayer};
use tower_http::trace::{Trace, TraceLayer};

/// The layers every request passes. Outermost, every answer is counted by
/// route and outcome (the request SLIs), CORS preflights included; then
/// every request has an `x-request-id` (the caller's if it fits in a log
/// line, or a new UUID) before its span opens, and the answer carries it
/// back, with CORS's `Vary`; then the span; then CORS, for a request that
/// names an `Origin` or is a preflight (`Cross`).
#[derive(Clone)]
pub(crate) struct Layers {
    pub(crate) trace: TraceLayer<SharedClassifier<ServerErrorsAsFailures>, super::RequestSpan>,
    pub(crate) cors: CorsLayer,
    /// The route the SLIs count, when it is not the router's matched path.
    pub(crate) route: Option<usize>,
}

/// A service inside `Layers`.
pub(crate) type Layered<S> =
    Record<Stamp<Trace<Cross<S>, SharedClassifier<ServerErrorsAsFailures>, super::RequestSpan>>>;

impl<S> Layer<S> for Layers {
    type Service = Layered<S>;

    fn layer(&self, inner: S) -> Layered<S> {
        let inner = Stamp {
            inner: self.trace.layer(Cross(self.cors.layer(inner))),
        };
        Record {
            inner,
            route: self.route,
        }
    }
}

/// CORS, for the requests it answers: a preflight, or one that names an
/// `Origin` (as a browser's does). Any other, from an app or a script, it
/// would pass through untouched, and so it goes straight in.
#[derive(Clone)]
pub(crate) struct Cross<S>(Cors<S>);

impl<S, B, R> tower::Service<Request<B>> for Cross<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
    R: Default,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Either<tower_http::cors::ResponseFuture<S::Future>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.method() == Method::OPTIONS || request.headers().contains_key(header::ORIGIN) {
            Either::Left(self.0.call(request))
        } else {
            Either::Right(self.0.get_mut().call(request))
        }
    }
}

/// The router, and what a like takes instead of it.
#[derive(Clone)]
pub(crate) struct Routes {
    router: Router,
    /// `None` only for a router served as it is.
    likes: Option<(Layers, Shared)>,
}

/// A router served as it is, as the server's own tests serve one.
#[cfg(test)]
impl From<Router> for Routes {
    fn from(router: Router) -> Self {
        Self {
            router,
            likes: None,
        }
    }
}

impl Routes {
    /// `router`, with `POST /graphql` served in `layers` beside it.
    pub(crate) fn new(router: Router, layers: Layers, state: Shared) -> Self {
        let route = ROUTES.iter().position(|r| *r == GRAPHQL);
        let layers = Layers { route, ..layers };
        Self {
            router,
            likes: Some((layers, state)),
        }
    }

    /// The service of one connection from `peer`.
    pub(super) fn connection(&self, peer: Peer, handoff: Arc<Handoff>) -> Connection {
        let likes = self.likes.as_ref().map(|(layers, state)| {
            let state = state.clone();
            layers.layer(PostGraphql { state, peer })
        });
        Connection {
            router: self.router.clone(),
            likes,
            peer,
            handoff,
        }
    }
}

/// A connection's service, for hyper.
pub(super) struct Connection {
    router: Router,
    likes: Option<Layered<PostGraphql>>,
    peer: Peer,
    handoff: Arc<Handoff>,
}

impl hyper::service::Service<Request<Incoming>> for Connection {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<
        TopLevel<tower::util::Oneshot<Layered<PostGraphql>, Request<Incoming>>>,
        tower::util::Oneshot<Router, Request<Incoming>>,
    >;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        self.handoff.admit(&request);
        if let Some(likes) = &self.likes
            && request.method() == Method::POST
            && request.uri().path() == GRAPHQL
        {
            let inner = likes.clone().oneshot(request);
            return Either::Left(TopLevel { inner });
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));
        Either::Right(self.router.clone().oneshot(request))
    }
}

/// `POST /graphql`'s handler as a service.
#[derive(Clone)]
pub(crate) struct PostGraphql {
    state: Shared,
    peer: Peer,
}

impl tower::Service<Request<Incoming>> for PostGraphql {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let (state, peer) = (self.state.clone(), self.peer);
        Box::pin(async move { Ok(super::graphql_post(&state, peer, request).await) })
    }
}

pin_project! {
    /// An answer with the router's body type; hyper writes its
    /// `Content-Length` from the body's exact size.
    pub(crate) struct TopLevel<F> {
        #[pin]
        inner: F,
    }
}

impl<F, B> Future for TopLevel<F>
where
    F: Future<Output = Result<Response<B>, Infallible>>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Ok(answer) = ready!(self.project().inner.poll(cx));
        Poll::Ready(Ok(answer.map(Body::new)))
    }
}
