//! `tunedesk dataset …`.

use super::{relabel, Context};
use crate::cli::args::{
    DatasetCommand, ExportFormatArg, FormatArg, ImportArgs, PreviewArgs, QualityArgs, SplitArgs,
};
use crate::cli::output;
use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use tunedesk::dataset::export::{self, ExportFormat};
use tunedesk::dataset::split::{self, SplitMethod, SplitPlan};
use tunedesk::dataset::{self, DatasetError, SplitCounts};
use tunedesk::import::{self, Format, ImportEvent, ImportSpec};
use tunedesk::quality::{self, QualityOptions};
use tunedesk::store::Relabel;

pub fn run(ctx: &Context, cmd: DatasetCommand) -> Result<()> {
    match cmd {
        DatasetCommand::Import(args) => import_cmd(ctx, args),
        DatasetCommand::Sample { name } => sample_cmd(ctx, &name),
        DatasetCommand::Preview(args) => preview_cmd(ctx, args),
        DatasetCommand::List => list_cmd(ctx),
        DatasetCommand::Show { name } => show_cmd(ctx, &name),
        DatasetCommand::Export { name, out, format } => export_cmd(ctx, &name, &out, format),
        DatasetCommand::Delete { name } => delete_cmd(ctx, &name),
        DatasetCommand::Split(args) => split_cmd(ctx, args),
        DatasetCommand::Quality(args) => quality_cmd(ctx, args),
        DatasetCommand::Mislabels(args) => relabel::mislabels_cmd(ctx, args),
        DatasetCommand::Relabel {
            name,
            row,
            from,
            to,
            reason,
        } => relabel::relabel_cmd(
            ctx,
            &name,
            Relabel {
                row,
                old: from,
                new: to,
            },
            &reason,
        ),
        DatasetCommand::Dismiss { name, row, label } => {
            relabel::dismiss_cmd(ctx, &name, row, &label)
        }
        DatasetCommand::Edits { name } => relabel::edits_cmd(ctx, &name),
    }
}

fn preview_cmd(ctx: &Context, args: PreviewArgs) -> Result<()> {
    let p = import::preview(&args.file, args.format.map(format), args.delimiter)?;
    if ctx.json {
        return output::json(&p);
    }
    outln!(
        "{}: {} rows, format {}{}",
        args.file.display(),
        p.total_rows,
        p.format.as_str(),
        p.delimiter
            .map(|d| format!(", delimiter {d:?}"))
            .unwrap_or_default()
    );
    outln!("columns: {}", p.columns.join(", "));
    outln!(
        "suggested: --text {} --label {}",
        p.suggestion.text.join(" --text "),
        p.suggestion.label.as_deref().unwrap_or("?")
    );
    Ok(())
}

fn list_cmd(ctx: &Context) -> Result<()> {
    let store = ctx.store()?;
    let list = store.list_datasets()?;
    if ctx.json {
        return output::json(&list);
    }
    if list.is_empty() {
        outln!("no datasets yet; import one with `tunedesk dataset import FILE --name NAME --text COL --label COL`");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|d| {
            vec![
                d.name.clone(),
                d.rows.to_string(),
                d.fields.len().to_string(),
                d.format.clone(),
                d.created_at.clone(),
                d.source.clone(),
            ]
        })
        .collect();
    output::table(
        &["NAME", "ROWS", "FIELDS", "FORMAT", "IMPORTED", "SOURCE"],
        &rows,
    );
    Ok(())
}

fn show_cmd(ctx: &Context, name: &str) -> Result<()> {
    let stats = dataset::stats(&ctx.store()?, name)?;
    if ctx.json {
        return output::json(&stats);
    }
    let i = &stats.info;
    outln!(
        "{} — {} rows from {} ({})",
        i.name,
        i.rows,
        i.source,
        i.format
    );
    outln!(
        "text: {}   label: {}",
        i.text_columns.join(" + "),
        i.label_column
    );
    print_splits(&stats.split_counts);
    outln!("\n{} labels:", stats.label_counts.len());
    let rows: Vec<Vec<String>> = stats
        .label_counts
        .iter()
        .map(|(l, n)| {
            vec![
                l.clone(),
                n.to_string(),
                output::percent(*n as f64 / i.rows.max(1) as f64),
            ]
        })
        .collect();
    output::table(&["LABEL", "ROWS", "SHARE"], &rows);
    if !stats.field_fill.is_empty() {
        outln!("\n{} fields:", stats.field_fill.len());
        let rows: Vec<Vec<String>> = stats
            .field_fill
            .iter()
            .map(|f| {
                vec![
                    f.name.clone(),
                    f.present.to_string(),
                    output::percent(f.rate),
                ]
            })
            .collect();
        output::table(&["FIELD", "PRESENT", "FILL"], &rows);
    }
    Ok(())
}

fn export_cmd(
    ctx: &Context,
    name: &str,
    out: &std::path::Path,
    format: Option<ExportFormatArg>,
) -> Result<()> {
    let (info, examples) = dataset::load(&ctx.store()?, name)?;
    let format = match format {
        Some(f) => export_format(f),
        None => ExportFormat::from_path(out)
            .ok_or_else(|| DatasetError::UnknownFormat(out.display().to_string()))?,
    };
    export::export(&info, &examples, out, format)?;
    if ctx.json {
        return output::json(&serde_json::json!({
            "dataset": name, "rows": examples.len(), "out": out, "format": format
        }));
    }
    outln!(
        "wrote {} rows of '{name}' to {}",
        examples.len(),
        out.display()
    );
    Ok(())
}

