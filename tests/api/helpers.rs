//! Test harness: starts the app in-process on a free port (`spawn_app`) or
//! the real binary as a child process (`ServerProcess`), talks to it over
//! HTTP, and subscribes with the `gql` Python client (`Subscriber`).

use likes::catalogue::Catalogue;
use likes::listener::Listener;
use likes::model::{ServerId, TalkId};
use likes::store::{LikeStore, StoreUrl};
use likes::{App, Config};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// The `createLike` document the front end sends.
pub const CREATE_LIKE: &str = "mutation($input: CreateLikeInput!) {
  createLike(input: $input) { clientMutationId like { id session { id sessionId title liked } } }
}";

/// An app running in this test process.
pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub store: Arc<dyn LikeStore>,
    pub listener: Listener,
    pub client: reqwest::Client,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: TempDir,
}

/// A config for tests: a fresh SQLite file, a free port, default timings.
pub fn test_config(dir: &Path, server: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        store: StoreUrl::Sqlite(dir.join("likes.db")),
        catalogue: Catalogue::sample(),
        server_id: ServerId::new(server).unwrap(),
        flush_interval: Duration::from_secs(1),
        flush_try_timeout: Duration::from_secs(1),
        flush_hard_timeout: Duration::from_secs(10),
        observe_interval: Duration::from_secs(1),
        observe_window: Duration::from_secs(13),
        buffer_max_likes: 100_000,
        shutdown_grace: Duration::from_secs(10),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "test-a");
    tweak(&mut config);
    let app = App::build(config).await.expect("the app builds");
    let addr = app.local_addr();
    let store = app.store();
    let listener = app.listener();
    let stop = CancellationToken::new();
    let task = tokio::spawn(app.run(stop.clone().cancelled_owned()));
    TestApp {
        addr,
        store,
        listener,
        client: reqwest::Client::new(),
        stop,
        task,
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/graphql", self.addr)
    }

    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        post_graphql(&self.client, &self.url(), query, variables).await
    }

    pub async fn like(&self, session: i32, uuid: &str, mutation_id: Option<&str>) -> Value {
        like(&self.client, &self.url(), session, uuid, mutation_id).await
    }

    pub async fn liked(&self, session: i32) -> i64 {
        liked(&self.client, &self.url(), session).await
    }

    /// Subscribes to `session` with the `gql` client and waits until the
    /// app holds the subscription.
    pub async fn subscribe(&self, session: i32, protocol: &str) -> Subscriber {
        let before = self.listener.subscribers(talk(session));
        let subscriber = Subscriber::start(&self.ws_url(), session, protocol).await;
        let held = eventually(Duration::from_secs(10), true, || async {
            self.listener.subscribers(talk(session)) > before
        })
        .await;
        assert!(
            held,
            "the app never registered the subscription: {:?}",
            subscriber.lines()
        );
        subscriber
    }

    /// POSTs a raw body to `/graphql`; returns the status and the JSON answer.
    pub async fn post_raw(&self, body: String) -> (u16, Value) {
        let response = self
            .client
            .post(self.url())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("the answer is JSON"))
    }

    /// Stops the app as SIGTERM would and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.task.await.unwrap()
    }
}

pub async fn post_graphql(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    variables: Value,
) -> Value {
    client
        .post(url)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("the answer is JSON")
}

pub async fn like(
    client: &reqwest::Client,
    url: &str,
    session: i32,
    uuid: &str,
    mutation_id: Option<&str>,
) -> Value {
    let input = json!({ "uuid": uuid, "sessionId": session, "clientMutationId": mutation_id });
    post_graphql(client, url, CREATE_LIKE, json!({ "input": input })).await
}

/// Asserts a `createLike` answer is an acknowledgement.
pub fn assert_acknowledged(answer: &Value) {
    assert!(
        answer["data"]["createLike"]["like"]["id"].is_string(),
        "not acknowledged: {answer}"
    );
}

pub async fn liked(client: &reqwest::Client, url: &str, session: i32) -> i64 {
    let answer = post_graphql(
        client,
        url,
        "query($s: Int!) { session(sessionId: $s) { liked } }",
        json!({ "s": session }),
    )
    .await;
    answer["data"]["session"]["liked"]
        .as_i64()
        .unwrap_or_else(|| panic!("no liked in {answer}"))
}

/// Polls `probe` until it returns `want` or `within` passes; returns the last value.
pub async fn eventually<T, F, Fut>(within: Duration, want: T, mut probe: F) -> T
where
    T: PartialEq + Copy,
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got = probe().await;
        if got == want || tokio::time::Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The error code of the first error in a GraphQL answer.
