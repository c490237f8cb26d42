//! Running an evaluation end to end: examples of a dataset split → a fine-tuned run or a base
//! model prompted zero/K-shot → predictions → metrics → stored with every per-example record.

use crate::dataset::split::stratified_sample;
use crate::example::label_and_field_sets;
use crate::example::{Example, Split};
use crate::metrics::{self, Gold, Predicted};
use crate::model::{default_device, LoadedModel, ModelError};
use crate::paths::DataDir;
use crate::predict::from_run::{load_run, Checkpoint, LoadRunError};
use crate::predict::{PredictOptions, Predictor};
use crate::store::{EvalInfo, EvalRecord, EvalSpec, Store, StoreError};
use crate::template::Template;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The run could not be loaded.
    #[error(transparent)]
    Run(#[from] LoadRunError),
    /// Stopped by the user; nothing was stored.
    #[error("evaluation cancelled")]
    Cancelled,
    /// Nothing to evaluate.
    #[error("dataset '{dataset}' has no {split} rows (split it with `tunedesk dataset split`, or use --split all)")]
    NoExamples {
        /// Dataset.
        dataset: String,
        /// Split asked for.
        split: String,
    },
}

/// What to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A fine-tuned run at a checkpoint.
    Run {
        /// Run name.
        name: String,
        /// Checkpoint.
        checkpoint: Checkpoint,
    },
    /// A base model prompted with the label list and `shots` worked examples.
    Base {
        /// Model path.
        model: PathBuf,
        /// K (0 = zero-shot).
        shots: usize,
        /// Dataset whose train split gives the labels, fields and examples (default: the
        /// evaluated dataset).
        shots_from: Option<String>,
    },
}

/// Which rows of the dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitChoice {
    /// One split.
    Only(Split),
    /// Every row.
    All,
}

impl SplitChoice {
    fn name(self) -> String {
        match self {
            SplitChoice::Only(s) => s.as_str().to_string(),
            SplitChoice::All => "all".to_string(),
        }
    }

    /// The choice an evaluation stores as its split (`all`, `train`, `val`, `test`).
    pub fn parse(name: &str) -> Option<SplitChoice> {
        match name {
            "all" => Some(SplitChoice::All),
            s => Split::parse(s).map(SplitChoice::Only),
        }
    }
}

/// Seed of the evaluated rows' sample and of the few-shot examples, unless one is given.
pub const DEFAULT_SEED: u64 = 42;

/// An evaluation to run.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRequest {
    /// Run or base model.
    pub target: Target,
    /// Dataset name.
    pub dataset: String,
    /// Rows evaluated.
    pub split: SplitChoice,
    /// At most this many rows (a stratified sample).
    pub limit: Option<usize>,
    /// Decoding settings.
    pub options: PredictOptions,
    /// Seed of the row sample and of the K-shot examples.
    pub seed: u64,
}

/// The rows of `dataset` in `split`, sampled down to `limit`.
fn eval_rows(store: &Store, req: &EvalRequest) -> Result<Vec<Example>, EvalError> {
    let info = store.dataset(&req.dataset)?;
    let rows: Vec<Example> = store
        .examples(&info)?
        .into_iter()
        .filter(|e| match req.split {
            SplitChoice::Only(s) => e.split == Some(s),
            SplitChoice::All => true,
        })
        .collect();
    if rows.is_empty() {
        return Err(EvalError::NoExamples {
            dataset: req.dataset.clone(),
            split: req.split.name(),
        });
    }
    Ok(stratified_sample(rows, req.limit, req.seed))
}

/// A loaded model with the prompt head and answer sets it is evaluated with.
pub(super) struct Prepared {
    pub lm: LoadedModel,
    pub head: String,
    pub template: Template,
    pub labels: Vec<String>,
    pub fields: Vec<String>,
    pub spec: EvalSpec,
}

