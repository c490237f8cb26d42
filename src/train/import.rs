//! A LoRA adapter trained elsewhere (a PEFT folder: `adapter_config.json` and
//! `adapter_model.safetensors`, or shards with an index) made a run, so that evaluation,
//! prediction, comparison and the window treat it like one trained here.
//!
//! Everything is checked before anything is written: the PEFT settings TuneDesk can reproduce
//! (`peft_type` LORA, no bias, no `modules_to_save`, no DoRA, no per-layer patterns, targets as
//! a list, a regex or `all-linear`), every tensor a LoRA A/B of a projection the engine
//! adapts, on every layer, with the base's shapes. The run's template, labels and fields come
//! from a `tunedesk.json` bundle beside the adapter when there is one, else from the dataset
//! (with the default template). The checkpoint is written to a temporary folder and renamed
//! into place after the run is recorded; a failure leaves neither.

use super::run::{RunSpec, TrainError};
use crate::adapter::{AdapterInfo, Checkpoint, RunDir, ADAPTER_FILE, BUNDLE_FILE};
use crate::dataset::split;
use crate::example::label_and_field_sets;
use crate::model::lora::{LoraConfig, TARGET_MODULES};
use crate::model::{config_and_tokenizer, Config};
use crate::paths::DataDir;
use crate::store::{RunInfo, RunStatus, Store};
use crate::template::Template;
use candle_core::{Device, Tensor};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// PEFT's adapter configuration file.
const CONFIG_FILE: &str = "adapter_config.json";
/// PEFT's adapter weights (or its shards' stem).
const WEIGHTS_FILE: &str = "adapter_model.safetensors";
/// The index of sharded adapter weights.
const INDEX_FILE: &str = "adapter_model.safetensors.index.json";

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The PEFT folder.
    pub dir: PathBuf,
    /// The base model it was trained on (HF folder or `.gguf`).
    pub base: PathBuf,
    /// The run to create.
    pub name: String,
    /// The dataset it is for (its labels and fields unless a bundle names them).
    pub dataset: String,
}

fn candle(e: candle_core::Error) -> TrainError {
    TrainError::Model(crate::model::ModelError::Candle(e))
}

fn bad(dir: &Path, why: impl std::fmt::Display) -> TrainError {
    TrainError::BadAdapter(format!("{}: {why}", dir.display()))
}

/// Reads and checks the PEFT settings; returns the LoRA configuration they amount to (the
/// target list is filled in from the tensors).
fn read_config(dir: &Path) -> Result<LoraConfig, TrainError> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| bad(&path, e))?;
    let c: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(&path, e))?;
    let refuse = |why: &str| Err(bad(&path, why));
    if c["peft_type"] != "LORA" {
        return refuse("not a LoRA adapter (peft_type must be \"LORA\")");
    }
    if !matches!(c["bias"].as_str(), None | Some("none")) {
        return refuse("trained biases (bias other than \"none\") are not supported");
    }
    let set = |k: &str| match &c[k] {
        serde_json::Value::Null | serde_json::Value::Bool(false) => false,
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => !o.is_empty(),
        _ => true,
    };
    if set("modules_to_save") {
        return refuse("modules_to_save (fully trained extra modules) is not supported");
    }
    if set("use_dora") {
        return refuse("DoRA adapters are not supported");
    }
    if set("fan_in_fan_out") {
        return refuse("fan_in_fan_out adapters (GPT-2 style Conv1D layers) are not supported");
    }
    for k in ["rank_pattern", "alpha_pattern", "layers_to_transform"] {
        if set(k) {
            return Err(bad(
                &path,
                format!("{k} (per-layer settings) is not supported"),
            ));
        }
    }
    match &c["target_modules"] {
        serde_json::Value::String(_) => {} // a regex or "all-linear": the tensors decide
        serde_json::Value::Array(a) if a.iter().all(|t| t.is_string()) => {}
        _ => return refuse("target_modules must be a list of names, a regex or \"all-linear\""),
    }
    let rank = c["r"]
        .as_u64()
        .filter(|&r| r > 0)
        .ok_or_else(|| bad(&path, "no rank r"))? as usize;
    let alpha = c["lora_alpha"].as_f64().unwrap_or(8.0);
    // rsLoRA scales by α/√r; TuneDesk scales by α/r: the same update with α·√r.
    let alpha = if c["use_rslora"] == true {
        alpha * (rank as f64).sqrt()
    } else {
        alpha
    };
    Ok(LoraConfig {
        rank,
        alpha,
        dropout: 0.0,
        target_modules: Vec::new(),
    })
}

