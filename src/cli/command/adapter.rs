//! `tunedesk adapter import DIR --base MODEL --dataset D [--name RUN]`.

use super::models::resolve_model;
use super::Context;
use crate::cli::args::AdapterCommand;
use crate::cli::output;
use anyhow::{Context as _, Result};
use tunedesk::train::import::{import_adapter, ImportRequest};

pub fn run(ctx: &Context, cmd: AdapterCommand) -> Result<()> {
    match cmd {
        AdapterCommand::Import {
            dir,
            base,
            dataset,
            name,
        } => {
            let name = match name {
                Some(n) => n,
                None => dir
                    .canonicalize()
                    .ok()
                    .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .context("name the run with --name")?,
            };
            let req = ImportRequest {
                base: resolve_model(ctx, &base)?,
                dir,
                name,
                dataset,
            };
            let run = import_adapter(&mut ctx.store()?, &ctx.data_dir, &req)?;
            if ctx.json {
                return output::json(&run);
            }
            outln!(
                "imported {} as run '{}' (base {}): evaluate it with `tunedesk eval --run {}`",
                req.dir.display(),
                run.name,
                req.base.display(),
                run.name
            );
            Ok(())
        }
    }
}
