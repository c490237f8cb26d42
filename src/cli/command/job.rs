//! `tunedesk job export`: a training job handed to a distributed trainer.

use super::Context;
use crate::cli::args::{JobCommand, TrainerArg};
use anyhow::{Context as _, Result};
use tunedesk::handoff::{self, Job, Trainer};
use tunedesk::template::Template;
use tunedesk::train::TrainConfig;

pub fn run(ctx: &Context, cmd: JobCommand) -> Result<()> {
    let JobCommand::Export {
        dataset,
        model,
        from_run,
        target,
        out,
    } = cmd;
    let mut store = ctx.store()?;
    let job = match &from_run {
        Some(name) => {
            let mut job = Job::from_run(&store, name, model)?;
            if let Some(d) = dataset {
                job.dataset = d;
            }
            job
        }
        None => Job {
            dataset: dataset.expect("clap requires --dataset without --from-run"),
            base_model: model
                .context("--model (a Hugging Face repo id) is needed without --from-run")?,
            config: TrainConfig::default(),
            template: Template::default(),
            train_limit: None,
            val_limit: None,
            eos_text: None,
        },
    };
    let trainer = match target {
        TrainerArg::Axolotl => Trainer::Axolotl,
        TrainerArg::LlamaFactory => Trainer::LlamaFactory,
    };
    let written = handoff::write(&mut store, &job, trainer, &out)?;
    if ctx.json {
        println!("{}", serde_json::to_string(&written)?);
    } else {
        outln!(
            "wrote {} for {}: {} training and {} validation rows, {} epochs",
            written.dir.display(),
            trainer.name(),
            written.train_rows,
            written.val_rows,
            written.epochs
        );
        outln!("next: copy it to the GPU machine and read its README.md");
    }
    Ok(())
}
