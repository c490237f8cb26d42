//! The base with the adapter folded in, `W' = W + (α/r)·B·A` in f32, as a Hugging Face folder:
//! `config.json`, `model.safetensors` (shards + index above [`SHARD_BYTES`]) with
//! `{"format":"pt"}`, the tokenizer and generation files copied byte for byte (for a GGUF base:
//! written from the GGUF's tokenizer). [`merge`] is shared with the GGUF export.

use super::{io, ExportError, Job, Precision};
use crate::model::{self, Config, Tokenizer, Weights};
use candle_core::{DType, Device, Tensor};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Above this many bytes of weights the folder is sharded (as `save_pretrained` does at 5 GB).
pub const SHARD_BYTES: usize = 5_000_000_000;

/// Files of a Hugging Face folder copied byte for byte when the base has them.
const COPIED: [&str; 8] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "chat_template.jinja",
];

/// A base model with an adapter merged into its weights (Hugging Face names and layout, f32).
pub(super) struct Merged {
    /// The base's configuration.
    pub config: Config,
    /// The base's tokenizer.
    pub tokenizer: Tokenizer,
    /// The base's weight source (for its GGUF metadata).
    pub weights: Weights,
    /// Every tensor, sorted by name.
    pub tensors: Vec<(String, Tensor)>,
}

/// The adapter's tensors by the base weight they change: `…q_proj.weight` → (A, B).
fn adapter_pairs(adapter: &Path) -> Result<BTreeMap<String, (Tensor, Tensor)>, ExportError> {
    let bad = |why: String| ExportError::Mismatch(format!("{}: {why}", adapter.display()));
    let tensors =
        candle_core::safetensors::load(adapter, &Device::Cpu).map_err(|e| bad(e.to_string()))?;
    let mut parts: BTreeMap<String, [Option<Tensor>; 2]> = BTreeMap::new();
    for (name, t) in tensors {
        let name = name.replace(".default.", ".");
        let (stem, which) = match (name.split_once(".lora_A."), name.split_once(".lora_B.")) {
            (Some((stem, _)), _) => (stem, 0),
            (_, Some((stem, _))) => (stem, 1),
            _ => return Err(bad(format!("unexpected tensor {name}"))),
        };
        let stem = stem.strip_prefix("base_model.model.").unwrap_or(stem);
        parts.entry(format!("{stem}.weight")).or_default()[which] = Some(t);
    }
    parts
        .into_iter()
        .map(|(weight, [a, b])| match (a, b) {
            (Some(a), Some(b)) => Ok((weight, (a, b))),
            _ => Err(bad(format!("{weight} lacks its lora_A or lora_B"))),
        })
        .collect()
}

/// Reads the base at `base` and folds the adapter file `adapter` (PEFT names, `scale` = α/r)
/// into every weight it targets; each adapter pair must find its weight.
pub(super) fn merge(base: &Path, adapter: &Path, scale: f64) -> Result<Merged, ExportError> {
    let (config, tokenizer, weights) = model::open(base)?;
    let mut pairs = adapter_pairs(adapter)?;
    let mut tensors = Vec::new();
    for name in weights.names() {
        if name == "lm_head.weight" && config.tie_word_embeddings {
            continue;
        }
        let mut t = weights.get(&name, &Device::Cpu)?;
        if let Some((a, b)) = pairs.remove(&name) {
            let delta = (b.matmul(&a)? * scale)?;
            if delta.dims() != t.dims() {
                return Err(ExportError::Mismatch(format!(
                    "the adapter's {name} is {:?}, the base's {:?}",
                    delta.dims(),
                    t.dims()
                )));
            }
            t = (t + delta)?;
        }
        tensors.push((name, t));
    }
    if let Some(name) = pairs.keys().next() {
        return Err(ExportError::Mismatch(format!(
            "the adapter changes {name}, which the base does not have"
        )));
    }
    Ok(Merged {
        config,
        tokenizer,
        weights,
        tensors,
    })
}

