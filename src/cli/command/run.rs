//! `tunedesk run list|show|delete|abstain`.

use super::Context;
use crate::cli::args::RunCommand;
use crate::cli::output;
use anyhow::Result;
use tunedesk::adapter::RunDir;
use tunedesk::chart::{loss_title, LossView};
use tunedesk::evaluate::metrics::coverage;

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
            if let Some(device) = tunedesk::train::run::stored_device(&run.config) {
                outln!("device: {device}");
            }
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
        RunCommand::Abstain { name, below, never } => {
            anyhow::ensure!(
                below.is_none_or(|b| (0.0..=1.0).contains(&b)),
                "--below is a confidence between 0 and 1"
            );
            let run = match (below, never) {
                (None, false) => store.run(&name)?,
                (b, _) => store.set_abstain_below(&name, b)?,
            };
            let curve = match store.list_evals(Some(&name))?.into_iter().next() {
                Some(e) => {
                    let pairs: Vec<_> = store
                        .eval_records(e.id)?
                        .into_iter()
                        .map(|r| (r.gold, r.predicted))
                        .collect();
                    Some((e.id, coverage(&pairs)))
                }
                None => None,
            };
            if ctx.json {
                return output::json(&serde_json::json!({"run": run.name,
                    "abstain_below": run.abstain_below, "eval": curve.as_ref().map(|c| c.0),
                    "coverage": curve.as_ref().map(|c| &c.1)}));
            }
            if let Some((id, points)) = &curve {
                outln!("evaluation {id}: answers kept and their accuracy by confidence threshold");
                let rows: Vec<Vec<String>> = points
                    .iter()
                    .map(|p| {
                        vec![
                            format!("{:.2}", p.threshold),
                            output::percent(p.coverage),
                            p.accuracy.map_or("-".into(), output::percent),
                        ]
                    })
                    .collect();
                output::table(&["THRESHOLD", "KEPT", "ACCURACY"], &rows);
            } else {
                outln!(
                    "no evaluation of '{name}' yet: `tunedesk eval --run {name}` draws the curve"
                );
            }
            match run.abstain_below {
                Some(b) => outln!("predict leaves the label empty below confidence {b:.2}"),
                None => outln!("predict never abstains (set a threshold with --below)"),
            }
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
