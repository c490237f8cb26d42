//! Classification and extraction metrics over `(gold, predicted)` pairs: accuracy, macro and
//! weighted F1, per-class scores, the confusion matrix, per-field and micro field scores, field
//! exact match and sentence accuracy; and a plain-text report of them. Pure functions, no I/O.
//!
//! Normalisation: labels are compared after trimming; field names after trimming; field values
//! after trimming and lower-casing. A prediction whose label is missing (or blank) counts as
//! unparseable, and an unparseable prediction is wrong.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The expected answer for one example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gold {
    /// Gold class label.
    pub label: String,
    /// Gold `(name, value)` fields.
    pub fields: Vec<(String, String)>,
}

/// What the model produced for one example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predicted {
    /// None when the output could not be parsed.
    pub label: Option<String>,
    /// Extracted `(name, value)` fields.
    pub fields: Vec<(String, String)>,
    /// Probability of the label normalised over all labels (None when unknown).
    pub confidence: Option<f64>,
}

impl Predicted {
    /// The prediction for an output that could not be parsed: no label, no fields.
    pub fn unparseable() -> Predicted {
        Predicted {
            label: None,
            fields: Vec::new(),
            confidence: None,
        }
    }
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    /// Class label.
    pub label: String,
    /// Correct predictions of this label / predictions of this label (0 when never predicted).
    pub precision: f64,
    /// Correct predictions of this label / gold examples of this label (0 when none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Gold examples of this label.
    pub support: usize,
}

/// The confusion matrix: gold labels against predicted labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// Gold ∪ predicted labels, sorted; indexes both axes.
    pub labels: Vec<String>,
    /// `counts[gold][predicted]`: examples with that gold label given that prediction.
    pub counts: Vec<Vec<usize>>,
    /// Per gold label: examples whose output had no parseable label.
    pub unparseable: Vec<usize>,
}

impl Confusion {
    /// Examples whose gold label is `labels[gold]` (parsed or not).
    pub fn gold_total(&self, gold: usize) -> usize {
        self.counts[gold].iter().sum::<usize>() + self.unparseable[gold]
    }

    /// Examples predicted as `labels[predicted]`.
    pub fn predicted_total(&self, predicted: usize) -> usize {
        self.counts.iter().map(|row| row[predicted]).sum()
    }
}

/// Extraction scores of one field name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldScore {
    /// Field name (trimmed).
    pub name: String,
    /// `tp / (tp + fp)` (0 when never predicted).
    pub precision: f64,
    /// `tp / (tp + fn)` (0 when never in the gold answers).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Gold occurrences of this field.
    pub support: usize,
    /// Predicted pairs that match a gold pair (same name, same normalised value).
    pub tp: usize,
    /// Predicted pairs that match no gold pair (a wrong value is one FP and one FN).
    pub fp: usize,
    /// Gold pairs that no predicted pair matched.
    #[serde(rename = "fn")]
    pub fn_: usize,
}

/// Extraction scores over all fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldMetrics {
    /// One score per field name seen in gold or predicted answers, sorted by name.
    pub per_field: Vec<FieldScore>,
    /// Precision over all predicted pairs.
    pub micro_precision: f64,
    /// Recall over all gold pairs.
    pub micro_recall: f64,
    /// Harmonic mean of the micro precision and recall.
    pub micro_f1: f64,
    /// Share of examples whose normalised field set equals the gold one.
    pub exact_match: f64,
}

/// Everything measured over an evaluation set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Examples evaluated.
    pub examples: usize,
    /// Examples whose label was right.
    pub correct: usize,
    /// Share of examples whose label was right (trimmed exact match; unparseable is wrong).
    pub accuracy: f64,
    /// Unweighted mean F1 over the union of gold and predicted labels (scikit-learn's default
    /// for `average="macro"`): a predicted label absent from the gold answers scores F1 = 0
    /// and pulls the mean down. Unparseable outputs add no class; they lower recall.
    pub macro_f1: f64,
    /// Mean per-class F1 weighted by gold support.
    pub weighted_f1: f64,
    /// One score per label in [`Confusion::labels`], sorted by label.
    pub per_class: Vec<ClassScore>,
    /// Gold × predicted counts.
    pub confusion: Confusion,
    /// Extraction scores; None when no gold or predicted example has any field.
    pub fields: Option<FieldMetrics>,
    /// Share of examples with the right label and exactly the gold field set.
    pub sentence_accuracy: f64,
    /// Examples whose output had no parseable label.
    pub unparseable: usize,
    /// `unparseable / examples`.
    pub unparseable_rate: f64,
    /// Mean label confidence over the examples that have one (None when none has).
    pub mean_confidence: Option<f64>,
}