/// The adapter's weight files: one, or the shards its index lists.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let single = dir.join(WEIGHTS_FILE);
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join(INDEX_FILE);
    if index.is_file() {
        let text = std::fs::read_to_string(&index).map_err(|e| bad(&index, e))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(&index, e))?;
        let files: BTreeSet<&str> = v["weight_map"]
            .as_object()
            .ok_or_else(|| bad(&index, "no weight_map"))?
            .values()
            .filter_map(|f| f.as_str())
            .collect();
        return Ok(files.into_iter().map(|f| dir.join(f)).collect());
    }
    if dir.join("adapter_model.bin").is_file() {
        return Err(bad(
            dir,
            "adapter_model.bin (a pickle) is not read; save the adapter with safetensors",
        ));
    }
    Err(bad(dir, format!("no {WEIGHTS_FILE}")))
}

/// (rows, columns) of the base weight `module` adapts, from the configuration.
fn weight_shape(config: &Config, module: &str) -> (usize, usize) {
    let (h, f) = (config.hidden_size, config.intermediate_size);
    let q = config.num_attention_heads * config.head_dim;
    let kv = config.num_key_value_heads * config.head_dim;
    match module {
        "q_proj" => (q, h),
        "k_proj" | "v_proj" => (kv, h),
        "o_proj" => (h, q),
        "gate_proj" | "up_proj" => (f, h),
        _ => (h, f), // down_proj
    }
}

/// The adapter's tensors under TuneDesk's checkpoint names, checked against the base; fills in
/// `lora.target_modules`.
fn read_tensors(
    dir: &Path,
    config: &Config,
    lora: &mut LoraConfig,
) -> Result<HashMap<String, Tensor>, TrainError> {
    let mut tensors = HashMap::new();
    let mut layers: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for file in weight_files(dir)? {
        let loaded = candle_core::safetensors::load(&file, &Device::Cpu)
            .map_err(|e| bad(&file, format!("not a readable safetensors file ({e})")))?;
        for (name, t) in loaded {
            let clean = name.replace(".default.", ".");
            let parsed = clean
                .strip_prefix("base_model.model.model.layers.")
                .and_then(|rest| rest.split_once('.'))
                .and_then(|(layer, rest)| Some((layer.parse::<usize>().ok()?, rest)))
                .and_then(|(layer, rest)| {
                    let (module, part) = rest.rsplit_once(".lora_")?;
                    let module = module.rsplit('.').next()?;
                    let m = TARGET_MODULES.iter().find(|m| **m == module)?;
                    Some((layer, *m, part))
                });
            let Some((layer, module, part)) = parsed else {
                return Err(bad(
                    &file,
                    format!(
                        "tensor {name} is not a LoRA A/B of a projection TuneDesk adapts ({})",
                        TARGET_MODULES.join(", ")
                    ),
                ));
            };
            let (out, inp) = weight_shape(config, module);
            let want = match part {
                "A.weight" => [lora.rank, inp],
                "B.weight" => [out, lora.rank],
                _ => return Err(bad(&file, format!("unexpected tensor {name}"))),
            };
            if layer >= config.num_hidden_layers || t.dims() != want {
                return Err(bad(
                    &file,
                    format!(
                        "{name} is {:?}, the base needs {want:?} (layer < {}): an adapter for another base model",
                        t.dims(),
                        config.num_hidden_layers
                    ),
                ));
            }
            layers.entry(module).or_default().insert(layer);
            tensors.insert(clean, t.to_dtype(candle_core::DType::F32).map_err(candle)?);
        }
    }
    for (module, seen) in &layers {
        if seen.len() != config.num_hidden_layers {
            return Err(bad(
                dir,
                format!(
                    "{module} is adapted on {} of {} layers; adapters on some layers only are not supported",
                    seen.len(),
                    config.num_hidden_layers
                ),
            ));
        }
    }
    if tensors.len() != layers.len() * config.num_hidden_layers * 2 {
        return Err(bad(
            dir,
            "every adapted projection needs both lora_A and lora_B",
        ));
    }
    lora.target_modules = layers.keys().map(|m| m.to_string()).collect();
    Ok(tensors)
}