fn sample_cmd(ctx: &Context, name: &str) -> Result<()> {
    let summary = tunedesk::import::sample::import_sample(&mut ctx.store()?, name)?;
    if ctx.json {
        return output::json(&summary);
    }
    outln!(
        "imported the sample dataset as '{}' ({} rows)",
        summary.dataset.name,
        summary.rows
    );
    Ok(())
}

fn delete_cmd(ctx: &Context, name: &str) -> Result<()> {
    let info = ctx.store()?.delete_dataset(name)?;
    if ctx.json {
        return output::json(&serde_json::json!({ "deleted": info }));
    }
    outln!("deleted dataset '{}' ({} rows)", info.name, info.rows);
    Ok(())
}

fn format(f: FormatArg) -> Format {
    match f {
        FormatArg::Csv => Format::Csv,
        FormatArg::Jsonl => Format::Jsonl,
    }
}

fn export_format(f: ExportFormatArg) -> ExportFormat {
    match f {
        ExportFormatArg::Csv => ExportFormat::Csv,
        ExportFormatArg::Jsonl => ExportFormat::Jsonl,
        ExportFormatArg::PromptCompletion => ExportFormat::PromptCompletion,
    }
}

fn print_splits(c: &SplitCounts) {
    outln!(
        "splits: train {}  val {}  test {}  unassigned {}",
        c.train,
        c.val,
        c.test,
        c.unassigned
    );
}

fn import_cmd(ctx: &Context, args: ImportArgs) -> Result<()> {
    let spec = ImportSpec {
        name: args.name,
        format: args.format.map(format),
        delimiter: args.delimiter,
        text_columns: args.text,
        label_column: args.label,
        field_columns: args.field,
        fields_rest: args.fields_rest,
        replace: args.replace,
    };
    let mut store = ctx.store()?;
    let bar = (!ctx.json && std::io::stderr().is_terminal()).then(|| {
        let bar =
            ProgressBar::new_spinner().with_message(format!("reading {}", args.file.display()));
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        bar
    });
    let summary = import::import_file(&mut store, &args.file, &spec, &mut |event| {
        if let Some(bar) = &bar {
            match event {
                ImportEvent::Parsed { rows } => {
                    bar.set_style(
                        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}")
                            .expect("valid template"),
                    );
                    bar.set_length(rows);
                    bar.set_message("storing");
                }
                ImportEvent::Storing { done, .. } => bar.set_position(done),
            }
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = summary.with_context(|| format!("importing {} failed", args.file.display()))?;
    if ctx.json {
        return output::json(&summary);
    }
    let d = &summary.dataset;
    let labels = dataset::stats(&store, &d.name)?.label_counts.len();
    outln!(
        "imported {} rows into dataset '{}': {labels} labels, {} fields",
        summary.rows,
        d.name,
        d.fields.len()
    );
    if !summary.unmapped_columns.is_empty() {
        outln!(
            "kept unmapped columns: {}",
            summary.unmapped_columns.join(", ")
        );
    }
    outln!("next: `tunedesk dataset quality {}`", d.name);
    Ok(())
}

fn split_cmd(ctx: &Context, args: SplitArgs) -> Result<()> {
    let method = match args.by_column {
        Some(col) => SplitMethod::ByColumn(col),
        None => SplitMethod::Stratified(SplitPlan {
            val: args.val,
            test: args.test,
            seed: args.seed,
        }),
    };
    let counts = split::apply(&mut ctx.store()?, &args.name, &method)?;
    if ctx.json {
        return output::json(&counts);
    }
    print_splits(&counts);
    Ok(())
}

fn quality_cmd(ctx: &Context, args: QualityArgs) -> Result<()> {
    let options = QualityOptions {
        max_tokens: args.max_tokens,
        min_class_rows: args.min_class_rows,
        ..QualityOptions::default()
    };
    let (info, examples) = dataset::load(&ctx.store()?, &args.name)?;
    let report = quality::check(&info, &examples, &options);
    if ctx.json {
        return output::json(&report);
    }
    outln!(
        "Quality report for '{}' ({} rows)",
        report.dataset,
        report.rows
    );
    if report.findings.is_empty() {
        outln!("no problems found");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = report
        .summary
        .iter()
        .map(|(c, n)| vec![c.as_str().to_string(), n.to_string()])
        .collect();
    output::table(&["CHECK", "FINDINGS"], &rows);
    outln!();
    let mut shown: Vec<(quality::Check, usize)> = Vec::new();
    for f in &report.findings {
        let n = match shown.iter_mut().find(|(c, _)| *c == f.check) {
            Some((_, n)) => n,
            None => {
                shown.push((f.check, 0));
                &mut shown.last_mut().expect("just pushed").1
            }
        };
        *n += 1;
        if *n > args.show_findings {
            continue;
        }
        outln!("[{}] {}", f.severity.as_str(), f.message);
    }
    for (check, n) in shown.into_iter().filter(|(_, n)| *n > args.show_findings) {
        outln!(
            "… and {} more {} findings (--show-findings N or --json to see them)",
            n - args.show_findings,
            check.as_str()
        );
    }
    Ok(())
}