/// The headline scores of a small evaluation: what a training run measures at each validation
/// to pick its best checkpoint by what the user cares about.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TaskScores {
    /// Examples decoded.
    pub examples: usize,
    /// Label accuracy.
    pub accuracy: f64,
    /// Macro-F1 over the labels.
    pub macro_f1: f64,
    /// Field micro-F1 (None when the task has no fields).
    pub field_f1: Option<f64>,
}

impl From<&Metrics> for TaskScores {
    fn from(m: &Metrics) -> Self {
        TaskScores {
            examples: m.examples,
            accuracy: m.accuracy,
            macro_f1: m.macro_f1,
            field_f1: m.fields.as_ref().map(|f| f.micro_f1),
        }
    }
}

impl std::fmt::Display for TaskScores {
    /// `accuracy 87.5 %, macro-F1 60.2 %, field F1 71.0 % (64 tickets)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "accuracy {:.1} %, macro-F1 {:.1} %",
            100.0 * self.accuracy,
            100.0 * self.macro_f1
        )?;
        if let Some(field_f1) = self.field_f1 {
            write!(f, ", field F1 {:.1} %", 100.0 * field_f1)?;
        }
        write!(f, " ({} tickets)", self.examples)
    }
}

/// `a / b`, or 0 when `b` is 0.
fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Harmonic mean, 0 when both are 0.
fn harmonic(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// A field as compared: trimmed name, trimmed lower-cased value.
fn norm_field((name, value): &(String, String)) -> (String, String) {
    (name.trim().to_string(), value.trim().to_lowercase())
}

/// The predicted label as compared: trimmed, None when missing or blank.
fn predicted_label(p: &Predicted) -> Option<&str> {
    p.label.as_deref().map(str::trim).filter(|l| !l.is_empty())
}

#[derive(Default)]
struct FieldCounts {
    support: usize,
    tp: usize,
    fp: usize,
    fn_: usize,
}

/// Matches one example's predicted fields against its gold fields, adding to `counts`;
/// true when the two normalised multisets are equal.
fn match_fields(
    gold: &[(String, String)],
    predicted: &[(String, String)],
    counts: &mut BTreeMap<String, FieldCounts>,
) -> bool {
    let mut unmatched: Vec<(String, String)> = gold.iter().map(norm_field).collect();
    for (name, _) in &unmatched {
        counts.entry(name.clone()).or_default().support += 1;
    }
    let mut exact = true;
    for pair in predicted.iter().map(norm_field) {
        let hit = unmatched.iter().position(|g| *g == pair);
        let c = counts.entry(pair.0).or_default();
        match hit {
            Some(i) => {
                unmatched.swap_remove(i);
                c.tp += 1;
            }
            None => {
                c.fp += 1;
                exact = false;
            }
        }
    }
    for (name, _) in unmatched {
        counts.entry(name).or_default().fn_ += 1;
        exact = false;
    }
    exact
}

/// One confidence threshold of [`coverage`]: how many tickets keep their answer (confidence
/// at or above it) and how often that answer's label is right.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CoveragePoint {
    /// The confidence threshold.
    pub threshold: f64,
    /// Tickets kept.
    pub kept: usize,
    /// Kept ÷ all tickets.
    pub coverage: f64,
    /// Label accuracy of the kept tickets (None when none is kept).
    pub accuracy: Option<f64>,
}

/// Thresholds of [`coverage`]: 0 to 1 by 0.05.
const COVERAGE_STEPS: usize = 20;

/// Coverage and accuracy of the kept tickets at thresholds from 0 to 1 by 0.05 (tickets
/// without a confidence count as 0): what abstaining below each threshold would give.
pub fn coverage(pairs: &[(Gold, Predicted)]) -> Vec<CoveragePoint> {
    (0..=COVERAGE_STEPS)
        .map(|i| {
            let threshold = i as f64 / COVERAGE_STEPS as f64;
            let kept: Vec<bool> = pairs
                .iter()
                .filter(|(_, p)| p.confidence.unwrap_or(0.0) >= threshold - 1e-12)
                .map(|(g, p)| predicted_label(p) == Some(g.label.trim()))
                .collect();
            let right = kept.iter().filter(|&&r| r).count();
            CoveragePoint {
                threshold,
                kept: kept.len(),
                coverage: ratio(kept.len(), pairs.len()),
                accuracy: (!kept.is_empty()).then(|| ratio(right, kept.len())),
            }
        })
        .collect()
}

