//! The CLI: clap definitions in [`args`], behaviour in [`command`], one file per command.
//! `run` maps the outcome to an exit code: 0 success, 1 failure, 2 usage error (clap).

#[macro_use]
mod output;
mod args;
mod command;

use clap::Parser;
use std::process::ExitCode;

/// Parses the arguments, runs the command and maps errors to an exit code.
pub fn run() -> ExitCode {
    let cli = args::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TUNEDESK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let json = cli.json;
    match command::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output::error(&err, json);
            ExitCode::FAILURE
        }
    }
}
