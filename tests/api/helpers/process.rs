//! The `likes` binary as a child process, for tests that need real
//! processes: several replicas on one store, signals, flags.

use super::eventually;
use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

/// The `likes` binary running as a child process.
pub struct ServerProcess {
    pub child: Child,
    pub url: String,
    pub ws_url: String,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Every line the process wrote to stderr (also copied to the test's).
    log: Arc<Mutex<Vec<String>>>,
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
        Self::start_with_env(store, server_id, extra, &[]).await
    }

    /// `start_on` with extra environment variables for the process.
    pub async fn start_with_env(
        store: &str,
        server_id: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        Self::launch("127.0.0.1", store, server_id, extra, env).await
    }

    /// `start_on`, listening on `host` (such as `[::]`, which IPv4 clients
    /// reach too); the URLs still name 127.0.0.1.
    pub async fn start_listening(host: &str, db: &Path, server_id: &str, extra: &[&str]) -> Self {
        let store = format!("sqlite://{}", db.display());
        Self::launch(host, &store, server_id, extra, &[]).await
    }

    async fn launch(
        host: &str,
        store: &str,
        server_id: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_likes"))
            .arg("serve")
            .args(["--listen", &format!("{host}:{port}")])
            .args(["--store", store])
            .args(["--server-id", server_id])
            .args(extra)
            .env("LIKES_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("likes serve starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[{port}] {line}");
                kept.lock().unwrap().push(line);
            }
        });
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}/graphql"),
            ws_url: format!("ws://127.0.0.1:{port}/graphql"),
            base: format!("http://127.0.0.1:{port}"),
            log,
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

    /// The process's stderr, growing until it exits.
    pub fn log_handle(&self) -> Arc<Mutex<Vec<String>>> {
        self.log.clone()
    }

    /// `/metrics`, as sample (`name` or `name{labels}`) to value.
    pub async fn metrics(&self) -> HashMap<String, f64> {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await
            .expect("/metrics answers")
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .filter_map(|line| {
                let (sample, value) = line.rsplit_once(' ')?;
                Some((sample.to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    /// One sample of `/metrics`; 0 when absent (a counter never incremented).
    pub async fn metric(&self, sample: &str) -> f64 {
        self.metrics().await.get(sample).copied().unwrap_or(0.0)
    }

    /// `/readyz`'s status code.
    pub async fn readiness(&self) -> u16 {
        reqwest::get(format!("{}/readyz", self.base))
            .await
            .map_or(0, |r| r.status().as_u16())
    }

    /// Resident memory now, in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.id().expect("still running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
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
