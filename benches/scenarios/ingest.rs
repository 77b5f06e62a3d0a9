//! Scenario 1, ingestion: `createLike` over HTTP/1.1 keep-alive POSTs from
//! `wrk`, in each document shape real clients send (`shapes`), against a
//! bare axum handler measured on the same body in the same run; then the
//! latency at half the service's rate (`oha` holding a fixed rate: it
//! takes a quarter of the CPU `hey` takes at that rate, which on two shared
//! cores is CPU taken from the service); then likes/s over one WebSocket
//! connection.

use crate::shapes::{SHAPES, wrk_script};
use crate::support::{Replica, Table, count, like_body, mib, ms, percentile, require};
use crate::ws;
use anyhow::{Context, bail};
use serde_json::json;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

#[derive(clap::Args)]
pub struct Options {
    /// Runs of each measurement (the table shows each and the median).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Connections the load tools keep open.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// The replica's log filter (`LIKES_LOG`): `info` is what an operator
    /// runs by default, with a span for every request.
    #[arg(long, default_value = "warn")]
    pub log: String,
}

/// What a load tool saw.
pub(crate) struct Load {
    pub(crate) per_second: f64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
}

pub async fn run(options: &Options) -> anyhow::Result<()> {
    require("wrk", "apt-get install wrk")?;
    require("oha", "cargo install oha --locked")?;
    let dir = tempfile::tempdir()?;
    let store = format!("sqlite://{}", dir.path().join("ingest.db").display());
    let baseline = Baseline::start().await?;
    // The engine's cost against a bare handler: answered from memory.
    // Scenario 6 (`acks`) measures `--ack stored` against this.
    let replica =
        Replica::start_logging(&store, "ingest", &["--ack", "buffered"], &options.log).await?;
    let acknowledged_before = replica.metric("likes_acknowledged_total").await?;

    // The persisted shape's hash is registered first, as a client's first
    // request after PERSISTED_QUERY_NOT_FOUND does.
    for shape in SHAPES.iter().filter(|shape| shape.persisted) {
        let answer: serde_json::Value = reqwest::Client::new()
            .post(replica.graphql())
            .header("content-type", "application/json")
            .body(shape.registration())
            .send()
            .await?
            .json()
            .await?;
        if answer["data"].is_null() {
            bail!("registering the persisted query failed: {answer}");
        }
    }
    let mut runs = Table::new(
        &format!(
            "Ingestion by document shape: createLike over HTTP/1.1 keep-alive (wrk, a new liker \
             each request), likes acknowledged (from /metrics) against a bare axum handler's \
             requests on the same body, alternating; LIKES_LOG={}",
            options.log
        ),
        &[
            "run",
            "shape",
            "baseline req/s",
            "likes/s",
            "likes p99",
            "likes ÷ baseline",
        ],
    );
    // With a span and its log context for every request, as an operator
    // runs it, the service is held to less than with warnings only.
    let target = if options.log == "warn" { 0.70 } else { 0.60 };
    let mut ratios = vec![Vec::new(); SHAPES.len()];
    let mut rates = vec![Vec::new(); SHAPES.len()];
    for run in 1..=options.runs {
        for (index, shape) in SHAPES.iter().enumerate() {
            let salt = format!("r{run}s{index}");
            let bare = wrk(&baseline.url, &shape.body(), &salt, options).await?;
            let before = replica.metric("likes_acknowledged_total").await?;
            let started = Instant::now();
            let load = wrk(&replica.graphql(), &shape.body(), &salt, options).await?;
            let likes = (replica.metric("likes_acknowledged_total").await? - before)
                / started.elapsed().as_secs_f64();
            let ratio = likes / bare.per_second;
            ratios[index].push(ratio);
            rates[index].push(likes);
            runs.row(vec![
                run.to_string(),
                shape.name.into(),
                count(bare.per_second),
                count(likes),
                ms(load.p99),
                format!("{ratio:.2}"),
            ]);
        }
    }
    runs.print();
    let mut summary = Table::new(
        &format!(
            "Ingestion by document shape, medians (target: the worst ≥ {target:.2} with \
             LIKES_LOG={})",
            options.log
        ),
        &["shape", "likes/s", "likes ÷ baseline", "range"],
    );
    let mut worst = f64::MAX;
    for (index, shape) in SHAPES.iter().enumerate() {
        let (low, high) = ratios[index]
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(*r), h.max(*r)));
        let median = percentile(&mut ratios[index], 50.0);
        worst = worst.min(median);
        summary.row(vec![
            shape.name.into(),
            count(percentile(&mut rates[index], 50.0)),
            format!("{median:.2}"),
            format!("{low:.2}–{high:.2}"),
        ]);
    }
    summary.row(vec![
        "worst shape".into(),
        String::new(),
        format!("{worst:.2} (target ≥ {target:.2})"),
        String::new(),
    ]);
    summary.print();
    let median_rate = percentile(&mut rates[0], 50.0);
    let body = like_body(1, "bench");

    let mut held = Table::new(
        "Ingestion at half the median rate (oha, fixed rate), the bare handler at the same rate",
        &[
            "run",
            "offered/s",
            "likes/s",
            "likes p50",
            "likes p99 (target < 5 ms)",
            "baseline p50",
            "baseline p99",
        ],
    );
    for run in 1..=options.runs {
        let half = oha_at(&replica.graphql(), &body, median_rate / 2.0, options).await?;
        let bare = oha_at(&baseline.url, &body, median_rate / 2.0, options).await?;
        held.row(vec![
            run.to_string(),
            count(median_rate / 2.0),
            count(half.per_second),
            ms(half.p50),
            ms(half.p99),
            ms(bare.p50),
            ms(bare.p99),
        ]);
    }
    held.print();

    let mut socket = Table::new(
        "Ingestion over one WebSocket connection (64 mutations in flight)",
        &["run", "likes/s", "refused: buffer full"],
    );
    for run in 1..=options.runs {
        // Each run starts with an empty buffer, as the HTTP runs do.
        replica.drained().await?;
        let (rate, refused) =
            over_one_websocket(&replica, Duration::from_secs(options.seconds)).await?;
        socket.row(vec![run.to_string(), count(rate), count(refused as f64)]);
    }
    socket.print();

    let stored = replica.drained().await?;
    let refused = replica
        .metrics()
        .await?
        .iter()
        .filter(|(k, _)| k.starts_with("likes_refused_total"))
        .map(|(_, v)| v)
        .sum::<f64>();
    let acknowledged = replica.metric("likes_acknowledged_total").await? - acknowledged_before;
    let mut totals = Table::new("Ingestion: what was stored", &["measure", "value"]);
    totals.row(vec!["likes acknowledged".into(), count(acknowledged)]);
    totals.row(vec![
        "likes stored (metrics, after the buffer drained)".into(),
        count(stored as f64),
    ]);
    totals.row(vec!["likes refused".into(), count(refused)]);
    totals.row(vec![
        "peak RSS of the replica".into(),
        mib(replica.peak_rss_kib()),
    ]);
    totals.row(vec![
        "peak RSS of the bare handler".into(),
        mib(baseline.peak_rss_kib()),
    ]);
    totals.print();
    if stored as f64 != acknowledged || refused > 0.0 {
        bail!("acknowledged {acknowledged}, stored {stored}, refused {refused}");
    }
    replica.stop().await
}

