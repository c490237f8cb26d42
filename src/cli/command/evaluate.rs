//! `tunedesk eval` and `tunedesk compare`.

use super::models::resolve_model;
use super::predict::ticket_bar;
use super::Context;
use crate::cli::args::{CompareArgs, EvalArgs, EvalOptions, SplitArg};
use anyhow::Result;
use tunedesk::dataset::Split;
use tunedesk::evaluate::metrics::render_table;
use tunedesk::evaluate::run::{evaluate, EvalRequest, SplitChoice, Target};
use tunedesk::predict::from_run::Checkpoint;
use tunedesk::store::{EvalInfo, EvalSpec};

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

/// One line naming what was evaluated.
fn describe(e: &EvalSpec) -> String {
    let what = match (&e.run, e.shots) {
        (Some(run), _) => format!(
            "run '{run}' (checkpoint {})",
            e.checkpoint.as_deref().unwrap_or("?")
        ),
        (None, Some(k)) => format!("{k}-shot base model {}", e.model),
        (None, None) => format!("base model {}", e.model),
    };
    format!(
        "{what} on {} ({}{}), {} decoding, {} products",
        e.dataset,
        e.split,
        e.limit.map(|n| format!(", {n} rows")).unwrap_or_default(),
        if e.constrained { "constrained" } else { "free" },
        if e.int8 { "int8" } else { "f32" }
    )
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
    let store = ctx.store()?;
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
    let mut columns = vec![("fine-tuned".to_string(), tuned.clone())];
    for &k in &args.baseline_shots {
        let spec = EvalSpec {
            run: None,
            checkpoint: None,
            shots: Some(k as u32),
            ..tuned.spec.clone()
        };
        let base = match store.find_eval(&spec)? {
            Some(e) => e,
            None => {
                let split = match tuned.spec.split.as_str() {
                    "all" => SplitChoice::All,
                    s => SplitChoice::Only(Split::parse(s).unwrap_or(Split::Test)),
                };
                let target = Target::Base {
                    model: run.model.clone().into(),
                    shots: k,
                    shots_from: Some(run.dataset.clone()),
                };
                let mut opts = request(target, spec.dataset.clone(), split, &args.opts);
                opts.limit = tuned.spec.limit;
                opts.options.constrained = tuned.spec.constrained;
                run_eval(ctx, &opts)?
            }
        };
        columns.push((format!("{k}-shot base"), base));
    }
    let best_base = columns[1..]
        .iter()
        .max_by(|a, b| a.1.metrics.macro_f1.total_cmp(&b.1.metrics.macro_f1));
    let verdict = best_base.map(|(name, b)| {
        let mut parts = vec![
            format!(
                "{:+.1} pts accuracy",
                100.0 * (tuned.metrics.accuracy - b.metrics.accuracy)
            ),
            format!(
                "{:+.1} pts macro-F1",
                100.0 * (tuned.metrics.macro_f1 - b.metrics.macro_f1)
            ),
        ];
        if let (Some(t), Some(f)) = (&tuned.metrics.fields, &b.metrics.fields) {
            parts.push(format!(
                "{:+.1} pts field F1",
                100.0 * (t.micro_f1 - f.micro_f1)
            ));
        }
        format!("fine-tuning: {} over {name}", parts.join(", "))
    });
    if ctx.json {
        let cols: Vec<_> = columns
            .iter()
            .map(|(n, e)| serde_json::json!({"name": n, "eval": e}))
            .collect();
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({"columns": cols, "verdict": verdict}))?
        );
        return Ok(());
    }
    outln!("{}", describe(&tuned.spec));
    out!("{:<20}", "");
    for (name, _) in &columns {
        out!("{name:>16}");
    }
    outln!();
    for (i, (metric, _)) in rows(&tuned).iter().enumerate() {
        out!("{metric:<20}");
        for (_, e) in &columns {
            match rows(e)[i].1 {
                Some(v) => out!("{:>15.1}%", 100.0 * v),
                None => out!("{:>16}", "-"),
            }
        }
        outln!();
    }
    if let Some(v) = verdict {
        outln!("\n{v}");
    }
    Ok(())
}
