//! The model engine: Llama-family causal LMs (Llama, SmolLM2, TinyLlama, Llama 3.x, Qwen2)
//! in candle, trainable through LoRA, loaded from a Hugging Face folder or a GGUF file, with
//! the exact tokenizer and a generation loop.
//!
//! Input: a model path. Output: a [`LoadedModel`] (weights, tokenizer, config).
//! Must not touch: datasets, the store, the task layout.

pub mod batch;
pub mod chat;
pub mod config;
pub mod device;
pub mod estimate;
pub mod generate;
pub mod gguf;
pub mod inspect;
pub mod llama;
pub mod lora;
pub mod ops;
pub mod tokenizer;
pub mod weights;

pub use batch::{Batch, Sequence};
use candle_core::quantized::gguf_file;
use candle_core::Device;
pub use config::{Config, Family, SUPPORTED_ARCHITECTURES};
pub use device::{DeviceChoice, DeviceInfo};
pub use llama::Model;
use std::path::{Path, PathBuf};
pub use tokenizer::Tokenizer;
pub use weights::Weights;

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A required file is missing.
    #[error("missing {0}")]
    MissingFile(PathBuf),
    /// The path is neither a Hugging Face folder nor a `.gguf` file.
    #[error("'{0}' is not a model: expected a folder with config.json + tokenizer.json + *.safetensors, or a .gguf file")]
    NotAModel(PathBuf),
    /// The architecture is not implemented.
    #[error("unsupported architecture {0}; supported: {supported}", supported = SUPPORTED_ARCHITECTURES.join(", "))]
    UnsupportedArchitecture(String),
    /// A configuration value is missing or invalid.
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// A tensor the architecture needs is absent.
    #[error("weights lack tensor '{0}'")]
    MissingTensor(String),
    /// The tokenizer could not be built or failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A prompt longer than the model can read.
    #[error("the prompt is {tokens} tokens long, more than the {context} this model can read")]
    PromptTooLong {
        /// Tokens of the prompt.
        tokens: usize,
        /// The model's context length.
        context: usize,
    },
    /// A device cannot be used (not in this build, not on this machine, or not a device).
    #[error("{0}")]
    Device(String),
    /// A tensor operation failed.
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
}

impl ModelError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> ModelError {
        ModelError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Sets up the CPU threads: call once at the start of `main`, before any other thread
/// exists. The heavy work (matrix products, the training kernels of [`ops`]) runs on rayon's
/// pool; candle's own pool for its element-wise ops would compete with it for the same cores,
/// so it is turned off unless `CANDLE_NUM_THREADS` is set (LoRA training on 2 cores: 190 →
/// 203 tokens/s).
///
/// It also keeps freed memory in the process (glibc): every decoding step allocates and frees
/// buffers of a few MB, which glibc otherwise hands back to the kernel and gets again as fresh
/// pages, zeroed on every first touch (a tenth of batched prediction's time went to that).
pub fn configure_cpu_threads() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation thresholds; called before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}

/// The compute device when none is chosen: the first GPU when built with `cuda` / `metal`
/// and one is present, else the CPU ([`device::preferred`]).
pub fn default_device() -> Device {
    device::preferred().open().unwrap_or(Device::Cpu)
}

/// A model ready to run: weights, tokenizer and configuration.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The network.
    pub model: Model,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Where it was loaded from.
    pub path: PathBuf,
}

/// Where a model's weights are, once its configuration and tokenizer are read.
enum Source {
    /// A GGUF file (its header read: metadata and tensor index).
    Gguf(gguf_file::Content),
    /// A Hugging Face folder.
    HfDir,
}

/// The configuration and tokenizer of the model at `path` (a `.gguf` file or a Hugging Face
/// folder), without its weights: what a training plan needs (sizes, token counts).
pub fn config_and_tokenizer(path: &Path) -> Result<(Config, Tokenizer), ModelError> {
    let (config, tokenizer, _) = open_parts(path)?;
    Ok((config, tokenizer))
}

