//! The conference page at `/`: the talks, a like button each, and live
//! counters. Its built files (`web/dist`, made by `npm run build` in `web/`)
//! are compiled into the binary, so `likes serve` alone serves it; a folder
//! can stand in for them while the page is being worked on.

use crate::config::PageSource;
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::borrow::Cow;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// The page's files: name under `web/dist`, content type, embedded bytes.
const FILES: [(&str, &str, &[u8]); 3] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../web/dist/index.html"),
    ),
    (
        "assets/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/dist/assets/app.js"),
    ),
    (
        "assets/app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/dist/assets/app.css"),
    ),
];

/// The page allows only its own scripts, styles and same-origin
/// connections: nothing injected can run or send data elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self'; \
     img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// Routes for `/` and `/assets/*`, or none when the page is off.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(page: &PageSource) -> Router<S> {
    if *page == PageSource::Off {
        return Router::new();
    }
    let page = Arc::new(page.clone());
    Router::new()
        .route("/", get(index))
        .route("/assets/{file}", get(asset))
        .with_state(page)
}

async fn index(State(page): State<Arc<PageSource>>, headers: HeaderMap) -> Response {
    serve(&page, "index.html", &headers).await
}

async fn asset(
    State(page): State<Arc<PageSource>>,
    UrlPath(file): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    serve(&page, &format!("assets/{file}"), &headers).await
}

/// One of the page's files, revalidated by its `ETag` on every load (the
/// names carry no hash, so a new build must not be hidden by a cache).
async fn serve(page: &PageSource, name: &str, headers: &HeaderMap) -> Response {
    let Some(&(_, content_type, embedded)) = FILES.iter().find(|(file, _, _)| *file == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let body: Cow<'static, [u8]> = match page {
        PageSource::Folder(folder) => match tokio::fs::read(folder.join(name)).await {
            Ok(bytes) => Cow::Owned(bytes),
            Err(error) => {
                tracing::warn!(%error, file = name, "cannot read the page folder");
                return StatusCode::NOT_FOUND.into_response();
            }
        },
        _ => Cow::Borrowed(embedded),
    };
    let etag = etag(&body);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tags| tags.as_bytes() == etag.as_bytes());
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

/// A strong validator of the bytes served (stable within one build).
pub(super) fn etag(body: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_page_is_complete() {
        let index = std::str::from_utf8(FILES[0].2).unwrap();
        assert!(index.contains("/assets/app.js") && index.contains("/assets/app.css"));
        assert!(FILES.iter().all(|(_, _, bytes)| !bytes.is_empty()));
    }

    #[test]
    fn etags_follow_the_content() {
        assert_eq!(etag(b"a"), etag(b"a"));
        assert_ne!(etag(b"a"), etag(b"b"));
    }
}