/// Computes every metric over `(gold, predicted)` pairs. Empty input gives zeros.
pub fn compute(pairs: &[(Gold, Predicted)]) -> Metrics {
    let examples = pairs.len();
    let mut labels: Vec<String> = pairs
        .iter()
        .flat_map(|(g, p)| std::iter::once(g.label.trim()).chain(predicted_label(p)))
        .map(str::to_string)
        .collect();
    labels.sort();
    labels.dedup();
    let index = |l: &str| labels.binary_search_by(|x| x.as_str().cmp(l)).ok();

    let n = labels.len();
    let mut counts = vec![vec![0usize; n]; n];
    let mut unparseable = vec![0usize; n];
    let with_fields = pairs
        .iter()
        .any(|(g, p)| !g.fields.is_empty() || !p.fields.is_empty());
    let mut field_counts: BTreeMap<String, FieldCounts> = BTreeMap::new();
    let (mut correct, mut exact, mut sentence) = (0, 0, 0);
    let mut confidences = Vec::new();
    for (g, p) in pairs {
        let gi = index(g.label.trim()).expect("gold label is in the label list");
        let right = match predicted_label(p).and_then(index) {
            Some(pi) => {
                counts[gi][pi] += 1;
                pi == gi
            }
            None => {
                unparseable[gi] += 1;
                false
            }
        };
        let fields_exact = match_fields(&g.fields, &p.fields, &mut field_counts);
        correct += usize::from(right);
        exact += usize::from(fields_exact);
        sentence += usize::from(right && fields_exact);
        confidences.extend(p.confidence.filter(|c| c.is_finite()));
    }
    let confusion = Confusion {
        labels,
        counts,
        unparseable,
    };

    let per_class = class_scores(&confusion);
    let macro_f1 = if n == 0 {
        0.0
    } else {
        per_class.iter().map(|c| c.f1).sum::<f64>() / n as f64
    };
    let weighted_f1 = if examples == 0 {
        0.0
    } else {
        per_class
            .iter()
            .map(|c| c.f1 * c.support as f64)
            .sum::<f64>()
            / examples as f64
    };
    let fields = with_fields.then(|| field_metrics(&field_counts, exact, examples));
    let unparseable = confusion.unparseable.iter().sum();
    Metrics {
        examples,
        correct,
        accuracy: ratio(correct, examples),
        macro_f1,
        weighted_f1,
        per_class,
        confusion,
        fields,
        sentence_accuracy: ratio(sentence, examples),
        unparseable,
        unparseable_rate: ratio(unparseable, examples),
        mean_confidence: (!confidences.is_empty())
            .then(|| confidences.iter().sum::<f64>() / confidences.len() as f64),
    }
}

/// The headline scores of resamples of one list of answers, computed from per-answer counts
/// (no answer copied, no label hashed per resample): what [`compute`] gives for accuracy,
/// macro-F1 and field micro-F1 on the picked answers.
#[derive(Debug, Clone)]
pub struct Resampler {
    labels: usize,
    /// Per answer: gold label index, predicted label index, field tp / fp / fn.
    rows: Vec<(usize, Option<usize>, [usize; 3])>,
}

impl Resampler {
    /// Counts each answer of `pairs` once.
    pub fn new(pairs: &[(Gold, Predicted)]) -> Resampler {
        let mut labels: Vec<&str> = pairs
            .iter()
            .flat_map(|(g, p)| std::iter::once(g.label.trim()).chain(predicted_label(p)))
            .collect();
        labels.sort_unstable();
        labels.dedup();
        let index = |l: &str| labels.binary_search(&l).ok();
        let rows = pairs
            .iter()
            .map(|(g, p)| {
                let mut counts = BTreeMap::new();
                match_fields(&g.fields, &p.fields, &mut counts);
                let sum = |f: fn(&FieldCounts) -> usize| counts.values().map(f).sum::<usize>();
                (
                    index(g.label.trim()).expect("gold label is in the label list"),
                    predicted_label(p).and_then(index),
                    [sum(|c| c.tp), sum(|c| c.fp), sum(|c| c.fn_)],
                )
            })
            .collect();
        Resampler {
            labels: labels.len(),
            rows,
        }
    }

    /// Accuracy, macro-F1 (over the labels the picked answers have as gold or prediction)
    /// and field micro-F1 of the answers at `picks` (indexes, repeats allowed).
    pub fn scores(&self, picks: &[usize]) -> (f64, f64, f64) {
        let (mut tp, mut gold, mut predicted) = (
            vec![0usize; self.labels],
            vec![0usize; self.labels],
            vec![0usize; self.labels],
        );
        let (mut correct, mut fields) = (0, [0usize; 3]);
        for &i in picks {
            let (g, p, f) = &self.rows[i];
            gold[*g] += 1;
            if let Some(p) = *p {
                predicted[p] += 1;
                if p == *g {
                    tp[p] += 1;
                    correct += 1;
                }
            }
            fields.iter_mut().zip(f).for_each(|(a, b)| *a += b);
        }
        let (mut f1_sum, mut present) = (0.0, 0);
        for l in 0..self.labels {
            if gold[l] + predicted[l] > 0 {
                present += 1;
                f1_sum += harmonic(ratio(tp[l], predicted[l]), ratio(tp[l], gold[l]));
            }
        }
        let [ftp, ffp, ffn] = fields;
        let field_f1 = harmonic(ratio(ftp, ftp + ffp), ratio(ftp, ftp + ffn));
        let macro_f1 = if present == 0 {
            0.0
        } else {
            f1_sum / present as f64
        };
        (ratio(correct, picks.len()), macro_f1, field_f1)
    }
}

