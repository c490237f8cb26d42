//! An evaluation as files to share, by the output's extension: a Markdown report (what was
//! evaluated, the verdict against prompting, the scores and tables), a CSV of every answer,
//! or the confusion chart (SVG/PNG). Written to a temporary file and renamed into place, so a
//! failed export leaves nothing half-written.

use super::compare::{self, BASELINE_SHOTS};
use super::run::EvalError;
use crate::chart::{confusion_chart, ChartError};
use crate::metrics::render_markdown;
use crate::store::{EvalInfo, EvalSpec, Store, StoreError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The comparison failed.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// The chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] ChartError),
    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The output.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An extension that names no report.
    #[error("cannot tell what to write to '{0}': use .md (report), .csv (every answer), .svg or .png (confusion chart)")]
    Format(PathBuf),
}

/// Writes evaluation `id` to `out`: `.md` report, `.csv` answers, `.svg`/`.png` confusion chart.
pub fn export(store: &Store, id: i64, out: &Path) -> Result<(), ReportError> {
    let eval = store.eval(id)?;
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let text = match ext.as_deref() {
        Some("md") => markdown(store, &eval)?,
        Some("csv") => answers_csv(store, &eval)?,
        Some("svg" | "png") => {
            let title = format!("Evaluation {id}: {}", describe(&eval.spec));
            return Ok(confusion_chart(&eval.metrics.confusion, &title, out)?);
        }
        _ => return Err(ReportError::Format(out.to_path_buf())),
    };
    crate::paths::write_atomically(out, |w| w.write_all(text.as_bytes())).map_err(|source| {
        ReportError::Io {
            path: out.to_path_buf(),
            source,
        }
    })
}

/// One line naming what was evaluated and how: "run 'x' (checkpoint best) on d (test, 500
/// rows), constrained decoding, int8 products".
pub fn describe(e: &EvalSpec) -> String {
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

/// A row of the comparison table: one evaluation's value.
type Cell = fn(&EvalInfo) -> String;

/// `93.8 %`.
fn pct(v: f64) -> String {
    format!("{:.1} %", 100.0 * v)
}

/// The Markdown report of `eval`.
fn markdown(store: &Store, eval: &EvalInfo) -> Result<String, ReportError> {
    let m = &eval.metrics;
    let mut out = format!(
        "# Evaluation {}\n\n{}: {} tickets, base model {}, {:.1} s ({:.0} ms per ticket), {}.\n\n",
        eval.id,
        describe(&eval.spec),
        m.examples,
        eval.spec.model,
        eval.seconds,
        1000.0 * eval.seconds / m.examples.max(1) as f64,
        eval.created_at
    );
    if eval.spec.run.is_some() {
        let c = compare::stored(store, eval, &BASELINE_SHOTS)?;
        if let Some(v) = &c.verdict {
            out.push_str("## Fine-tuning against prompting\n\n");
            out.push_str(&format!("{}\n\n| | ", v.sentence));
            out.push_str(
                &c.columns
                    .iter()
                    .map(|col| col.name.clone())
                    .collect::<Vec<_>>()
                    .join(" | "),
            );
            out.push_str(" |\n|---|");
            out.push_str(&"---:|".repeat(c.columns.len()));
            out.push('\n');
            let lines: [(&str, Cell); 3] = [
                ("accuracy", |e| pct(e.metrics.accuracy)),
                ("macro-F1", |e| pct(e.metrics.macro_f1)),
                ("field micro-F1", |e| {
                    e.metrics
                        .fields
                        .as_ref()
                        .map_or("—".into(), |f| pct(f.micro_f1))
                }),
            ];
            for (name, value) in lines {
                let cells: Vec<String> = c.columns.iter().map(|col| value(&col.eval)).collect();
                out.push_str(&format!("| {name} | {} |\n", cells.join(" | ")));
            }
            out.push_str(&format!(
                "\nDifferences with the {} (95 % paired bootstrap interval):\n\n",
                v.against
            ));
            for d in &v.differences {
                out.push_str(&format!(
                    "- {}: {:+.1} points ({:+.1} to {:+.1})\n",
                    d.metric,
                    100.0 * d.value,
                    100.0 * d.low,
                    100.0 * d.high
                ));
            }
            out.push('\n');
        }
    }
    out.push_str("## Scores\n\n");
    out.push_str(&render_markdown(m));
    Ok(out)
}

/// Every answer of `eval`: row, ticket, gold and answered label, confidence, whether right,
/// then the gold and answered value of each field.
fn answers_csv(store: &Store, eval: &EvalInfo) -> Result<String, ReportError> {
    let records = store.eval_records(eval.id)?;
    let mut fields: Vec<String> = Vec::new();
    for r in &records {
        for (n, _) in r.gold.fields.iter().chain(&r.predicted.fields) {
            if !fields.contains(n) {
                fields.push(n.clone());
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut head: Vec<String> = [
        "row",
        "ticket",
        "gold_label",
        "answer_label",
        "confidence",
        "label_right",
    ]
    .map(String::from)
    .to_vec();
    for f in &fields {
        head.push(format!("gold_{f}"));
        head.push(format!("answer_{f}"));
    }
    let value = |list: &[(String, String)], f: &str| {
        list.iter()
            .find(|(n, _)| n == f)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    let csv_err = |e: csv::Error| ReportError::Io {
        path: PathBuf::from("(report)"),
        source: std::io::Error::other(e),
    };
    w.write_record(&head).map_err(csv_err)?;
    for r in &records {
        let answer = r.predicted.label.clone().unwrap_or_default();
        let mut row = vec![
            r.example_id.map_or(String::new(), |i| i.to_string()),
            r.input.clone(),
            r.gold.label.clone(),
            answer.clone(),
            r.predicted
                .confidence
                .map_or(String::new(), |c| format!("{c:.4}")),
            (answer.trim() == r.gold.label.trim()).to_string(),
        ];
        for f in &fields {
            row.push(value(&r.gold.fields, f));
            row.push(value(&r.predicted.fields, f));
        }
        w.write_record(&row).map_err(csv_err)?;
    }
    let bytes = w.into_inner().map_err(|e| ReportError::Io {
        path: PathBuf::from("(report)"),
        source: e.into_error(),
    })?;
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 strings"))
}
