//! A named training run end to end: dataset from the store → model → training → metrics in
//! the store and checkpoints under `<data dir>/runs/<name>/` (`last/`, `best/`). A run that was
//! killed or cancelled continues with [`resume`].

use super::score::Scorer;
use super::{checkpoint, encode_all, Hooks, TrainConfig, TrainEvent};
use crate::adapter::{AdapterInfo, Checkpoint, RunDir};
use crate::dataset::split;
use crate::example::label_and_field_sets;
use crate::example::Example;
use crate::model::{DeviceChoice, LoadedModel, ModelError};
use crate::paths::DataDir;
use crate::store::{EvalPoint, RunInfo, RunStatus, StepRecord, Store, StoreError};
use crate::template::Template;
use candle_core::Device;
use serde::{Deserialize, Serialize};
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
    /// An adapter to import is not one TuneDesk can use.
    #[error("cannot import the adapter {0}")]
    BadAdapter(String),
    /// The settings contradict each other.
    #[error("invalid settings: {0}")]
    Settings(String),
    /// The run cannot be resumed.
    #[error("run '{name}' cannot be resumed: {why}")]
    NotResumable {
        /// Run name.
        name: String,
        /// Reason.
        why: String,
    },
}

/// Validation rows a run uses unless told otherwise (a stratified sample: enough to see
/// overfitting, few enough that validating stays a small part of a step's time).
pub const DEFAULT_VAL_LIMIT: usize = 200;

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
    /// Where it trains (runs stored before devices were recorded trained on the CPU).
    #[serde(default)]
    pub device: DeviceChoice,
}

/// The device a stored run trains on, from its stored settings (`config`): the CPU for runs
/// stored before devices were recorded; `None` when they are unreadable.
pub fn stored_device(config: &serde_json::Value) -> Option<DeviceChoice> {
    #[derive(Deserialize)]
    struct Stored {
        #[serde(default)]
        device: DeviceChoice,
    }
    Stored::deserialize(config).ok().map(|s| s.device)
}

/// The train and validation examples of a run (splitting the dataset first if it has none).
pub(crate) fn run_data(
    store: &mut Store,
    spec: &RunSpec,
) -> Result<(Vec<Example>, Vec<Example>), TrainError> {
    let (train, val) = split::run_examples(
        store,
        &spec.dataset,
        spec.train_limit,
        spec.val_limit,
        spec.config.seed,
    )?;
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
    let device = spec.device.open()?;
    // Automatic settings become numbers now, so the stored run says what it did.
    let (train, _) = run_data(store, spec)?;
    let spec = &RunSpec {
        config: spec.config.resolved(&train),
        ..spec.clone()
    };
    let cfg = &spec.config;
    if cfg.select_by.needs_scores() && cfg.score_rows == 0 {
        return Err(TrainError::Settings(format!(
            "choosing the best checkpoint by {} needs validation tickets to decode: set score rows above 0, or choose by loss",
            cfg.select_by
        )));
    }
    let run = store.create_run(
        name,
        &spec.dataset,
        &spec.model.display().to_string(),
        &serde_json::to_value(spec).expect("spec serializes"),
        &serde_json::to_value(template).expect("template serializes"),
    )?;
    execute(
        store, data_dir, run, spec, template, &device, false, cancel, on_event,
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
    // It continues where it trained (its optimizer state and numbers are that device's).
    let device = spec.device.open().map_err(|e| not(&e.to_string()))?;
    execute(
        store, data_dir, run, &spec, &template, &device, true, cancel, on_event,
    )
}

/// Deletes run `name`: its records in the store, then its checkpoint folder.
pub fn delete(store: &mut Store, data_dir: &DataDir, name: &str) -> Result<RunInfo, TrainError> {
    let run = store.delete_run(name)?;
    let dir = RunDir::new(data_dir, &run.name);
    if dir.path().exists() {
        std::fs::remove_dir_all(dir.path())?;
    }
    Ok(run)
}

#[allow(clippy::too_many_arguments)]
fn execute(
    store: &mut Store,
    data_dir: &DataDir,
    run: RunInfo,
    spec: &RunSpec,
    template: &Template,
    device: &Device,
    resuming: bool,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<RunInfo, TrainError> {
    let dir = RunDir::new(data_dir, &run.name);
    let last = dir.checkpoint(Checkpoint::Last);
    checkpoint::recover(&last)?;
    checkpoint::recover(&dir.checkpoint(Checkpoint::Best))?;
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
    let outcome = train_and_record(
        store, &dir, &run, spec, template, device, resume, cancel, on_event,
    );
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
    dir: &RunDir,
    run: &RunInfo,
    spec: &RunSpec,
    template: &Template,
    device: &Device,
    resume: Option<(super::TrainState, super::Restored)>,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<bool, TrainError> {
    let (train_rows, val_rows) = run_data(store, spec)?;
    let mut lm = LoadedModel::load(&spec.model, device)?;
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
                scores,
                best,
            } => store
                .record_eval(
                    run,
                    &EvalPoint {
                        step: *step as i64,
                        val_loss: *val_loss,
                        scores: *scores,
                    },
                )
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
    let (labels, fields) = label_and_field_sets(&train_rows);
    let scorer = Scorer::new(
        &lm.tokenizer,
        template,
        &val_rows,
        (labels.clone(), fields.clone()),
        cfg.score_rows,
        cfg.seed,
    )?;
    let mut score = scorer
        .as_ref()
        .map(|s| move |lm: &mut LoadedModel| s.score(lm));
    let info = AdapterInfo {
        base_model: spec.model.clone(),
        lora: cfg.lora.clone(),
        template: template.clone(),
        labels,
        fields,
    };
    let mut save = |ck: super::Checkpoint<'_>| -> Result<(), ModelError> {
        let failed = |d: &Path, e: std::io::Error| {
            ModelError::Config(format!("checkpoint {}: {e}", d.display()))
        };
        let write = |d: &Path| checkpoint::save(d, &ck, &info).map_err(|e| failed(d, e));
        write(&dir.checkpoint(Checkpoint::Last))?;
        if ck.is_best {
            write(&dir.checkpoint(Checkpoint::Best))?;
        }
        // Every checkpointed step keeps its adapter, for `--checkpoint STEP`.
        let step = dir.checkpoint(Checkpoint::Step(ck.state.step));
        checkpoint::save_adapter(&step, &ck, &info).map_err(|e| failed(&step, e))
    };
    let mut hooks = Hooks {
        on_event: &mut record,
        checkpoint: &mut save,
        cancel,
        score: score.as_mut().map(|f| f as &mut super::ScoreFn),
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
    use serde_json::json;

    #[test]
    fn a_stored_run_says_its_device_and_older_runs_trained_on_the_cpu() {
        assert_eq!(
            stored_device(&json!({"dataset": "d"})),
            Some(DeviceChoice::Cpu)
        );
        let gpu = json!({"dataset": "d", "device": "cuda:1"});
        assert_eq!(stored_device(&gpu), Some(DeviceChoice::Cuda(1)));
        assert_eq!(stored_device(&json!({"device": "tpu"})), None);
    }
}
