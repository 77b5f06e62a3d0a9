//! The conference page at `/`: served from the binary with a strict
//! content security policy, revalidated by ETag, and off when asked.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use likes::config::PageSource;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};

/// `GET path` on the app.
async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    let url = format!("http://{}{path}", app.addr);
    app.client.get(url).send().await.unwrap()
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_a_strict_policy() {
    let app = spawn_app().await;
    let page = get(&app, "/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let policy = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    let etag = page.headers()[ETAG].clone();
    let html = page.text().await.unwrap();
    for (asset, kind) in [
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
    ] {
        assert!(html.contains(asset), "the page does not load {asset}");
        let answer = get(&app, asset).await;
        assert_eq!(answer.status(), StatusCode::OK, "{asset}");
        assert!(
            answer.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
    }

    let again = app
        .client
        .get(format!("http://{}/", app.addr))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    for missing in [
        "/assets/other.js",
        "/assets/..%2Fassets%2Fapp.js",
        "/index.html",
    ] {
        let answer = get(&app, missing).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{missing}");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_page_can_be_turned_off_or_read_from_a_folder() {
    let app = spawn_app_with(|config| config.page = PageSource::Off).await;
    let answer = get(&app, "/").await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    app.stop().await.unwrap();

    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("index.html"), "<p>working copy</p>").unwrap();
    let path = folder.path().to_owned();
    let app = spawn_app_with(|config| config.page = PageSource::Folder(path)).await;
    let answer = get(&app, "/").await;
    assert_eq!(answer.text().await.unwrap(), "<p>working copy</p>");
    let answer = get(&app, "/assets/app.js").await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND, "not in the folder");
    app.stop().await.unwrap();
}

/// The page's folder, with its Node modules installed (`scripts/test` runs
/// `npm ci` there).
pub fn web() -> std::path::PathBuf {
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    assert!(
        web.join("node_modules/playwright-core").is_dir() && web.join("node_modules/vite").is_dir(),
        "the page's Node modules are missing: run scripts/test, or `cd web && npm ci`"
    );
    web
}

/// Runs `command`, failing with its output unless it succeeds; returns the output.
pub fn run(command: &mut std::process::Command) -> String {
    let output = command
        .output()
        .expect("node and npm run (Node.js 20.19 or later)");
    let printed = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{printed}");
    printed
}

/// The Chromium the browser tests drive: `$CHROMIUM`, or Debian's.
pub fn chromium() -> String {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).is_file(),
        "no Chromium at {chromium}: run scripts/test (it installs Debian's chromium), \
         `apt-get install chromium`, or set CHROMIUM"
    );
    chromium
}

/// Runs the browser test `web/tests/<script>` against the real binary in
/// Chromium, and prints its steps.
pub fn run_in_browser(script: &str) {
    let chromium = chromium();
    let printed = run(std::process::Command::new("node")
        .arg(web().join("tests").join(script))
        .args(["--binary", env!("CARGO_BIN_EXE_likes")])
        .env("CHROMIUM", &chromium));
    println!("{printed}");
}

#[test]
fn the_page_works_in_a_real_browser() {
    run_in_browser("browser.mjs");
}

#[test]
fn the_page_logic_passes_its_unit_tests() {
    run(std::process::Command::new("node")
        .args(["--test", "tests/unit/"])
        .current_dir(web()));
}

/// Builds `web/` with `npm run <script>` into a new folder and checks that
/// each of `files` is byte for byte the one committed under `web/<dist>`.
pub fn assert_build_is_committed(script: &str, dist: &str, files: &[&str]) {
    let web = web();
    let out = tempfile::tempdir().unwrap();
    run(std::process::Command::new("npm")
        .args(["run", script, "--", "--emptyOutDir", "--outDir"])
        .arg(out.path())
        .current_dir(&web));
    for file in files {
        let built = std::fs::read(out.path().join(file)).unwrap();
        let committed = std::fs::read(web.join(dist).join(file)).unwrap();
        assert!(
            built == committed,
            "web/{dist}/{file} is not what `npm run {script}` builds: \
             run `cd web && npm run {script}` and commit it"
        );
    }
}

#[test]
fn the_embedded_page_is_the_build_of_its_sources() {
    assert_build_is_committed(
        "build",
        "dist",
        &["index.html", "assets/app.js", "assets/app.css"],
    );
}
