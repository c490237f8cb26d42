//! Command behaviour: each function turns parsed arguments into engine calls and output.

mod adapter;
mod bench;
mod dataset;
mod evaluate;
mod export;
mod generate;
mod job;
mod models;
mod predict;
mod relabel;
mod run;
mod train;

use super::args::{ChartX, Cli, Command};
use anyhow::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use tunedesk::chart::{LossView, XAxis};
use tunedesk::hub::HubConfig;
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
        Command::Devices => train::devices(&ctx),
        Command::Run(cmd) => run::run(&ctx, cmd),
        Command::Chart {
            run,
            out,
            confusion,
            x,
            log,
        } => {
            let view = LossView {
                x: match x {
                    ChartX::Step => XAxis::Step,
                    ChartX::Epoch => XAxis::Epoch,
                },
                log,
            };
            run::chart(&ctx, &run, &out, confusion, &view)
        }
        Command::Eval(args) => evaluate::eval(&ctx, *args),
        Command::Compare(args) => evaluate::compare(&ctx, args),
        Command::Report { id, out } => evaluate::report(&ctx, id, &out),
        Command::Predict(args) => predict::run(&ctx, args),
        Command::Export(args) => export::run(&ctx, args),
        Command::Adapter(cmd) => adapter::run(&ctx, cmd),
        Command::Job(cmd) => job::run(&ctx, cmd),
        Command::Model(cmd) => models::run(&ctx, cmd),
        Command::Generate(args) => generate::run(&ctx, args),
        Command::Bench(cmd) => bench::run(&ctx, cmd),
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

    /// Hugging Face Hub settings from the environment (`HF_ENDPOINT`, `HF_TOKEN`, `HF_HOME`, …).
    pub fn hub(&self) -> HubConfig {
        HubConfig::from_env(None)
    }
}

/// The flag Ctrl-C sets (the handler is installed once per process): long operations stop at
/// their next safe point; a second Ctrl-C quits at once.
pub fn cancel_flag() -> Result<Arc<AtomicBool>> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    if let Some(f) = FLAG.get() {
        return Ok(Arc::clone(f));
    }
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = Arc::clone(&flag);
    ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
        eprintln!("\ncancelling (work done so far is kept); press Ctrl-C again to quit now");
    })?;
    Ok(Arc::clone(FLAG.get_or_init(|| flag)))
}
