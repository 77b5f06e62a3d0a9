//! Conformance checked by others' code, against the real binary: the
//! GraphQL-over-HTTP spec's own audit suite (graphql-http's `auditServer`),
//! and the real clients the front ends use (graphql-ws, Apollo Client 4,
//! and over plain HTTP graphql-sse and Apollo's multipart subscriptions),
//! run by Node from `tests/clients/node` (`scripts/test` installs it).

use crate::helpers::{ServerProcess, node};

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
