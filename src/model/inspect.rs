//! Checks a model on disk without loading its weights: the architecture is supported, the
//! tokenizer is there and builds, and every tensor the network needs is present. Used when a
//! local model is registered, so that a broken one is refused then rather than at training time.

use super::weights::{safetensors_files, Weights};
use super::{estimate, Config, Model, ModelError, Tokenizer};
use candle_core::quantized::gguf_file;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// How a model is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelFormat {
    /// A Hugging Face folder: `config.json`, `tokenizer.json`, `*.safetensors`.
    Folder,
    /// One `.gguf` file.
    Gguf,
}

/// What a validated model is.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    /// The folder or file.
    pub path: PathBuf,
    /// Folder or GGUF.
    pub format: ModelFormat,
    /// Its configuration.
    pub config: Config,
    /// Parameter count (from the configuration).
    pub params: u64,
    /// Bytes on disk (weights, tokenizer and configuration files).
    pub size_bytes: u64,
}

/// True for a path that names a `.gguf` file.
pub fn is_gguf(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

/// Validates the model at `path` (a Hugging Face folder or a `.gguf` file).
pub fn inspect(path: &Path) -> Result<ModelSummary, ModelError> {
    let (format, config, weights, files) = if is_gguf(path) {
        let mut file = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
        let content = gguf_file::Content::read(&mut file)
            .map_err(|e| ModelError::Config(format!("{}: not a GGUF file: {e}", path.display())))?;
        let config = Config::from_gguf(&content)?;
        Tokenizer::from_gguf(&content)?;
        let weights = Weights::from_gguf(path, content, config.clone())?;
        (ModelFormat::Gguf, config, weights, vec![path.to_path_buf()])
    } else if path.is_dir() {
        let cfg_path = path.join("config.json");
        if !cfg_path.exists() {
            return Err(ModelError::MissingFile(cfg_path));
        }
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| ModelError::io(&cfg_path, e))?;
        let config = Config::from_hf_json(&text)?;
        Tokenizer::from_hf_dir(path)?;
        let mut files = safetensors_files(path)?;
        if let Some(missing) = files.iter().find(|f| !f.exists()) {
            return Err(ModelError::MissingFile(missing.clone()));
        }
        let weights = Weights::from_hf_dir(path)?;
        files.extend(
            ["config.json", "tokenizer.json", "tokenizer_config.json"]
                .iter()
                .map(|f| path.join(f)),
        );
        (ModelFormat::Folder, config, weights, files)
    } else {
        return Err(ModelError::NotAModel(path.to_path_buf()));
    };
    if let Some(missing) = Model::required_tensors(&config)
        .into_iter()
        .find(|name| !weights.contains(name))
    {
        return Err(ModelError::MissingTensor(missing));
    }
    let size_bytes = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    Ok(ModelSummary {
        path: path.to_path_buf(),
        format,
        params: estimate::param_count(&config),
        config,
        size_bytes,
    })
}
