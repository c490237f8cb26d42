//! Dataset types shared by every stage, plus the operations on a stored dataset that are not
//! SQL: stratified splitting ([`split`]) and writing a dataset back out ([`export`]).
//!
//! Input: examples read from the [`crate::store`]. Output: split assignments, files.
//! Must not touch: SQL (the store does), the task layout (the [`crate::template`] does).

pub mod export;
pub mod split;

use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The examples of dataset `name` with the given row ids, in row order (unknown ids are
/// skipped).
pub fn rows(store: &Store, name: &str, rows: &[u64]) -> crate::Result<Vec<Example>> {
    let info = store.dataset(name)?;
    let wanted: std::collections::HashSet<u64> = rows.iter().copied().collect();
    let mut examples = store.examples(&info)?;
    examples.retain(|e| wanted.contains(&e.row));
    Ok(examples)
}

/// The statistics of the stored dataset `name` (what `dataset show` prints).
pub fn stats(store: &Store, name: &str) -> crate::Result<DatasetStats> {
    let info = store.dataset(name)?;
    let examples = store.examples(&info)?;
    Ok(DatasetStats::compute(info, &examples))
}

/// One labelled ticket: text to classify, its label and the fields to extract from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// 1-based position of the example in its dataset (stable row id).
    pub row: u64,
    /// Physical line of the source file where the record starts (1-based).
    pub line: u64,
    /// The ticket text (several text columns joined by a newline).
    pub text: String,
    /// The class label, exactly as written in the file.
    pub label: String,
    /// Fields to extract, by name, in the dataset's field order; absent fields are left out.
    pub fields: Vec<(String, String)>,
    /// The split the example belongs to, if any.
    pub split: Option<Split>,
    /// Columns of the source that were not mapped (kept so that nothing is lost).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

impl Example {
    /// The value of field `name`, if present.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Train / validation / test partition of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Used to fit the model.
    Train,
    /// Used to watch for overfitting and pick the best checkpoint.
    Val,
    /// Held out for the final evaluation.
    Test,
}

impl Split {
    /// All splits, in order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Val, Split::Test];

    /// The name stored in the database and written to files.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }

    /// Parses the usual spellings of split names (`train`, `training`, `val`, `valid`,
    /// `validation`, `dev`, `test`, `testing`, `eval`), ignoring case and surrounding spaces.
    pub fn parse(s: &str) -> Option<Split> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" | "training" => Some(Split::Train),
            "val" | "valid" | "validation" | "dev" | "development" => Some(Split::Val),
            "test" | "testing" | "eval" | "evaluation" | "holdout" => Some(Split::Test),
            _ => None,
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was recorded about a dataset when it was imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Database id.
    pub id: i64,
    /// Unique, user-chosen name.
    pub name: String,
    /// The file it was imported from.
    pub source: String,
    /// `csv` or `jsonl`.
    pub format: String,
    /// Columns joined into the ticket text.
    pub text_columns: Vec<String>,
    /// Column holding the label.
    pub label_column: String,
    /// Field names, in the order completions list them.
    pub fields: Vec<String>,
    /// Number of examples.
    pub rows: u64,
    /// Import time, RFC 3339 UTC.
    pub created_at: String,
}

/// Counts that describe a stored dataset (`tunedesk dataset show`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetStats {
    /// The dataset itself.
    #[serde(flatten)]
    pub info: DatasetInfo,
    /// Rows per label, most frequent first.
    pub label_counts: Vec<(String, u64)>,
    /// Per field: rows where it is present and the fraction of all rows.
    pub field_fill: Vec<FieldFill>,
    /// Rows per split; `unassigned` counts rows without a split.
    pub split_counts: SplitCounts,
}

/// How often a field is present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldFill {
    /// Field name.
    pub name: String,
    /// Rows where the field has a value.
    pub present: u64,
    /// `present / rows`.
    pub rate: f64,
}

/// Number of rows in each split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitCounts {
    /// Training rows.
    pub train: u64,
    /// Validation rows.
    pub val: u64,
    /// Test rows.
    pub test: u64,
    /// Rows not yet assigned to a split.
    pub unassigned: u64,
}

impl SplitCounts {
    /// Counts the splits of `examples`.
    pub fn of(examples: &[Example]) -> SplitCounts {
        let mut c = SplitCounts::default();
        for e in examples {
            match e.split {
                Some(Split::Train) => c.train += 1,
                Some(Split::Val) => c.val += 1,
                Some(Split::Test) => c.test += 1,
                None => c.unassigned += 1,
            }
        }
        c
    }
}

impl DatasetStats {
    /// Computes the statistics of a dataset from its examples.
    pub fn compute(info: DatasetInfo, examples: &[Example]) -> DatasetStats {
        let mut labels: BTreeMap<&str, u64> = BTreeMap::new();
        for e in examples {
            *labels.entry(&e.label).or_default() += 1;
        }
        let mut label_counts: Vec<(String, u64)> = labels
            .into_iter()
            .map(|(l, n)| (l.to_string(), n))
            .collect();
        label_counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let total = examples.len().max(1) as f64;
        let field_fill = info
            .fields
            .iter()
            .map(|name| {
                let present = examples.iter().filter(|e| e.field(name).is_some()).count() as u64;
                FieldFill {
                    name: name.clone(),
                    present,
                    rate: present as f64 / total,
                }
            })
            .collect();
        DatasetStats {
            split_counts: SplitCounts::of(examples),
            info,
            label_counts,
            field_fill,
        }
    }
}

/// Why a dataset operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// Split fractions outside [0, 1) or summing to 1 or more.
    #[error("invalid split fractions: val {val} + test {test} must each be in [0, 1) and sum to less than 1")]
    BadFractions {
        /// Validation fraction asked for.
        val: f64,
        /// Test fraction asked for.
        test: f64,
    },
    /// `--by-column` names a column the dataset did not keep.
    #[error("column '{column}' is not among the dataset's unmapped columns; available: {}", list_or_none(.available))]
    NoSplitColumn {
        /// Column asked for.
        column: String,
        /// Columns kept from the source file.
        available: Vec<String>,
    },
    /// `--by-column` values that are not a split name.
    #[error("column '{column}' has values that are not split names (train/val/test): {}", .samples.join("; "))]
    BadSplitValues {
        /// Column used.
        column: String,
        /// A few offending values with their rows, e.g. `row 4: 'x'`.
        samples: Vec<String>,
    },
    /// Export to a file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// Destination file.
        path: String,
        /// Underlying I/O or CSV error.
        source: std::io::Error,
    },
    /// Export format could not be derived from the file name.
    #[error("cannot tell the export format of '{0}': use a .csv or .jsonl file name, or --format")]
    UnknownFormat(String),
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}
