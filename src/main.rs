//! The `likes` binary: parses the command line, sets up logging (and trace
//! export), runs.

use clap::Parser;
use clap::error::ErrorKind;
use likes::{App, Cli, Command};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => match error.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => error.exit(),
            _ => {
                let text = error.to_string();
                let line = text.lines().next().unwrap_or_default();
                eprintln!("likes: {}", line.trim_start_matches("error: "));
                return ExitCode::from(2);
            }
        },
    };
    let _traces = match likes::logging::init(cli.log_format, cli.otlp_endpoint.as_deref()) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("likes: --otlp-endpoint: {error:#}");
            return ExitCode::from(2);
        }
    };

    match cli.command {
        Command::Serve(args) => {
            let config = match args.into_config() {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("likes: {error}");
                    return ExitCode::from(2);
                }
            };
            match serve(config).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!("{error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Migrate(args) => match likes::store::migrate(&args.store.url).await {
            Ok(migrated) => {
                println!("{}: {migrated}", args.store.url);
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("likes: migrating {}: {error}", args.store.url);
                ExitCode::FAILURE
            }
        },
        Command::Export(args) => export(args).await,
        Command::Schema => {
            print!("{}", likes::graphql::sdl());
            ExitCode::SUCCESS
        }
    }
}

/// `likes export`: a bad range exits 2, any other failure 1.
async fn export(args: likes::cli::ExportArgs) -> ExitCode {
    let config = match args.into_config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("likes: {error}");
            return ExitCode::from(2);
        }
    };
    match likes::export::run(&config).await {
        Ok(written) => {
            println!("{}", written.summary(&config.out));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("likes: export: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: likes::Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    app.run(shutdown_signal()).await
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C received"),
        _ = terminate => tracing::info!("SIGTERM received"),
    }
}
