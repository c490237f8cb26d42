//! `tunedesk predict`: one ticket, or a CSV file of tickets, through a fine-tuned run.

use super::Context;
use crate::cli::args::PredictArgs;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::AtomicBool;
use tunedesk::evaluate::trial::Playground;
use tunedesk::predict::table::{predict_with_run, TableJob};

/// A progress bar over `total` tickets (hidden with `--json`).
pub fn ticket_bar(json: bool) -> ProgressBar {
    if json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("[{bar:30}] {pos}/{len} tickets {per_sec} ETA {eta}")
            .expect("valid template"),
    );
    bar
}

pub fn run(ctx: &Context, args: PredictArgs) -> Result<()> {
    if let Some(text) = &args.text {
        return try_ticket(ctx, &args, text);
    }
    let mut store = ctx.store()?;
    let job = TableJob {
        input: args.input.clone().expect("clap requires --input"),
        text_columns: args.text_col.clone(),
        output: args.output.clone().expect("clap requires --output"),
        abstain_below: args.abstain_below,
    };
    let bar = ticket_bar(ctx.json);
    let mut progress = |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let summary = predict_with_run(
        &mut store,
        &ctx.data_dir,
        &args.run,
        args.checkpoint.checkpoint,
        args.decode.options(),
        &job,
        &mut progress,
        &AtomicBool::new(false),
    )?;
    bar.finish_and_clear();
    if ctx.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        outln!("{}", summary.describe());
        if summary.bad_total > 0 {
            eprintln!("{} rows left out:", summary.bad_total);
            for b in &summary.bad_rows {
                eprintln!("  line {b}");
            }
        }
    }
    Ok(())
}

/// One ticket through the run (and its base model with `--base`), as the Try page shows it.
fn try_ticket(ctx: &Context, args: &PredictArgs, text: &str) -> Result<()> {
    let mut store = ctx.store()?;
    let answers = Playground::new(args.decode.options()).ask(
        &mut store,
        &ctx.data_dir,
        &args.run,
        args.checkpoint.checkpoint,
        text,
        args.base,
    )?;
    for a in answers {
        if ctx.json {
            println!("{}", serde_json::to_string(&a)?);
            continue;
        }
        if args.base {
            outln!("== {}", a.side);
        }
        let p = &a.prediction;
        outln!(
            "label:      {}",
            p.label.as_deref().unwrap_or("(unparseable)")
        );
        if let Some(c) = p.confidence {
            outln!("confidence: {c:.3}");
        }
        for s in &a.top {
            outln!("  {:>5.1} %  {}", s.probability * 100.0, s.label);
        }
        for (name, value) in &p.fields {
            outln!("{name}: {value}");
        }
        outln!("({:.0} ms)", a.seconds * 1000.0);
    }
    Ok(())
}
