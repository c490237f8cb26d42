//! llama.cpp's formats: the merged model as one GGUF file (F32, BF16, F16 or Q8_0; norms and
//! biases stay F32, and a matrix whose rows do not split into Q8_0's blocks of 32 falls back to
//! F16 as llama.cpp's converter does), the Llama q/k rows permuted back to llama.cpp's RoPE
//! layout and a GGUF base's metadata kept; and the LoRA adapter as a GGUF adapter
//! (`general.type = adapter`, `blk.{i}.attn_q.weight.lora_a` / `.lora_b`, for Llama B's q/k
//! rows permuted), read back by [`read_adapter`] for the export's check.

use super::merged::Merged;
use super::{io, ExportError, Precision};
use crate::model::gguf::{self, architecture, permuted_heads};
use crate::model::lora::LoraConfig;
use crate::model::Config;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// The merged model's file name.
pub const MODEL_FILE: &str = "model.gguf";
/// The GGUF LoRA adapter's file name.
pub const ADAPTER_FILE: &str = "adapter.gguf";

/// Q8_0's block: a row must split into whole blocks to be stored as Q8_0.
const Q8_0_BLOCK: usize = 32;

/// `general.file_type` (llama.cpp's `LLAMA_FTYPE_*`) and the tensor type of `precision`.
fn types(precision: Precision) -> (u32, GgmlDType) {
    match precision {
        Precision::F32 => (0, GgmlDType::F32),
        Precision::F16 => (1, GgmlDType::F16),
        Precision::Q8_0 => (7, GgmlDType::Q8_0),
        Precision::Bf16 => (32, GgmlDType::BF16),
    }
}

fn write_file(
    path: &Path,
    metadata: &[(String, Value)],
    tensors: &[(String, QTensor)],
) -> Result<(), ExportError> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io(path))?);
    let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut file, &md, &ts)?;
    use std::io::Write;
    file.flush().map_err(io(path))
}

