//! Conformance checked by others' code, against the real binary: the
//! GraphQL-over-HTTP spec's own audit suite (graphql-http's `auditServer`),
//! and the real clients the front ends use (graphql-ws, Apollo Client 4,
//! and over plain HTTP graphql-sse and Apollo's multipart subscriptions),
//! run by Node from `tests/clients/node` (`scripts/test` installs it).

use crate::helpers::ServerProcess;
use std::path::PathBuf;
use tokio::process::Command;

/// The Node package of clients, with its modules installed.
fn clients() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/node");
    assert!(
        dir.join("node_modules/graphql-http").is_dir()
            && dir.join("node_modules/graphql-sse").is_dir()
            && dir.join("node_modules/@apollo/client").is_dir(),
        "the clients' Node modules are missing: run scripts/test, or `cd tests/clients/node && npm ci`"
    );
    dir
}

/// Runs `node script args…` and returns what it printed; fails the test,
/// showing it, if the script fails.
async fn node(script: &str, args: &[&str]) -> String {
    let dir = clients();
    let output = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .output()
        .await
        .expect("node runs (Node.js 20.19 or later)");
    let printed = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{script} failed:\n{printed}");
    printed
}

#[tokio::test]
async fn the_graphql_over_http_audit_finds_every_must_and_should_ok() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("likes.db"), "audit", &[]).await;
    let printed = node("audit.mjs", &[&server.url]).await;
    println!("{printed}");
    assert!(printed.contains("MUST: 13/13 ok"), "{printed}");
    assert!(printed.contains("SHOULD: 23/23 ok"), "{printed}");
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn real_clients_like_a_talk_and_their_subscribers_see_exactly_every_like() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("likes.db"), "clients", &[]).await;
    let printed = node("clients.mjs", &[&server.base, "25"]).await;
    println!("{printed}");
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn real_clients_subscribed_over_http_see_exactly_every_like() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("likes.db"), "streams", &[]).await;
    let printed = node("streams.mjs", &[&server.base, "25"]).await;
    println!("{printed}");
    assert!(server.terminate().await.success());
}
