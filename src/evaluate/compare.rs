//! Fine-tuning against prompting: a run's evaluation next to zero- and few-shot evaluations
//! of its base model on the same tickets (each computed once, then reused), with the paired
//! bootstrap intervals of the differences and the verdict (`tunedesk compare`, the Evaluate
//! page's verdict card).

use super::bootstrap::{self, Difference, Verdict};
use super::run::{evaluate, EvalError, EvalRequest, SplitChoice, Target};
use crate::dataset::Split;
use crate::model::ModelError;
use crate::paths::DataDir;
use crate::predict::PredictOptions;
use crate::store::{EvalInfo, EvalSpec, Store};
use serde::Serialize;

/// The baselines compared by default: zero-shot and five-shot prompting.
pub const BASELINE_SHOTS: [usize; 2] = [0, 5];

/// One column of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// `fine-tuned`, `0-shot base`, `5-shot base`, …
    pub name: String,
    /// Its evaluation.
    pub eval: EvalInfo,
}

/// A fine-tuned evaluation and its baselines.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The fine-tuned evaluation first, then the baselines.
    pub columns: Vec<Column>,
    /// The verdict against the strongest baseline (by macro-F1), when there is one.
    pub verdict: Option<Judged>,
    /// Baselines left out, and why (a few-shot prompt longer than the model can read).
    pub skipped: Vec<String>,
}

/// The fine-tuned run against one baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    /// The baseline's column name.
    pub against: String,
    /// Fine-tuned − baseline, with 95 % intervals.
    pub differences: Vec<Difference>,
    /// What they say.
    pub verdict: Verdict,
    /// The verdict in a sentence.
    pub sentence: String,
}

/// The evaluation of `tuned`'s base model with `shots` worked examples on the same tickets:
/// the stored one, else evaluated now (`options` decode it, `seed` draws its examples;
/// `on_progress(done, total)`).
pub fn baseline(
    store: &mut Store,
    data_dir: &DataDir,
    tuned: &EvalInfo,
    shots: usize,
    options: &PredictOptions,
    seed: u64,
    on_progress: &mut dyn FnMut(usize, usize),
) -> Result<EvalInfo, EvalError> {
    let spec = baseline_spec(tuned, shots);
    if let Some(found) = store.find_eval(&spec)? {
        return Ok(found);
    }
    let run_name = tuned.spec.run.as_deref().unwrap_or_default();
    let run = store.run(run_name)?;
    let split = SplitChoice::parse(&tuned.spec.split).unwrap_or(SplitChoice::Only(Split::Test));
    let req = EvalRequest {
        target: Target::Base {
            model: run.model.clone().into(),
            shots,
            shots_from: Some(run.dataset.clone()),
        },
        dataset: spec.dataset.clone(),
        split,
        limit: tuned.spec.limit,
        options: PredictOptions {
            constrained: tuned.spec.constrained,
            ..options.clone()
        },
        seed,
    };
    evaluate(store, data_dir, &req, on_progress)
}

/// What a baseline of `tuned` with `shots` examples is stored as.
fn baseline_spec(tuned: &EvalInfo, shots: usize) -> EvalSpec {
    EvalSpec {
        run: None,
        checkpoint: None,
        shots: Some(shots as u32),
        ..tuned.spec.clone()
    }
}

/// The column of the fine-tuned evaluation.
fn fine_tuned(tuned: &EvalInfo) -> Column {
    Column {
        name: "fine-tuned".into(),
        eval: tuned.clone(),
    }
}

/// `tuned` next to those of its baselines of `shots` examples that are stored already
/// (nothing is evaluated), with the verdict when there is one.
pub fn stored(store: &Store, tuned: &EvalInfo, shots: &[usize]) -> Result<Comparison, EvalError> {
    let mut columns = vec![fine_tuned(tuned)];
    for &k in shots {
        if let Some(eval) = store.find_eval(&baseline_spec(tuned, k))? {
            columns.push(Column {
                name: format!("{k}-shot base"),
                eval,
            });
        }
    }
    judge(store, columns)
}

/// `tuned` next to its baselines of `shots` examples each (evaluated where missing), and the
/// verdict against the strongest of them. `on_progress(baseline, done, total)`.
pub fn compare(
    store: &mut Store,
    data_dir: &DataDir,
    tuned: &EvalInfo,
    shots: &[usize],
    options: &PredictOptions,
    seed: u64,
    on_progress: &mut dyn FnMut(usize, usize, usize),
) -> Result<Comparison, EvalError> {
    let mut columns = vec![fine_tuned(tuned)];
    let mut skipped = Vec::new();
    for (i, &k) in shots.iter().enumerate() {
        match baseline(store, data_dir, tuned, k, options, seed, &mut |d, t| {
            on_progress(i, d, t)
        }) {
            Ok(eval) => columns.push(Column {
                name: format!("{k}-shot base"),
                eval,
            }),
            Err(EvalError::Model(e @ ModelError::PromptTooLong { .. })) => {
                skipped.push(format!("{k}-shot base: {e}"))
            }
            Err(e) => return Err(e),
        }
    }
    let mut c = judge(store, columns)?;
    c.skipped = skipped;
    Ok(c)
}

/// The verdict of `columns[0]` (fine-tuned) against the strongest of the others.
fn judge(store: &Store, columns: Vec<Column>) -> Result<Comparison, EvalError> {
    let tuned = &columns[0].eval;
    let verdict = columns[1..]
        .iter()
        .max_by(|a, b| a.eval.metrics.macro_f1.total_cmp(&b.eval.metrics.macro_f1))
        .map(|best| -> Result<Judged, EvalError> {
            let differences = bootstrap::between(store, tuned.id, best.eval.id)?;
            let verdict = bootstrap::verdict(&differences);
            Ok(Judged {
                against: best.name.clone(),
                sentence: verdict.sentence(&format!("the {}", best.name)),
                differences,
                verdict,
            })
        })
        .transpose()?;
    Ok(Comparison {
        columns,
        verdict,
        skipped: Vec::new(),
    })
}
