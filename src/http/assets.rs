//! The files compiled into the binary: the conference page at `/`
//! (`web/dist`, from `npm run build`; a folder can stand in for it) and
//! GraphiQL (`web/dist-graphiql`, from `npm run build:graphiql`) with the
//! schema's SDL, which it reads instead of introspecting.

use crate::config::PageSource;
use crate::limits::Access;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, LazyLock};

/// The files served as they are: path, content type, embedded bytes.
const FILES: [(&str, &str, &[u8]); 5] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_bytes!("../../web/dist/index.html"),
    ),
    (
        "/assets/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/dist/assets/app.js"),
    ),
    (
        "/assets/app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/dist/assets/app.css"),
    ),
    (
        "/graphiql/graphiql.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/dist-graphiql/graphiql.js"),
    ),
    (
        "/graphiql/graphiql.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/dist-graphiql/graphiql.css"),
    ),
];

/// Each file's `ETag`, computed on first use.
static ETAGS: LazyLock<[String; 5]> = LazyLock::new(|| FILES.map(|(_, _, body)| etag(body)));

/// GraphiQL's page, served at `/graphql`, with `NONCE` in place of each
/// response's nonce.
const GRAPHIQL: &str = include_str!("../../web/dist-graphiql/index.html");
/// Where GraphiQL's page takes the nonce its script hands to its dialogs.
const NONCE: &str = "__STYLE_NONCE__";
/// Where GraphiQL's script reads the schema; `web/graphiql/main.js` names it too.
const SCHEMA_PATH: &str = "/graphiql/schema.graphql";

/// The page allows only its own scripts, styles and same-origin
/// connections: nothing injected can run or send data elsewhere.
const PAGE_POLICY: &str = "default-src 'self'; connect-src 'self'; \
     img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// GraphiQL allows only this origin's script, styles and connections, the
/// `<style>` of its dialogs (with the nonce), and `data:` fonts and icons;
/// the element styles CodeMirror and React set are not `style-src`'s.
fn graphiql_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; connect-src 'self'; img-src data:; font-src data:; \
         style-src 'self' 'nonce-{nonce}'; frame-ancestors 'none'; base-uri 'none'; \
         form-action 'none'"
    )
}

/// The page's routes unless it is off, GraphiQL's unless it is, and with
/// GraphiQL the SDL unless introspection is off (it tells the same).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(
    page: &PageSource,
    access: &Access,
    sdl: &'static str,
) -> Router<S> {
    let mut router = Router::new();
    if *page != PageSource::Off {
        router = router
            .route("/", get(file))
            .route("/assets/{file}", get(file));
    }
    if access.graphiql {
        router = router.route("/graphiql/{file}", get(file));
    }
    if access.graphiql && access.introspection {
        let etag = etag(sdl.as_bytes());
        let schema = move |headers: HeaderMap| {
            let answer = revalidated(&headers, &etag, "text/plain; charset=utf-8", sdl);
            std::future::ready(answer)
        };
        router = router.route(SCHEMA_PATH, get(schema));
    }
    router.with_state(Arc::new(page.clone()))
}

/// One of the files, revalidated by its `ETag` on every load (the names
/// carry no hash); the page's from its folder if it has one.
async fn file(State(page): State<Arc<PageSource>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let Some(index) = FILES.iter().position(|(file, _, _)| *file == path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (_, content_type, embedded) = FILES[index];
    if path.starts_with("/graphiql/") {
        return revalidated(&headers, &ETAGS[index], content_type, embedded);
    }
    let mut response = match &*page {
        PageSource::Folder(folder) => {
            let name = if path == "/" {
                "index.html"
            } else {
                &path[1..]
            };
            match tokio::fs::read(folder.join(name)).await {
                Ok(bytes) => revalidated(&headers, &etag(&bytes), content_type, bytes),
                Err(error) => {
                    tracing::warn!(%error, file = name, "cannot read the page folder");
                    return StatusCode::NOT_FOUND.into_response();
                }
            }
        }
        _ => revalidated(&headers, &ETAGS[index], content_type, embedded),
    };
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    response
}

/// The GraphiQL page, answering a browser's GET of `/graphql`; never
/// cached, as each carries its own nonce.
pub(crate) fn graphiql() -> Response {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mut response = GRAPHIQL.replace(NONCE, &nonce).into_response();
    let policy = HeaderValue::from_str(&graphiql_policy(&nonce))
        .expect("a policy with a hex nonce is a valid header value");
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::VARY, HeaderValue::from_static("accept"));
    protect(headers, "text/html; charset=utf-8");
    response
}

/// `body`, or 304 when `If-None-Match` is its `etag`; revalidated always.
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

/// The headers every file carries: its type, no sniffing, no referrer.
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

/// A strong validator of the bytes served (stable within one build).
fn etag(body: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_pages_load_the_embedded_files_from_this_origin() {
        let page = std::str::from_utf8(FILES[0].2).unwrap();
        for (path, _, body) in &FILES[1..] {
            let html = if path.starts_with("/graphiql/") {
                GRAPHIQL
            } else {
                page
            };
            assert!(html.contains(&format!("\"{path}\"")), "{path}");
            assert!(!body.is_empty(), "{path}");
        }
        assert!(
            !GRAPHIQL.contains("://"),
            "GraphiQL loads something from elsewhere"
        );
        assert_eq!(
            GRAPHIQL.matches(NONCE).count(),
            1,
            "GraphiQL has no place for the nonce"
        );
    }

    #[test]
    fn the_embedded_script_reads_the_schema_where_it_is_served() {
        let script = std::str::from_utf8(FILES[3].2).unwrap();
        assert!(script.contains(SCHEMA_PATH));
    }

    #[test]
    fn etags_follow_the_content() {
        assert_eq!(etag(b"a"), etag(b"a"));
        assert_ne!(etag(b"a"), etag(b"b"));
    }
}
