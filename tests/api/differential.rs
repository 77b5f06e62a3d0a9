//! The differential test against graphql-js, the spec's reference
//! implementation (`tests/clients/node/differential.mjs`): the binary serves
//! a fixed catalogue with a few likes, and every generated or hand-written
//! document must be answered as graphql-js answers it over the same data.
//! `LIKES_DIFF_SEED` and `LIKES_DIFF_CASES` choose the generated documents;
//! without a seed each run draws one, and prints it. The comparator has its
//! own tests, so a comparison that could not fail would show.

use crate::helpers::{
    ServerProcess, assert_acknowledged, eventually, like, liked, node, node_tests,
};
use std::path::PathBuf;
use std::time::Duration;

/// Likes made before the run, per talk of the test catalogue.
const LIKES: [(i32, i64); 3] = [(1, 3), (2, 1), (2147483647, 2)];

#[tokio::test]
async fn every_document_is_answered_as_graphql_js_answers_it() {
    let catalogue = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients/node/differential/catalogue.json");
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        &dir.path().join("likes.db"),
        "differential",
        &[
            "--sessions",
            catalogue.to_str().unwrap(),
            "--rate-per-liker",
            "off",
            "--rate-per-address",
            "off",
            "--ws-operation-rate",
            "off",
        ],
    )
    .await;
    let client = reqwest::Client::new();
    for (talk, likes) in LIKES {
        for n in 0..likes {
            let uuid = format!("before-{talk}-{n}");
            assert_acknowledged(&like(&client, &server.url, talk, &uuid, None).await);
        }
    }
    for (talk, likes) in LIKES {
        let counted = eventually(Duration::from_secs(10), likes, || {
            liked(&client, &server.url, talk)
        })
        .await;
        assert_eq!(counted, likes, "talk {talk} never counted its likes");
    }

    let cases = std::env::var("LIKES_DIFF_CASES").unwrap_or_else(|_| "3000".into());
    let mut args = vec![server.base.clone(), "--cases".into(), cases];
    if let Ok(seed) = std::env::var("LIKES_DIFF_SEED") {
        args.extend(["--seed".into(), seed]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let printed = node("differential.mjs", &args).await;
    println!("{printed}");
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn the_differential_comparator_catches_every_kind_of_difference() {
    let printed = node_tests("differential/compare.test.mjs").await;
    assert!(printed.contains("# fail 0"), "{printed}");
}
