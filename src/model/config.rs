//! Model configuration: read from a Hugging Face `config.json` (with the defaults the HF
//! implementations use for missing keys) or from GGUF metadata.

use super::ModelError;
use candle_core::quantized::gguf_file;
use serde::{Deserialize, Serialize};

/// Architecture families the engine implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Llama, Llama 3.x, SmolLM2, TinyLlama.
    Llama,
    /// Qwen2 / Qwen2.5 (Llama with q/k/v biases).
    Qwen2,
}

/// `config.json` architectures the engine can load.
pub const SUPPORTED_ARCHITECTURES: &[&str] = &["LlamaForCausalLM", "Qwen2ForCausalLM"];

/// Llama-3 style RoPE frequency scaling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeScaling {
    /// Must be `llama3` (other types are refused).
    #[serde(alias = "type")]
    pub rope_type: String,
    /// Scale factor.
    pub factor: f64,
    /// Low-frequency factor.
    #[serde(default = "one")]
    pub low_freq_factor: f64,
    /// High-frequency factor.
    #[serde(default = "four")]
    pub high_freq_factor: f64,
    /// Context length the model was pre-trained with.
    #[serde(default = "default_original_max")]
    pub original_max_position_embeddings: usize,
}

fn one() -> f64 {
    1.0
}
fn four() -> f64 {
    4.0
}
fn default_original_max() -> usize {
    8192
}

/// The hyperparameters of a causal LM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Architecture family.
    pub family: Family,
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (GQA).
    pub num_key_value_heads: usize,
    /// Per-head width.
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// Optional Llama-3 RoPE scaling.
    pub rope_scaling: Option<RopeScaling>,
    /// Longest context.
    pub max_position_embeddings: usize,
    /// LM head shares the embedding matrix.
    pub tie_word_embeddings: bool,
    /// q/k/v projections have biases (Qwen2).
    pub attention_bias: bool,
    /// Beginning-of-sequence token, if any.
    pub bos_token_id: Option<u32>,
    /// End-of-sequence tokens (generation stops on any).
    pub eos_token_ids: Vec<u32>,
}

/// The subset of `config.json` we read.
#[derive(Debug, Deserialize)]
struct HfConfig {
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    rope_scaling: Option<serde_json::Value>,
    /// transformers 5 writes `rope_theta` (and the scaling) here instead.
    rope_parameters: Option<serde_json::Value>,
    max_position_embeddings: Option<usize>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    bos_token_id: Option<serde_json::Value>,
    eos_token_id: Option<serde_json::Value>,
}

/// Token ids from a `config.json` value that is a number or a list of numbers.
pub(crate) fn ids(v: Option<serde_json::Value>) -> Vec<u32> {
    match v {
        Some(serde_json::Value::Number(n)) => {
            n.as_u64().map(|n| vec![n as u32]).unwrap_or_default()
        }
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_u64())
            .map(|n| n as u32)
            .collect(),
        _ => Vec::new(),
    }
}

impl Config {
    /// The end-of-sequence token that ends completions (and pads batches); 0 if none is known.
    pub fn eos_token(&self) -> u32 {
        self.eos_token_ids.first().copied().unwrap_or(0)
    }

    /// This configuration as a Hugging Face `config.json` (for a base that came from GGUF):
    /// the keys [`Config::from_hf_json`] reads and `transformers` needs, `dtype` as given.
    pub fn hf_json(&self, torch_dtype: &str) -> serde_json::Value {
        let (arch, model_type) = match self.family {
            Family::Llama => ("LlamaForCausalLM", "llama"),
            Family::Qwen2 => ("Qwen2ForCausalLM", "qwen2"),
        };
        let eos = match self.eos_token_ids.as_slice() {
            [one] => serde_json::json!(one),
            many => serde_json::json!(many),
        };
        serde_json::json!({
            "architectures": [arch],
            "model_type": model_type,
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": self.rope_scaling,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "attention_bias": self.attention_bias,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": eos,
            "torch_dtype": torch_dtype,
        })
    }

    /// Parses a Hugging Face `config.json`.
    pub fn from_hf_json(text: &str) -> Result<Config, ModelError> {
        let hf: HfConfig = serde_json::from_str(text)
            .map_err(|e| ModelError::Config(format!("config.json: {e}")))?;
        let arch = hf
            .architectures
            .first()
            .cloned()
            .or(hf.model_type.clone())
            .unwrap_or_default();
        let family = match arch.as_str() {
            "LlamaForCausalLM" | "llama" => Family::Llama,
            "Qwen2ForCausalLM" | "qwen2" => Family::Qwen2,
            other => return Err(ModelError::UnsupportedArchitecture(other.to_string())),
        };
        let rope_parameters = hf.rope_parameters.unwrap_or_default();
        let rope_theta = hf
            .rope_theta
            .or_else(|| rope_parameters["rope_theta"].as_f64());
        let scaling = hf.rope_scaling.or_else(|| {
            (rope_parameters["rope_type"].as_str().unwrap_or("default") != "default")
                .then(|| rope_parameters.clone())
        });
        let rope_scaling = match scaling {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => {
                let s: RopeScaling = serde_json::from_value(v)
                    .map_err(|e| ModelError::Config(format!("rope_scaling: {e}")))?;
                if s.rope_type != "llama3" {
                    return Err(ModelError::Config(format!(
                        "rope_scaling type '{}' is not supported (only 'llama3')",
                        s.rope_type
                    )));
                }
                Some(s)
            }
        };
        let heads = hf.num_attention_heads;
        Ok(Config {
            family,
            vocab_size: hf.vocab_size,
            hidden_size: hf.hidden_size,
            intermediate_size: hf.intermediate_size,
            num_hidden_layers: hf.num_hidden_layers,
            num_attention_heads: heads,
            num_key_value_heads: hf.num_key_value_heads.unwrap_or(heads),
            head_dim: hf.head_dim.unwrap_or(hf.hidden_size / heads),
            rms_norm_eps: hf.rms_norm_eps.unwrap_or(1e-6),
            rope_theta: rope_theta.unwrap_or(10_000.0),
            rope_scaling,
            max_position_embeddings: hf.max_position_embeddings.unwrap_or(2048),
            tie_word_embeddings: hf.tie_word_embeddings.unwrap_or(false),
            attention_bias: hf.attention_bias.unwrap_or(family == Family::Qwen2),
            bos_token_id: ids(hf.bos_token_id).first().copied(),
            eos_token_ids: ids(hf.eos_token_id),
        })
    }

