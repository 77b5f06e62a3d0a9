//! The `likes` binary as a child process, for tests that need real
//! processes: several replicas on one store, signals, flags.

use super::eventually;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

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
    /// Runs `likes serve` on the SQLite file `db`; see `start_on`.
    pub async fn start(db: &Path, server_id: &str, extra: &[&str]) -> Self {
        Self::start_on(&format!("sqlite://{}", db.display()), server_id, extra).await
    }

    /// Runs `likes serve` on a free port with the store URL `store` and
    /// these extra flags, and waits until it answers `/readyz`.
    pub async fn start_on(store: &str, server_id: &str, extra: &[&str]) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_likes"))
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--store", store])
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
