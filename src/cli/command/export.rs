//! `tunedesk export RUN --format peft|merged|gguf|ollama [--precision P] --out DIR`.

use super::Context;
use crate::cli::args::ExportArgs;
use crate::cli::output;
use anyhow::Result;
use tunedesk::export::{export, ExportRequest};

pub fn run(ctx: &Context, args: ExportArgs) -> Result<()> {
    let req = ExportRequest {
        run: args.run,
        checkpoint: args.checkpoint.checkpoint,
        format: args.format,
        precision: args.precision,
        out: args.out,
        check_rows: args.check_rows,
    };
    let json = ctx.json;
    let summary = export(&mut ctx.store()?, &ctx.data_dir, &req, &mut |phase| {
        if !json {
            eprintln!("{phase}…");
        }
    })?;
    if ctx.json {
        return output::json(&summary);
    }
    outln!(
        "wrote {} ({})",
        summary.out.display(),
        summary.files.join(", ")
    );
    for c in &summary.checks {
        outln!(
            "checked {} ({}): labels {} of {} validation tickets as the run does",
            c.what,
            c.precision,
            c.same_labels,
            c.checked
        );
    }
    Ok(())
}
