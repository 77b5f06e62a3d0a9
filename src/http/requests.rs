//! The request SLIs: every HTTP request counted and timed, to its response's
//! head (a streamed subscription's life is no latency), by route and outcome
//! (`likes_http_requests_total`, `likes_http_request_duration_seconds`).
//! Every series is registered at 0 with the router; handles are found once.

use crate::telemetry as names;
use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, ready};
use std::time::Instant;

/// The GraphQL endpoint's path.
pub(crate) const GRAPHQL: &str = "/graphql";

/// The routes the router serves; a request that matches none is `other`.
pub(crate) const ROUTES: [&str; 9] = [
    GRAPHQL,
    "/",
    "/assets/{file}",
    "/graphiql/{file}",
    "/graphiql/schema.graphql",
    "/healthz",
    "/readyz",
    "/metrics",
    OTHER,
];
const OTHER: &str = "other";

/// The outcomes, by status class: 1xx to 3xx, 4xx, 5xx.
pub(crate) const OUTCOMES: [&str; 3] = ["success", "client_error", "server_error"];

/// The index in `OUTCOMES` of a status code's outcome.
pub(crate) fn outcome(status: u16) -> usize {
    match status {
        500.. => 2,
        400..=499 => 1,
        _ => 0,
    }
}

/// One route's counter and histogram per outcome.
struct Series {
    requests: metrics::Counter,
    seconds: metrics::Histogram,
}

/// Every (route, outcome) pair's series, registered on first use.
fn table() -> &'static [[Series; 3]; ROUTES.len()] {
    static TABLE: OnceLock<[[Series; 3]; ROUTES.len()]> = OnceLock::new();
    TABLE.get_or_init(|| {
        ROUTES.map(|route| {
            OUTCOMES.map(|outcome| {
                let labels = [("route", route), ("outcome", outcome)];
                let requests = metrics::counter!(names::HTTP_REQUESTS, &labels);
                requests.absolute(0);
                Series {
                    requests,
                    seconds: metrics::histogram!(names::HTTP_REQUEST_SECONDS, &labels),
                }
            })
        })
    })
}

/// Registers every (route, outcome) series at 0. Call after the recorder
/// is installed (`telemetry::handle`).
pub(crate) fn register() {
    table();
}

/// What counts and times every request to `S` (no boxing: a lookup and two
/// atomic updates a request).
#[derive(Debug, Clone)]
pub(crate) struct Record<S> {
    pub(crate) inner: S,
    /// The index in `ROUTES` of the route; `None`: the matched path's.
    pub(crate) route: Option<usize>,
}

impl<S, B, R> tower::Service<Request<B>> for Record<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Recorded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let route = self.route.unwrap_or_else(|| {
            let matched = request.extensions().get::<MatchedPath>();
            let route = matched.and_then(|path| ROUTES.iter().position(|r| *r == path.as_str()));
            route.unwrap_or(ROUTES.len() - 1)
        });
        Recorded {
            inner: self.inner.call(request),
            route,
            started: Instant::now(),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's answer on its way; counted when it is ready.
    pub(crate) struct Recorded<F> {
        #[pin]
        inner: F,
        route: usize,
        started: Instant,
    }
}

impl<F, R, E> Future for Recorded<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = ready!(this.inner.poll(cx));
        if let Ok(response) = &answer {
            let series = &table()[*this.route][outcome(response.status().as_u16())];
            series.requests.increment(1);
            series.seconds.record(this.started.elapsed());
        }
        Poll::Ready(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_map_to_outcomes() {
        let of = |status| OUTCOMES[outcome(status)];
        assert_eq!(of(101), "success");
        assert_eq!(of(200), "success");
        assert_eq!(of(304), "success");
        assert_eq!(of(404), "client_error");
        assert_eq!(of(429), "client_error");
        assert_eq!(of(500), "server_error");
        assert_eq!(of(503), "server_error");
    }
}
