//! `likes export` from both backends, checked the way the data team uses
//! it: the files are loaded, with their schema.json, into a SQL engine
//! (DuckDB) by the two load methods of docs/operations.md, and must hold exactly the
//! store's likes: per talk, per UTC day, in total, with none twice; and the
//! documented per-minute query gives each talk's timeline as the API does.

use crate::Backend;
use crate::python::python_with;
use chrono::{DateTime, TimeZone, Utc};
use likes::model::{Like, LikeId, ServerId, TalkId};
use likes::store::FlushBatch;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// 2018-10-04T00:00:00Z.
const OCT_4: i64 = 1_538_611_200;
const DAY: i64 = 86_400;
const SPREAD: i64 = 1_500;

/// Likes on the day boundaries to the microsecond, and 1,500 more spread
/// from noon on 3 October to noon on 5 October over five talks.
fn known_likes() -> Vec<Like> {
    let mut times = vec![
        (OCT_4 - 1, 999_999),
        (OCT_4, 0),
        (OCT_4 + DAY - 1, 999_999),
        (OCT_4 + DAY, 0),
        (OCT_4 + DAY, 1),
    ];
    times.extend((0..SPREAD).map(|n| {
        (
            OCT_4 - DAY / 2 + n * 2 * DAY / SPREAD,
            (n * 7_919 % 1_000_000) as u32,
        )
    }));
    times
        .into_iter()
        .enumerate()
        .map(|(n, (seconds, micros))| Like {
            id: LikeId(uuid::Uuid::from_u128(0x5eed_0000 + n as u128)),
            talk: TalkId(n as i32 % 5 + 1),
            liker: format!("liker-{}", n % 40),
            created_at: Utc.timestamp_opt(seconds, micros * 1_000).unwrap(),
        })
        .collect()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// What loading a range's export must give: per talk, per day, in total.
fn expected(likes: &[Like], from: &str, to: &str) -> Value {
    let (from, to) = (at(from), at(to));
    let inside: Vec<&Like> = likes
        .iter()
        .filter(|like| like.created_at >= from && like.created_at < to)
        .collect();
    let mut per_talk = BTreeMap::new();
    let mut per_day = BTreeMap::new();
    for like in &inside {
        *per_talk.entry(like.talk.0.to_string()).or_insert(0) += 1;
        *per_day
            .entry(like.created_at.format("%Y-%m-%d").to_string())
            .or_insert(0) += 1;
    }
    json!({ "total": inside.len(), "distinct": inside.len(), "per_talk": per_talk, "per_day": per_day })
}

/// Runs `likes export`; its exit code, stdout and stderr.
fn export(store: &str, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_likes"))
        .args(["export", "--store", store, "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("likes runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn exported(store: &str, out: &Path, extra: &[&str]) -> String {
    let (code, stdout, stderr) = export(store, out, extra);
    assert_eq!(code, 0, "export failed:\n{stdout}\n{stderr}");
    stdout
}

/// Loads folders into DuckDB (`merge` or `replace`); what the table holds.
fn load(mode: &str, folders: &[&Path]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/load_export.py");
    let output = Command::new(python_with("duckdb"))
        .arg(script)
        .arg(mode)
        .args(folders)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "loading failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Drops what `expected` does not compute.
fn counts(mut loaded: Value) -> Value {
    loaded.as_object_mut().unwrap().remove("earliest");
    loaded
}

fn file_names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

pub async fn every_like_is_exported_exactly_once(backend: &Backend) {
    let store = backend.store().await;
    let likes = known_likes();
    for (n, chunk) in likes.chunks(500).enumerate() {
        let batch = FlushBatch {
            server: ServerId::new(if n % 2 == 0 { "a" } else { "b" }).unwrap(),
            second: OCT_4 + n as i64,
            likes: Arc::new(chunk.to_vec()),
        };
        store.flush(batch).await.unwrap();
    }
    let url = backend.url();
    let dir = tempfile::tempdir().unwrap();
    let folder = |name: &str| dir.path().join(name);
    let everything = expected(&likes, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z");

    // Everything: one file per UTC day, holding exactly the store's likes.
    let said = exported(&url, &folder("all"), &[]);
    assert!(
        said.starts_with(&format!("exported {} likes into 3 files", likes.len())),
        "{said}"
    );
    assert_eq!(
        file_names(&folder("all")),
        [
            "likes-2018-10-03.ndjson",
            "likes-2018-10-04.ndjson",
            "likes-2018-10-05.ndjson",
            "schema.json"
        ]
    );
    let loaded = load("merge", &[&folder("all")]);
    assert_eq!(loaded["earliest"], "2018-10-03T12:00:00.000000Z");
    let text = |name: &str| std::fs::read_to_string(folder("all").join(name)).unwrap();
    let last_of_3rd = text("likes-2018-10-03.ndjson")
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let first_of_4th = text("likes-2018-10-04.ndjson")
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        last_of_3rd.contains("\"created_at\":\"2018-10-03T23:59:59.999999Z\""),
        "{last_of_3rd}"
    );
    assert!(
        first_of_4th.contains("\"created_at\":\"2018-10-04T00:00:00.000000Z\""),
        "{first_of_4th}"
    );
    assert_eq!(counts(loaded), everything);
    for talk in 1..=5 {
        let stored = store.count_likes(TalkId(talk)).await.unwrap();
        assert_eq!(
            everything["per_talk"][talk.to_string()],
            stored,
            "talk {talk}"
        );
    }

    // The same range again: the same bytes. Gzipped: the same rows.
    exported(&url, &folder("again"), &[]);
    for name in file_names(&folder("all")) {
        let first = std::fs::read(folder("all").join(&name)).unwrap();
        let second = std::fs::read(folder("again").join(&name)).unwrap();
        assert!(first == second, "{name} differs between two exports");
    }
    exported(&url, &folder("gzip"), &["--gzip"]);
    assert!(file_names(&folder("gzip")).contains(&"likes-2018-10-04.ndjson.gz".to_owned()));
    assert_eq!(counts(load("merge", &[&folder("gzip")])), everything);

    // One whole day, boundaries to the microsecond: from midnight included
    // to the next midnight excluded.
    exported(
        &url,
        &folder("day"),
        &["--from", "2018-10-04", "--to", "2018-10-05T09:00:00+09:00"],
    );
    assert_eq!(
        file_names(&folder("day")),
        ["likes-2018-10-04.ndjson", "schema.json"]
    );
    let day = expected(&likes, "2018-10-04T00:00:00Z", "2018-10-05T00:00:00Z");
    assert_eq!(counts(load("merge", &[&folder("day")])), day);

    // Overlapping ranges loaded the documented ways hold no like twice:
    // merged on id in any order, and whole days replacing their partition.
    let (code, _, noted) = export(
        &url,
        &folder("half"),
        &[
            "--from",
            "2018-10-04T12:00:00Z",
            "--to",
            "2018-10-05T12:00:00Z",
        ],
    );
    assert_eq!(code, 0);
    assert!(
        noted.contains("likes-2018-10-04.ndjson holds only part of its day"),
        "{noted}"
    );
    exported(
        &url,
        &folder("days"),
        &["--from", "2018-10-04", "--to", "2018-10-06"],
    );
    let two_days = expected(&likes, "2018-10-04T00:00:00Z", "2018-10-06T00:00:00Z");
    let merged = load(
        "merge",
        &[&folder("half"), &folder("days"), &folder("half")],
    );
    assert_eq!(counts(merged), two_days);
    let replaced = load(
        "replace",
        &[&folder("days"), &folder("day"), &folder("days")],
    );
    assert_eq!(counts(replaced), two_days);

    // Nothing half-written was left anywhere.
    for name in ["all", "again", "gzip", "day", "half", "days"] {
        assert!(
            file_names(&folder(name))
                .iter()
                .all(|f| !f.starts_with('.')),
            "a temporary file was left in {name}"
        );
    }
}

/// `likes serve` on a store, on a free port, stopped when dropped.
struct Serving {
    child: std::process::Child,
    url: String,
}

impl Serving {
    async fn start(store: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_likes"))
            .args(["serve", "--store", store, "--server-id", "export-check"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("likes runs");
        let serving = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..150 {
            let ready = client.get(format!("{}/readyz", serving.url)).send().await;
            if ready.is_ok_and(|answer| answer.status().is_success()) {
                return serving;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("likes serve on {store} was not ready within 15 s");
    }

    /// A talk's `timeline(every: 60)`, as [start, likes] pairs.
    async fn timeline(&self, session: i32) -> Value {
        let query = "query($s: Int!) { session(sessionId: $s) { timeline { start likes } } }";
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": { "s": session } }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let intervals = answer["data"]["session"]["timeline"]
            .as_array()
            .unwrap_or_else(|| panic!("no timeline in {answer}"));
        intervals
            .iter()
            .map(|i| json!([i["start"], i["likes"]]))
            .collect()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn the_documented_per_minute_query_gives_the_api_timeline(backend: &Backend) {
    let store = backend.store().await;
    // Talk 1: on both sides of minute boundaries to the microsecond, and over
    // an hour and a half with empty minutes; talk 2: three likes in one
    // minute; talk 3: none. Two servers; one flush replayed.
    let noon = OCT_4 + DAY / 2;
    let mut times = vec![(noon - 1, 999_999), (noon, 0), (noon + 59, 999_999)];
    times.extend((0..400).map(|n| (noon + n * n % 5_400, (n * 7_919 % 1_000_000) as u32)));
    let mut likes: Vec<Like> = times
        .into_iter()
        .enumerate()
        .map(|(n, (seconds, micros))| Like {
            id: LikeId(uuid::Uuid::from_u128(0x7133_0000 + n as u128)),
            talk: TalkId(1),
            liker: format!("liker-{}", n % 40),
            created_at: Utc.timestamp_opt(seconds, micros * 1_000).unwrap(),
        })
        .collect();
    likes.extend((0..3).map(|n| Like {
        id: LikeId(uuid::Uuid::from_u128(0x7134_0000 + n)),
        talk: TalkId(2),
        liker: "two".into(),
        created_at: Utc.timestamp_opt(noon + 600 + n as i64, 0).unwrap(),
    }));
    for (n, chunk) in likes.chunks(150).enumerate() {
        let batch = |second| FlushBatch {
            server: ServerId::new(if n % 2 == 0 { "a" } else { "b" }).unwrap(),
            second,
            likes: Arc::new(chunk.to_vec()),
        };
        store.flush(batch(noon + 6_000 + n as i64)).await.unwrap();
        if n == 1 {
            store.flush(batch(noon + 6_100)).await.unwrap();
        }
    }

    let url = backend.url();
    let dir = tempfile::tempdir().unwrap();
    exported(&url, dir.path(), &[]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(python_with("duckdb"))
        .arg(root.join("tests/clients/timeline_export.py"))
        .arg(root.join("docs/operations.md"))
        .arg(dir.path())
        .args(["1", "2", "3"])
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "the documented query failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let queried: Value = serde_json::from_slice(&output.stdout).unwrap();

    let serving = Serving::start(&url).await;
    for talk in 1..=3 {
        assert_eq!(
            queried[talk.to_string()],
            serving.timeline(talk).await,
            "talk {talk}"
        );
    }
    let one = queried["1"].as_array().unwrap();
    assert!(one.len() > 80, "{} minutes", one.len());
    assert!(
        one.iter().any(|minute| minute[1] == 0),
        "empty minutes listed"
    );
    let sum: i64 = one.iter().map(|minute| minute[1].as_i64().unwrap()).sum();
    assert_eq!(sum, 403);
    assert_eq!(queried["2"], json!([["2018-10-04T12:10:00Z", 3]]));
    assert_eq!(queried["3"], json!([]));
}

pub async fn bad_ranges_and_folders_are_refused_clearly(backend: &Backend) {
    backend.store().await;
    let url = backend.url();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cases: [(&[&str], i32, &str); 3] = [
        (
            &["--from", "2018-10-05", "--to", "2018-10-04"],
            2,
            "must be before --to",
        ),
        (
            &["--from", "2018-10-04", "--to", "2018-10-04"],
            2,
            "must be before --to",
        ),
        (&["--from", "4 Oct 2018"], 2, "is not an RFC 3339 time"),
    ];
    for (args, want, message) in cases {
        let (code, _, stderr) = export(&url, &out, args);
        assert_eq!(code, want, "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert!(!out.exists(), "a refused export created its folder");

    std::fs::write(dir.path().join("file"), "").unwrap();
    let (code, _, stderr) = export(&url, &dir.path().join("file/out"), &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot create the folder"), "{stderr}");
}
