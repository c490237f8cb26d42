//! The plain data of a dataset, shared by every stage: an [`Example`] (one labelled ticket),
//! its [`Split`], and the [`DatasetInfo`] recorded at import. Types only: no I/O, no rules.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

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
    /// Labels changed since import (`tunedesk dataset edits`).
    #[serde(default)]
    pub edits: u64,
    /// Import time, RFC 3339 UTC.
    pub created_at: String,
}

/// Labels and field names of `examples`, sorted.
pub fn label_and_field_sets(examples: &[Example]) -> (Vec<String>, Vec<String>) {
    let labels: BTreeSet<&str> = examples.iter().map(|e| e.label.as_str()).collect();
    let fields: BTreeSet<&str> = examples
        .iter()
        .flat_map(|e| e.fields.iter().map(|(n, _)| n.as_str()))
        .collect();
    (
        labels.into_iter().map(String::from).collect(),
        fields.into_iter().map(String::from).collect(),
    )
}