/// Precision, recall, F1 and support of each label, from the confusion matrix.
fn class_scores(confusion: &Confusion) -> Vec<ClassScore> {
    (0..confusion.labels.len())
        .map(|i| {
            let tp = confusion.counts[i][i];
            let support = confusion.gold_total(i);
            let precision = ratio(tp, confusion.predicted_total(i));
            let recall = ratio(tp, support);
            ClassScore {
                label: confusion.labels[i].clone(),
                precision,
                recall,
                f1: harmonic(precision, recall),
                support,
            }
        })
        .collect()
}

/// Per-field and micro scores from the counts, and the share of examples whose fields were
/// all right (`exact` of `examples`).
fn field_metrics(
    field_counts: &BTreeMap<String, FieldCounts>,
    exact: usize,
    examples: usize,
) -> FieldMetrics {
    let per_field: Vec<FieldScore> = field_counts
        .iter()
        .map(|(name, c)| {
            let precision = ratio(c.tp, c.tp + c.fp);
            let recall = ratio(c.tp, c.tp + c.fn_);
            FieldScore {
                name: name.clone(),
                precision,
                recall,
                f1: harmonic(precision, recall),
                support: c.support,
                tp: c.tp,
                fp: c.fp,
                fn_: c.fn_,
            }
        })
        .collect();
    let tp = per_field.iter().map(|f| f.tp).sum::<usize>();
    let fp = per_field.iter().map(|f| f.fp).sum::<usize>();
    let fn_ = per_field.iter().map(|f| f.fn_).sum::<usize>();
    let micro_precision = ratio(tp, tp + fp);
    let micro_recall = ratio(tp, tp + fn_);
    FieldMetrics {
        per_field,
        micro_precision,
        micro_recall,
        micro_f1: harmonic(micro_precision, micro_recall),
        exact_match: ratio(exact, examples),
    }
}

/// The confusion matrix is printed only up to this many labels.
const MAX_TABLE_LABELS: usize = 12;

