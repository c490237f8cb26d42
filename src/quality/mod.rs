//! Data-quality report: finds what would teach a model noise before any training starts.
//!
//! Input: a dataset's examples. Output: a [`Report`] of [`Finding`]s, each with the affected
//! row ids and a short sentence. Pure functions: must not touch the store or the file system.
//!
//! Checks: exact and near duplicates, the same text with different labels, label variants,
//! class imbalance and tiny classes, inconsistent extraction layout (a usual field missing,
//! field-name variants), field values absent from the text, over-long texts, and leakage of
//! duplicates across train / val / test.

mod duplicates;
mod fields;
mod labels;
mod length;
mod normalize;

use crate::example::{DatasetInfo, Example};
use serde::{Deserialize, Serialize};

/// Thresholds of the checks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityOptions {
    /// Texts estimated longer than this many tokens (prompt included) are reported.
    pub max_tokens: usize,
    /// Classes with fewer rows than this are reported.
    pub min_class_rows: usize,
    /// A field present in at least this fraction of a label's rows is expected in all of them.
    pub layout_majority: f64,
    /// Labels with fewer rows than this are not checked for layout consistency.
    pub layout_min_rows: usize,
    /// Largest / smallest class ratio from which imbalance is a warning.
    pub imbalance_ratio: f64,
}

impl Default for QualityOptions {
    fn default() -> Self {
        QualityOptions {
            max_tokens: crate::model::estimate::TrainShape::default().seq,
            min_class_rows: 10,
            layout_majority: 0.8,
            layout_min_rows: 5,
            imbalance_ratio: 10.0,
        }
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Will teach the model contradictions: fix before training.
    Error,
    /// Likely to hurt quality or the evaluation.
    Warning,
    /// Worth knowing.
    Info,
}

/// Which check produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Rows with identical text.
    ExactDuplicate,
    /// Rows whose text is identical after normalising case, spaces and punctuation.
    NearDuplicate,
    /// The same normalised text with different labels.
    ConflictingLabels,
    /// Labels that differ only in case, spacing or punctuation.
    LabelVariants,
    /// Label distribution (largest vs smallest class).
    ClassImbalance,
    /// A class with too few rows to learn from.
    SmallClass,
    /// A field present in most rows of a label but missing in some.
    MissingField,
    /// Field names that differ only in case, spacing or punctuation.
    FieldNameVariants,
    /// A field value that does not occur in the ticket text.
    ValueNotInText,
    /// Texts longer than the training length.
    OverLong,
    /// The same text in two splits (evaluation would be flattered).
    SplitLeakage,
}

impl Check {
    /// The check's name, as in JSON (`exact_duplicate`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Check::ExactDuplicate => "exact_duplicate",
            Check::NearDuplicate => "near_duplicate",
            Check::ConflictingLabels => "conflicting_labels",
            Check::LabelVariants => "label_variants",
            Check::ClassImbalance => "class_imbalance",
            Check::SmallClass => "small_class",
            Check::MissingField => "missing_field",
            Check::FieldNameVariants => "field_name_variants",
            Check::ValueNotInText => "value_not_in_text",
            Check::OverLong => "over_long",
            Check::SplitLeakage => "split_leakage",
        }
    }
}

impl Severity {
    /// `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One problem found in the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The check that found it.
    pub check: Check,
    /// How much it matters.
    pub severity: Severity,
    /// A short sentence for people.
    pub message: String,
    /// Row ids concerned (1-based, as in `dataset show`/`export`).
    pub rows: Vec<u64>,
}

/// The report of `tunedesk dataset quality`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Dataset name.
    pub dataset: String,
    /// Rows checked.
    pub rows: usize,
    /// Thresholds used.
    pub options: QualityOptions,
    /// How text length was measured.
    pub token_estimate: String,
    /// Number of findings per check, in check order.
    pub summary: Vec<(Check, usize)>,
    /// All findings, most severe first.
    pub findings: Vec<Finding>,
}

/// Runs every check on `examples`.
pub fn check(info: &DatasetInfo, examples: &[Example], options: &QualityOptions) -> Report {
    let mut findings = Vec::new();
    findings.extend(duplicates::check(examples));
    findings.extend(labels::check(examples, options));
    findings.extend(fields::check(&info.fields, examples, options));
    findings.extend(length::check(examples, options));
    findings.sort_by_key(|f| (f.severity, f.check));
    let mut summary: Vec<(Check, usize)> = Vec::new();
    for f in &findings {
        match summary.iter_mut().find(|(c, _)| *c == f.check) {
            Some((_, n)) => *n += 1,
            None => summary.push((f.check, 1)),
        }
    }
    summary.sort();
    Report {
        dataset: info.name.clone(),
        rows: examples.len(),
        options: *options,
        token_estimate: length::ESTIMATE.to_string(),
        summary,
        findings,
    }
}

/// `rows 1, 2, 3` or `rows 1, 2, 3 … (+N more)`, for messages.
pub(crate) fn rows_text(rows: &[u64]) -> String {
    const SHOWN: usize = 5;
    let shown: Vec<String> = rows.iter().take(SHOWN).map(u64::to_string).collect();
    let noun = if rows.len() == 1 { "row" } else { "rows" };
    let more = rows.len().saturating_sub(SHOWN);
    if more > 0 {
        format!("{noun} {} … (+{more} more)", shown.join(", "))
    } else {
        format!("{noun} {}", shown.join(", "))
    }
}

/// Shortens `s` to at most `max` characters for messages.
pub(crate) fn snippet(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    }
}

/// `1 row`, `2 rows`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::example::{DatasetInfo, Example, Split};

    /// A test example.
    pub(crate) fn ex(row: u64, text: &str, label: &str, fields: &[(&str, &str)]) -> Example {
        Example {
            row,
            line: row + 1,
            text: text.into(),
            label: label.into(),
            fields: fields
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            split: Some(Split::Train),
            extra: Default::default(),
        }
    }

    /// A dataset info for tests.
    pub(crate) fn info(fields: &[&str]) -> DatasetInfo {
        DatasetInfo {
            id: 1,
            name: "t".into(),
            source: "t.csv".into(),
            format: "csv".into(),
            text_columns: vec!["text".into()],
            label_column: "label".into(),
            fields: fields.iter().map(|s| s.to_string()).collect(),
            rows: 0,
            edits: 0,
            created_at: String::new(),
        }
    }

    #[test]
    fn names_match_serde() {
        use super::Check::*;
        for c in [
            ExactDuplicate,
            NearDuplicate,
            ConflictingLabels,
            LabelVariants,
            ClassImbalance,
            SmallClass,
            MissingField,
            FieldNameVariants,
            ValueNotInText,
            OverLong,
            SplitLeakage,
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }

    #[test]
    fn report_sorts_by_severity_and_summarises() {
        let data = vec![
            ex(1, "Card lost", "card", &[]),
            ex(2, "card lost!", "Card ", &[]),
        ];
        let r = super::check(&info(&[]), &data, &Default::default());
        assert_eq!(r.findings[0].severity, super::Severity::Error);
        let total: usize = r.summary.iter().map(|(_, n)| n).sum();
        assert_eq!(total, r.findings.len());
    }
}
