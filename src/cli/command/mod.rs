//! Command behaviour: each function turns parsed arguments into engine calls and output.

mod bench;
mod dataset;
mod evaluate;
mod generate;
mod predict;
mod run;
mod train;

use super::args::{Cli, Command};
use anyhow::Result;
use tunedesk::{paths::DataDir, store::Store};

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let ctx = Context {
        data_dir: DataDir::resolve(cli.data_dir.as_deref()),
        json: cli.json,
    };
    match cli.command {
        Command::Dataset(cmd) => dataset::run(&ctx, cmd),
        Command::Train(args) => train::run(&ctx, *args),
        Command::Run(cmd) => run::run(&ctx, cmd),
        Command::Chart {
            run,
            out,
            confusion,
        } => run::chart(&ctx, &run, &out, confusion),
        Command::Eval(args) => evaluate::eval(&ctx, *args),
        Command::Compare(args) => evaluate::compare(&ctx, args),
        Command::Predict(args) => predict::run(&ctx, args),
        Command::Generate(args) => generate::run(&ctx, args),
        Command::Bench(cmd) => bench::run(cmd),
    }
}

/// What every command needs.
pub struct Context {
    /// Where the database lives.
    pub data_dir: DataDir,
    /// Print JSON.
    pub json: bool,
}

impl Context {
    /// Opens the store in the data directory.
    pub fn store(&self) -> Result<Store> {
        Ok(Store::open(self.data_dir.db_path())?)
    }
}
