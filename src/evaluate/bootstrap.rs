//! How sure a difference between two evaluations of the same tickets is: a paired bootstrap
//! (resample the tickets with replacement, score both answers on each resample) gives a 95 %
//! interval for each difference, and the verdict sentence that the Evaluate page and
//! `tunedesk compare` show.

use crate::metrics::{self, Gold, Metrics, Predicted, Resampler};
use crate::store::{EvalRecord, Store, StoreError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::HashMap;

/// Resamples drawn by default (the interval's ends move by about 0.2 points between seeds).
pub const RESAMPLES: usize = 1000;

/// Gains under this (in accuracy, macro-F1 or field F1) are too small to be worth a run.
const WORTH_IT: f64 = 0.02;

/// One metric of `a − b` with its 95 % paired-bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// `accuracy`, `macro_f1` or `field_f1`.
    pub metric: &'static str,
    /// The difference on all tickets.
    pub value: f64,
    /// 2.5th percentile over the resamples.
    pub low: f64,
    /// 97.5th percentile over the resamples.
    pub high: f64,
}

/// What the differences say about fine-tuning against a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Better by at least two points on some metric, sure of it, and worse on none.
    WorthIt,
    /// Better, but by little or not surely, or better on one metric and worse on another.
    Marginal,
    /// No metric is surely better by more than a point: the baseline does as well.
    BaselineEnough,
}

impl Verdict {
    /// The sentence for `baseline` (e.g. "the 5-shot base").
    pub fn sentence(self, baseline: &str) -> String {
        let text = match self {
            Verdict::WorthIt => {
                format!("Fine-tuning was worth it: clearly better than {baseline}.")
            }
            Verdict::Marginal => {
                format!(
                    "Marginal: fine-tuning is ahead of {baseline}, but not by much or not surely."
                )
            }
            Verdict::BaselineEnough => {
                format!("{baseline} is enough: fine-tuning is not surely better.")
            }
        };
        let mut chars = text.chars();
        chars
            .next()
            .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
    }
}

/// The metrics a verdict weighs: accuracy, macro-F1 and, when either side has fields,
/// field micro-F1.
fn values(m: &Metrics) -> Vec<(&'static str, f64)> {
    let mut v = vec![("accuracy", m.accuracy), ("macro_f1", m.macro_f1)];
    if let Some(f) = &m.fields {
        v.push(("field_f1", f.micro_f1));
    }
    v
}

/// `a − b` for each metric with a 95 % interval from `resamples` paired resamples (`seed`
/// makes them reproducible). `a[i]` and `b[i]` must be answers to the same ticket.
///
/// # Panics
/// If `a` and `b` differ in length.
pub fn paired(
    a: &[(Gold, Predicted)],
    b: &[(Gold, Predicted)],
    resamples: usize,
    seed: u64,
) -> Vec<Difference> {
    assert_eq!(a.len(), b.len(), "paired answers to the same tickets");
    let whole: Vec<(&'static str, f64)> = values(&metrics::compute(a))
        .into_iter()
        .zip(values(&metrics::compute(b)))
        .map(|((name, x), (_, y))| (name, x - y))
        .collect();
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples); whole.len()];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = a.len();
    let (ra, rb) = (Resampler::new(a), Resampler::new(b));
    let mut picks = vec![0; n];
    if n > 0 {
        for _ in 0..resamples {
            picks.iter_mut().for_each(|p| *p = rng.random_range(0..n));
            let ((a1, a2, a3), (b1, b2, b3)) = (ra.scores(&picks), rb.scores(&picks));
            for (s, d) in samples.iter_mut().zip([a1 - b1, a2 - b2, a3 - b3]) {
                s.push(d);
            }
        }
    }
    whole
        .into_iter()
        .zip(samples)
        .map(|((metric, value), mut s)| {
            s.sort_by(f64::total_cmp);
            let at = |q: f64| match s.len() {
                0 => value,
                len => s[((len - 1) as f64 * q).round() as usize],
            };
            Difference {
                metric,
                value,
                low: at(0.025),
                high: at(0.975),
            }
        })
        .collect()
}