/// The configuration, tokenizer and weight source of the model at `path` (nothing loaded
/// into memory yet): what [`LoadedModel::load`] builds the network from, and what an export
/// reads tensor by tensor.
pub fn open(path: &Path) -> Result<(Config, Tokenizer, Weights), ModelError> {
    let (config, tokenizer, source) = open_parts(path)?;
    let weights = match source {
        Source::Gguf(content) => Weights::from_gguf(path, content, config.clone())?,
        Source::HfDir => Weights::from_hf_dir(path)?,
    };
    Ok((config, tokenizer, weights))
}

fn open_parts(path: &Path) -> Result<(Config, Tokenizer, Source), ModelError> {
    let is_gguf = path.is_file()
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
    if is_gguf {
        let mut file = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
        let content = gguf_file::Content::read(&mut file)?;
        let config = Config::from_gguf(&content)?;
        let tokenizer = Tokenizer::from_gguf(&content)?;
        return Ok((config, tokenizer, Source::Gguf(content)));
    }
    if !path.is_dir() {
        return Err(ModelError::NotAModel(path.to_path_buf()));
    }
    let cfg_path = path.join("config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| ModelError::io(&cfg_path, e))?;
    let mut config = Config::from_hf_json(&text)?;
    if let Ok(gen) = std::fs::read_to_string(path.join("generation_config.json")) {
        // generation_config.json's eos list wins (e.g. Llama 3 stops on <|eot_id|>).
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&gen) {
            let ids = config::ids(v.get("eos_token_id").cloned());
            if !ids.is_empty() {
                config.eos_token_ids = ids;
            }
        }
    }
    let tokenizer = Tokenizer::from_hf_dir(path)?;
    Ok((config, tokenizer, Source::HfDir))
}

impl LoadedModel {
    /// Loads a Hugging Face folder or a `.gguf` file onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<LoadedModel, ModelError> {
        let (config, tokenizer, weights) = open(path)?;
        let model = Model::load(&config, &weights, device)?;
        Ok(LoadedModel {
            model,
            tokenizer,
            path: path.to_path_buf(),
        })
    }

    /// Loads a LoRA adapter (PEFT tensor names, as in a run's `adapter.safetensors`) and folds
    /// it into the weights for inference.
    pub fn apply_adapter(&mut self, file: &Path, cfg: &lora::LoraConfig) -> Result<(), ModelError> {
        let tensors = candle_core::safetensors::load(file, self.model.device())
            .map_err(|e| ModelError::Config(format!("adapter {}: {e}", file.display())))?;
        self.apply_adapter_tensors(&tensors, cfg)
            .map_err(|e| match e {
                ModelError::Config(why) => {
                    ModelError::Config(format!("adapter {}: {why}", file.display()))
                }
                other => other,
            })
    }

    /// [`LoadedModel::apply_adapter`] for tensors already in memory (PEFT names).
    pub fn apply_adapter_tensors(
        &mut self,
        tensors: &std::collections::HashMap<String, candle_core::Tensor>,
        cfg: &lora::LoraConfig,
    ) -> Result<(), ModelError> {
        let varmap = candle_nn::VarMap::new();
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        self.model.add_lora(cfg, &varmap, &mut rng)?;
        let vars = self.model.lora_vars();
        if vars.len() != tensors.len() {
            return Err(ModelError::Config(format!(
                "{} tensors where the LoRA settings expect {}",
                tensors.len(),
                vars.len()
            )));
        }
        for (name, var) in vars {
            let t = tensors
                .get(&name)
                .ok_or_else(|| ModelError::MissingTensor(name.clone()))?;
            if t.dims() != var.dims() {
                return Err(ModelError::Config(format!(
                    "{name} is {:?}, this base needs {:?}",
                    t.dims(),
                    var.dims()
                )));
            }
            var.set(&t.to_device(self.model.device())?)?;
        }
        self.model.merge_lora()?;
        Ok(())
    }

    /// `prompt` as a user turn in the model's chat template, with the generation prompt.
    pub fn chat_prompt(&self, prompt: &str) -> Result<String, ModelError> {
        let name = |id: Option<u32>| {
            id.and_then(|i| self.tokenizer.decode(&[i]).ok())
                .unwrap_or_default()
        };
        chat::render(
            self.tokenizer.chat_template.as_deref(),
            &[chat::Message::user(prompt)],
            &name(self.tokenizer.bos),
            &name(self.model.config().eos_token_ids.first().copied()),
        )
    }
}
