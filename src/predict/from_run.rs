//! A fine-tuned run loaded for prediction: its base model with the adapter of the chosen
//! checkpoint folded in, its template, and the labels and fields it was trained on — all read
//! from the checkpoint's own description ([`AdapterInfo`]).

pub use crate::adapter::Checkpoint;
use crate::adapter::{AdapterInfo, RunDir};
use crate::dataset::{split, DatasetError};
use crate::example::label_and_field_sets;
use crate::model::lora::LoraConfig;
use crate::model::{default_device, LoadedModel, ModelError};
use crate::paths::DataDir;
use crate::store::{RunInfo, Store, StoreError};
use crate::template::Template;
use serde::Deserialize;
use std::path::PathBuf;

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
    Dataset(#[from] DatasetError),
    /// The checkpoint's description could not be read.
    #[error("run '{0}': {1}")]
    Info(String, std::io::Error),
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

/// A run ready to predict.
#[derive(Debug)]
pub struct RunModel {
    /// The run.
    pub run: RunInfo,
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

/// Loads run `name` at `checkpoint`.
pub fn load_run(
    store: &mut Store,
    data_dir: &DataDir,
    name: &str,
    checkpoint: Checkpoint,
) -> Result<RunModel, LoadRunError> {
    let run = store.run(name)?;
    let dir = RunDir::new(data_dir, name);
    let adapter = dir.adapter(checkpoint);
    if !adapter.exists() {
        let kept = dir.kept();
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
    let info = match AdapterInfo::read(&dir.checkpoint(checkpoint)) {
        Ok(Some(info)) => info,
        Ok(None) => described_by_the_store(store, &run)?,
        Err(e) => return Err(LoadRunError::Info(name.to_string(), e)),
    };
    let mut lm = LoadedModel::load(&info.base_model, &default_device())?;
    lm.apply_adapter(&adapter, &info.lora)?;
    Ok(RunModel {
        run,
        lm,
        template: info.template,
        labels: info.labels,
        fields: info.fields,
        checkpoint,
    })
}

/// The description of a checkpoint written before checkpoints described themselves
/// (`adapter.json`): from the run's stored settings (the keys such runs stored) and the
/// examples it trained on.
fn described_by_the_store(store: &mut Store, run: &RunInfo) -> Result<AdapterInfo, LoadRunError> {
    #[derive(Deserialize)]
    struct Stored {
        dataset: String,
        model: PathBuf,
        config: StoredConfig,
        train_limit: Option<usize>,
    }
    #[derive(Deserialize)]
    struct StoredConfig {
        lora: LoraConfig,
        seed: u64,
    }
    let bad = |e: serde_json::Error| LoadRunError::BadRun(run.name.clone(), e.to_string());
    let s: Stored = serde_json::from_value(run.config.clone()).map_err(bad)?;
    let template: Template = serde_json::from_value(run.template.clone()).map_err(bad)?;
    let (train, _) = split::run_examples(store, &s.dataset, s.train_limit, None, s.config.seed)?;
    let (labels, fields) = label_and_field_sets(&train);
    Ok(AdapterInfo {
        base_model: s.model,
        lora: s.config.lora,
        template,
        labels,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::example::{Example, Split};
    use crate::store::NewDataset;

    #[test]
    fn checkpoints_from_before_adapter_json_are_described_from_the_store() {
        let mut store = Store::open_in_memory().unwrap();
        let ex = |row: u64, label: &str, split: Split, fields: &[(&str, &str)]| Example {
            row,
            line: row + 1,
            text: format!("ticket {row}"),
            label: label.into(),
            fields: fields
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            split: Some(split),
            extra: Default::default(),
        };
        let rows = [
            ex(1, "Billing", Split::Train, &[("Customer ID", "1")]),
            ex(2, "Technical", Split::Train, &[("Email", "a@b.c")]),
            ex(3, "Account", Split::Val, &[("Phone", "5")]),
        ];
        let new = NewDataset {
            name: "d".into(),
            source: "d.csv".into(),
            format: "csv".into(),
            text_columns: vec!["text".into()],
            label_column: "label".into(),
            fields: vec!["Customer ID".into(), "Email".into(), "Phone".into()],
        };
        store
            .create_dataset(&new, &rows, false, &mut |_| {})
            .unwrap();
        // A run's settings as runs stored them before checkpoints described themselves.
        let config = serde_json::json!({
            "dataset": "d", "model": "/models/smol.gguf", "train_limit": null, "val_limit": 200,
            "config": {"epochs": 3, "lr": 0.0001, "batch_size": 8, "grad_accum": 1,
                "weight_decay": 0.01, "warmup_ratio": 0.05, "scheduler": "cosine",
                "lora": {"rank": 16, "alpha": 32.0, "dropout": 0.05, "target_modules": ["q_proj", "v_proj"]},
                "max_len": 256, "eval_every": null, "patience": null, "max_steps": null, "seed": 42}
        });
        let template = serde_json::json!({"instruction": "Classify:"});
        let run = store
            .create_run("old", "d", "/models/smol.gguf", &config, &template)
            .unwrap();
        let info = described_by_the_store(&mut store, &run).unwrap();
        assert_eq!(info.base_model, PathBuf::from("/models/smol.gguf"));
        assert_eq!(info.lora.rank, 16);
        assert_eq!(info.lora.target_modules, ["q_proj", "v_proj"]);
        assert_eq!(info.template.instruction, "Classify:");
        // The labels and fields of the training rows only.
        assert_eq!(info.labels, ["Billing", "Technical"]);
        assert_eq!(info.fields, ["Customer ID", "Email"]);

        let broken = store
            .create_run(
                "broken",
                "d",
                "m",
                &serde_json::json!({"dataset": 1}),
                &template,
            )
            .unwrap();
        assert!(matches!(
            described_by_the_store(&mut store, &broken),
            Err(LoadRunError::BadRun(..))
        ));
    }
}