/// Lays out rows in columns separated by two spaces: the first `left` columns left-aligned,
/// the others right-aligned.
fn table(rows: &[Vec<String>], left: usize) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, &w))| {
                if c < left {
                    format!("{s:<w$}")
                } else {
                    format!("{s:>w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn f3(v: f64) -> String {
    format!("{v:.3}")
}

/// A readable plain-text report: overall figures, the per-class table, the per-field table
/// (when there are fields) and the confusion matrix (up to 12 labels).
pub fn render_table(m: &Metrics) -> String {
    let mut out = table(&overall_rows(m), 2);
    if !m.per_class.is_empty() {
        out.push('\n');
        out.push_str(&table(&class_rows(m), 1));
    }
    if let Some(f) = &m.fields {
        out.push('\n');
        out.push_str(&table(&field_rows(f), 1));
    }
    let c = &m.confusion;
    if !c.labels.is_empty() && c.labels.len() <= MAX_TABLE_LABELS {
        out.push_str(&confusion_table(c));
    }
    out
}

/// The overall figures, one `[name, value]` row each.
fn overall_rows(m: &Metrics) -> Vec<Vec<String>> {
    let mut overall = vec![
        vec!["examples".into(), m.examples.to_string()],
        vec![
            "accuracy".into(),
            format!("{}  ({}/{})", f3(m.accuracy), m.correct, m.examples),
        ],
        vec![
            "macro F1".into(),
            format!(
                "{}  (mean over {} labels: gold ∪ predicted)",
                f3(m.macro_f1),
                m.per_class.len()
            ),
        ],
        vec!["weighted F1".into(), f3(m.weighted_f1)],
        vec![
            "unparseable".into(),
            format!(
                "{}  ({}/{})",
                f3(m.unparseable_rate),
                m.unparseable,
                m.examples
            ),
        ],
    ];
    if let Some(c) = m.mean_confidence {
        overall.push(vec!["mean confidence".into(), f3(c)]);
    }
    if let Some(f) = &m.fields {
        overall.push(vec![
            "field micro F1".into(),
            format!(
                "{}  (precision {}, recall {})",
                f3(f.micro_f1),
                f3(f.micro_precision),
                f3(f.micro_recall)
            ),
        ]);
        overall.push(vec!["field exact match".into(), f3(f.exact_match)]);
        overall.push(vec!["sentence accuracy".into(), f3(m.sentence_accuracy)]);
    }
    overall
}

/// The per-label scores with their header row.
fn class_rows(m: &Metrics) -> Vec<Vec<String>> {
    let mut rows = vec![["label", "precision", "recall", "F1", "support"]
        .map(String::from)
        .to_vec()];
    rows.extend(m.per_class.iter().map(|c| {
        vec![
            c.label.clone(),
            f3(c.precision),
            f3(c.recall),
            f3(c.f1),
            c.support.to_string(),
        ]
    }));
    rows
}

/// The per-field scores and counts with their header row.
fn field_rows(f: &FieldMetrics) -> Vec<Vec<String>> {
    let mut rows = vec![[
        "field",
        "precision",
        "recall",
        "F1",
        "support",
        "TP",
        "FP",
        "FN",
    ]
    .map(String::from)
    .to_vec()];
    rows.extend(f.per_field.iter().map(|s| {
        vec![
            s.name.clone(),
            f3(s.precision),
            f3(s.recall),
            f3(s.f1),
            s.support.to_string(),
            s.tp.to_string(),
            s.fp.to_string(),
            s.fn_.to_string(),
        ]
    }));
    rows
}

/// The confusion matrix as text, with its title line.
/// The same report as [`render_table`] in Markdown: overall scores, per-label and per-field
/// tables, and the confusion matrix (up to 30 labels; its rows are gold labels, its columns
/// the answers, numbered as the rows).
pub fn render_markdown(m: &Metrics) -> String {
    let mut out = String::from("| score | value |\n|---|---|\n");
    out.push_str(&markdown_rows(&overall_rows(m)));
    if !m.per_class.is_empty() {
        out.push_str("\n### Per label\n\n");
        out.push_str(&markdown_table(&class_rows(m)));
    }
    if let Some(f) = &m.fields {
        out.push_str("\n### Per field\n\n");
        out.push_str(&markdown_table(&field_rows(f)));
    }
    let c = &m.confusion;
    if !c.labels.is_empty() && c.labels.len() <= MAX_MARKDOWN_LABELS {
        out.push_str("\n### Confusion matrix (rows: gold label, columns: answer)\n\n");
        let mut rows = vec![std::iter::once(String::new())
            .chain((1..=c.labels.len()).map(|i| format!("[{i}]")))
            .chain(std::iter::once("unparseable".to_string()))
            .collect::<Vec<_>>()];
        for (i, label) in c.labels.iter().enumerate() {
            let mut row = vec![format!("[{}] {label}", i + 1)];
            row.extend(c.counts[i].iter().map(usize::to_string));
            row.push(c.unparseable[i].to_string());
            rows.push(row);
        }
        out.push_str(&markdown_table(&rows));
    }
    out
}

/// Labels up to which the Markdown report includes the confusion matrix.
const MAX_MARKDOWN_LABELS: usize = 30;

/// A Markdown table whose first row is the header (numbers right-aligned).
fn markdown_table(rows: &[Vec<String>]) -> String {
    let Some((head, body)) = rows.split_first() else {
        return String::new();
    };
    let align: Vec<&str> = (0..head.len())
        .map(|c| if c == 0 { "---" } else { "---:" })
        .collect();
    format!(
        "{}{}|\n{}",
        markdown_rows(std::slice::from_ref(head)),
        align.iter().fold(String::new(), |s, a| s + "|" + a),
        markdown_rows(body)
    )
}

/// Rows as Markdown table lines (`|` in a cell escaped).
fn markdown_rows(rows: &[Vec<String>]) -> String {
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
            format!("| {} |\n", cells.join(" | "))
        })
        .collect()
}

