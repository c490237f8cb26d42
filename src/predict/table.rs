//! Predicting a whole CSV file: every input column kept, `predicted_label`, `confidence`,
//! one `predicted_<field>` column per field and `needs_review` (the label left empty below the
//! abstain threshold) added. Rows that cannot be read or have no text are
//! reported with their line and left out; the rest are still predicted.

use super::from_run::{load_run, Checkpoint};
use super::{PredictOptions, Prediction, Predictor};
use crate::import::error::Problems;
use crate::import::{self, table, ImportError};
use crate::import::{Problem, ProblemKind};
use crate::model::ModelError;
use crate::paths::DataDir;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

/// Why a file could not be predicted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The input could not be read as CSV.
    #[error(transparent)]
    Input(#[from] ImportError),
    /// A text column is not in the header.
    #[error("{file}: no column named '{column}' (columns: {columns})")]
    NoColumn {
        /// Input file.
        file: String,
        /// The missing column.
        column: String,
        /// The header.
        columns: String,
    },
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The run could not be loaded.
    #[error(transparent)]
    Run(#[from] super::from_run::LoadRunError),
    /// Stopped by the user; nothing was written.
    #[error("prediction cancelled: nothing was written")]
    Cancelled,
    /// The output could not be written.
    #[error("cannot write {path}: {source}")]
    Output {
        /// Output file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// A CSV prediction job.
#[derive(Debug, Clone, Deserialize)]
pub struct TableJob {
    /// Input CSV.
    pub input: PathBuf,
    /// Columns joined (by a newline) into the ticket text.
    pub text_columns: Vec<String>,
    /// Output CSV (written to a temporary file, then renamed).
    pub output: PathBuf,
    /// Mark predictions whose confidence is below this as abstained (label left empty).
    pub abstain_below: Option<f64>,
}

/// What a CSV prediction did.
#[derive(Debug, Clone, Serialize)]
pub struct TableSummary {
    /// Rows predicted.
    pub predicted: usize,
    /// Of those, rows abstained.
    pub abstained: usize,
    /// Rows left out, with their line (the first ones listed).
    pub bad_rows: Vec<String>,
    /// Number of rows left out.
    pub bad_total: usize,
    /// The output file.
    pub output: PathBuf,
}

impl TableSummary {
    /// The summary in a sentence: `3 tickets predicted (1 to review, 1 row left out) → out.csv`.
    pub fn describe(&self) -> String {
        let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
        format!(
            "{} predicted ({} to review, {} left out) → {}",
            plural(self.predicted, "ticket"),
            self.abstained,
            plural(self.bad_total, "row"),
            self.output.display()
        )
    }
}

/// Predicts every row of `job.input` with `predictor` (`fields`: the field columns to add,
/// in order; `tail` turns a ticket text into the prompt after the predictor's head). Once
/// `cancel` is set (looked at every [`super::CHUNK`] tickets) it stops, writing nothing.
pub fn predict_table(
    predictor: &Predictor,
    fields: &[String],
    tail: &dyn Fn(&str) -> String,
    job: &TableJob,
    on_progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<TableSummary, TableError> {
    let (file, data) = import::read_input(&job.input)?;
    let data = data.as_slice();
    let mut problems = Problems::default();
    let t = table::read(&file, data, None, &mut problems)?;
    let columns: Vec<usize> = job
        .text_columns
        .iter()
        .map(|c| {
            t.header
                .iter()
                .position(|h| h == c)
                .ok_or_else(|| TableError::NoColumn {
                    file: file.clone(),
                    column: c.clone(),
                    columns: crate::text::list(&t.header, 40),
                })
        })
        .collect::<Result<_, _>>()?;
    let mut rows: Vec<&Vec<String>> = Vec::new();
    let mut tails = Vec::new();
    for (line, record) in &t.records {
        let text = columns
            .iter()
            .map(|&i| record[i].trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        if text.is_empty() {
            problems.push(Problem {
                line: *line,
                column: Some(job.text_columns.join(", ")),
                kind: ProblemKind::EmptyText,
            });
            continue;
        }
        rows.push(record);
        tails.push(tail(&text));
    }
    let predictions = predictor
        .predict_until(&tails, on_progress, cancel)?
        .ok_or(TableError::Cancelled)?;
    let abstained = write_output(job, &t.header, fields, &rows, &predictions)?;
    Ok(TableSummary {
        predicted: predictions.len(),
        abstained,
        bad_rows: {
            let mut listed = problems.listed().to_vec();
            listed.sort_by_key(|p| p.line);
            listed.iter().map(|p| p.to_string()).collect()
        },
        bad_total: problems.total(),
        output: job.output.clone(),
    })
}

/// Predicts `job` with run `name` at `checkpoint` (`tunedesk predict --input`, the Predict
/// page): abstaining below the run's saved threshold unless the job gives one.
#[allow(clippy::too_many_arguments)]
pub fn predict_with_run(
    store: &mut Store,
    data_dir: &DataDir,
    name: &str,
    checkpoint: Checkpoint,
    options: PredictOptions,
    job: &TableJob,
    on_progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<TableSummary, TableError> {
    let mut rm = load_run(store, data_dir, name, checkpoint)?;
    let job = TableJob {
        abstain_below: job.abstain_below.or(rm.run.abstain_below),
        ..job.clone()
    };
    let head = rm.template.prompt_head();
    let predictor = Predictor::new(&mut rm.lm, &head, &rm.labels, &rm.fields, options)?;
    let tail = |text: &str| rm.template.prompt_tail(text);
    predict_table(&predictor, &rm.fields, &tail, &job, on_progress, cancel)
}

/// Writes the output CSV atomically; returns the number of abstained rows.
fn write_output(
    job: &TableJob,
    header: &[String],
    fields: &[String],
    rows: &[&Vec<String>],
    predictions: &[Prediction],
) -> Result<usize, TableError> {
    let out_err = |source: std::io::Error| TableError::Output {
        path: job.output.clone(),
        source,
    };
    crate::paths::write_atomically(&job.output, |file| {
        let mut w = csv::Writer::from_writer(file);
        let mut head: Vec<String> = header.to_vec();
        head.extend(["predicted_label".into(), "confidence".into()]);
        head.extend(fields.iter().map(|f| format!("predicted_{f}")));
        head.push("needs_review".into());
        w.write_record(&head)?;
        let mut abstained = 0;
        for (record, p) in rows.iter().zip(predictions) {
            let abstain = match (job.abstain_below, p.confidence) {
                (Some(min), Some(c)) => c < min,
                (Some(_), None) => true,
                _ => false,
            } || p.label.is_none();
            abstained += usize::from(abstain);
            let mut out: Vec<String> = record.to_vec();
            out.push(if abstain {
                String::new()
            } else {
                p.label.clone().unwrap_or_default()
            });
            out.push(p.confidence.map_or(String::new(), |c| format!("{c:.4}")));
            for f in fields {
                out.push(
                    p.fields
                        .iter()
                        .find(|(n, _)| n == f)
                        .map_or(String::new(), |(_, v)| v.clone()),
                );
            }
            out.push(abstain.to_string());
            w.write_record(&out)?;
        }
        w.flush()?;
        Ok(abstained)
    })
    .map_err(out_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(
        label: Option<&str>,
        confidence: Option<f64>,
        fields: &[(&str, &str)],
    ) -> Prediction {
        Prediction {
            label: label.map(String::from),
            fields: fields
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            confidence,
            output: String::new(),
        }
    }

    #[test]
    fn output_keeps_the_input_and_abstains_below_the_threshold() {
        let dir = tempfile::tempdir().unwrap();
        let job = TableJob {
            input: dir.path().join("in.csv"),
            text_columns: vec!["text".into()],
            output: dir.path().join("out.csv"),
            abstain_below: Some(0.5),
        };
        let header = vec!["id".to_string(), "text".to_string()];
        let rows = [
            vec!["1".to_string(), "refund".to_string()],
            vec!["2".to_string(), "crash, \"now\"".to_string()],
            vec!["3".to_string(), "??".to_string()],
            vec!["4".to_string(), "x".to_string()],
        ];
        let rows: Vec<&Vec<String>> = rows.iter().collect();
        let predictions = [
            prediction(
                Some("Billing"),
                Some(0.91234),
                &[("Email", "a@b.c"), ("Customer ID", "7")],
            ),
            prediction(Some("Technical"), Some(0.2), &[]),
            prediction(None, None, &[]),
            prediction(Some("Billing"), None, &[]),
        ];
        let fields = ["Customer ID".to_string(), "Email".to_string()];
        let abstained = write_output(&job, &header, &fields, &rows, &predictions).unwrap();
        assert_eq!(abstained, 3);
        let out = std::fs::read_to_string(&job.output).unwrap();
        assert_eq!(
            out,
            "id,text,predicted_label,confidence,predicted_Customer ID,predicted_Email,needs_review\n\
             1,refund,Billing,0.9123,7,a@b.c,false\n\
             2,\"crash, \"\"now\"\"\",,0.2000,,,true\n\
             3,??,,,,,true\n\
             4,x,,,,,true\n"
        );
        // Written through a temporary file: nothing else is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
