//! A named training run end to end: dataset from the store → model → training → metrics in
//! the store and checkpoints under `<data dir>/runs/<name>/` (`last/`, `best/`). A run that was
//! killed or cancelled continues with [`resume`].

use super::{checkpoint, encode_all, Hooks, TrainConfig, TrainEvent};
use crate::dataset::split::{self, SplitPlan};
use crate::dataset::{Example, Split};
use crate::model::{default_device, LoadedModel, ModelError};
use crate::paths::DataDir;
use crate::store::{RunInfo, RunStatus, StepRecord, Store, StoreError};
use crate::template::Template;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Why a run could not start or continue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Splitting the dataset failed.
    #[error(transparent)]
    Dataset(#[from] crate::dataset::DatasetError),
    /// A checkpoint could not be written or read.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] std::io::Error),
    /// The run name is not usable.
    #[error(transparent)]
    Name(#[from] crate::name::NameError),
    /// The dataset has nothing to train on.
    #[error("dataset '{0}' has no training rows")]
    NoTrainingData(String),
    /// The run cannot be resumed.
    #[error("run '{name}' cannot be resumed: {why}")]
    NotResumable {
        /// Run name.
        name: String,
        /// Reason.
        why: String,
    },
}

/// What to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Dataset name.
    pub dataset: String,
    /// Base model (HF folder or .gguf).
    pub model: PathBuf,
    /// Hyperparameters.
    pub config: TrainConfig,
    /// Train on at most this many rows of the train split (a stratified sample).
    pub train_limit: Option<usize>,
    /// Validate on at most this many rows of the val split (a stratified sample).
    pub val_limit: Option<usize>,
}

/// Where a run's checkpoints live.
pub fn run_dir(data_dir: &DataDir, name: &str) -> PathBuf {
    data_dir.path().join("runs").join(name)
}

/// Steps of the step checkpoints run `name` keeps, ascending.
pub fn kept_steps(data_dir: &DataDir, name: &str) -> Vec<usize> {
    let dir = run_dir(data_dir, name).join(checkpoint::STEPS_DIR);
    let mut steps: Vec<usize> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join(checkpoint::ADAPTER_FILE).exists())
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    steps.sort_unstable();
    steps
}

