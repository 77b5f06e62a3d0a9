//! What every scenario needs: the `likes` binary (built with the bench's
//! optimised profile) as a child process, its metrics and memory, the
//! external load tools, and percentiles.

use anyhow::{Context, bail};
use serde_json::json;
use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// One `likes serve` process.
pub struct Replica {
    child: Child,
    pid: u32,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// The `likes` built with this harness, or the one `LIKES_BENCH_BINARY`
/// names, to compare another build in the same minutes.
fn likes_binary() -> std::ffi::OsString {
    std::env::var_os("LIKES_BENCH_BINARY").unwrap_or_else(|| env!("CARGO_BIN_EXE_likes").into())
}

impl Replica {
    /// Runs `likes serve` on a free port with the rate and per-address
    /// limits off (the load comes from one address) and `extra` flags, and
    /// waits until it is ready.
    pub async fn start(store: &str, server_id: &str, extra: &[&str]) -> anyhow::Result<Self> {
        Self::start_logging(store, server_id, extra, "warn").await
    }

    /// `start`, logging what `filter` (`LIKES_LOG`) lets through.
    pub async fn start_logging(
        store: &str,
        server_id: &str,
        extra: &[&str],
        filter: &str,
    ) -> anyhow::Result<Self> {
        let port = free_port();
        let mut child = Command::new(likes_binary())
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--store", store, "--server-id", server_id])
            .args(["--rate-per-liker", "off", "--rate-per-address", "off"])
            .args([
                "--ws-operation-rate",
                "off",
                "--max-connections-per-address",
                "0",
            ])
            .args(extra)
            .env("LIKES_LOG", filter)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting likes serve")?;
        let pid = child.id().context("likes serve exited at once")?;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("likes serve exited with {status}");
            }
            let ready = client.get(format!("{base}/readyz")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("likes serve was not ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self { child, pid, base })
    }

    pub fn graphql(&self) -> String {
        format!("{}/graphql", self.base)
    }

    pub fn ws(&self) -> String {
        format!("ws://{}/graphql", self.base.trim_start_matches("http://"))
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// Peak resident memory since start, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        status_kib(self.pid, field)
    }

    /// CPU seconds the replica has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid)
    }

    /// Every sample of `/metrics`, by its full name with labels.
    pub async fn metrics(&self) -> anyhow::Result<HashMap<String, f64>> {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (name, value) = line.rsplit_once(' ')?;
                Some((name.to_owned(), value.parse().ok()?))
            })
            .collect())
    }

    /// One sample of `/metrics` (0 when absent).
    pub async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        Ok(self.metrics().await?.get(name).copied().unwrap_or(0.0))
    }

    /// Waits until every acknowledged like is stored; returns how many.
    pub async fn drained(&self) -> anyhow::Result<u64> {
        let started = Instant::now();
        loop {
            let m = self.metrics().await?;
            let get = |name: &str| m.get(name).copied().unwrap_or(0.0);
            if get("likes_buffered") == 0.0
                && get("likes_stored_total") == get("likes_acknowledged_total")
            {
                return Ok(get("likes_stored_total") as u64);
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("the buffer did not drain within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, then waits for the exit (the storer drains first).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await?;
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await??;
        if !status.success() {
            bail!("likes serve exited with {status}");
        }
        Ok(())
    }
}

/// A `/proc/PID/status` field in KiB (`VmRSS:`, `VmHWM:`), 0 if unreadable.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU seconds (user and system) used so far by process `pid`, 0 if
/// unreadable. `/proc` counts them in USER_HZ, which Linux fixes at 100 per
/// second for user space.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces:
    // state is the first, utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |n: usize| {
        fields
            .get(n)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// A `createLike` request body for `session`.
pub fn like_body(session: i32, uuid: &str) -> String {
    serde_json::json!({
        "query": "mutation($i:CreateLikeInput!){createLike(input:$i){clientMutationId like{id}}}",
        "variables": {"i": {"uuid": uuid, "sessionId": session}}
    })
    .to_string()
}

/// Fails with how to install `tool` when it is not on the PATH.
pub fn require(tool: &str, install: &str) -> anyhow::Result<()> {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()));
    if !found {
        bail!("{tool} is not installed: {install}");
    }
    Ok(())
}

/// The `p`-th percentile (0–100) of `samples`, sorting them; 0 when empty.
pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// A table row by row, printed in Markdown so it pastes into BENCHMARKS.md.
pub struct Table {
    title: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: &str, header: &[&str]) -> Self {
        Self {
            title: title.to_owned(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
        // Rows appear as they are measured; a long run shows its progress.
        eprintln!(
            "  {}",
            self.rows.last().map(|r| r.join(" | ")).unwrap_or_default()
        );
    }

    pub fn print(&self) {
        println!("\n### {}\n", self.title);
        println!("| {} |", self.header.join(" | "));
        println!("|{}", "---|".repeat(self.header.len()));
        for row in &self.rows {
            println!("| {} |", row.join(" | "));
        }
    }
}

/// `n` with thousands separators.
pub fn count(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds with two decimals.
pub fn ms(seconds: f64) -> String {
    format!("{:.2} ms", seconds * 1000.0)
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The catalogue's talk ids.
pub async fn talks(replica: &Replica) -> anyhow::Result<Vec<i64>> {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(replica.graphql())
        .json(&json!({"query": "{ sessions { sessionId } }"}))
        .send()
        .await?
        .json()
        .await?;
    answer["data"]["sessions"]
        .as_array()
        .context("no sessions")?
        .iter()
        .map(|s| s["sessionId"].as_i64().context("no sessionId"))
        .collect()
}

/// Polls `probe` every 200 ms until it holds or `within` passes.
pub async fn wait_for<F, Fut>(within: Duration, mut probe: F) -> anyhow::Result<bool>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let started = Instant::now();
    loop {
        if probe().await? {
            return Ok(true);
        }
        if started.elapsed() > within {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
