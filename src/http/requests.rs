//! The request SLIs: every HTTP request is counted and timed by its route
//! and outcome (`likes_http_requests_total`,
//! `likes_http_request_duration_seconds`). Each (route, outcome) series is
//! registered with the router, so it reads 0 before the first request; the
//! handles are looked up once, not per request.

use crate::telemetry as names;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::OnceLock;
use std::time::Instant;

/// The routes the router serves; a request that matches none is `other`.
pub const ROUTES: [&str; 7] = [
    "/graphql",
    "/",
    "/assets/{file}",
    "/healthz",
    "/readyz",
    "/metrics",
    OTHER,
];
const OTHER: &str = "other";

/// The outcomes, by status class: 1xx to 3xx, 4xx, 5xx.
pub const OUTCOMES: [&str; 3] = ["success", "client_error", "server_error"];

/// The outcome of a status code.
pub fn outcome(status: u16) -> usize {
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
pub fn register() {
    table();
}

/// Middleware: runs the request, then counts it under its matched route.
pub async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|path| ROUTES.iter().position(|r| *r == path.as_str()))
        .unwrap_or(ROUTES.len() - 1);
    let response = next.run(request).await;
    let series = &table()[route][outcome(response.status().as_u16())];
    series.requests.increment(1);
    series.seconds.record(started.elapsed());
    response
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