/// A stratified sample of at most `n` examples (same seed, same sample).
pub(crate) fn stratified_sample(
    mut examples: Vec<Example>,
    n: Option<usize>,
    seed: u64,
) -> Vec<Example> {
    let Some(n) = n.filter(|&n| n < examples.len()) else {
        return examples;
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let total = examples.len();
    examples.shuffle(&mut rng);
    let mut by_label: BTreeMap<String, Vec<Example>> = BTreeMap::new();
    for e in examples {
        by_label.entry(e.label.clone()).or_default().push(e);
    }
    // Largest-remainder allocation, at least one row per label while room remains.
    let mut quotas: Vec<(String, usize, f64)> = by_label
        .iter()
        .map(|(l, v)| {
            let exact = v.len() as f64 * n as f64 / total as f64;
            (l.clone(), exact.floor() as usize, exact - exact.floor())
        })
        .collect();
    let given: usize = quotas.iter().map(|q| q.1).sum();
    quotas.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let missing = n.saturating_sub(given);
    for q in quotas.iter_mut().take(missing) {
        q.1 += 1;
    }
    let mut out: Vec<Example> = quotas
        .into_iter()
        .flat_map(|(l, k, _)| by_label.remove(&l).unwrap_or_default().into_iter().take(k))
        .collect();
    out.sort_by_key(|e| e.row);
    out
}

/// The train and validation examples of a run (splitting the dataset first if it has none).
pub(crate) fn run_data(
    store: &mut Store,
    spec: &RunSpec,
) -> Result<(Vec<Example>, Vec<Example>), TrainError> {
    let info = store.dataset(&spec.dataset)?;
    let mut examples = store.examples(&info)?;
    if examples.iter().all(|e| e.split.is_none()) {
        let splits = split::stratified(&examples, SplitPlan::default())?;
        store.set_splits(&info, &splits)?;
        examples = store.examples(&info)?;
    }
    let pick = |s: Split| {
        examples
            .iter()
            .filter(|e| e.split == Some(s))
            .cloned()
            .collect::<Vec<_>>()
    };
    let train = stratified_sample(pick(Split::Train), spec.train_limit, spec.config.seed);
    let val = stratified_sample(pick(Split::Val), spec.val_limit, spec.config.seed);
    if train.is_empty() {
        return Err(TrainError::NoTrainingData(spec.dataset.clone()));
    }
    Ok((train, val))
}

/// Creates run `name` and trains it on examples laid out with `template`.
pub fn start(
    store: &mut Store,
    data_dir: &DataDir,
    name: &str,
    spec: &RunSpec,
    template: &Template,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<RunInfo, TrainError> {
    crate::name::check("run", name)?;
    let run = store.create_run(
        name,
        &spec.dataset,
        &spec.model.display().to_string(),
        &serde_json::to_value(spec).expect("spec serializes"),
        &serde_json::to_value(template).expect("template serializes"),
    )?;
    execute(
        store, data_dir, run, spec, template, false, cancel, on_event,
    )
}

/// Continues run `name` from its last checkpoint.
pub fn resume(
    store: &mut Store,
    data_dir: &DataDir,
    name: &str,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<RunInfo, TrainError> {
    let run = store.run(name)?;
    let not = |why: &str| TrainError::NotResumable {
        name: name.to_string(),
        why: why.to_string(),
    };
    if run.status == RunStatus::Done {
        return Err(not("it has finished"));
    }
    let spec: RunSpec = serde_json::from_value(run.config.clone())
        .map_err(|e| not(&format!("stored config: {e}")))?;
    let template: Template = serde_json::from_value(run.template.clone())
        .map_err(|e| not(&format!("stored template: {e}")))?;
    execute(
        store, data_dir, run, &spec, &template, true, cancel, on_event,
    )
}

#[allow(clippy::too_many_arguments)]
fn execute(
    store: &mut Store,
    data_dir: &DataDir,
    run: RunInfo,
    spec: &RunSpec,
    template: &Template,
    resuming: bool,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<RunInfo, TrainError> {
    let dir = run_dir(data_dir, &run.name);
    let last = dir.join("last");
    checkpoint::recover(&last)?;
    checkpoint::recover(&dir.join("best"))?;
    let resume = if resuming && last.exists() {
        let (state, tensors) = checkpoint::load(&last)?;
        store.truncate_run(&run, state.step as i64)?;
        Some((state, tensors))
    } else {
        if resuming {
            store.truncate_run(&run, -1)?;
        }
        None
    };
    store.set_run_status(&run, RunStatus::Running, None)?;
    let outcome = train_and_record(store, &dir, &run, spec, template, resume, cancel, on_event);
    let status = match &outcome {
        Ok(true) => RunStatus::Cancelled,
        Ok(false) => RunStatus::Done,
        Err(_) => RunStatus::Failed,
    };
    let message = outcome.as_ref().err().map(|e| e.to_string());
    store.set_run_status(&run, status, message.as_deref())?;
    outcome?;
    Ok(store.run(&run.name)?)
}

/// Trains and records; returns whether the run was cancelled.
#[allow(clippy::too_many_arguments)]
fn train_and_record(
    store: &mut Store,
    dir: &Path,
    run: &RunInfo,
    spec: &RunSpec,
    template: &Template,
    resume: Option<(super::TrainState, super::Restored)>,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<bool, TrainError> {
    let (train_rows, val_rows) = run_data(store, spec)?;
    let mut lm = LoadedModel::load(&spec.model, &default_device())?;
    let cfg = &spec.config;
    let (train_set, _) = encode_all(&lm, template, &train_rows, cfg.max_len)?;
    let (val_set, _) = encode_all(&lm, template, &val_rows, cfg.max_len)?;
    let mut failure: Option<StoreError> = None;
    let mut cancelled = false;
    let mut record = |e: TrainEvent| {
        let result = match &e {
            TrainEvent::Step {
                step,
                epoch,
                loss,
                lr,
                grad_norm,
                tokens_per_s,
            } => store.record_step(
                run,
                &StepRecord {
                    step: *step as i64,
                    epoch: *epoch as i64,
                    loss: *loss,
                    lr: *lr,
                    grad_norm: *grad_norm,
                    tokens_per_s: *tokens_per_s,
                },
            ),
            TrainEvent::Eval {
                step,
                val_loss,
                best,
            } => store
                .record_eval(run, *step as i64, *val_loss)
                .and_then(|()| {
                    if *best {
                        store.set_best_step(run, Some(*step as i64))
                    } else {
                        Ok(())
                    }
                }),
            TrainEvent::Warning { step, message } => {
                store.record_warning(run, *step as i64, message)
            }
            TrainEvent::Finished { reason, .. } => {
                cancelled = *reason == super::StopReason::Cancelled;
                Ok(())
            }
            TrainEvent::Started { .. } => Ok(()),
        };
        if let Err(err) = result {
            failure.get_or_insert(err);
        }
        on_event(&e);
    };
    let mut save = |ck: super::Checkpoint<'_>| -> Result<(), ModelError> {
        let failed = |d: &Path, e: std::io::Error| {
            ModelError::Config(format!("checkpoint {}: {e}", d.display()))
        };
        let write = |d: &Path| checkpoint::save(d, &ck).map_err(|e| failed(d, e));
        write(&dir.join("last"))?;
        if ck.is_best {
            write(&dir.join("best"))?;
        }
        // Every checkpointed step keeps its adapter, for `--checkpoint STEP`.
        let step = dir
            .join(checkpoint::STEPS_DIR)
            .join(ck.state.step.to_string());
        checkpoint::save_adapter(&step, &ck).map_err(|e| failed(&step, e))
    };
    let mut hooks = Hooks {
        on_event: &mut record,
        checkpoint: &mut save,
        cancel,
    };
    super::train(&mut lm, &train_set, &val_set, cfg, resume, &mut hooks)?;
    if let Some(err) = failure {
        return Err(err.into());
    }
    Ok(cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_sample_keeps_proportions() {
        let ex = |row: u64, label: &str| Example {
            row,
            line: row,
            text: format!("t{row}"),
            label: label.into(),
            fields: vec![],
            split: None,
            extra: Default::default(),
        };
        let all: Vec<Example> = (0..100)
            .map(|i| ex(i, if i % 10 < 7 { "a" } else { "b" }))
            .collect();
        let s = stratified_sample(all.clone(), Some(10), 1);
        assert_eq!(s.len(), 10);
        assert_eq!(s.iter().filter(|e| e.label == "a").count(), 7);
        assert_eq!(s, stratified_sample(all.clone(), Some(10), 1));
        assert_eq!(stratified_sample(all.clone(), None, 1).len(), 100);
    }
}
