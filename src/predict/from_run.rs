//! A fine-tuned run loaded for prediction: its base model with the adapter of the chosen
//! checkpoint folded in, its template, and the labels and fields it was trained on.

use crate::dataset::Example;
use crate::model::{default_device, LoadedModel, ModelError};
use crate::paths::DataDir;
use crate::store::{RunInfo, Store, StoreError};
use crate::template::Template;
use crate::train::checkpoint::ADAPTER_FILE;
use crate::train::run::{run_data, run_dir, RunSpec, TrainError};
use std::collections::BTreeSet;

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
    #[error("run '{run}' has no '{checkpoint}' checkpoint yet (train it first, or pick --checkpoint last)")]
    NoCheckpoint {
        /// Run name.
        run: String,
        /// Checkpoint asked for.
        checkpoint: String,
    },
    /// The stored run is unreadable.
    #[error("run '{0}': stored configuration is unreadable: {1}")]
    BadRun(String, String),
}

/// Which checkpoint of a run to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Checkpoint {
    /// Lowest validation loss.
    Best,
    /// The most recent.
    Last,
}

impl Checkpoint {
    /// `best` or `last`.
    pub fn as_str(self) -> &'static str {
        match self {
            Checkpoint::Best => "best",
            Checkpoint::Last => "last",
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
    let adapter = run_dir(data_dir, name)
        .join(checkpoint.as_str())
        .join(ADAPTER_FILE);
    if !adapter.exists() {
        return Err(LoadRunError::NoCheckpoint {
            run: name.to_string(),
            checkpoint: checkpoint.as_str().to_string(),
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