/// Writes the merged folder into `dir` (which exists and is empty); returns the file names.
pub(super) fn write(
    job: &Job,
    merged: &Merged,
    precision: Precision,
    shard_bytes: usize,
    dir: &Path,
) -> Result<Vec<String>, ExportError> {
    let (dtype, torch_dtype) = match precision {
        Precision::F32 => (DType::F32, "float32"),
        Precision::Bf16 => (DType::BF16, "bfloat16"),
        Precision::F16 => (DType::F16, "float16"),
        Precision::Q8_0 => {
            return Err(ExportError::Unsupported(
                "a merged Hugging Face folder holds f32, bf16 or f16 weights; Q8_0 is for GGUF"
                    .into(),
            ))
        }
    };
    let mut files = write_weights(&merged.tensors, dtype, shard_bytes, dir)?;
    let base = &job.info.base_model;
    let write_text = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))
    };
    let mut config = match merged.weights.gguf_content() {
        None => {
            let path = base.join("config.json");
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            serde_json::from_str(&text)
                .map_err(|e| ExportError::Mismatch(format!("{}: {e}", path.display())))?
        }
        Some(_) => merged.config.hf_json(torch_dtype),
    };
    // transformers 5 writes `dtype`, earlier versions `torch_dtype`: keep the base's key.
    let key = if config.get("dtype").is_some() {
        "dtype"
    } else {
        "torch_dtype"
    };
    config[key] = serde_json::json!(torch_dtype);
    write_text("config.json", pretty(&config))?;
    files.push("config.json".into());
    if merged.weights.gguf_content().is_some() {
        let tok = &merged.tokenizer;
        write_text("tokenizer.json", tok.to_json()?)?;
        write_text(
            "tokenizer_config.json",
            pretty(&tok.hf_config(&merged.config)),
        )?;
        let c = &merged.config;
        let generation = serde_json::json!({
            "bos_token_id": c.bos_token_id,
            "eos_token_id": c.eos_token_ids,
            "do_sample": false,
        });
        write_text("generation_config.json", pretty(&generation))?;
        files.extend(
            [
                "tokenizer.json",
                "tokenizer_config.json",
                "generation_config.json",
            ]
            .map(String::from),
        );
    } else {
        for name in COPIED.into_iter().filter(|n| base.join(n).is_file()) {
            std::fs::copy(base.join(name), dir.join(name)).map_err(io(&dir.join(name)))?;
            files.push(name.into());
        }
    }
    let use_it = "```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\
                  model = AutoModelForCausalLM.from_pretrained(\"THIS_FOLDER\")\n\
                  tokenizer = AutoTokenizer.from_pretrained(\"THIS_FOLDER\")\n```\n";
    files.push(job.card("library_name: transformers", use_it, dir)?);
    Ok(files)
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).expect("a JSON value") + "\n"
}

/// Writes `tensors` as `dtype` into `model.safetensors`, or into shards of at most
/// `shard_bytes` (a tensor larger than that gets a shard of its own) with
/// `model.safetensors.index.json`; returns the file names.
fn write_weights(
    tensors: &[(String, Tensor)],
    dtype: DType,
    shard_bytes: usize,
    dir: &Path,
) -> Result<Vec<String>, ExportError> {
    let mut shards: Vec<Vec<(String, Tensor)>> = vec![Vec::new()];
    let (mut size, mut total) = (0usize, 0usize);
    for (name, t) in tensors {
        let t = t.to_dtype(dtype)?;
        let bytes = t.elem_count() * dtype.size_in_bytes();
        if size > 0 && size + bytes > shard_bytes {
            shards.push(Vec::new());
            size = 0;
        }
        size += bytes;
        total += bytes;
        shards.last_mut().expect("a shard").push((name.clone(), t));
    }
    let n = shards.len();
    let file_name = |i: usize| match n {
        1 => "model.safetensors".to_string(),
        _ => format!("model-{:05}-of-{n:05}.safetensors", i + 1),
    };
    let metadata = Some(HashMap::from([("format".to_string(), "pt".to_string())]));
    let mut weight_map = BTreeMap::new();
    let mut files = Vec::new();
    for (i, shard) in shards.iter().enumerate() {
        let name = file_name(i);
        let path = dir.join(&name);
        let views = shard.iter().map(|(n, t)| (n.as_str(), t));
        safetensors::serialize_to_file(views, metadata.clone(), &path)
            .map_err(|e| ExportError::Mismatch(format!("{}: {e}", path.display())))?;
        weight_map.extend(shard.iter().map(|(t, _)| (t.clone(), name.clone())));
        files.push(name);
    }
    if n > 1 {
        let index = serde_json::json!({
            "metadata": {"total_size": total},
            "weight_map": weight_map,
        });
        let name = "model.safetensors.index.json";
        let path = dir.join(name);
        std::fs::write(&path, pretty(&index)).map_err(io(&path))?;
        files.push(name.into());
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_above_the_limit_with_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let t = |n: usize| Tensor::ones(n, DType::F32, &Device::Cpu).unwrap();
        let tensors = vec![
            ("a".to_string(), t(10)),
            ("b".to_string(), t(10)),
            ("c".to_string(), t(30)),
        ];
        // f16: 20 + 20 + 60 bytes, shards of at most 40 bytes → [a, b], [c].
        let files = write_weights(&tensors, DType::F16, 40, dir.path()).unwrap();
        assert_eq!(
            files,
            [
                "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors",
                "model.safetensors.index.json"
            ]
        );
        let index: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("model.safetensors.index.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(index["metadata"]["total_size"], 100);
        assert_eq!(index["weight_map"]["c"], "model-00002-of-00002.safetensors");
        let shard = std::fs::read(dir.path().join(&files[0])).unwrap();
        let st = safetensors::SafeTensors::deserialize(&shard).unwrap();
        assert_eq!(st.tensor("a").unwrap().dtype(), safetensors::Dtype::F16);

        let one = write_weights(&tensors, DType::F32, SHARD_BYTES, dir.path()).unwrap();
        assert_eq!(one, ["model.safetensors"]);
    }
}
