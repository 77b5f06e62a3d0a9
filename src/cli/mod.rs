//! The command line: `likes serve`, `migrate`, `export` and `schema`, and
//! their flags, each with a `LIKES_*` environment fallback (clap), turned
//! into the validated settings of `crate::config`. Nothing here starts
//! anything.

mod export;
mod serve;
mod validate;

pub use export::ExportArgs;
pub use serve::ServeArgs;

use crate::config::{Ack, LogFormat};
use crate::store::StoreUrl;
use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// `likes`: a realtime like counter for conference talks.
#[derive(Debug, Parser)]
#[command(name = "likes", version, about)]
pub struct Cli {
    /// Log lines as text for people, or as JSON objects, one per line, for
    /// log collectors (Cloud Logging reads `severity`-less JSON too).
    #[arg(
        long,
        global = true,
        value_name = "FORMAT",
        env = "LIKES_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Send every span (requests, flushes, observer reads) to this
    /// OpenTelemetry collector over OTLP/HTTP, e.g. `http://otel-collector:4318`
    /// (`/v1/traces` is added). Off when unset. The standard `OTEL_*`
    /// variables (service name, resource attributes, sampler) apply.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "OTEL_EXPORTER_OTLP_ENDPOINT"
    )]
    pub otlp_endpoint: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The `--log-format` values, with their help.
impl ValueEnum for LogFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[Self::Text, Self::Json]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Self::Text => PossibleValue::new("text").help("Human-readable lines"),
            Self::Json => PossibleValue::new("json")
                .help("One JSON object per line, with the span fields (such as `request_id`)"),
        })
    }
}

/// The `--ack` values, with their help.
impl ValueEnum for Ack {
    fn value_variants<'a>() -> &'a [Self] {
        &[Self::Stored, Self::Buffered]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Self::Stored => PossibleValue::new("stored")
                .help("Answer once the like is committed to the store: a crash loses nothing acknowledged"),
            Self::Buffered => PossibleValue::new("buffered").help(
                "Answer once the like is in memory: a crash loses what was acknowledged since the last flush",
            ),
        })
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the GraphQL service.
    Serve(Box<ServeArgs>),
    /// Create the store's schema, or add what it lacks, then exit. Cloud
    /// Spanner: creates the database if missing (and, on the emulator, the
    /// instance). Safe to run again and from several replicas at once.
    Migrate(MigrateArgs),
    /// Write every like stored in a time range as BigQuery newline-delimited
    /// JSON, one file per UTC day, plus schema.json. Safe to re-run: the same
    /// range gives the same files, each written in full or not at all.
    Export(ExportArgs),
    /// Print the GraphQL schema the service serves, in GraphQL's schema
    /// language (as GraphiQL gets it from /graphiql/schema.graphql).
    Schema,
}

/// The `--store` flag, shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct StoreArg {
    /// Where likes are stored: sqlite://PATH or spanner://projects/P/instances/I/databases/D.
    #[arg(
        long = "store",
        value_name = "URL",
        env = "LIKES_STORE",
        default_value = "sqlite://likes.db"
    )]
    pub url: StoreUrl,
}

/// Flags of `likes migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// The store to migrate.
    #[command(flatten)]
    pub store: StoreArg,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent_and_reads_the_log_format() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["likes", "migrate", "--log-format", "json"]).unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        assert!(Cli::try_parse_from(["likes", "migrate", "--log-format", "xml"]).is_err());
    }
}
