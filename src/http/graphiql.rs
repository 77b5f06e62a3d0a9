//! GraphiQL, for a browser that opens `/graphql`: its page, script and
//! styles (`web/dist-graphiql`, made by `npm run build:graphiql` in `web/`
//! from pinned packages) are compiled into the binary and served from this
//! origin under a policy that lets nothing else load; so is the schema's SDL
//! while introspection is on, which GraphiQL reads instead of introspecting.
//! Whether it is served (`access.graphiql`) and when `/graphql` answers with
//! it (a browser asking for `text/html`) is decided by the `graphql` module.

use super::page::etag;
use crate::limits::Access;
use axum::Router;
use axum::body::Bytes;
use axum::extract::Path as UrlPath;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::LazyLock;

/// The page, served at `/graphql`, with `NONCE` in place of each response's nonce.
const PAGE: &str = include_str!("../../web/dist-graphiql/index.html");
/// Where the page takes the nonce its script hands to GraphiQL's dialogs.
const NONCE: &str = "__STYLE_NONCE__";

/// The page's assets under `/graphiql/`: name, content type, bytes.
const ASSETS: [(&str, &str, &[u8]); 2] = [
    (
        "graphiql.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/dist-graphiql/graphiql.js"),
    ),
    (
        "graphiql.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/dist-graphiql/graphiql.css"),
    ),
];

/// Each asset's `ETag`, computed on first use: the script is over a megabyte.
static ETAGS: LazyLock<[String; 2]> = LazyLock::new(|| ASSETS.map(|(_, _, body)| etag(body)));

/// Only this origin's script and styles, plus the `<style>` elements
/// GraphiQL's dialogs add, which carry the response's nonce; connections
/// only to this origin (POSTs and the WebSocket to `/graphql`). The styles
/// carry their fonts and icons as `data:` URLs. CodeMirror and React set
/// element styles through the DOM, which `style-src` does not restrict.
fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; connect-src 'self'; img-src data:; font-src data:; \
         style-src 'self' 'nonce-{nonce}'; frame-ancestors 'none'; base-uri 'none'; \
         form-action 'none'"
    )
}

/// Where GraphiQL's script reads the schema; `web/graphiql/main.js` names it too.
const SCHEMA_PATH: &str = "/graphiql/schema.graphql";

/// The routes of GraphiQL's assets, or none when it is off; with them the
/// schema's SDL, unless introspection is off: it tells what introspection
/// would, so it is hidden when introspection is.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(access: &Access, sdl: &str) -> Router<S> {
    if !access.graphiql {
        return Router::new();
    }
    let router = Router::new().route("/graphiql/{file}", get(asset));
    if !access.introspection {
        return router;
    }
    let sdl = Bytes::from(sdl.to_owned());
    let etag = etag(&sdl);
    router.route(
        SCHEMA_PATH,
        get(move |headers: HeaderMap| {
            let sdl = sdl.clone();
            std::future::ready(revalidated(
                &headers,
                &etag,
                "text/plain; charset=utf-8",
                sdl,
            ))
        }),
    )
}

/// The GraphiQL page, answering a browser's GET of `/graphql`; never
/// cached, as each carries its own nonce.
pub(crate) fn page() -> Response {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mut response = PAGE.replace(NONCE, &nonce).into_response();
    let policy = HeaderValue::from_str(&content_security_policy(&nonce))
        .expect("a policy with a hex nonce is a valid header value");
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::VARY, HeaderValue::from_static("accept"));
    protect(headers, "text/html; charset=utf-8");
    response
}

/// One of the assets, revalidated by its `ETag` on every load (the names
/// carry no hash, so a new build must not be hidden by a cache).
async fn asset(UrlPath(file): UrlPath<String>, headers: HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|(name, _, _)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (_, content_type, body) = ASSETS[index];
    revalidated(&headers, &ETAGS[index], content_type, body)
}

/// `body`, or 304 when the request's `If-None-Match` is its `etag`; to be
/// revalidated on every use.
fn revalidated(
    request: &HeaderMap,
    etag: &str,
    content_type: &'static str,
    body: impl IntoResponse,
) -> Response {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tags| tags.as_bytes() == etag.as_bytes());
    let mut response = match fresh {
        true => StatusCode::NOT_MODIFIED.into_response(),
        false => body.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    protect(headers, content_type);
    response
}

/// The headers every GraphiQL file carries: its type, not to be sniffed,
/// and no referrer.
fn protect(headers: &mut HeaderMap, content_type: &'static str) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_page_loads_the_embedded_assets_from_this_origin() {
        for (name, _, body) in &ASSETS {
            assert!(PAGE.contains(&format!("\"/graphiql/{name}\"")), "{name}");
            assert!(!body.is_empty(), "{name}");
        }
        assert!(
            !PAGE.contains("://"),
            "the page loads something from elsewhere"
        );
        assert_eq!(
            PAGE.matches(NONCE).count(),
            1,
            "the page has no place for the nonce"
        );
    }

    #[test]
    fn the_embedded_script_reads_the_schema_where_it_is_served() {
        let script = std::str::from_utf8(ASSETS[0].2).unwrap();
        assert!(script.contains(SCHEMA_PATH));
    }
}
