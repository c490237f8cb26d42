//! Where the weights come from: memory-mapped Hugging Face safetensors (one file or sharded
//! with `model.safetensors.index.json`) or a GGUF file (tensors dequantized to f32, GGUF
//! names mapped to Hugging Face names, Llama q/k rows un-permuted from llama.cpp's interleaved
//! RoPE layout back to the half-split layout the model and PEFT adapters use).

use super::config::{Config, Family};
use super::ModelError;
use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A source of named weight tensors (Hugging Face names).
pub enum Weights {
    /// Memory-mapped safetensors.
    Safetensors(candle_core::safetensors::MmapedSafetensors),
    /// A GGUF file and its parsed header.
    Gguf {
        /// The file (read under a lock, tensor by tensor).
        file: Mutex<std::fs::File>,
        /// Header: metadata and tensor directory.
        content: Box<gguf_file::Content>,
        /// Needed to un-permute q/k.
        config: Config,
    },
}

impl std::fmt::Debug for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Weights::Safetensors(_) => f.write_str("Weights::Safetensors"),
            Weights::Gguf { .. } => f.write_str("Weights::Gguf"),
        }
    }
}

/// The safetensors files of a Hugging Face folder (sharded or single).
pub fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>, ModelError> {
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        let text = std::fs::read_to_string(&index).map_err(|e| ModelError::io(&index, e))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| ModelError::Config(format!("{}: {e}", index.display())))?;
        let mut files: Vec<String> = v["weight_map"]
            .as_object()
            .ok_or_else(|| ModelError::Config(format!("{}: no weight_map", index.display())))?
            .values()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect();
        files.sort();
        files.dedup();
        return Ok(files.into_iter().map(|f| dir.join(f)).collect());
    }
    let single = dir.join("model.safetensors");
    if single.exists() {
        return Ok(vec![single]);
    }
    Err(ModelError::MissingFile(single))
}

/// The GGUF tensor name for a Hugging Face name, if there is one.
fn gguf_name(hf: &str) -> Option<String> {
    let fixed = match hf {
        "model.embed_tokens.weight" => Some("token_embd.weight"),
        "model.norm.weight" => Some("output_norm.weight"),
        "lm_head.weight" => Some("output.weight"),
        _ => None,
    };
    if let Some(n) = fixed {
        return Some(n.to_string());
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, rest) = rest.split_once('.')?;
    let (module, kind) = rest.rsplit_once('.')?;
    let g = match module {
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        "input_layernorm" => "attn_norm",
        "post_attention_layernorm" => "ffn_norm",
        _ => return None,
    };
    Some(format!("blk.{layer}.{g}.{kind}"))
}

/// Undoes llama.cpp's q/k permutation: rows (heads, 2, d/2) ← (heads, d/2, 2).
fn unpermute(w: &Tensor, heads: usize) -> candle_core::Result<Tensor> {
    let dims = w.dims().to_vec();
    let out = dims[0];
    let rest: usize = dims[1..].iter().product();
    w.reshape((heads, out / heads / 2, 2, rest))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape(dims)
}

impl Weights {
    /// Memory-maps the safetensors of a Hugging Face folder.
    pub fn from_hf_dir(dir: &Path) -> Result<Weights, ModelError> {
        let files = safetensors_files(dir)?;
        // SAFETY: the files are not modified while mapped (they are our read-only model cache).
        let st = unsafe { candle_core::safetensors::MmapedSafetensors::multi(&files)? };
        Ok(Weights::Safetensors(st))
    }

    /// Opens a GGUF file whose header was read into `content`.
    pub fn from_gguf(
        path: &Path,
        content: gguf_file::Content,
        config: Config,
    ) -> Result<Weights, ModelError> {
        let file = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
        Ok(Weights::Gguf {
            file: Mutex::new(file),
            content: Box::new(content),
            config,
        })
    }

    /// True when the source has the tensor `name`.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Weights::Safetensors(st) => st.get(name).is_ok(),
            Weights::Gguf { content, .. } => {
                gguf_name(name).is_some_and(|g| content.tensor_infos.contains_key(&g))
            }
        }
    }

    /// The tensor `name` (Hugging Face naming) as f32 on `device`.
    pub fn get(&self, name: &str, device: &Device) -> Result<Tensor, ModelError> {
        let missing = || ModelError::MissingTensor(name.to_string());
        match self {
            Weights::Safetensors(st) => {
                let t = st.load(name, device).map_err(|_| missing())?;
                Ok(t.to_dtype(DType::F32)?)
            }
            Weights::Gguf {
                file,
                content,
                config,
            } => {
                let g = gguf_name(name).ok_or_else(missing)?;
                if !content.tensor_infos.contains_key(&g) {
                    return Err(missing());
                }
                let q = {
                    let mut f = file.lock().expect("gguf file lock");
                    content.tensor(&mut *f, &g, device)?
                };
                let t = q.dequantize(device)?.to_dtype(DType::F32)?;
                let heads = if name.contains("q_proj") {
                    Some(config.num_attention_heads)
                } else if name.contains("k_proj") {
                    Some(config.num_key_value_heads)
                } else {
                    None
                };
                match heads {
                    Some(h) if config.family == Family::Llama => Ok(unpermute(&t, h)?),
                    _ => Ok(t),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_names() {
        assert_eq!(
            gguf_name("model.layers.3.self_attn.q_proj.weight").unwrap(),
            "blk.3.attn_q.weight"
        );
        assert_eq!(
            gguf_name("model.layers.0.self_attn.k_proj.bias").unwrap(),
            "blk.0.attn_k.bias"
        );
        assert_eq!(
            gguf_name("model.layers.12.post_attention_layernorm.weight").unwrap(),
            "blk.12.ffn_norm.weight"
        );
        assert_eq!(gguf_name("lm_head.weight").unwrap(), "output.weight");
        assert!(gguf_name("model.layers.0.rotary.inv_freq").is_none());
    }

    #[test]
    fn unpermute_inverts_llama_cpp_permute() -> candle_core::Result<()> {
        // llama.cpp: w.reshape(heads, 2, d/2, in).swapaxes(1, 2).reshape(out, in)
        let heads = 2;
        let w = Tensor::arange(0f32, 8.0 * 3.0, &Device::Cpu)?.reshape((8, 3))?;
        let permuted = w
            .reshape((heads, 2, 2, 3))?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((8, 3))?;
        let back = unpermute(&permuted, heads)?;
        assert_eq!(back.to_vec2::<f32>()?, w.to_vec2::<f32>()?);
        Ok(())
    }
}
