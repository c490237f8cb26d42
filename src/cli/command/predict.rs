//! `tunedesk predict`: one ticket, or a CSV file of tickets, through a fine-tuned run.

use super::Context;
use crate::cli::args::PredictArgs;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use tunedesk::predict::from_run::load_run;
use tunedesk::predict::table::{predict_table, TableJob};
use tunedesk::predict::Predictor;

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
    let mut store = ctx.store()?;
    let mut rm = load_run(
        &mut store,
        &ctx.data_dir,
        &args.run,
        args.checkpoint.checkpoint,
    )?;
    let opts = args.decode.options();
    let head = rm.template.prompt_head();
    let predictor = Predictor::new(&mut rm.lm, &head, &rm.labels, &rm.fields, opts)?;
    let tail = |text: &str| rm.template.prompt_tail(text);
    if let Some(text) = &args.text {
        let p = predictor.predict(&[tail(text)], &mut |_, _| {})?.remove(0);
        if ctx.json {
            println!("{}", serde_json::to_string(&p)?);
        } else {
            outln!(
                "label:      {}",
                p.label.as_deref().unwrap_or("(unparseable)")
            );
            if let Some(c) = p.confidence {
                outln!("confidence: {c:.3}");
            }
            for (name, value) in &p.fields {
                outln!("{name}: {value}");
            }
        }
        return Ok(());
    }
    let job = TableJob {
        input: args.input.clone().expect("clap requires --input"),
        text_columns: args.text_col.clone(),
        output: args.output.clone().expect("clap requires --output"),
        abstain_below: args.abstain_below.or(store.run(&args.run)?.abstain_below),
    };
    let bar = ticket_bar(ctx.json);
    let summary = predict_table(&predictor, &rm.fields, &tail, &job, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    if ctx.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        outln!(
            "{} tickets predicted ({} abstained) → {}",
            summary.predicted,
            summary.abstained,
            summary.output.display()
        );
        if summary.bad_total > 0 {
            eprintln!("{} rows left out:", summary.bad_total);
            for b in &summary.bad_rows {
                eprintln!("  line {b}");
            }
        }
    }
    Ok(())
}
