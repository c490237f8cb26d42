//! Where the weights come from: memory-mapped Hugging Face safetensors (one file or sharded
//! with `model.safetensors.index.json`) or a GGUF file (tensors dequantized to f32, GGUF
//! names mapped to Hugging Face names, Llama q/k rows un-permuted from llama.cpp's interleaved
//! RoPE layout back to the half-split layout the model and PEFT adapters use; see [`gguf`]).

use super::config::Config;
use super::gguf;
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

    /// The Hugging Face names of every tensor the source holds that the engine knows, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = match self {
            Weights::Safetensors(st) => st.tensors().into_iter().map(|(n, _)| n).collect(),
            Weights::Gguf { content, .. } => content
                .tensor_infos
                .keys()
                .filter_map(|g| gguf::hf_name(g))
                .collect(),
        };
        names.sort();
        names
    }

    /// The GGUF header (metadata and tensor directory) when the source is a GGUF file.
    pub fn gguf_content(&self) -> Option<&gguf_file::Content> {
        match self {
            Weights::Gguf { content, .. } => Some(content),
            Weights::Safetensors(_) => None,
        }
    }

    /// True when the source has the tensor `name`.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Weights::Safetensors(st) => st.get(name).is_ok(),
            Weights::Gguf { content, .. } => {
                gguf::tensor_name(name).is_some_and(|g| content.tensor_infos.contains_key(&g))
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
                let g = gguf::tensor_name(name).ok_or_else(missing)?;
                if !content.tensor_infos.contains_key(&g) {
                    return Err(missing());
                }
                let q = {
                    let mut f = file.lock().expect("gguf file lock");
                    content.tensor(&mut *f, &g, device)?
                };
                let t = q.dequantize(device)?.to_dtype(DType::F32)?;
                match gguf::permuted_heads(config, name) {
                    Some(h) => Ok(gguf::unpermute(&t, h)?),
                    None => Ok(t),
                }
            }
        }
    }
}