/// Writes the merged model as [`MODEL_FILE`] into `dir`.
pub(super) fn write_model(
    merged: &Merged,
    precision: Precision,
    name: &str,
    dir: &Path,
) -> Result<(), ExportError> {
    let (file_type, dtype) = types(precision);
    let mut metadata: Vec<(String, Value)> = match merged.weights.gguf_content() {
        Some(content) => {
            let mut md: Vec<(String, Value)> = content
                .metadata
                .iter()
                .filter(|(k, _)| !k.starts_with("general.alignment"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            md.sort_by(|a, b| a.0.cmp(&b.0));
            md
        }
        None => gguf::model_metadata(&merged.config, &merged.tokenizer, name)?,
    };
    metadata.retain(|(k, _)| k != "general.file_type" && k != "general.quantization_version");
    metadata.push(("general.file_type".into(), Value::U32(file_type)));
    metadata.push(("general.quantization_version".into(), Value::U32(2)));
    let mut tensors = Vec::new();
    for (hf, t) in &merged.tensors {
        let Some(g) = gguf::tensor_name(hf) else {
            continue;
        };
        let t = match permuted_heads(&merged.config, hf) {
            Some(heads) => gguf::permute(t, heads)?,
            None => t.clone(),
        };
        let dtype = match (t.rank(), dtype) {
            (1, _) => GgmlDType::F32,
            (_, GgmlDType::Q8_0) if t.dims()[t.rank() - 1] % Q8_0_BLOCK != 0 => GgmlDType::F16,
            (_, d) => d,
        };
        tensors.push((g, QTensor::quantize(&t, dtype)?));
    }
    write_file(&dir.join(MODEL_FILE), &metadata, &tensors)
}

/// Writes the adapter file `adapter` (PEFT names) as the GGUF LoRA adapter [`ADAPTER_FILE`].
pub(super) fn write_adapter(
    config: &Config,
    lora: &LoraConfig,
    adapter: &Path,
    dir: &Path,
) -> Result<(), ExportError> {
    let tensors = candle_core::safetensors::load(adapter, &Device::Cpu)?;
    let mut out = Vec::new();
    for (name, t) in tensors {
        let name = name.replace(".default.", ".");
        let (stem, suffix) = match (name.split_once(".lora_A."), name.split_once(".lora_B.")) {
            (Some((stem, _)), _) => (stem, "lora_a"),
            (_, Some((stem, _))) => (stem, "lora_b"),
            _ => return Err(ExportError::Mismatch(format!("unexpected tensor {name}"))),
        };
        let weight = format!(
            "{}.weight",
            stem.strip_prefix("base_model.model.").unwrap_or(stem)
        );
        let g = gguf::tensor_name(&weight)
            .ok_or_else(|| ExportError::Mismatch(format!("no GGUF name for {weight}")))?;
        let t = match (suffix, permuted_heads(config, &weight)) {
            ("lora_b", Some(heads)) => gguf::permute(&t, heads)?,
            _ => t,
        };
        out.push((
            format!("{g}.{suffix}"),
            QTensor::quantize(&t, GgmlDType::F32)?,
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    let metadata = vec![
        (
            "general.architecture".to_string(),
            Value::String(architecture(config.family).into()),
        ),
        ("general.type".into(), Value::String("adapter".into())),
        ("adapter.type".into(), Value::String("lora".into())),
        ("adapter.lora.alpha".into(), Value::F32(lora.alpha as f32)),
    ];
    write_file(&dir.join(ADAPTER_FILE), &metadata, &out)
}

/// Reads a GGUF LoRA adapter back into PEFT names and layout (B's q/k rows un-permuted for
/// Llama) with its LoRA settings, for a base of `config`.
pub fn read_adapter(
    path: &Path,
    config: &Config,
) -> Result<(HashMap<String, Tensor>, LoraConfig), ExportError> {
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    let content = gguf_file::Content::read(&mut file)?;
    let text = |k: &str| {
        content
            .metadata
            .get(k)
            .and_then(|v| v.to_string().ok().cloned())
    };
    if text("general.type").as_deref() != Some("adapter")
        || text("general.architecture").as_deref() != Some(architecture(config.family))
    {
        return Err(ExportError::Mismatch(format!(
            "{} is not a LoRA adapter for this base",
            path.display()
        )));
    }
    let alpha = content
        .metadata
        .get("adapter.lora.alpha")
        .and_then(|v| v.to_f32().ok())
        .unwrap_or(0.0);
    let mut tensors = HashMap::new();
    let (mut rank, mut targets) = (0, Vec::new());
    for g in content.tensor_infos.keys() {
        let (weight, part) = g
            .rsplit_once('.')
            .filter(|(_, p)| *p == "lora_a" || *p == "lora_b")
            .ok_or_else(|| ExportError::Mismatch(format!("unexpected tensor {g}")))?;
        let hf = gguf::hf_name(weight)
            .ok_or_else(|| ExportError::Mismatch(format!("no Hugging Face name for {g}")))?;
        let mut t = content
            .tensor(&mut file, g, &Device::Cpu)?
            .dequantize(&Device::Cpu)?;
        let stem = hf.trim_end_matches(".weight");
        let peft = if part == "lora_a" {
            rank = t.dims()[0];
            format!("base_model.model.{stem}.lora_A.weight")
        } else {
            if let Some(heads) = permuted_heads(config, &hf) {
                t = gguf::unpermute(&t, heads)?;
            }
            format!("base_model.model.{stem}.lora_B.weight")
        };
        let module = stem.rsplit('.').next().unwrap_or_default().to_string();
        if !targets.contains(&module) {
            targets.push(module);
        }
        tensors.insert(peft, t);
    }
    let lora = LoraConfig {
        rank,
        alpha: f64::from(alpha),
        dropout: 0.0,
        target_modules: targets,
    };
    Ok((tensors, lora))
}