/// `a − b` between two stored evaluations, over the tickets both answered (matched by row
/// and ticket text), with [`RESAMPLES`] resamples.
pub fn between(store: &Store, a: i64, b: i64) -> Result<Vec<Difference>, StoreError> {
    let (ra, rb) = (store.eval_records(a)?, store.eval_records(b)?);
    let key = |r: &EvalRecord| (r.example_id, r.input.clone());
    let other: HashMap<_, &EvalRecord> = rb.iter().map(|r| (key(r), r)).collect();
    let (pa, pb): (Vec<_>, Vec<_>) = ra
        .iter()
        .filter_map(|r| {
            let o = other.get(&key(r))?;
            Some((
                (r.gold.clone(), r.predicted.clone()),
                (o.gold.clone(), o.predicted.clone()),
            ))
        })
        .unzip();
    Ok(paired(&pa, &pb, RESAMPLES, 0))
}

/// The verdict of `differences` (fine-tuned − baseline).
pub fn verdict(differences: &[Difference]) -> Verdict {
    let surely_better = differences
        .iter()
        .any(|d| d.low > 0.0 && d.value >= WORTH_IT);
    let surely_worse = differences.iter().any(|d| d.high < 0.0);
    let maybe_better = differences.iter().any(|d| d.low > 0.0 || d.value > 0.01);
    if surely_better && !surely_worse {
        Verdict::WorthIt
    } else if surely_better || (maybe_better && !surely_worse) {
        Verdict::Marginal
    } else {
        Verdict::BaselineEnough
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(gold: &str, predicted: &str) -> (Gold, Predicted) {
        (
            Gold {
                label: gold.into(),
                fields: vec![],
            },
            Predicted {
                label: Some(predicted.into()),
                fields: vec![],
                confidence: None,
            },
        )
    }

    /// `right` of `n` tickets answered right, the rest wrong; labels alternate a/b.
    fn answers(n: usize, right: usize) -> Vec<(Gold, Predicted)> {
        (0..n)
            .map(|i| {
                let gold = if i % 2 == 0 { "a" } else { "b" };
                let other = if i % 2 == 0 { "b" } else { "a" };
                pair(gold, if i < right { gold } else { other })
            })
            .collect()
    }

    #[test]
    fn the_interval_holds_the_difference_and_narrows_with_more_tickets() {
        let small = paired(&answers(40, 36), &answers(40, 28), RESAMPLES, 1);
        let acc = &small[0];
        assert_eq!(acc.metric, "accuracy");
        assert!((acc.value - 0.2).abs() < 1e-12);
        assert!(acc.low < acc.value && acc.value < acc.high, "{acc:?}");
        // The answers differ on 8 of 40 tickets, all in favour of `a`: the interval stays
        // above zero, and its width is about that of a binomial's (±2·sqrt(8)/40 ≈ ±0.14).
        assert!(acc.low > 0.0 && acc.high - acc.low < 0.3, "{acc:?}");
        let large = paired(&answers(400, 360), &answers(400, 280), RESAMPLES, 1);
        assert!(large[0].high - large[0].low < (acc.high - acc.low) / 2.0);
        assert_eq!(
            paired(&answers(40, 36), &answers(40, 28), RESAMPLES, 1),
            small,
            "same seed, same interval"
        );
    }

    #[test]
    fn identical_answers_have_a_zero_interval_and_no_verdict_for_fine_tuning() {
        let d = paired(&answers(50, 30), &answers(50, 30), 200, 3);
        assert!(d
            .iter()
            .all(|d| d.value == 0.0 && d.low == 0.0 && d.high == 0.0));
        assert_eq!(verdict(&d), Verdict::BaselineEnough);
    }

    #[test]
    fn verdicts_follow_size_and_certainty() {
        let d = |value: f64, low: f64, high: f64| Difference {
            metric: "accuracy",
            value,
            low,
            high,
        };
        assert_eq!(verdict(&[d(0.10, 0.05, 0.15)]), Verdict::WorthIt);
        assert_eq!(
            verdict(&[d(0.015, 0.005, 0.03)]),
            Verdict::Marginal,
            "sure, small"
        );
        assert_eq!(
            verdict(&[d(0.05, -0.01, 0.11)]),
            Verdict::Marginal,
            "big, unsure"
        );
        assert_eq!(
            verdict(&[d(0.10, 0.05, 0.15), d(-0.05, -0.08, -0.01)]),
            Verdict::Marginal,
            "better on one metric, surely worse on another"
        );
        assert_eq!(verdict(&[d(0.0, -0.02, 0.02)]), Verdict::BaselineEnough);
        assert!(Verdict::WorthIt
            .sentence("5-shot prompting")
            .contains("5-shot"));
    }
}
