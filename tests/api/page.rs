//! The conference page at `/`: served from the binary with a strict
//! content security policy, revalidated by ETag, and off when asked; and
//! in a real browser, on a store holding likes made at known moments.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use chrono::{DateTime, TimeZone, Utc};
use likes::config::PageSource;
use likes::model::{Like, LikeId, ServerId, TalkId};
use likes::store::{FlushBatch, LikeStore, SqliteStore, StoreOptions};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
/// Chromium, with `extra` arguments, and prints its steps.
pub fn run_in_browser(script: &str, extra: &[&str]) {
    let chromium = chromium();
    let printed = run(std::process::Command::new("node")
        .arg(web().join("tests").join(script))
        .args(["--binary", env!("CARGO_BIN_EXE_likes")])
        .args(extra)
        .env("CHROMIUM", &chromium));
    println!("{printed}");
}

/// `count` likes of `talk` made in the minute starting at `minute`.
fn likes_in(talk: i32, minute: DateTime<Utc>, count: u32) -> Vec<Like> {
    (0..count)
        .map(|n| {
            let liker = format!("seed-{talk}-{}-{n}", minute.timestamp());
            Like {
                id: LikeId::for_request(TalkId(talk), &liker, None),
                talk: TalkId(talk),
                liker,
                created_at: minute
                    + chrono::Duration::milliseconds(i64::from(n) * 59_000 / i64::from(count)),
            }
        })
        .collect()
}

/// Writes the store the browser test starts from (`web/tests/browser.mjs
/// --seed`), made by the store itself: the closing panel (talk 6, 16:00 to
/// 16:45 at +02:00 on 14 May 2026) liked 3 times at 16:12 and 7 times at
/// 16:31; the opening keynote (talk 1, 09:30 to 10:15) liked through its
/// slot, most near its end, for the pictures.
async fn write_seed(path: &Path) {
    let _ = std::fs::remove_file(path);
    let store = SqliteStore::open(path, &StoreOptions::default())
        .await
        .unwrap();
    let at = |h, m| Utc.with_ymd_and_hms(2026, 5, 14, h, m, 0).unwrap();
    let mut likes = likes_in(6, at(14, 12), 3);
    likes.extend(likes_in(6, at(14, 31), 7));
    for minute in 0..45 {
        let near_end = (f64::from(minute) - 33.0) / 6.0;
        let count = 1 + (12.0 * (-near_end * near_end).exp()) as u32 + minute % 3;
        likes.extend(likes_in(
            1,
            at(7, 30) + chrono::Duration::minutes(minute.into()),
            count,
        ));
    }
    let batch = FlushBatch {
        server: ServerId::new("seed").unwrap(),
        second: at(14, 46).timestamp(),
        likes: Arc::new(likes),
    };
    store.flush(batch).await.unwrap();
}

/// The seeded store, rewritten for each run where `node
/// web/tests/browser.mjs` run by hand finds it too.
fn seed() -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("page-seed.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(write_seed(&path));
    path
}

#[test]
fn the_page_works_in_a_real_browser() {
    let seed = seed();
    run_in_browser("browser.mjs", &["--seed", seed.to_str().unwrap()]);
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