fn confusion_table(c: &Confusion) -> String {
    let mut out = String::new();
    let any_unparseable = c.unparseable.iter().any(|&u| u > 0);
    out.push_str("\nconfusion matrix (rows: gold, columns: predicted");
    out.push_str(if any_unparseable {
        ", ?: unparseable)\n"
    } else {
        ")\n"
    });
    let mut header = vec![String::new(), String::new()];
    header.extend((1..=c.labels.len()).map(|i| format!("[{i}]")));
    if any_unparseable {
        header.push("?".into());
    }
    let mut rows = vec![header];
    for (i, label) in c.labels.iter().enumerate() {
        let mut row = vec![format!("[{}]", i + 1), label.clone()];
        row.extend(c.counts[i].iter().map(usize::to_string));
        if any_unparseable {
            row.push(c.unparseable[i].to_string());
        }
        rows.push(row);
    }
    out.push_str(&table(&rows, 2));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gold(label: &str, fields: &[(&str, &str)]) -> Gold {
        Gold {
            label: label.into(),
            fields: pairs(fields),
        }
    }

    fn pred(label: Option<&str>, fields: &[(&str, &str)], confidence: Option<f64>) -> Predicted {
        Predicted {
            label: label.map(String::from),
            fields: pairs(fields),
            confidence,
        }
    }

    fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn labels_only(cases: &[(&str, Option<&str>)]) -> Vec<(Gold, Predicted)> {
        cases
            .iter()
            .map(|(g, p)| (gold(g, &[]), pred(*p, &[], None)))
            .collect()
    }

    #[track_caller]
    fn close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-12, "{actual} != {expected}");
    }

    /// The resampler's counts give what `compute` gives on the picked answers, for resamples
    /// that repeat answers and leave labels out.
    #[test]
    fn resampled_scores_equal_computing_the_picked_answers() {
        let labels = ["a", "b", "c ", "d"];
        let answers: Vec<(Gold, Predicted)> = (0..40usize)
            .map(|i| {
                let g = labels[i % 4];
                let p = match i % 7 {
                    0 => None,
                    1 | 2 => Some(labels[(i + 1) % 4]),
                    3 => Some("e"),
                    _ => Some(g.trim()),
                };
                let gf: &[(&str, &str)] = if i % 3 == 0 {
                    &[("City", "Oslo"), ("Id", "7")]
                } else {
                    &[("Id", "7")]
                };
                let pf: &[(&str, &str)] = match i % 5 {
                    0 => &[],
                    1 => &[("Id", "8")],
                    _ => &[("City", " oslo"), ("Id", "7")],
                };
                (gold(g, gf), pred(p, pf, Some(0.5)))
            })
            .collect();
        let r = Resampler::new(&answers);
        let mut seed = 7usize;
        for round in 0..50 {
            let picks: Vec<usize> = (0..40 - round / 2)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 33) % (1 + round % 40)
                })
                .collect();
            let picked: Vec<(Gold, Predicted)> =
                picks.iter().map(|&i| answers[i].clone()).collect();
            let m = compute(&picked);
            let (accuracy, macro_f1, field_f1) = r.scores(&picks);
            close(accuracy, m.accuracy);
            close(macro_f1, m.macro_f1);
            close(field_f1, m.fields.map_or(0.0, |f| f.micro_f1));
        }
    }

    #[test]
    fn the_markdown_report_has_every_table_and_escapes_pipes() {
        let pairs = vec![
            (
                gold("a|b", &[("City", "Oslo")]),
                pred(Some("a|b"), &[("City", "Oslo")], Some(0.9)),
            ),
            (gold("c", &[]), pred(Some("a|b"), &[], Some(0.6))),
        ];
        let md = render_markdown(&compute(&pairs));
        assert!(
            md.starts_with("| score | value |\n|---|---|\n| examples | 2 |\n"),
            "{md}"
        );
        assert!(md.contains("### Per label\n\n| label | precision | recall | F1 | support |\n|---|---:|---:|---:|---:|\n"));
        assert!(md.contains("| a\\|b | 0.500 | 1.000 | 0.667 | 1 |"), "{md}");
        assert!(md.contains("### Per field"));
        assert!(md.contains("| [2] c | 1 | 0 | 0 |"), "{md}");
    }

    #[test]
    fn coverage_trades_kept_tickets_for_accuracy() {
        let answers = [
            ("a", "a", Some(0.95)),
            ("a", "b", Some(0.55)),
            ("b", "b", Some(0.80)),
            ("b", "a", Some(0.30)),
            ("b", "b", None),
        ];
        let pairs: Vec<(Gold, Predicted)> = answers
            .iter()
            .map(|(g, p, c)| (gold(g, &[]), pred(Some(p), &[], *c)))
            .collect();
        let curve = coverage(&pairs);
        assert_eq!(curve.len(), 21);
        let at = |t: f64| {
            curve
                .iter()
                .find(|p| (p.threshold - t).abs() < 1e-9)
                .unwrap()
        };
        assert_eq!(at(0.0).kept, 5);
        close(at(0.0).accuracy.unwrap(), 3.0 / 5.0);
        // Above 0.3 the wrong 0.30 answer and the one without confidence go.
        assert_eq!(at(0.35).kept, 3);
        close(at(0.35).accuracy.unwrap(), 2.0 / 3.0);
        assert_eq!(at(0.6).kept, 2);
        close(at(0.6).accuracy.unwrap(), 1.0);
        close(at(0.6).coverage, 0.4);
        assert_eq!(at(1.0).kept, 0);
        assert_eq!(at(1.0).accuracy, None);
    }

    /// A→A, A→A, A→B, B→B, B→(unparseable), C→C, C→A.
    fn three_classes() -> Vec<(Gold, Predicted)> {
        labels_only(&[
            ("A", Some("A")),
            ("A", Some("A")),
            ("A", Some("B")),
            ("B", Some("B")),
            ("B", None),
            ("C", Some("C")),
            ("C", Some("A")),
        ])
    }

    #[test]
    fn three_classes_with_one_unparseable() {
        let m = compute(&three_classes());
        assert_eq!(m.examples, 7);
        // Right: A, A, B, C = 4 of 7.
        assert_eq!(m.correct, 4);
        close(m.accuracy, 4.0 / 7.0);
        assert_eq!(m.unparseable, 1);
        close(m.unparseable_rate, 1.0 / 7.0);
        assert_eq!(m.confusion.labels, ["A", "B", "C"]);
        assert_eq!(
            m.confusion.counts,
            vec![vec![2, 1, 0], vec![0, 1, 0], vec![1, 0, 1]]
        );
        assert_eq!(m.confusion.unparseable, [0, 1, 0]);
        // A: tp 2, predicted A 3 (2 + C→A), support 3 → P 2/3, R 2/3, F1 2/3.
        // B: tp 1, predicted B 2 (A→B, B→B), support 2 (incl. the unparseable) → P 1/2, R 1/2.
        // C: tp 1, predicted C 1, support 2 → P 1, R 1/2, F1 2·1·½ / 1½ = 2/3.
        let expect = [
            ("A", 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 3),
            ("B", 0.5, 0.5, 0.5, 2),
            ("C", 1.0, 0.5, 2.0 / 3.0, 2),
        ];
        for (c, (label, p, r, f1, support)) in m.per_class.iter().zip(expect) {
            assert_eq!((c.label.as_str(), c.support), (label, support));
            close(c.precision, p);
            close(c.recall, r);
            close(c.f1, f1);
        }
        // Macro: (2/3 + 1/2 + 2/3) / 3 = (11/6) / 3 = 11/18.
        close(m.macro_f1, 11.0 / 18.0);
        // Weighted: (3·2/3 + 2·1/2 + 2·2/3) / 7 = (2 + 1 + 4/3) / 7 = 13/21.
        close(m.weighted_f1, 13.0 / 21.0);
        // No fields anywhere: no field metrics; sentence accuracy is label accuracy.
        assert_eq!(m.fields, None);
        close(m.sentence_accuracy, 4.0 / 7.0);
        assert_eq!(m.mean_confidence, None);
    }

    #[test]
    fn macro_f1_counts_a_predicted_label_absent_from_gold() {
        let m = compute(&labels_only(&[
            ("A", Some("A")),
            ("A", Some("X")),
            ("B", Some("B")),
            ("B", Some("B")),
        ]));
        assert_eq!(m.confusion.labels, ["A", "B", "X"]);
        assert_eq!(
            m.confusion.counts,
            vec![vec![1, 0, 1], vec![0, 2, 0], vec![0, 0, 0]]
        );
        // A: P 1/1, R 1/2, F1 2/3.  B: P 2/2, R 2/2, F1 1.  X: P 0/1, R 0/0 → 0, F1 0.
        let x = &m.per_class[2];
        assert_eq!((x.label.as_str(), x.support), ("X", 0));
        close(x.precision + x.recall + x.f1, 0.0);
        // Macro over {A, B, X}: (2/3 + 1 + 0) / 3 = 5/9 (it would be 5/6 over gold labels only).
        close(m.macro_f1, 5.0 / 9.0);
        // Weighted: (2·2/3 + 2·1 + 0·0) / 4 = (10/3) / 4 = 5/6.
        close(m.weighted_f1, 5.0 / 6.0);
        close(m.accuracy, 0.75);
    }

    #[test]
    fn labels_are_trimmed_and_blank_is_unparseable() {
        let m = compute(&labels_only(&[
            (" Billing", Some("Billing\n")),
            ("Billing", Some("  ")),
        ]));
        assert_eq!(m.confusion.labels, ["Billing"]);
        assert_eq!(m.correct, 1);
        assert_eq!(m.unparseable, 1);
        // The label is compared exactly after trimming: case matters.
        assert_eq!(
            compute(&labels_only(&[("Billing", Some("billing"))])).correct,
            0
        );
    }

    /// Four examples with fields; see the test for the expected counts.
    fn with_fields() -> Vec<(Gold, Predicted)> {
        vec![
            // Values match after trimming and case-folding, names after trimming: 2 TP, exact.
            (
                gold("A", &[("Customer ID", "123"), ("Email", "a@b.c")]),
                pred(
                    Some("A"),
                    &[(" Customer ID ", " 123 "), ("Email", "A@B.C ")],
                    Some(0.9),
                ),
            ),
            // Wrong value: Customer ID FP + FN; Order FP. Not exact.
            (
                gold("A", &[("Customer ID", "456")]),
                pred(
                    Some("A"),
                    &[("Customer ID", "999"), ("Order", "7")],
                    Some(0.5),
                ),
            ),
            // Email TP; Order missed: FN. Not exact.
            (
                gold("B", &[("Email", "x@y.z"), ("Order", "42")]),
                pred(Some("A"), &[("Email", "x@y.z")], None),
            ),
            // No fields on either side: exact, but the label is wrong.
            (gold("B", &[]), pred(Some("A"), &[], None)),
        ]
    }

    #[test]
    fn field_scores_exact_match_and_sentence_accuracy() {
        let m = compute(&with_fields());
        let f = m.fields.as_ref().expect("fields present");
        let names: Vec<&str> = f.per_field.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Customer ID", "Email", "Order"]);
        // (support, tp, fp, fn, P, R, F1)
        // Customer ID: gold 2; TP 1 (ex 1), FP 1 + FN 1 (ex 2) → P 1/2, R 1/2, F1 1/2.
        // Email: gold 2; TP 2 → 1, 1, 1.
        // Order: gold 1; FP 1 (ex 2), FN 1 (ex 3) → 0, 0, 0.
        let expect = [
            (2, 1, 1, 1, 0.5, 0.5, 0.5),
            (2, 2, 0, 0, 1.0, 1.0, 1.0),
            (1, 0, 1, 1, 0.0, 0.0, 0.0),
        ];
        for (s, (support, tp, fp, fn_, p, r, f1)) in f.per_field.iter().zip(expect) {
            assert_eq!(
                (s.support, s.tp, s.fp, s.fn_),
                (support, tp, fp, fn_),
                "{s:?}"
            );
            close(s.precision, p);
            close(s.recall, r);
            close(s.f1, f1);
        }
        // Micro: TP 3, FP 2, FN 2 → P 3/5, R 3/5, F1 3/5.
        close(f.micro_precision, 0.6);
        close(f.micro_recall, 0.6);
        close(f.micro_f1, 0.6);
        // Exact field sets: examples 1 and 4 → 2/4.
        close(f.exact_match, 0.5);
        // Right labels: examples 1 and 2 → 2/4; right label and exact fields: example 1 → 1/4.
        close(m.accuracy, 0.5);
        close(m.sentence_accuracy, 0.25);
        // Confidence known for examples 1 and 2: (0.9 + 0.5) / 2.
        close(m.mean_confidence.unwrap(), 0.7);
    }

    #[test]
    fn field_names_keep_their_case_and_duplicates_count_once() {
        let m = compute(&[(
            gold("A", &[("Email", "a@b.c")]),
            pred(
                Some("A"),
                &[("email", "a@b.c"), ("Email", "a@b.c"), ("Email", "a@b.c")],
                None,
            ),
        )]);
        let f = m.fields.unwrap();
        // "email" is another field (FP); the second "Email" copy has no gold pair left (FP).
        let counts: Vec<_> = f
            .per_field
            .iter()
            .map(|s| (s.name.as_str(), s.tp, s.fp, s.fn_))
            .collect();
        assert_eq!(counts, [("Email", 1, 1, 0), ("email", 0, 1, 0)]);
        close(f.exact_match, 0.0);
    }

    #[test]
    fn empty_input_gives_zeros() {
        let m = compute(&[]);
        assert_eq!((m.examples, m.correct, m.unparseable), (0, 0, 0));
        for v in [
            m.accuracy,
            m.macro_f1,
            m.weighted_f1,
            m.sentence_accuracy,
            m.unparseable_rate,
        ] {
            close(v, 0.0);
        }
        assert!(m.per_class.is_empty() && m.confusion.labels.is_empty());
        assert_eq!((&m.fields, m.mean_confidence), (&None, None));
        assert!(render_table(&m).contains("examples"));
    }

    #[test]
    fn metrics_round_trip_through_json() {
        let m = compute(&with_fields());
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["fields"]["per_field"][0]["fn"], 1);
        let back: Metrics = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn report_shows_the_key_numbers() {
        let mut cases = three_classes();
        cases[0].1.fields = pairs(&[("Order", "1")]);
        cases[0].0.fields = pairs(&[("Order", "1")]);
        let report = render_table(&compute(&cases));
        println!("{report}");
        for needle in [
            "examples           7",
            "accuracy           0.571  (4/7)",
            "macro F1           0.611",
            "weighted F1        0.619",
            "unparseable        0.143  (1/7)",
            "field exact match  1.000",
            "label  precision  recall     F1  support",
            "A          0.667   0.667  0.667        3",
            "C          1.000   0.500  0.667        2",
            "Order      1.000   1.000  1.000        1   1   0   0",
            "confusion matrix (rows: gold, columns: predicted, ?: unparseable)",
            "[2]  B    0    1    0  1",
        ] {
            assert!(report.contains(needle), "missing {needle:?} in\n{report}");
        }
        // Beyond 12 labels there is no confusion matrix.
        let many: Vec<(String, Option<String>)> = (0..13)
            .map(|i| (format!("L{i:02}"), Some(format!("L{i:02}"))))
            .collect();
        let many: Vec<_> = many
            .iter()
            .map(|(g, p)| (gold(g, &[]), pred(p.as_deref(), &[], None)))
            .collect();
        let report = render_table(&compute(&many));
        assert!(report.contains("L12") && !report.contains("confusion"));
    }
}
