//! `tunedesk train`: start or resume a run, with a progress bar or JSON event lines; Ctrl-C
//! cancels cleanly after saving a checkpoint.

use super::models::resolve_model;
use super::{cancel_flag, Context};
use crate::cli::args::TrainArgs;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use tunedesk::adapter::RunDir;
use tunedesk::model::lora::LoraConfig;
use tunedesk::model::{device, DeviceChoice};
use tunedesk::template::Template;
use tunedesk::train::run::{self as train_run, RunSpec};
use tunedesk::train::{TrainConfig, TrainEvent};

fn spec(args: &TrainArgs, model: std::path::PathBuf, device: DeviceChoice) -> RunSpec {
    RunSpec {
        dataset: args.dataset.clone().unwrap_or_default(),
        model,
        train_limit: args.train_limit,
        val_limit: Some(args.val_limit),
        device,
        config: TrainConfig {
            epochs: args.epochs,
            lr: args.lr,
            batch_size: args.batch_size,
            grad_accum: args.grad_accum,
            weight_decay: args.weight_decay,
            warmup_ratio: args.warmup_ratio,
            scheduler: args.scheduler.into(),
            lora: LoraConfig {
                rank: args.lora_rank,
                alpha: args.lora_alpha,
                dropout: args.lora_dropout,
                target_modules: args.target_modules.clone(),
            },
            max_len: args.max_len,
            eval_every: args.eval_every,
            patience: (args.patience > 0).then_some(args.patience),
            select_by: args.select_by,
            score_rows: args.score_rows,
            max_steps: args.max_steps,
            seed: args.seed,
            shared_head: !args.no_shared_head,
        },
    }
}

/// Draws a progress bar from training events.
struct Progress {
    bar: ProgressBar,
    val: Option<f64>,
}

impl Progress {
    fn new() -> Progress {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .expect("valid template"),
        );
        Progress { bar, val: None }
    }

    fn event(&mut self, e: &TrainEvent) {
        match e {
            TrainEvent::Started {
                epochs,
                total_steps,
                truncated,
                ..
            } => {
                self.bar.set_length(*total_steps as u64);
                self.bar
                    .println(format!("{epochs} epochs, {total_steps} optimizer steps"));
                if *truncated > 0 {
                    self.bar.println(format!(
                        "note: {truncated} examples were cut to fit --max-len"
                    ));
                }
            }
            TrainEvent::Step {
                step,
                epoch,
                loss,
                tokens_per_s,
                ..
            } => {
                self.bar.set_prefix(format!("epoch {}", epoch + 1));
                self.bar.set_position(*step as u64);
                let val = self.val.map(|v| format!(" val {v:.4}")).unwrap_or_default();
                self.bar
                    .set_message(format!("loss {loss:.4}{val} {tokens_per_s:.0} tok/s"));
            }
            TrainEvent::Eval {
                step,
                val_loss,
                scores,
                best,
            } => {
                self.val = Some(*val_loss);
                self.bar.println(format!(
                    "step {step}: validation loss {val_loss:.4}{}{}",
                    scores.map(|s| format!(", {s}")).unwrap_or_default(),
                    if *best { " (best)" } else { "" }
                ));
            }
            TrainEvent::Warning { message, .. } => self.bar.println(format!("warning: {message}")),
            TrainEvent::Finished { .. } => self.bar.finish_and_clear(),
        }
    }
}

/// `tunedesk devices`: what this build can train on here, the default first.
pub fn devices(ctx: &Context) -> Result<()> {
    let all = device::available();
    if ctx.json {
        return crate::cli::output::json(&all);
    }
    for d in all {
        let memory = d
            .memory_bytes
            .map(|b| format!(", {}", indicatif::HumanBytes(b)));
        outln!("{:<8} {}{}", d.id, d.name, memory.unwrap_or_default());
    }
    Ok(())
}

pub fn run(ctx: &Context, args: TrainArgs) -> Result<()> {
    let cancel = cancel_flag()?;
    let model = match &args.model {
        Some(m) if args.resume.is_none() => resolve_model(ctx, m)?,
        _ => Default::default(),
    };
    let mut store = ctx.store()?;
    let mut progress = (!ctx.json).then(Progress::new);
    let device = args.device.unwrap_or_else(device::preferred);
    let json = ctx.json;
    let mut on_event = |e: &TrainEvent| {
        if json {
            println!("{}", serde_json::to_string(e).expect("events serialize"));
        } else if let Some(p) = progress.as_mut() {
            if matches!(e, TrainEvent::Started { .. }) && args.resume.is_none() {
                p.bar.println(format!("training on {device}"));
            }
            p.event(e);
        }
    };
    let run = match &args.resume {
        Some(name) => train_run::resume(&mut store, &ctx.data_dir, name, &cancel, &mut on_event)?,
        None => {
            let name = args.name.clone().unwrap_or_default();
            train_run::start(
                &mut store,
                &ctx.data_dir,
                &name,
                &spec(&args, model, device),
                &Template {
                    field_order: args.field_order.into(),
                    ..Template::default()
                },
                &cancel,
                &mut on_event,
            )?
        }
    };
    if json {
        println!(
            "{}",
            serde_json::json!({"event": "run", "name": run.name, "status": run.status, "steps": run.steps, "best_step": run.best_step})
        );
    } else {
        outln!(
            "run '{}' {} after {} steps; best checkpoint at step {}",
            run.name,
            run.status.as_str(),
            run.steps,
            run.best_step.map_or("-".into(), |s| s.to_string())
        );
        outln!(
            "checkpoints in {}",
            RunDir::new(&ctx.data_dir, &run.name).path().display()
        );
    }
    Ok(())
}
