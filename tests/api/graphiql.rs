//! GraphiQL at `/graphql`: self-contained (its assets come from the binary,
//! under a strict content security policy), off when asked, the build of
//! its pinned sources, and working in a real browser.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::page::{chromium, run, web};
use reqwest::StatusCode;
use reqwest::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    X_CONTENT_TYPE_OPTIONS,
};

const ASSETS: [(&str, &str); 2] = [
    ("/graphiql/graphiql.js", "text/javascript"),
    ("/graphiql/graphiql.css", "text/css"),
];

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
async fn graphiql_assets_are_not_served_when_graphiql_is_off() {
    let app = spawn_app_with(|config| config.access.graphiql = false).await;
    for (asset, _) in ASSETS {
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
    let web = web();
    let chromium = chromium();
    let printed = run(std::process::Command::new("node")
        .arg(web.join("tests/graphiql.mjs"))
        .args(["--binary", env!("CARGO_BIN_EXE_likes")])
        .env("CHROMIUM", &chromium));
    println!("{printed}");
}

#[test]
fn the_embedded_graphiql_is_the_build_of_its_pinned_sources() {
    let web = web();
    let out = tempfile::tempdir().unwrap();
    run(std::process::Command::new("npm")
        .args(["run", "build:graphiql", "--", "--emptyOutDir", "--outDir"])
        .arg(out.path())
        .current_dir(&web));
    for file in ["index.html", "graphiql.js", "graphiql.css"] {
        let built = std::fs::read(out.path().join(file)).unwrap();
        let committed = std::fs::read(web.join("dist-graphiql").join(file)).unwrap();
        assert!(
            built == committed,
            "web/dist-graphiql/{file} is not the build of web/graphiql: \
             run `cd web && npm run build:graphiql` and commit it"
        );
    }
}
