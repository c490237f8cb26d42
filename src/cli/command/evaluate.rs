//! `tunedesk eval` and `tunedesk compare`.

use super::models::resolve_model;
use super::predict::ticket_bar;
use super::Context;
use crate::cli::args::{CompareArgs, EvalArgs, EvalOptions, SplitArg};
use crate::cli::output;
use anyhow::Result;
use tunedesk::dataset::Split;
use tunedesk::evaluate::compare::{self, Comparison};
use tunedesk::evaluate::metrics::render_table;
use tunedesk::evaluate::report::{self, describe};
use tunedesk::evaluate::run::{evaluate, EvalRequest, SplitChoice, Target};
use tunedesk::predict::from_run::Checkpoint;
use tunedesk::store::EvalInfo;

fn split(arg: SplitArg) -> SplitChoice {
    match arg {
        SplitArg::Test => SplitChoice::Only(Split::Test),
        SplitArg::Val => SplitChoice::Only(Split::Val),
        SplitArg::All => SplitChoice::All,
    }
}

fn request(target: Target, dataset: String, split: SplitChoice, o: &EvalOptions) -> EvalRequest {
    EvalRequest {
        target,
        dataset,
        split,
        limit: o.limit,
        options: o.decode.options(),
        seed: o.seed,
    }
}

/// Runs `req` with a progress bar.
fn run_eval(ctx: &Context, req: &EvalRequest) -> Result<EvalInfo> {
    let mut store = ctx.store()?;
    let bar = ticket_bar(ctx.json);
    let info = evaluate(&mut store, &ctx.data_dir, req, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    Ok(info)
}

pub fn eval(ctx: &Context, args: EvalArgs) -> Result<()> {
    let target = match (&args.run, &args.model) {
        (Some(name), _) => Target::Run {
            name: name.clone(),
            checkpoint: args.checkpoint.checkpoint,
        },
        (None, Some(model)) => Target::Base {
            model: resolve_model(ctx, model)?,
            shots: args.shots.unwrap_or(0),
            shots_from: args.shots_from.clone(),
        },
        (None, None) => unreachable!("clap requires --run or --model"),
    };
    let req = request(target, args.dataset.clone(), split(args.split), &args.opts);
    let info = run_eval(ctx, &req)?;
    if ctx.json {
        let store = ctx.store()?;
        let records = store.eval_records(info.id)?;
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({"eval": info, "records": records}))?
        );
        return Ok(());
    }
    outln!("{}", describe(&info.spec));
    outln!(
        "{} tickets in {:.1} s ({:.1} tickets/s); stored as evaluation #{}",
        info.metrics.examples,
        info.seconds,
        info.metrics.examples as f64 / info.seconds.max(1e-9),
        info.id
    );
    outln!();
    out!("{}", render_table(&info.metrics));
    Ok(())
}

/// A metric row of the comparison: name and value (None when not applicable).
fn rows(e: &EvalInfo) -> Vec<(&'static str, Option<f64>)> {
    let m = &e.metrics;
    let f = m.fields.as_ref();
    vec![
        ("accuracy", Some(m.accuracy)),
        ("macro-F1", Some(m.macro_f1)),
        ("field micro-F1", f.map(|f| f.micro_f1)),
        ("field exact match", f.map(|f| f.exact_match)),
        ("sentence accuracy", f.map(|_| m.sentence_accuracy)),
        ("unparseable", Some(m.unparseable_rate)),
    ]
}

pub fn compare(ctx: &Context, args: CompareArgs) -> Result<()> {
    let mut store = ctx.store()?;
    let run = store.run(&args.run)?;
    let tuned = match store.list_evals(Some(&args.run))?.into_iter().next() {
        Some(e) => e,
        None => {
            let dataset = args.dataset.clone().unwrap_or(run.dataset.clone());
            let target = Target::Run {
                name: args.run.clone(),
                checkpoint: Checkpoint::Best,
            };
            run_eval(
                ctx,
                &request(target, dataset, split(args.split), &args.opts),
            )?
        }
    };
    let bar = ticket_bar(ctx.json);
    let Comparison {
        columns,
        verdict,
        skipped,
    } = compare::compare(
        &mut store,
        &ctx.data_dir,
        &tuned,
        &args.baseline_shots,
        &args.opts.decode.options(),
        args.opts.seed,
        &mut |_, done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    if ctx.json {
        return output::json(
            &serde_json::json!({"columns": columns, "verdict": verdict, "skipped": skipped}),
        );
    }
    outln!("{}", describe(&tuned.spec));
    out!("{:<20}", "");
    for c in &columns {
        out!("{:>16}", c.name);
    }
    outln!();
    for (i, (metric, _)) in rows(&tuned).iter().enumerate() {
        out!("{metric:<20}");
        for c in &columns {
            match rows(&c.eval)[i].1 {
                Some(v) => out!("{:>15.1}%", 100.0 * v),
                None => out!("{:>16}", "-"),
            }
        }
        outln!();
    }
    out!("{:<20}", "seconds per ticket");
    for c in &columns {
        out!(
            "{:>16.3}",
            c.eval.seconds / c.eval.metrics.examples.max(1) as f64
        );
    }
    outln!();
    for s in &skipped {
        outln!("left out: {s}");
    }
    if let Some(v) = verdict {
        outln!("\nfine-tuned − {} (95 % bootstrap interval):", v.against);
        for d in &v.differences {
            outln!(
                "  {:<10} {:+.1} pts ({:+.1} to {:+.1})",
                d.metric,
                100.0 * d.value,
                100.0 * d.low,
                100.0 * d.high
            );
        }
        outln!("{}", v.sentence);
    }
    Ok(())
}

pub fn report(ctx: &Context, id: i64, out: &std::path::Path) -> Result<()> {
    report::export(&ctx.store()?, id, out)?;
    if ctx.json {
        return output::json(&serde_json::json!({"eval": id, "out": out}));
    }
    outln!("wrote evaluation {id} to {}", out.display());
    Ok(())
}
