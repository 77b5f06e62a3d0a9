//! `cargo bench --bench scenarios -- SCENARIO`: runs the service's
//! performance scenarios against the optimised `likes` binary, each replica
//! in its own process beside the load, and prints Markdown tables for
//! BENCHMARKS.md. Targets are printed beside the figures; a scenario fails
//! only when likes are lost or miscounted, never on speed.

mod acks;
mod broadcast;
mod cost;
mod documents;
mod e2e;
#[path = "../../tests/common/emulator.rs"]
mod emulator;
mod fanout;
mod flushrate;
mod ingest;
mod load;
mod loopback;
mod scale;
mod scale_model;
mod scale_run;
mod shapes;
mod sse;
mod support;
mod sustained;
mod timeline;
mod ws;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "The likes service's benchmark scenarios")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true, global = true)]
    bench: bool,
}

#[derive(Subcommand)]
enum Scenario {
    /// 1: createLike over HTTP in every document shape against a bare axum
    /// handler, latency at half the rate, and likes/s over one WebSocket.
    Ingest(ingest::Options),
    /// 1b: what a first-seen document costs, and a flood of new documents
    /// beside a client's own.
    Documents(documents::Options),
    /// 2: WebSocket subscribers on one replica: memory when idle, publish →
    /// receive latency under likes on every talk every second.
    Fanout(fanout::Options),
    /// 2b: the service's fan-out over server-sent events against
    /// WebSockets in the same run: memory per idle subscriber, p99 ratio.
    FanoutSse(fanout::Options),
    /// 3: like on replica A → event on replica B, per store and interval.
    E2e(e2e::Options),
    /// 4: a fixed rate offered to one replica on SQLite; buffer and storage.
    Sustained(sustained::Options),
    /// 4, on the Spanner emulator: the service's flush against the bare
    /// client committing the same rows in the same batch sizes.
    FlushRate(flushrate::Options),
    /// 5: store writes and reads per second against talks, likes, subscribers.
    Cost(cost::Options),
    /// 6: `--ack stored` against `--ack buffered`: likes/s over HTTP and one
    /// WebSocket, latency and store writes at fixed rates, per linger.
    Acks(acks::Options),
    /// 7: a timeline query's latency, and store reads with 1,000 clients
    /// asking for timelines every second.
    Timeline(timeline::Options),
    /// 8: 1 to 8 replicas on one store under a fixed load: store calls,
    /// mutations, CPU, memory and latency beside the capacity model's.
    Scale(scale::Options),
    /// Every scenario in turn, with its defaults.
    All,
    /// The bare axum handler of scenario 1's baseline (run by `ingest`).
    #[command(hide = true)]
    BaselineServe { listen: String },
    /// The bare WebSocket broadcaster of scenario 2's baseline (run by `fanout`).
    #[command(hide = true)]
    BaselineBroadcast { listen: String },
    /// The raw loopback writer of scenario 2's floor (run by `fanout`).
    #[command(hide = true)]
    BaselineLoopback {
        listen: String,
        #[arg(long)]
        connections: usize,
        #[arg(long)]
        talks: usize,
        #[arg(long)]
        seconds: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scenarios = match Cli::parse().scenario {
        Scenario::All => [
            "ingest",
            "documents",
            "fanout",
            "fanout-sse",
            "e2e",
            "sustained",
            "flush-rate",
            "cost",
            "acks",
            "timeline",
            "scale",
        ]
        .map(|name| Cli::parse_from(["scenarios", name]).scenario)
        .into(),
        one => vec![one],
    };
    for scenario in scenarios {
        run(scenario).await?;
    }
    Ok(())
}

async fn run(scenario: Scenario) -> anyhow::Result<()> {
    match scenario {
        Scenario::Ingest(options) => ingest::run(&options).await,
        Scenario::Documents(options) => documents::run(&options).await,
        Scenario::Fanout(options) => fanout::run(&options).await,
        Scenario::FanoutSse(options) => fanout::run_sse(&options).await,
        Scenario::E2e(options) => e2e::run(&options).await,
        Scenario::Sustained(options) => sustained::run(&options).await,
        Scenario::FlushRate(options) => flushrate::run(&options).await,
        Scenario::Cost(options) => cost::run(&options).await,
        Scenario::Acks(options) => acks::run(&options).await,
        Scenario::Timeline(options) => timeline::run(&options).await,
        Scenario::Scale(options) => scale::run(&options).await,
        Scenario::BaselineServe { listen } => ingest::baseline_serve(&listen).await,
        Scenario::BaselineBroadcast { listen } => broadcast::serve(&listen).await,
        Scenario::BaselineLoopback {
            listen,
            connections,
            talks,
            seconds,
        } => loopback::serve(&listen, connections, talks, seconds),
        Scenario::All => anyhow::bail!("`all` is a list of scenarios, not one"),
    }
}
