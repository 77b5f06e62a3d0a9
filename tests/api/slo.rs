//! The SLIs as the real binary exports them: every series that an alert
//! (`k8s/overlays/production/rules.yaml`) or the dashboard
//! (`k8s/overlays/production/dashboards/likes.json`) queries exists from the
//! process's start, with each label value named; and the ack→push histogram
//! measures every acknowledged like once.

use crate::helpers::{ServerProcess, eventually};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

/// Labels Prometheus adds to a target's series (the exporter never writes
/// them), and the label a recording rule or a dashboard groups by.
const TARGET_LABELS: [&str; 2] = ["job", "instance"];

/// One `likes_*` selector: a metric name and its label matchers.
#[derive(Debug)]
struct Selector {
    name: String,
    /// (label, operator, value).
    matchers: Vec<(String, String, String)>,
}

/// One exported sample's name and labels, from `/metrics`.
type Series = (String, BTreeMap<String, String>);

/// Every `likes_…` selector in a PromQL text (recording rules are named
/// `likes:…`, so they are not taken for exported metrics).
fn selectors(promql: &str) -> Vec<Selector> {
    let mut found = Vec::new();
    let bytes = promql.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut i = 0;
    while let Some(at) = promql[i..].find("likes_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && ident(bytes[end]) {
            end += 1;
        }
        if start > 0 && ident(bytes[start - 1]) {
            i = end;
            continue;
        }
        let name = promql[start..end].to_owned();
        let mut matchers = Vec::new();
        if bytes.get(end) == Some(&b'{') {
            let close = end + promql[end..].find('}').expect("a selector's braces close");
            matchers = parse_matchers(&promql[end + 1..close]);
            end = close + 1;
        }
        found.push(Selector { name, matchers });
        i = end;
    }
    found
}

/// `a="x",b=~"y|z"` as (label, operator, value) triples.
fn parse_matchers(text: &str) -> Vec<(String, String, String)> {
    text.split(',')
        .filter(|m| !m.trim().is_empty())
        .map(|m| {
            let op_at = m.find(['=', '!']).expect("a matcher has an operator");
            let label = m[..op_at].trim().to_owned();
            let rest = &m[op_at..];
            let op_len =
                if rest.starts_with("=~") || rest.starts_with("!=") || rest.starts_with("!~") {
                    2
                } else {
                    1
                };
            let value = rest[op_len..].trim().trim_matches('"').to_owned();
            (label, rest[..op_len].to_owned(), value)
        })
        .collect()
}

/// `name{a="x",b="y"}` as a name and its labels.
fn parse_series(sample: &str) -> Series {
    match sample.split_once('{') {
        None => (sample.to_owned(), BTreeMap::new()),
        Some((name, labels)) => {
            let labels = parse_matchers(labels.trim_end_matches('}'))
                .into_iter()
                .map(|(label, _, value)| (label, value))
                .collect();
            (name.to_owned(), labels)
        }
    }
}

/// The label sets a selector needs to find: one per alternative of each
/// `=~` matcher over plain names (`a|b` needs both a and b), with every `=`
/// matcher; target labels and negative matchers are left out.
fn needed(selector: &Selector) -> Vec<BTreeMap<String, String>> {
    let mut sets = vec![BTreeMap::new()];
    for (label, op, value) in &selector.matchers {
        if TARGET_LABELS.contains(&label.as_str()) {
            continue;
        }
        let values: Vec<&str> = match op.as_str() {
            "=" => vec![value.as_str()],
            "=~" => {
                let plain = value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_/|{}".contains(c));
                assert!(
                    plain,
                    "{selector:?}: only alternatives of plain names are checked"
                );
                value.split('|').collect()
            }
            _ => continue,
        };
        sets = sets
            .into_iter()
            .flat_map(|set| {
                values.iter().map(move |v| {
                    let mut set = set.clone();
                    set.insert(label.clone(), (*v).to_owned());
                    set
                })
            })
            .collect();
    }
    sets
}

/// The selectors of a PromQL text that no exported series satisfies, and
/// how many selectors it has.
fn missing(promql: &str, exported: &[Series]) -> (Vec<String>, usize) {
    let found = selectors(promql);
    let mut missing = Vec::new();
    for selector in &found {
        for labels in needed(selector) {
            let exists = exported.iter().any(|(name, have)| {
                *name == selector.name && labels.iter().all(|(k, v)| have.get(k) == Some(v))
            });
            if !exists {
                missing.push(format!("{}{labels:?}", selector.name));
            }
        }
    }
    (missing, found.len())
}

