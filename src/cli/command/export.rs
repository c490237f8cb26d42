//! `tunedesk export RUN --format peft --out DIR`.

use super::Context;
use crate::cli::args::{AdapterFormatArg, ExportArgs};
use crate::cli::output;
use anyhow::Result;
use tunedesk::export::{export, ExportFormat, ExportRequest};

pub fn run(ctx: &Context, args: ExportArgs) -> Result<()> {
    let req = ExportRequest {
        run: args.run,
        checkpoint: args.checkpoint.checkpoint,
        format: match args.format {
            AdapterFormatArg::Peft => ExportFormat::Peft,
        },
        out: args.out,
        check_rows: args.check_rows,
    };
    let summary = export(&mut ctx.store()?, &ctx.data_dir, &req)?;
    if ctx.json {
        return output::json(&summary);
    }
    outln!(
        "wrote {} ({})",
        summary.out.display(),
        summary.files.join(", ")
    );
    outln!(
        "checked: reloaded, it labels {} of {} validation tickets as the run does",
        summary.same_labels,
        summary.checked
    );
    Ok(())
}
