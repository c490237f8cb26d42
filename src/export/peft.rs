//! The Hugging Face PEFT folder: `adapter_config.json` (only keys PEFT 0.13 accepts),
//! `adapter_model.safetensors` (PEFT's key names, `{"format":"pt"}` metadata) and a
//! `README.md` model card. A run's checkpoints already hold PEFT's names, shapes and the HF
//! (half-split RoPE) layout, also for a base loaded from GGUF (q/k are un-permuted on load).

use super::{io, ExportError, Job};
use crate::model::lora::LoraConfig;
use crate::model::LoadedModel;
use std::collections::BTreeMap;
use std::path::Path;

/// The adapter's weights.
pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";
/// The adapter's configuration.
pub const CONFIG_FILE: &str = "adapter_config.json";

/// Writes the folder into `dir` (which exists and is empty); returns the file names.
pub(super) fn write(job: &Job, dir: &Path) -> Result<Vec<String>, ExportError> {
    let info = job.info;
    write_weights(&job.adapter, &dir.join(WEIGHTS_FILE), &info.lora)?;
    let (base, revision) = base_id(&info.base_model);
    let config = adapter_config(&info.lora, &base, revision.as_deref());
    let text = serde_json::to_string_pretty(&config).expect("a JSON object") + "\n";
    let path = dir.join(CONFIG_FILE);
    std::fs::write(&path, text).map_err(io(&path))?;
    let use_it = format!(
        "```python\nfrom peft import PeftModel\nfrom transformers import AutoModelForCausalLM\n\
         base = AutoModelForCausalLM.from_pretrained({base:?})\nmodel = PeftModel.from_pretrained(base, \"THIS_FOLDER\")\n```\n"
    );
    let card = job.card("library_name: peft", &use_it, dir)?;
    Ok(vec![CONFIG_FILE.into(), WEIGHTS_FILE.into(), card])
}

/// Folds the PEFT adapter in `dir` into `lm` (how the export is reloaded for its check).
pub(super) fn apply(lm: &mut LoadedModel, dir: &Path) -> Result<(), ExportError> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let c: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ExportError::Mismatch(format!("{CONFIG_FILE}: {e}")))?;
    let rank = c["r"].as_u64().unwrap_or(0) as usize;
    let lora = LoraConfig {
        rank,
        alpha: c["lora_alpha"].as_f64().unwrap_or(0.0),
        dropout: 0.0,
        target_modules: c["target_modules"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
    };
    lm.apply_adapter(&dir.join(WEIGHTS_FILE), &lora)?;
    Ok(())
}

/// `owner/name` and the commit for a Hub snapshot (`…/models--owner--name/snapshots/<commit>`),
/// else the base's path as written.
pub(super) fn base_id(base: &Path) -> (String, Option<String>) {
    let text = base.display().to_string();
    let label = crate::paths::model_label(&text);
    if label.contains('/') && !base.is_file() {
        let commit = base.file_name().map(|c| c.to_string_lossy().into_owned());
        return (label, commit);
    }
    (text, None)
}

/// PEFT's `adapter_config.json`, with only the keys PEFT 0.13 accepts.
fn adapter_config(lora: &LoraConfig, base: &str, revision: Option<&str>) -> serde_json::Value {
    let alpha = if lora.alpha.fract() == 0.0 {
        serde_json::json!(lora.alpha as i64)
    } else {
        serde_json::json!(lora.alpha)
    };
    let mut targets = lora.target_modules.clone();
    targets.sort();
    // PEFT writes its keys sorted; serde_json keeps insertion order here, so insert sorted.
    let entries: BTreeMap<&str, serde_json::Value> = BTreeMap::from([
        ("alpha_pattern", serde_json::json!({})),
        ("base_model_name_or_path", serde_json::json!(base)),
        ("bias", serde_json::json!("none")),
        ("fan_in_fan_out", serde_json::json!(false)),
        ("inference_mode", serde_json::json!(true)),
        ("init_lora_weights", serde_json::json!(true)),
        ("layers_pattern", serde_json::Value::Null),
        ("layers_to_transform", serde_json::Value::Null),
        ("lora_alpha", alpha),
        ("lora_dropout", serde_json::json!(lora.dropout)),
        ("modules_to_save", serde_json::Value::Null),
        ("peft_type", serde_json::json!("LORA")),
        ("r", serde_json::json!(lora.rank)),
        ("rank_pattern", serde_json::json!({})),
        ("revision", serde_json::json!(revision)),
        ("target_modules", serde_json::json!(targets)),
        ("task_type", serde_json::json!("CAUSAL_LM")),
        ("use_dora", serde_json::json!(false)),
        ("use_rslora", serde_json::json!(false)),
    ]);
    serde_json::Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// PEFT's key for a checkpoint key (they are PEFT's already; a `.default.` adapter name, as
/// PEFT uses in memory, is dropped).
fn peft_key(name: &str) -> String {
    name.replace(".lora_A.default.", ".lora_A.")
        .replace(".lora_B.default.", ".lora_B.")
}

/// Copies the checkpoint's tensors under PEFT's names with `{"format":"pt"}` metadata, after
/// checking that each has PEFT's shape for the adapter's rank (A `[r, in]`, B `[out, r]`).
fn write_weights(adapter: &Path, out: &Path, lora: &LoraConfig) -> Result<(), ExportError> {
    let bytes = std::fs::read(adapter).map_err(io(adapter))?;
    let bad = |why: String| ExportError::Mismatch(format!("{}: {why}", adapter.display()));
    let tensors = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut views = Vec::new();
    for (name, view) in tensors.tensors() {
        let shape = view.shape();
        let ok = match (name.contains(".lora_A."), name.contains(".lora_B.")) {
            (true, _) => shape.len() == 2 && shape[0] == lora.rank,
            (_, true) => shape.len() == 2 && shape[1] == lora.rank,
            _ => false,
        };
        if !ok || !name.starts_with("base_model.model.") {
            return Err(bad(format!(
                "unexpected tensor {name} {shape:?} for rank {}",
                lora.rank
            )));
        }
        views.push((peft_key(&name), view));
    }
    views.sort_by(|a, b| a.0.cmp(&b.0));
    let metadata = Some(std::collections::HashMap::from([(
        "format".to_string(),
        "pt".to_string(),
    )]));
    safetensors::serialize_to_file(views, metadata, out).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_only_keys_peft_0_13_knows() {
        let c = adapter_config(
            &LoraConfig::default(),
            "HuggingFaceTB/SmolLM2-135M",
            Some("abc"),
        );
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        let known = [
            "alpha_pattern",
            "base_model_name_or_path",
            "bias",
            "fan_in_fan_out",
            "inference_mode",
            "init_lora_weights",
            "layers_pattern",
            "layers_to_transform",
            "lora_alpha",
            "lora_dropout",
            "modules_to_save",
            "peft_type",
            "r",
            "rank_pattern",
            "revision",
            "target_modules",
            "task_type",
            "use_dora",
            "use_rslora",
        ];
        assert_eq!(keys, known, "sorted, and nothing PEFT 0.13 would refuse");
        assert!(
            c["lora_alpha"].is_i64(),
            "an integer alpha (Ollama parses it as one)"
        );
        assert_eq!(c["peft_type"], "LORA");
        assert_eq!(
            peft_key("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"),
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
        );
    }
}
