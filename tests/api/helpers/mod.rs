//! Test harness: starts the app in-process on a free port (`spawn_app`),
//! talks to it over HTTP, and re-exports the clients (`clients`: the `gql`
//! subscriber and a raw WebSocket sender), a raw GraphQL WebSocket (`ws`),
//! the Node scripts (`node`), and the real binary as a child process
//! (`process`).

mod clients;
mod node;
mod process;
pub mod ws;

pub use clients::{Subscriber, send_oversized_message};
pub use node::{node, node_tests};
pub use process::ServerProcess;

use likes::catalogue::Catalogue;
use likes::config::{Access, Ack, Limits, PageSource};
use likes::listener::Listener;
use likes::model::{ServerId, TalkId};
use likes::store::{LikeStore, StoreUrl};
use likes::{App, Config};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
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
        buffer_max_bytes: 64 << 20,
        ack: Ack::Stored,
        ack_timeout: Duration::from_secs(5),
        ack_linger: Duration::from_millis(10),
        shutdown_grace: Duration::from_secs(10),
        limits: Limits::default(),
        access: Access::default(),
        page: PageSource::Embedded,
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
    /// The app's SQLite file.
    pub fn db(&self) -> std::path::PathBuf {
        self._dir.path().join("likes.db")
    }

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

    /// Opens `/graphql` as a browser does (it asks for HTML first).
    pub async fn open_in_browser(&self) -> reqwest::Response {
        let accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        self.client
            .get(self.url())
            .header("accept", accept)
            .send()
            .await
            .expect("the server answers")
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

/// Talk ids of the built-in sample catalogue used by the tests.
pub fn talk(id: i32) -> TalkId {
    TalkId(id)
}