/// Loads the model `req.target` names with its prompt head (few-shot examples drawn with
/// `req.seed`) and answer sets; `req.split` and `req.limit` only go into the spec.
pub(super) fn prepare(
    store: &mut Store,
    data_dir: &DataDir,
    req: &EvalRequest,
) -> Result<Prepared, EvalError> {
    let mut spec = EvalSpec {
        run: None,
        checkpoint: None,
        model: String::new(),
        dataset: req.dataset.clone(),
        split: req.split.name(),
        shots: None,
        constrained: req.options.constrained,
        limit: req.limit,
        int8: false,
    };
    match &req.target {
        Target::Run { name, checkpoint } => {
            let rm = load_run(store, data_dir, name, *checkpoint)?;
            spec.run = Some(name.clone());
            spec.checkpoint = Some(checkpoint.to_string());
            spec.model = rm.run.model.clone();
            Ok(Prepared {
                head: rm.template.prompt_head(),
                lm: rm.lm,
                template: rm.template,
                labels: rm.labels,
                fields: rm.fields,
                spec,
            })
        }
        Target::Base {
            model,
            shots,
            shots_from,
        } => {
            let source = shots_from.as_deref().unwrap_or(&req.dataset);
            let info = store.dataset(source)?;
            let all = store.examples(&info)?;
            let train: Vec<Example> = if all.iter().any(|e| e.split == Some(Split::Train)) {
                all.into_iter()
                    .filter(|e| e.split == Some(Split::Train))
                    .collect()
            } else {
                all
            };
            let (labels, fields) = label_and_field_sets(&train);
            let template = Template::default();
            let examples: Vec<(String, String)> = stratified_sample(train, Some(*shots), req.seed)
                .into_iter()
                .take(*shots)
                .map(|e| {
                    (
                        e.text.clone(),
                        template.completion(&e.text, &e.label, &e.fields),
                    )
                })
                .collect();
            spec.model = model.display().to_string();
            spec.shots = Some(*shots as u32);
            Ok(Prepared {
                head: template.few_shot_head(&labels, &fields, &examples),
                lm: LoadedModel::load(model, &default_device())?,
                template,
                labels,
                fields,
                spec,
            })
        }
    }
}

/// Evaluates and stores the result; `on_progress(done, total)` as tickets finish.
pub fn evaluate(
    store: &mut Store,
    data_dir: &DataDir,
    req: &EvalRequest,
    on_progress: &mut dyn FnMut(usize, usize),
) -> Result<EvalInfo, EvalError> {
    evaluate_until(store, data_dir, req, on_progress, &AtomicBool::new(false))
}

/// [`evaluate`] that stops, storing nothing, once `cancel` is set (it is looked at every
/// [`crate::predict::CHUNK`] tickets).
pub fn evaluate_until(
    store: &mut Store,
    data_dir: &DataDir,
    req: &EvalRequest,
    on_progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<EvalInfo, EvalError> {
    let rows = eval_rows(store, req)?;
    let mut p = prepare(store, data_dir, req)?;
    let started = Instant::now();
    let predictor = Predictor::new(
        &mut p.lm,
        &p.head,
        &p.labels,
        &p.fields,
        req.options.clone(),
    )?;
    p.spec.int8 = predictor.int8();
    let tails: Vec<String> = rows
        .iter()
        .map(|e| p.template.prompt_tail(&e.text))
        .collect();
    let predictions = predictor
        .predict_until(&tails, on_progress, cancel)?
        .ok_or(EvalError::Cancelled)?;
    let seconds = started.elapsed().as_secs_f64();
    let records: Vec<EvalRecord> = rows
        .iter()
        .zip(predictions)
        .map(|(e, pr)| EvalRecord {
            example_id: Some(e.row as i64),
            input: e.text.clone(),
            gold: Gold {
                label: e.label.clone(),
                fields: e.fields.clone(),
            },
            predicted: pr.answer(),
            output: pr.output,
        })
        .collect();
    let pairs: Vec<(Gold, Predicted)> = records
        .iter()
        .map(|r| (r.gold.clone(), r.predicted.clone()))
        .collect();
    let m = metrics::compute(&pairs);
    Ok(store.save_eval(&p.spec, &m, seconds, &records)?)
}