/// How a bundle (`tunedesk.json`) says to prompt the model.
#[derive(serde::Deserialize)]
struct Described {
    template: Template,
    labels: Vec<String>,
    fields: Vec<String>,
}

/// The bundle's description, when the folder has one.
fn bundle(dir: &Path) -> Result<Option<Described>, TrainError> {
    let path = dir.join(BUNDLE_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| bad(&path, e))
}

/// Imports the PEFT adapter `req.dir` as run `req.name`: see the module docs.
pub fn import_adapter(
    store: &mut Store,
    data_dir: &DataDir,
    req: &ImportRequest,
) -> Result<RunInfo, TrainError> {
    crate::name::check("run", &req.name)?;
    store.dataset(&req.dataset)?;
    if store.run(&req.name).is_ok() {
        return Err(crate::store::StoreError::RunExists(req.name.clone()).into());
    }
    let mut lora = read_config(&req.dir)?;
    let (config, _) = config_and_tokenizer(&req.base)?;
    let tensors = read_tensors(&req.dir, &config, &mut lora)?;
    let (template, labels, fields) = match bundle(&req.dir)? {
        Some(d) => (d.template, d.labels, d.fields),
        None => {
            let (train, _) = split::run_examples(store, &req.dataset, None, None, 0)?;
            let (labels, fields) = label_and_field_sets(&train);
            (Template::default(), labels, fields)
        }
    };
    let info = AdapterInfo {
        base_model: req.base.clone(),
        lora: lora.clone(),
        template: template.clone(),
        labels,
        fields,
    };
    let run_dir = RunDir::new(data_dir, &req.name);
    if run_dir.path().exists() {
        return Err(bad(run_dir.path(), "a run folder of that name exists"));
    }
    let parent = run_dir.path().parent().expect("runs/<name>").to_path_buf();
    std::fs::create_dir_all(&parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".import-")
        .tempdir_in(&parent)?;
    for ck in [Checkpoint::Best, Checkpoint::Last] {
        let rel = run_dir
            .checkpoint(ck)
            .strip_prefix(run_dir.path())
            .expect("inside the run folder")
            .to_path_buf();
        let dir = staging.path().join(rel);
        std::fs::create_dir_all(&dir)?;
        candle_core::safetensors::save(&tensors, dir.join(ADAPTER_FILE)).map_err(candle)?;
        info.write(&dir)?;
    }
    let spec = RunSpec {
        dataset: req.dataset.clone(),
        model: req.base.clone(),
        config: super::TrainConfig {
            lora,
            epochs: Some(0),
            ..super::TrainConfig::default()
        },
        train_limit: None,
        val_limit: None,
        device: crate::model::DeviceChoice::Cpu,
    };
    let mut stored = serde_json::to_value(&spec).expect("spec serializes");
    stored["imported_from"] = serde_json::json!(req.dir);
    let run = store.create_run(
        &req.name,
        &req.dataset,
        &req.base.display().to_string(),
        &stored,
        &serde_json::to_value(&template).expect("template serializes"),
    )?;
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, run_dir.path()) {
        let _ = std::fs::remove_dir_all(&staged);
        let _ = store.delete_run(&req.name);
        return Err(e.into());
    }
    store.set_run_status(&run, RunStatus::Done, None)?;
    Ok(store.run(&req.name)?)
}
