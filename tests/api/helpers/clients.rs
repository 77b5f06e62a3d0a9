//! The GraphQL clients the tests drive, as child processes: the `gql`
//! subscriber (`tests/clients/subscribe.py`) and a raw `websockets` sender
//! of oversized messages (`tests/clients/oversized.py`).

use super::eventually;
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Sends one WebSocket message of `bytes` bytes after the connection
/// handshake (with the `websockets` library) and returns the close code the
/// server answered with, if any.
pub async fn send_oversized_message(ws_url: &str, protocol: &str, bytes: usize) -> Option<i64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/oversized.py");
    let output = Command::new(crate::python::python_with("gql.transport.websockets"))
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
        let mut child = Command::new(crate::python::python_with("gql.transport.websockets"))
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