    /// Reads the configuration from GGUF metadata (`general.architecture` = llama or qwen2).
    pub fn from_gguf(content: &gguf_file::Content) -> Result<Config, ModelError> {
        let md = &content.metadata;
        let get = |k: &str| md.get(k);
        let arch = get("general.architecture")
            .and_then(|v| v.to_string().ok().cloned())
            .unwrap_or_default();
        let family = match arch.as_str() {
            "llama" => Family::Llama,
            "qwen2" => Family::Qwen2,
            other => {
                return Err(ModelError::UnsupportedArchitecture(format!(
                    "gguf '{other}'"
                )))
            }
        };
        let num = |k: &str| -> Result<usize, ModelError> {
            let v = get(&format!("{arch}.{k}"))
                .ok_or_else(|| ModelError::Config(format!("GGUF metadata lacks {arch}.{k}")))?;
            v.to_u32()
                .map(|n| n as usize)
                .or_else(|_| v.to_u64().map(|n| n as usize))
                .map_err(|e| ModelError::Config(format!("{arch}.{k}: {e}")))
        };
        let float = |k: &str, default: f64| {
            get(&format!("{arch}.{k}"))
                .and_then(|v| v.to_f32().ok())
                .map_or(default, f64::from)
        };
        let heads = num("attention.head_count")?;
        let hidden = num("embedding_length")?;
        let vocab_size = match get("tokenizer.ggml.tokens").map(|v| v.to_vec()) {
            Some(Ok(tokens)) => tokens.len(),
            _ => num("vocab_size")?,
        };
        let token_id = |k: &str| get(k).and_then(|v| v.to_u32().ok());
        Ok(Config {
            family,
            vocab_size,
            hidden_size: hidden,
            intermediate_size: num("feed_forward_length")?,
            num_hidden_layers: num("block_count")?,
            num_attention_heads: heads,
            num_key_value_heads: num("attention.head_count_kv").unwrap_or(heads),
            head_dim: num("attention.key_length").unwrap_or(hidden / heads),
            rms_norm_eps: float("attention.layer_norm_rms_epsilon", 1e-5),
            rope_theta: float("rope.freq_base", 10_000.0),
            rope_scaling: None,
            max_position_embeddings: num("context_length").unwrap_or(2048),
            tie_word_embeddings: !content.tensor_infos.contains_key("output.weight"),
            attention_bias: content.tensor_infos.contains_key("blk.0.attn_q.bias"),
            bos_token_id: token_id("tokenizer.ggml.bos_token_id"),
            eos_token_ids: token_id("tokenizer.ggml.eos_token_id")
                .into_iter()
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transformers_5_rope_parameters_are_read() {
        let c = Config::from_hf_json(
            r#"{"architectures": ["Qwen2ForCausalLM"], "vocab_size": 40, "hidden_size": 16,
            "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4,
            "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"}}"#,
        )
        .unwrap();
        assert_eq!(c.rope_theta, 1e6);
        assert!(c.rope_scaling.is_none());
    }

    #[test]
    fn hf_json_round_trips() {
        for arch in ["LlamaForCausalLM", "Qwen2ForCausalLM"] {
            let text = format!(
                r#"{{"architectures": ["{arch}"], "vocab_size": 40, "hidden_size": 16,
                "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4,
                "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "eos_token_id": [1, 2],
                "bos_token_id": 0, "tie_word_embeddings": true}}"#
            );
            let c = Config::from_hf_json(&text).unwrap();
            let back = Config::from_hf_json(&c.hf_json("float16").to_string()).unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn hf_defaults_and_families() {
        let c = Config::from_hf_json(
            r#"{"architectures": ["Qwen2ForCausalLM"], "vocab_size": 10, "hidden_size": 8,
                "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
                "eos_token_id": [3, 4]}"#,
        )
        .unwrap();
        assert_eq!(c.family, Family::Qwen2);
        assert!(c.attention_bias);
        assert_eq!((c.num_key_value_heads, c.head_dim), (2, 4));
        assert_eq!(c.eos_token_ids, vec![3, 4]);
        let err = Config::from_hf_json(r#"{"architectures": ["GPT2LMHeadModel"], "vocab_size": 1, "hidden_size": 1, "intermediate_size": 1, "num_hidden_layers": 1, "num_attention_heads": 1}"#)
            .unwrap_err();
        assert!(err.to_string().contains("GPT2LMHeadModel"), "{err}");
        assert!(err.to_string().contains("LlamaForCausalLM"), "{err}");
    }

    #[test]
    fn llama3_rope_scaling_is_read() {
        let c = Config::from_hf_json(
            r#"{"architectures": ["LlamaForCausalLM"], "vocab_size": 10, "hidden_size": 8,
                "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
                "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}"#,
        )
        .unwrap();
        assert_eq!(c.rope_scaling.unwrap().factor, 32.0);
    }
}
