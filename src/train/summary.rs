//! One line per run for the Runs table: the run, its best validation loss and the scores of
//! its latest evaluation.

use crate::metrics::TaskScores;
use crate::store::{EvalInfo, RunInfo, RunMetrics, Store, StoreError};
use serde::Serialize;

/// The headline scores of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    /// Dataset evaluated on.
    pub dataset: String,
    /// Split evaluated on.
    pub split: String,
    /// Examples scored.
    pub examples: usize,
    /// Label accuracy.
    pub accuracy: f64,
    /// Macro-averaged label F1.
    pub macro_f1: f64,
    /// Field micro-F1, when the task has fields.
    pub field_f1: Option<f64>,
}

/// A run with what the Runs table shows about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run.
    #[serde(flatten)]
    pub run: RunInfo,
    /// The base model as shown (`owner/name` for a Hub snapshot).
    pub model_label: String,
    /// Validation loss of the best checkpoint (the lowest recorded when it has none).
    pub best_val_loss: Option<f64>,
    /// The task scores of the best checkpoint's validation sample, when measured.
    pub best_scores: Option<TaskScores>,
    /// Validation passes recorded.
    pub evals: usize,
    /// Its latest evaluation.
    pub latest_eval: Option<Scores>,
}

/// Every run, newest first, summarised.
pub fn summaries(store: &Store) -> Result<Vec<RunSummary>, StoreError> {
    let evals = store.list_evals(None)?;
    store
        .list_runs()?
        .into_iter()
        .map(|run| {
            let metrics = store.run_metrics(&run)?;
            Ok(summarize(run, &metrics, &evals))
        })
        .collect()
}

/// Run `name`, summarised, with the metrics the summary was made from (what the run page
/// draws), read once.
pub fn summary(store: &Store, name: &str) -> Result<(RunSummary, RunMetrics), StoreError> {
    let run = store.run(name)?;
    let evals = store.list_evals(Some(name))?;
    let metrics = store.run_metrics(&run)?;
    Ok((summarize(run, &metrics, &evals), metrics))
}

/// `run` with its best checkpoint's validation and the first of `evals` (newest first) that is its.
fn summarize(run: RunInfo, metrics: &RunMetrics, evals: &[EvalInfo]) -> RunSummary {
    let best = metrics.evals.iter().find(|e| Some(e.step) == run.best_step);
    let best_val_loss = best
        .map(|e| e.val_loss)
        .or_else(|| metrics.evals.iter().map(|e| e.val_loss).reduce(f64::min));
    let latest_eval = evals
        .iter()
        .find(|e| e.run_id == Some(run.id))
        .map(|e| Scores {
            dataset: e.spec.dataset.clone(),
            split: e.spec.split.clone(),
            examples: e.metrics.examples,
            accuracy: e.metrics.accuracy,
            macro_f1: e.metrics.macro_f1,
            field_f1: e.metrics.fields.as_ref().map(|f| f.micro_f1),
        });
    RunSummary {
        model_label: crate::paths::model_label(&run.model),
        run,
        best_val_loss,
        best_scores: best.and_then(|e| e.scores),
        evals: metrics.evals.len(),
        latest_eval,
    }
}
