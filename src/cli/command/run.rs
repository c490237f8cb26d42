//! `tunedesk run list|show|delete`.

use super::Context;
use crate::cli::args::RunCommand;
use crate::cli::output;
use anyhow::Result;
use tunedesk::adapter::RunDir;
use tunedesk::chart::{loss_title, LossView};

pub fn run(ctx: &Context, cmd: RunCommand) -> Result<()> {
    let mut store = ctx.store()?;
    match cmd {
        RunCommand::List => {
            let runs = store.list_runs()?;
            if ctx.json {
                return output::json(&runs);
            }
            let rows: Vec<Vec<String>> = runs
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.status.as_str().to_string(),
                        r.dataset.clone(),
                        r.steps.to_string(),
                        r.best_step.map_or("-".into(), |s| s.to_string()),
                        r.model.clone(),
                    ]
                })
                .collect();
            output::table(
                &["NAME", "STATUS", "DATASET", "STEPS", "BEST", "MODEL"],
                &rows,
            );
        }
        RunCommand::Show { name } => {
            let run = store.run(&name)?;
            let metrics = store.run_metrics(&run)?;
            let kept = RunDir::new(&ctx.data_dir, &run.name).kept_steps();
            if ctx.json {
                return output::json(
                    &serde_json::json!({"run": run, "metrics": metrics, "checkpoint_steps": kept}),
                );
            }
            outln!(
                "{} — {}, dataset '{}', model {}",
                run.name,
                run.status.as_str(),
                run.dataset,
                run.model
            );
            outln!("config: {}", run.config["config"]);
            outln!("template: {}", run.template);
            if let Some(err) = &run.error {
                outln!("error: {err}");
            }
            if let (Some(first), Some(last)) = (metrics.steps.first(), metrics.steps.last()) {
                outln!(
                    "train loss: {:.4} (step {}) → {:.4} (step {})",
                    first.loss,
                    first.step,
                    last.loss,
                    last.step
                );
            }
            for e in &metrics.evals {
                let best = if Some(e.step) == run.best_step {
                    " (best)"
                } else {
                    ""
                };
                let scores = e.scores.map(|s| format!(", {s}")).unwrap_or_default();
                outln!(
                    "  step {:>5}: validation loss {:.4}{scores}{best}",
                    e.step,
                    e.val_loss
                );
            }
            for (step, w) in &metrics.warnings {
                outln!("warning at step {step}: {w}");
            }
            if !kept.is_empty() {
                let steps: Vec<String> = kept.iter().map(|s| s.to_string()).collect();
                outln!("checkpoints: best, last, steps {}", steps.join(", "));
            }
        }
        RunCommand::Delete { name } => {
            let run = tunedesk::train::run::delete(&mut store, &ctx.data_dir, &name)?;
            if ctx.json {
                return output::json(&serde_json::json!({"deleted": run.name}));
            }
            outln!("deleted run '{}'", run.name);
        }
    }
    Ok(())
}

/// `tunedesk chart RUN --out FILE`.
pub fn chart(
    ctx: &Context,
    name: &str,
    out: &std::path::Path,
    confusion: bool,
    view: &LossView,
) -> Result<()> {
    let store = ctx.store()?;
    let run = store.run(name)?;
    if confusion {
        let Some(eval) = store.list_evals(Some(name))?.into_iter().next() else {
            anyhow::bail!("run '{name}' has no evaluation yet: run `tunedesk eval --run {name} --dataset …` first");
        };
        let rows = eval.metrics.examples;
        let title = format!(
            "{} on {} ({}, {rows} rows)",
            run.name, eval.spec.dataset, eval.spec.split
        );
        tunedesk::chart::confusion_chart(&eval.metrics.confusion, &title, out)?;
    } else {
        let metrics = store.run_metrics(&run)?;
        let title = loss_title(&run.name, &run.model, &run.dataset);
        tunedesk::chart::loss_chart(&title, &metrics, run.best_step, view, out)?;
    }
    if ctx.json {
        return output::json(&serde_json::json!({"run": run.name, "out": out}));
    }
    outln!("wrote {}", out.display());
    Ok(())
}
