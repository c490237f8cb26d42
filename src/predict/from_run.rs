//! A fine-tuned run loaded for prediction: its base model with the adapter of the chosen
//! checkpoint folded in, its template, and the labels and fields it was trained on.

use crate::dataset::Example;
use crate::model::{default_device, LoadedModel, ModelError};
use crate::paths::DataDir;
use crate::store::{RunInfo, Store, StoreError};
use crate::template::Template;
use crate::train::checkpoint::{ADAPTER_FILE, STEPS_DIR};
use crate::train::run::{kept_steps, run_data, run_dir, RunSpec, TrainError};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Why a run could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadRunError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The model or adapter failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The run's data could not be read.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The checkpoint does not exist (yet).
    #[error("run '{run}' has no '{checkpoint}' checkpoint yet (kept: {kept})")]
    NoCheckpoint {
        /// Run name.
        run: String,
        /// Checkpoint asked for.
        checkpoint: String,
        /// The checkpoints the run has, for the message.
        kept: String,
    },
    /// The stored run is unreadable.
    #[error("run '{0}': stored configuration is unreadable: {1}")]
    BadRun(String, String),
}

/// Which checkpoint of a run to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// Lowest validation loss.
    Best,
    /// The most recent.
    Last,
    /// The one written at this optimizer step (at an evaluation or a cancel).
    Step(usize),
}

impl Checkpoint {
    /// Its folder under the run's folder.
    fn dir(self) -> PathBuf {
        match self {
            Checkpoint::Best => PathBuf::from("best"),
            Checkpoint::Last => PathBuf::from("last"),
            Checkpoint::Step(n) => Path::new(STEPS_DIR).join(n.to_string()),
        }
    }
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Checkpoint::Best => f.write_str("best"),
            Checkpoint::Last => f.write_str("last"),
            Checkpoint::Step(n) => write!(f, "{n}"),
        }
    }
}

impl std::str::FromStr for Checkpoint {
    type Err = String;

    /// `best`, `last` or a step number.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "best" => Ok(Checkpoint::Best),
            "last" => Ok(Checkpoint::Last),
            _ => s
                .parse()
                .map(Checkpoint::Step)
                .map_err(|_| format!("'{s}' is not best, last or a step number")),
        }
    }
}

/// A run ready to predict.
#[derive(Debug)]
pub struct RunModel {
    /// The run.
    pub run: RunInfo,
    /// Its training settings.
    pub spec: RunSpec,
    /// Base model with the adapter merged in.
    pub lm: LoadedModel,
    /// The run's prompt template.
    pub template: Template,
    /// Labels seen in training, sorted.
    pub labels: Vec<String>,
    /// Field names seen in training, sorted.
    pub fields: Vec<String>,
    /// The checkpoint used.
    pub checkpoint: Checkpoint,
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

/// Loads run `name` at `checkpoint`.
pub fn load_run(
    store: &mut Store,
    data_dir: &DataDir,
    name: &str,
    checkpoint: Checkpoint,
) -> Result<RunModel, LoadRunError> {
    let run = store.run(name)?;
    let bad = |e: serde_json::Error| LoadRunError::BadRun(name.to_string(), e.to_string());
    let spec: RunSpec = serde_json::from_value(run.config.clone()).map_err(bad)?;
    let template: Template = serde_json::from_value(run.template.clone()).map_err(bad)?;
    let dir = run_dir(data_dir, name);
    let adapter = dir.join(checkpoint.dir()).join(ADAPTER_FILE);
    if !adapter.exists() {
        let mut kept: Vec<String> = [Checkpoint::Best, Checkpoint::Last]
            .iter()
            .filter(|c| dir.join(c.dir()).join(ADAPTER_FILE).exists())
            .map(|c| c.to_string())
            .collect();
        let steps = kept_steps(data_dir, name);
        if !steps.is_empty() {
            let steps: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
            kept.push(format!("steps {}", steps.join(", ")));
        }
        return Err(LoadRunError::NoCheckpoint {
            run: name.to_string(),
            checkpoint: checkpoint.to_string(),
            kept: if kept.is_empty() {
                "none; train it first".to_string()
            } else {
                kept.join("; ")
            },
        });
    }
    let (train, _) = run_data(store, &spec)?;
    let (labels, fields) = label_and_field_sets(&train);
    let mut lm = LoadedModel::load(&spec.model, &default_device())?;
    lm.apply_adapter(&adapter, &spec.config.lora)?;
    Ok(RunModel {
        run,
        spec,
        lm,
        template,
        labels,
        fields,
        checkpoint,
    })
}
