//! GraphiQL at `/graphql`: self-contained (its assets come from the binary,
//! under a strict content security policy), given the schema as SDL only
//! while introspection is on, off when asked, the build of its pinned
//! sources, and working in a real browser.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::page::{assert_build_is_committed, run_in_browser};
use reqwest::StatusCode;
use reqwest::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use serde_json::json;

const ASSETS: [(&str, &str); 2] = [
    ("/graphiql/graphiql.js", "text/javascript"),
    ("/graphiql/graphiql.css", "text/css"),
];

/// Where GraphiQL reads the schema.
const SCHEMA: &str = "/graphiql/schema.graphql";

/// `GET path` on the app.
async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    let url = format!("http://{}{path}", app.addr);
    app.client.get(url).send().await.unwrap()
}

/// The nonce in a page's `<meta name="style-nonce">`.
fn page_nonce(html: &str) -> &str {
    let after = html
        .split_once(r#"<meta name="style-nonce" content=""#)
        .expect("the page has a style nonce")
        .1;
    &after[..after.find('"').unwrap()]
}

#[tokio::test]
async fn graphiql_and_its_assets_are_served_by_the_binary_under_a_strict_policy() {
    let app = spawn_app().await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let page = app.open_in_browser().await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(
            page.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(page.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
        let policy = page.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        let html = page.text().await.unwrap();
        let nonce = page_nonce(&html).to_owned();
        assert_eq!(nonce.len(), 32, "{html}");
        assert_eq!(
            policy,
            format!(
                "default-src 'self'; connect-src 'self'; img-src data:; font-src data:; \
                 style-src 'self' 'nonce-{nonce}'; frame-ancestors 'none'; base-uri 'none'; \
                 form-action 'none'"
            )
        );
        for (asset, _) in ASSETS {
            assert!(
                html.contains(&format!("\"{asset}\"")),
                "the page does not load {asset}"
            );
        }
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "each page has a nonce of its own");

    for (asset, kind) in ASSETS {
        let answer = get(&app, asset).await;
        assert_eq!(answer.status(), StatusCode::OK, "{asset}");
        let headers = answer.headers().clone();
        assert!(
            headers[CONTENT_TYPE].to_str().unwrap().starts_with(kind),
            "{asset}"
        );
        assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff", "{asset}");
        assert_eq!(headers[CACHE_CONTROL], "no-cache", "{asset}");
        assert!(answer.bytes().await.unwrap().len() > 100_000, "{asset}");
        let again = app
            .client
            .get(format!("http://{}{asset}", app.addr))
            .header(IF_NONE_MATCH, headers[ETAG].clone())
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{asset}");
    }
    for missing in [
        "/graphiql/other.js",
        "/graphiql/index.html",
        "/assets/graphiql.js",
    ] {
        assert_eq!(
            get(&app, missing).await.status(),
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn graphiql_gets_the_schema_the_server_prints_as_sdl() {
    let app = spawn_app().await;
    let answer = get(&app, SCHEMA).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let headers = answer.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[REFERRER_POLICY], "no-referrer");
    assert_eq!(headers[CACHE_CONTROL], "no-cache");
    let sdl = answer.text().await.unwrap();
    assert_eq!(sdl, likes::graphql::sdl());

    // It describes the schema introspection answers for.
    let answer = app
        .graphql("{ __schema { types { name kind } } }", json!({}))
        .await;
    let types = answer["data"]["__schema"]["types"].as_array().unwrap();
    let mut described = 0;
    for kind in types {
        let name = kind["name"].as_str().unwrap();
        let keyword = match kind["kind"].as_str().unwrap() {
            "OBJECT" if !name.starts_with("__") => "type",
            "INPUT_OBJECT" => "input",
            _ => continue,
        };
        assert!(sdl.contains(&format!("{keyword} {name} {{")), "{name}");
        described += 1;
    }
    assert!(described >= 8, "{answer}");

    let again = app
        .client
        .get(format!("http://{}{SCHEMA}", app.addr))
        .header(IF_NONE_MATCH, headers[ETAG].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_schema_is_not_served_to_graphiql_when_introspection_is_off() {
    let app = spawn_app_with(|config| config.access.introspection = false).await;
    assert_eq!(get(&app, SCHEMA).await.status(), StatusCode::NOT_FOUND);
    // GraphiQL itself is still served.
    assert_eq!(app.open_in_browser().await.status(), StatusCode::OK);
    for (asset, _) in ASSETS {
        assert_eq!(get(&app, asset).await.status(), StatusCode::OK, "{asset}");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn graphiql_assets_are_not_served_when_graphiql_is_off() {
    let app = spawn_app_with(|config| config.access.graphiql = false).await;
    // Introspection is on, so the schema is hidden because GraphiQL is off.
    let answer = app
        .graphql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(answer["data"]["__schema"]["queryType"]["name"], "Query");
    for asset in ASSETS.map(|(asset, _)| asset).into_iter().chain([SCHEMA]) {
        assert_eq!(
            get(&app, asset).await.status(),
            StatusCode::NOT_FOUND,
            "{asset}"
        );
    }
    assert_eq!(
        app.open_in_browser().await.status(),
        StatusCode::BAD_REQUEST
    );
    app.stop().await.unwrap();
}

#[test]
fn graphiql_works_in_a_real_browser_with_nothing_from_elsewhere() {
    run_in_browser("graphiql.mjs");
}

#[test]
fn the_embedded_graphiql_is_the_build_of_its_pinned_sources() {
    assert_build_is_committed(
        "build:graphiql",
        "dist-graphiql",
        &["index.html", "graphiql.js", "graphiql.css"],
    );
}
