//! Dataset types shared by every stage, plus the operations on a stored dataset that are not
//! SQL: stratified splitting ([`split`]) and writing a dataset back out ([`export`]).
//!
//! Input: examples read from the [`crate::store`]. Output: split assignments, files.
//! Must not touch: SQL (the store does), the task layout (the [`crate::template`] does).

pub mod export;
pub mod split;

pub use crate::example::{DatasetInfo, Example, Split};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The examples of dataset `name` with the given row ids, in row order (unknown ids are
/// skipped).
pub fn rows(store: &Store, name: &str, rows: &[u64]) -> Result<Vec<Example>, DatasetError> {
    let wanted: std::collections::HashSet<u64> = rows.iter().copied().collect();
    let (_, mut examples) = load(store, name)?;
    examples.retain(|e| wanted.contains(&e.row));
    Ok(examples)
}

/// The stored dataset `name`: what was recorded about it and all its examples, in row order.
pub fn load(store: &Store, name: &str) -> Result<(DatasetInfo, Vec<Example>), DatasetError> {
    let info = store.dataset(name)?;
    let examples = store.examples(&info)?;
    Ok((info, examples))
}

/// The statistics of the stored dataset `name` (what `dataset show` prints).
pub fn stats(store: &Store, name: &str) -> Result<DatasetStats, DatasetError> {
    let (info, examples) = load(store, name)?;
    Ok(DatasetStats::compute(info, &examples))
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
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
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