pub fn error_code(answer: &Value) -> &str {
    answer["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {answer}"))
}

/// Sends one WebSocket message of `bytes` bytes after the connection
/// handshake (with the `websockets` library) and returns the close code the
/// server answered with, if any.
pub async fn send_oversized_message(ws_url: &str, protocol: &str, bytes: usize) -> Option<i64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/oversized.py");
    let output = Command::new(python())
        .arg(script)
        .args([ws_url, protocol, &bytes.to_string()])
        .output()
        .await
        .expect("the client runs");
    let line = String::from_utf8(output.stdout).unwrap();
    let answer: Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|_| panic!("unexpected output {line:?}, stderr {:?}", output.stderr));
    answer["closed"].as_i64()
}

/// The Python interpreter with the `gql` client installed.
fn python() -> PathBuf {
    let python = std::env::var_os("LIKES_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python")
        });
    let works = std::process::Command::new(&python)
        .args(["-c", "import gql.transport.websockets"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        works,
        "the GraphQL client for these tests is missing at {}: run scripts/test, which installs \
         tests/clients/requirements.txt (gql[websockets]) into target/test-venv, or set \
         LIKES_TEST_PYTHON to a Python that has it",
        python.display()
    );
    python
}

/// A `likeAdded` subscription held by the `gql` client in a child process.
pub struct Subscriber {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Subscriber {
    /// Subscribes to `session` over `protocol` (`graphql-transport-ws` or
    /// `graphql-ws`) and waits until the server acknowledged the connection.
    pub async fn start(ws_url: &str, session: i32, protocol: &str) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/subscribe.py");
        let mut child = Command::new(python())
            .arg(script)
            .args([ws_url, &session.to_string(), "--protocol", protocol])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the subscriber starts");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let value: Value = serde_json::from_str(&line).expect("the subscriber prints JSON");
                sink.lock().unwrap().push(value);
            }
        });
        let subscriber = Self { child, lines };
        let connected = eventually(Duration::from_secs(10), true, || async {
            subscriber.first_line().is_some()
        })
        .await;
        assert!(connected, "the subscriber did not connect");
        let first = subscriber.first_line().unwrap();
        assert_eq!(
            first["connected"], protocol,
            "negotiated subprotocol: {first}"
        );
        // Let the subscribe message that follows the acknowledgement arrive.
        tokio::time::sleep(Duration::from_millis(300)).await;
        subscriber
    }

    fn first_line(&self) -> Option<Value> {
        self.lines.lock().unwrap().first().cloned()
    }

    /// Every line printed so far.
    pub fn lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    /// Every `likeAdded` event so far.
    pub fn events(&self) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter_map(|line| line.get("event").cloned())
            .collect()
    }

    /// Sum of the `likes` of every event so far.
    pub fn sum(&self) -> i64 {
        self.events()
            .iter()
            .map(|e| e["likes"].as_i64().unwrap())
            .sum()
    }

    /// Waits until the events add up to at least `want`; returns the sum.
    pub async fn wait_for_sum(&self, want: i64, within: Duration) -> i64 {
        let deadline = tokio::time::Instant::now() + within;
        while self.sum() < want && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.sum()
    }

    /// Ends the client process (as a user closing the page would).
    pub async fn close(mut self) {
        self.child.kill().await.ok();
    }
}

/// The `likes` binary running as a child process.
pub struct ServerProcess {
    pub child: Child,
    pub url: String,
    pub ws_url: String,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ServerProcess {
    /// Runs `likes serve` on a free port with these extra flags, and waits
    /// until it answers `/readyz`.
    pub async fn start(db: &Path, server_id: &str, extra: &[&str]) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_likes"))
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--store", &format!("sqlite://{}", db.display())])
            .args(["--server-id", server_id])
            .args(extra)
            .env("LIKES_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("likes serve starts");
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}/graphql"),
            ws_url: format!("ws://127.0.0.1:{port}/graphql"),
        };
        let client = reqwest::Client::new();
        let ready_url = format!("http://127.0.0.1:{port}/readyz");
        let ready = eventually(Duration::from_secs(15), true, || async {
            matches!(client.get(&ready_url).send().await, Ok(r) if r.status().is_success())
        })
        .await;
        assert!(ready, "likes serve did not become ready on port {port}");
        server
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(self) -> std::process::ExitStatus {
        self.signal("TERM").await
    }

    /// Sends a signal (`TERM`, `INT`) and waits for the exit status.
    pub async fn signal(mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().expect("still running");
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("likes serve exits after the signal")
            .unwrap()
    }
}

/// Talk ids of the built-in sample catalogue used by the tests.
pub fn talk(id: i32) -> TalkId {
    TalkId(id)
}
