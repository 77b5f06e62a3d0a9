//! `cargo bench --bench scenarios -- SCENARIO`: runs the service's
//! performance scenarios against the optimised `likes` binary, each replica
//! in its own process beside the load, and prints Markdown tables for
//! BENCHMARKS.md. Targets are printed beside the figures; a scenario fails
//! only when likes are lost or miscounted, never on speed.

mod broadcast;
mod cost;
mod e2e;
#[path = "../../tests/common/emulator.rs"]
mod emulator;
mod fanout;
mod flushrate;
mod ingest;
mod load;
mod support;
mod sustained;
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
    /// 1: createLike over HTTP against a bare axum handler, latency at half
    /// the rate, and likes/s over one WebSocket.
    Ingest {
        /// Runs of each measurement (the table shows each and the median).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Connections the load tools keep open.
        #[arg(long, default_value_t = 64)]
        connections: usize,
    },
    /// 2: WebSocket subscribers on one replica: memory when idle, publish →
    /// receive latency under likes on every talk every second.
    Fanout {
        #[arg(long, default_value_t = 20_000)]
        subscribers: usize,
        /// Seconds of likes.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Likes per talk per second.
        #[arg(long, default_value_t = 5)]
        likes_per_talk: usize,
    },
    /// 3: like on replica A → event on replica B, per store and interval.
    E2e {
        /// Seconds of likes per setting.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Likes per second.
        #[arg(long, default_value_t = 20)]
        rate: u64,
        /// Stores: sqlite, spanner (the emulator, started by the bench).
        #[arg(long, value_delimiter = ',', default_value = "sqlite,spanner")]
        stores: Vec<String>,
        /// Flush and observe intervals to try (both set to each).
        #[arg(long, value_delimiter = ',', default_value = "1s,500ms,250ms,100ms")]
        intervals: Vec<String>,
    },
    /// 4: a fixed rate offered to one replica on SQLite; buffer and storage.
    Sustained {
        #[arg(long, default_value_t = 50_000)]
        rate: u64,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Aliased likes per mutation document.
        #[arg(long, default_value_t = 25)]
        per_request: usize,
        #[arg(long, default_value_t = 32)]
        connections: usize,
    },
    /// 4, on the Spanner emulator: the service's flush against the bare
    /// client committing the same rows in the same batch sizes.
    FlushRate {
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Batches per round, each flushed (and committed bare) in turn.
        #[arg(long, default_value_t = 4)]
        batches: usize,
        /// Likes per batch (a replica's flush takes up to 10,000 at once).
        #[arg(long, default_value_t = 5_000)]
        batch: usize,
    },
    /// 5: store writes and reads per second against talks, likes, subscribers.
    Cost {
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Every scenario in turn, with its defaults.
    All,
    /// The bare axum handler of scenario 1's baseline (run by `ingest`).
    #[command(hide = true)]
    BaselineServe { listen: String },
    /// The bare WebSocket broadcaster of scenario 2's baseline (run by `fanout`).
    #[command(hide = true)]
    BaselineBroadcast { listen: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scenarios = match Cli::parse().scenario {
        Scenario::All => ["ingest", "fanout", "e2e", "sustained", "flush-rate", "cost"]
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
        Scenario::Ingest {
            runs,
            seconds,
            connections,
        } => {
            ingest::run(&ingest::Options {
                runs,
                seconds,
                connections,
            })
            .await
        }
        Scenario::Fanout {
            subscribers,
            seconds,
            likes_per_talk,
        } => {
            fanout::run(&fanout::Options {
                subscribers,
                seconds,
                likes_per_talk,
            })
            .await
        }
        Scenario::E2e {
            seconds,
            rate,
            stores,
            intervals,
        } => {
            e2e::run(&e2e::Options {
                seconds,
                rate,
                stores,
                intervals,
            })
            .await
        }
        Scenario::Sustained {
            rate,
            seconds,
            per_request,
            connections,
        } => {
            sustained::run(&sustained::Options {
                rate,
                seconds,
                per_request,
                connections,
            })
            .await
        }
        Scenario::FlushRate {
            rounds,
            batches,
            batch,
        } => {
            flushrate::run(&flushrate::Options {
                rounds,
                batches,
                batch,
            })
            .await
        }
        Scenario::Cost { seconds } => cost::run(&cost::Options { seconds }).await,
        Scenario::BaselineServe { listen } => ingest::baseline_serve(&listen).await,
        Scenario::BaselineBroadcast { listen } => broadcast::serve(&listen).await,
        Scenario::All => anyhow::bail!("`all` is a list of scenarios, not one"),
    }
}