/// Every `expr` string anywhere in a dashboard's JSON.
fn exprs(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => into.push(expr.clone()),
                    _ => exprs(value, into),
                }
            }
        }
        serde_json::Value::Array(values) => values.iter().for_each(|v| exprs(v, into)),
        _ => {}
    }
}

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

#[tokio::test]
async fn every_series_the_alerts_and_the_dashboard_query_exists_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("likes.db"), "replica-a", &[]).await;
    let exported: Vec<Series> = server
        .metrics()
        .await
        .keys()
        .map(|s| parse_series(s))
        .collect();

    let rules = repo_file("k8s/overlays/production/rules.yaml");
    let (absent, selectors) = missing(&rules, &exported);
    assert!(
        selectors >= 20,
        "rules.yaml has only {selectors} likes_ selectors"
    );
    assert!(
        absent.is_empty(),
        "rules.yaml queries series /metrics lacks at start: {absent:?}"
    );

    let dashboard: serde_json::Value =
        serde_json::from_str(&repo_file("k8s/overlays/production/dashboards/likes.json"))
            .expect("the dashboard is JSON");
    let mut queries = Vec::new();
    exprs(&dashboard, &mut queries);
    assert!(
        queries.len() >= 10,
        "the dashboard has {} queries",
        queries.len()
    );
    let mut selectors = 0;
    for query in &queries {
        let (absent, found) = missing(query, &exported);
        selectors += found;
        assert!(
            absent.is_empty(),
            "the dashboard's {query} needs series /metrics lacks at start: {absent:?}"
        );
        // A recorded SLI the dashboard shows is one the rules record.
        for recorded in query
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .filter(|word| word.starts_with("likes:"))
        {
            assert!(
                rules.contains(&format!("record: {recorded}\n")),
                "the dashboard shows {recorded}, which no rule records"
            );
        }
    }
    assert!(
        selectors >= 10,
        "the dashboard has only {selectors} likes_ selectors"
    );
    assert!(server.terminate().await.success());
}

/// The checker above must be able to fail: a selector of a metric or a
/// label value the service does not export is reported.
#[test]
fn a_selector_the_service_does_not_export_is_found_missing() {
    let exported = vec![parse_series(r#"likes_refused_total{reason="buffer_full"}"#)];
    let found = |promql: &str| missing(promql, &exported).0.is_empty();
    assert!(found(
        r#"sum(rate(likes_refused_total{job="likes",reason="buffer_full"}[5m]))"#
    ));
    assert!(!found(
        r#"rate(likes_refused_total{reason=~"buffer_full|closing"}[5m])"#
    ));
    assert!(!found(r#"rate(likes_refusals_total[5m])"#));
    assert!(found(
        r#"likes:acceptance_errors:ratio_rate5m > 0 or likes_refused_total"#
    ));
}

#[tokio::test]
async fn every_like_acknowledged_is_measured_once_from_ack_to_push() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("likes.db"), "replica-a", &[]).await;
    let client = reqwest::Client::new();
    for n in 0..60 {
        let talk = 1 + n % 2;
        let answer =
            crate::helpers::like(&client, &server.url, talk, &format!("l-{n}"), None).await;
        crate::helpers::assert_acknowledged(&answer);
        if n % 20 == 19 {
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    }
    let measured = eventually(Duration::from_secs(15), 60.0, || async {
        server.metric("likes_ack_to_push_seconds_count").await
    })
    .await;
    assert_eq!(measured, 60.0, "likes measured from ack to push");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let metrics: HashMap<String, f64> = server.metrics().await;
    assert_eq!(
        metrics["likes_ack_to_push_seconds_count"], 60.0,
        "measured twice"
    );
    let mean = metrics["likes_ack_to_push_seconds_sum"] / 60.0;
    let within_2s = metrics[r#"likes_ack_to_push_seconds_bucket{le="2"}"#];
    eprintln!("ack to push: mean {mean:.3} s, {within_2s}/60 within 2 s");
    // Flushes every second and reads once they have landed: a like waits
    // up to about 1.05 s (1.25 s at most when flushes land late), more on
    // a busy machine.
    assert!(
        (0.2..10.0).contains(&mean),
        "mean ack→push {mean} s is not plausible"
    );
    assert!(server.terminate().await.success());
}
