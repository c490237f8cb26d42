//! Suspected mislabels: tickets whose gold label the fine-tuned model contradicts with high
//! confidence. A model trained on mostly clean data learns the rule, so on a ticket labelled
//! against the rule it answers the rule, and surely; when a second checkpoint gives the same
//! answer, the suspicion is stronger. Ranked for a person to relabel or dismiss.

use crate::store::{EvalRecord, Store, StoreError};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Confidence under which a disagreement is the model's doubt rather than the label's fault.
pub const MIN_CONFIDENCE: f64 = 0.5;

/// A ticket whose label looks wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspect {
    /// Row of the dataset.
    pub row: u64,
    /// The ticket.
    pub text: String,
    /// Its label in the dataset.
    pub gold: String,
    /// The model's answer.
    pub predicted: String,
    /// The model's confidence in it.
    pub confidence: f64,
    /// Whether the second checkpoint gave the same answer (None without one).
    pub confirmed: Option<bool>,
}

/// The suspects among `records` (an evaluation of the fine-tuned model), most suspicious
/// first: answers other than the gold label with at least `min_confidence`, those a
/// `second` evaluation of another checkpoint confirms before those it contradicts, then by
/// confidence. Rows in `dismissed` with the same gold label are left out.
pub fn suspects(
    records: &[EvalRecord],
    second: Option<&[EvalRecord]>,
    dismissed: &[(u64, String)],
    min_confidence: f64,
) -> Vec<Suspect> {
    let dismissed: HashSet<(u64, &str)> = dismissed.iter().map(|(r, l)| (*r, l.as_str())).collect();
    let second: Option<HashMap<i64, Option<&str>>> = second.map(|recs| {
        recs.iter()
            .filter_map(|r| Some((r.example_id?, r.predicted.label.as_deref())))
            .collect()
    });
    let mut out: Vec<Suspect> = records
        .iter()
        .filter_map(|r| {
            let row = r.example_id?;
            let predicted = r.predicted.label.as_deref()?;
            let confidence = r.predicted.confidence?;
            let gold = r.gold.label.trim();
            if predicted.trim() == gold
                || confidence < min_confidence
                || dismissed.contains(&(row as u64, gold))
            {
                return None;
            }
            let confirmed = second
                .as_ref()
                .map(|s| s.get(&row).copied().flatten() == Some(predicted));
            Some(Suspect {
                row: row as u64,
                text: r.input.clone(),
                gold: gold.to_string(),
                predicted: predicted.to_string(),
                confidence,
                confirmed,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (b.confirmed != Some(false))
            .cmp(&(a.confirmed != Some(false)))
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.row.cmp(&b.row))
    });
    out
}

/// The suspects of dataset `dataset` from evaluation `eval` (a fine-tuned run's answers to
/// some of its rows) and optionally `second` (another checkpoint's answers), without the
/// dismissed ones. Each row is judged by the label it has now, so a row relabelled since the
/// evaluation to the model's answer is no longer suspected. Refuses evaluations of another
/// dataset (their rows are not this one's).
pub fn of_dataset(
    store: &Store,
    dataset: &str,
    eval: i64,
    second: Option<i64>,
    min_confidence: f64,
) -> Result<Vec<Suspect>, StoreError> {
    let info = store.dataset(dataset)?;
    let records = |id: i64| -> Result<Vec<EvalRecord>, StoreError> {
        let e = store.eval(id)?;
        if e.spec.dataset != info.name {
            return Err(StoreError::Stale(format!(
                "evaluation {id} answered dataset '{}', not '{}'",
                e.spec.dataset, info.name
            )));
        }
        store.eval_records(id)
    };
    let labels: HashMap<u64, String> = store
        .examples(&info)?
        .into_iter()
        .map(|e| (e.row, e.label))
        .collect();
    let mut first = records(eval)?;
    for r in &mut first {
        if let Some(now) = r.example_id.and_then(|row| labels.get(&(row as u64))) {
            r.gold.label.clone_from(now);
        }
    }
    let second = second.map(records).transpose()?;
    let dismissed = store.dismissed_mislabels(&info)?;
    Ok(suspects(
        &first,
        second.as_deref(),
        &dismissed,
        min_confidence,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Gold, Predicted};

    fn record(row: i64, gold: &str, predicted: &str, confidence: f64) -> EvalRecord {
        EvalRecord {
            example_id: Some(row),
            input: format!("ticket {row}"),
            gold: Gold {
                label: gold.into(),
                fields: vec![],
            },
            predicted: Predicted {
                label: Some(predicted.into()),
                fields: vec![],
                confidence: Some(confidence),
            },
            output: String::new(),
        }
    }

    #[test]
    fn confident_confirmed_disagreements_come_first() {
        let first = [
            record(1, "a", "a", 0.99),
            record(2, "a", "b", 0.97),
            record(3, "b", "a", 0.90),
            record(4, "b", "a", 0.30),
            record(5, "a", "b", 0.95),
        ];
        let rows = |s: &[Suspect]| s.iter().map(|s| s.row).collect::<Vec<_>>();
        let alone = suspects(&first, None, &[], MIN_CONFIDENCE);
        assert_eq!(rows(&alone), [2, 5, 3], "row 4 is the model's doubt");
        assert_eq!(alone[0].confirmed, None);
        // The second checkpoint agrees on rows 3 and 5, not on row 2.
        let second = [
            record(2, "a", "a", 0.6),
            record(3, "b", "a", 0.8),
            record(5, "a", "b", 0.9),
        ];
        let both = suspects(&first, Some(&second), &[], MIN_CONFIDENCE);
        assert_eq!(rows(&both), [5, 3, 2]);
        assert_eq!(both[2].confirmed, Some(false));
        let kept = suspects(
            &first,
            None,
            &[(5, "a".into()), (3, "a".into())],
            MIN_CONFIDENCE,
        );
        assert_eq!(
            rows(&kept),
            [2, 3],
            "row 5 was dismissed with its label; row 3's label differs"
        );
    }
}