/// The bare handler: this bench binary re-run as `baseline-serve ADDR`.
struct Baseline {
    child: tokio::process::Child,
    url: String,
}

impl Baseline {
    async fn start() -> anyhow::Result<Self> {
        let port = crate::support::free_port();
        let child = Command::new(std::env::current_exe()?)
            .args(["baseline-serve", &format!("127.0.0.1:{port}")])
            .kill_on_drop(true)
            .spawn()?;
        let url = format!("http://127.0.0.1:{port}/graphql");
        let client = reqwest::Client::new();
        for _ in 0..200 {
            let answer = client
                .post(&url)
                .body(like_body(1, "x"))
                .header("content-type", "application/json")
                .send()
                .await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                return Ok(Self { child, url });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the baseline handler did not answer")
    }

    fn peak_rss_kib(&self) -> u64 {
        crate::support::status_kib(self.child.id().unwrap_or(0), "VmHWM:")
    }
}

/// Serves the baseline: parses the same JSON body into the same shape a
/// GraphQL request has, and answers a fixed JSON payload like the service's.
pub async fn baseline_serve(listen: &str) -> anyhow::Result<()> {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        #[serde(default)]
        query: Option<String>,
        #[serde(default)]
        variables: Option<serde_json::Value>,
        #[serde(default, rename = "operationName")]
        operation_name: Option<String>,
    }
    const ANSWER: &str = r#"{"data":{"createLike":{"clientMutationId":null,"like":{"id":"Like:8f6c3f5e-2a51-5b8e-9d3e-1f0c6a7b4d21"}}}}"#;
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(|axum::Json(body): axum::Json<Body>| async move {
            std::hint::black_box(body);
            ([("content-type", "application/json")], ANSWER)
        }),
    );
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// `wrk` POSTing `template` (a new liker in each request, `salt`ed) to `url`.
pub(crate) async fn wrk(
    url: &str,
    template: &str,
    salt: &str,
    options: &Options,
) -> anyhow::Result<Load> {
    let script = wrk_script(template, salt)?;
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{}", options.connections),
            &format!("-d{}s", options.seconds),
            "--latency",
        ])
        .arg("-s")
        .arg(script.path())
        .arg(url)
        .stderr(Stdio::inherit())
        .output()
        .await?;
    let text = String::from_utf8(output.stdout)?;
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        bail!("wrk saw errors:\n{text}");
    }
    let field = |prefix: &str| {
        text.lines()
            .find_map(|line| {
                line.trim()
                    .strip_prefix(prefix)
                    .map(str::trim)
                    .map(str::to_owned)
            })
            .with_context(|| format!("no {prefix:?} in wrk's output:\n{text}"))
    };
    Ok(Load {
        per_second: field("Requests/sec:")?.parse()?,
        p50: wrk_seconds(&field("50%")?)?,
        p99: wrk_seconds(&field("99%")?)?,
    })
}

