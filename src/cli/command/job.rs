//! `tunedesk job export`: a training job handed to a distributed trainer.

use super::Context;
use crate::cli::args::{JobCommand, TrainerArg};
use anyhow::{Context as _, Result};
use tunedesk::handoff::{self, Job, Trainer};
use tunedesk::model::config_and_tokenizer;
use tunedesk::paths::model_label;
use tunedesk::template::Template;
use tunedesk::train::run::RunSpec;
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
            let run = store.run(name)?;
            let spec: RunSpec = serde_json::from_value(run.config.clone())
                .with_context(|| format!("run '{name}': its stored settings are unreadable"))?;
            let template: Template = serde_json::from_value(run.template.clone())
                .with_context(|| format!("run '{name}': its template is unreadable"))?;
            let hub_id = model_label(&spec.model.display().to_string());
            let base_model = match model {
                Some(m) => m,
                None if hub_id.contains('/') => hub_id,
                None => anyhow::bail!(
                    "run '{name}' trained on {}, not a Hugging Face model: say with --model \
                     which repo id the GPU machine should load",
                    spec.model.display()
                ),
            };
            // The end-of-sequence token as text, from the base model on this machine.
            let (config, tokenizer) = config_and_tokenizer(&spec.model)?;
            let eos_text = config
                .eos_token_ids
                .first()
                .and_then(|&id| tokenizer.token(id));
            Job {
                dataset: dataset.unwrap_or(spec.dataset),
                base_model,
                config: spec.config,
                template,
                train_limit: spec.train_limit,
                val_limit: spec.val_limit,
                eos_text,
            }
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
