//! Trace export: with `--otlp-endpoint` (here through its environment
//! variable) the process sends its spans to an OTLP/HTTP collector, joined
//! to the caller's trace. The collector is a small HTTP server that keeps
//! what it is sent; OTLP's protobuf carries names and ids as raw bytes, so
//! finding them in a body needs no decoder.

use crate::helpers::{ServerProcess, eventually};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One POST the collector received.
#[derive(Clone)]
struct Export {
    path: String,
    content_type: String,
    body: Vec<u8>,
}

/// Starts a collector on a free port; returns its base URL and what it got.
async fn collector() -> (String, Arc<Mutex<Vec<Export>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let keep = received.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let keep = keep.clone();
        async move {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            keep.lock().unwrap().push(Export {
                path: uri.path().to_owned(),
                content_type,
                body: body.to_vec(),
            });
            // An empty ExportTraceServiceResponse: all spans accepted.
            (
                StatusCode::OK,
                [("content-type", "application/x-protobuf")],
                "",
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, received)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn spans_reach_the_collector_joined_to_the_callers_trace() {
    let (endpoint, received) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("likes.db").display());
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ];
    let server = ServerProcess::start_with_env(&db, "traced", &[], &env).await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let answer = reqwest::Client::new()
        .post(&server.url)
        .header(
            "traceparent",
            format!("00-{trace_id}-00f067aa0ba902b7-01"),
        )
        .json(&serde_json::json!({
            "query": "mutation { createLike(input: {uuid: \"tracer\", sessionId: 1}) { like { id } } }"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let trace_id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace_id[2 * i..2 * i + 2], 16).unwrap())
        .collect();

    // The request's span, in the caller's trace; then the flush that stored
    // the like, in a trace of its own.
    let sent = |needle: &[u8]| {
        received
            .lock()
            .unwrap()
            .iter()
            .any(|export| contains(&export.body, needle))
    };
    let joined = eventually(Duration::from_secs(10), true, || async {
        sent(&trace_id) && sent(b"POST /graphql") && sent(b"flush")
    })
    .await;
    let exports = received.lock().unwrap().clone();
    assert!(
        joined,
        "the collector got {} exports without the request span in trace {trace_id:02x?} and a flush span",
        exports.len()
    );
    let request = exports
        .iter()
        .find(|export| contains(&export.body, &trace_id))
        .unwrap();
    assert!(contains(&request.body, b"POST /graphql"));
    assert!(contains(&request.body, b"likes"), "service.name is likes");
    for export in &exports {
        assert_eq!(export.path, "/v1/traces");
        assert_eq!(export.content_type, "application/x-protobuf");
    }
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn a_malformed_collector_address_is_refused_at_start() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_likes"))
        .args([
            "--otlp-endpoint",
            "not a url",
            "serve",
            "--store",
            "sqlite://never-made.db",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--otlp-endpoint"), "{stderr}");
}