/// `812.00us`, `1.23ms`, `2.00s` in seconds.
fn wrk_seconds(text: &str) -> anyhow::Result<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else {
        bail!("unknown wrk duration {text:?}")
    };
    Ok(number.parse::<f64>()? * scale)
}

/// `rate` requests/s for the scenario's duration over its connections, from
/// `oha`; fails if any request failed or was not answered 200.
async fn oha_at(url: &str, body: &str, rate: f64, options: &Options) -> anyhow::Result<Load> {
    let output = Command::new("oha")
        .args(["-z", &format!("{}s", options.seconds)])
        // Requests in flight at the end finish rather than count as errors.
        .arg("--wait-ongoing-requests-after-deadline")
        .args(["-c", &options.connections.to_string()])
        .args(["-q", &format!("{rate:.0}")])
        .args(["--no-tui", "--output-format", "json"])
        .args(["-m", "POST", "-T", "application/json", "-d", body, url])
        .stderr(Stdio::inherit())
        .output()
        .await?;
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("oha's JSON report")?;
    let statuses = &report["statusCodeDistribution"];
    let errors = &report["errorDistribution"];
    let only_200 = statuses
        .as_object()
        .is_some_and(|codes| codes.keys().all(|code| code == "200"));
    if !only_200 || errors.as_object().is_none_or(|e| !e.is_empty()) {
        bail!("oha saw failures: statuses {statuses}, errors {errors}");
    }
    let number = |value: &serde_json::Value, what: &str| {
        value
            .as_f64()
            .with_context(|| format!("no {what} in oha's report"))
    };
    Ok(Load {
        per_second: number(&report["summary"]["requestsPerSec"], "requestsPerSec")?,
        p50: number(&report["latencyPercentiles"]["p50"], "p50")?,
        p99: number(&report["latencyPercentiles"]["p99"], "p99")?,
    })
}

/// Mutations over one `graphql-transport-ws` connection, 64 in flight:
/// likes acknowledged per second, and how many were refused because the
/// buffer was full (faster than the store, a refusal is the service's
/// answer, not a failure).
pub(crate) async fn over_one_websocket(
    replica: &Replica,
    duration: Duration,
) -> anyhow::Result<(f64, u64)> {
    const WINDOW: usize = 64;
    const MUTATION: &str = "mutation($i:CreateLikeInput!){createLike(input:$i){like{id}}}";
    let mut socket = ws::connect(&replica.ws()).await?;
    let variables = json!({"i": {"uuid": "bench-ws", "sessionId": 2}});
    let started = Instant::now();
    let (mut sent, mut done, mut refused) = (0u64, 0u64, 0u64);
    while sent < WINDOW as u64 {
        ws::subscribe(&mut socket, &sent.to_string(), MUTATION, variables.clone()).await?;
        sent += 1;
    }
    while let Some(message) = ws::next_json(&mut socket).await? {
        match message["type"].as_str() {
            Some("next") if message["payload"]["errors"].is_null() => {}
            Some("next")
                if message["payload"]["errors"][0]["extensions"]["code"] == "UNAVAILABLE" =>
            {
                refused += 1;
            }
            Some("next") => bail!("a mutation failed: {message}"),
            Some("complete") => {
                done += 1;
                if started.elapsed() < duration {
                    ws::subscribe(&mut socket, &sent.to_string(), MUTATION, variables.clone())
                        .await?;
                    sent += 1;
                } else if done == sent {
                    break;
                }
            }
            _ => {}
        }
    }
    let acknowledged = done - refused;
    Ok((
        acknowledged as f64 / started.elapsed().as_secs_f64(),
        refused,
    ))
}
