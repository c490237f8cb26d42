//! Sizes worked out from a configuration alone (no weights needed): parameter count, and an
//! estimate of the RAM a LoRA training run takes, so a model can be judged before it is
//! downloaded.

use super::Config;
use serde::Serialize;

/// The shape of a training run that the RAM estimate assumes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrainShape {
    /// Examples per batch.
    pub batch: usize,
    /// Tokens per example (the longest sequence, `--max-len`).
    pub seq: usize,
    /// LoRA rank (adapters on all seven projections).
    pub rank: usize,
}

impl Default for TrainShape {
    /// The default training shape, which `train::TrainConfig::default` (batch size, longest
    /// sequence) and the quality report's over-long texts take from here: batch 8, up to 256
    /// tokens, and `LoraConfig`'s default rank.
    fn default() -> Self {
        TrainShape {
            batch: 8,
            seq: 256,
            rank: super::lora::LoraConfig::default().rank,
        }
    }
}

/// Number of parameters of the network `config` describes (embeddings, every layer's
/// projections, norms and biases, the LM head when it is not tied).
pub fn param_count(c: &Config) -> u64 {
    let (h, f, v) = (
        c.hidden_size as u64,
        c.intermediate_size as u64,
        c.vocab_size as u64,
    );
    let q = (c.num_attention_heads * c.head_dim) as u64;
    let kv = (c.num_key_value_heads * c.head_dim) as u64;
    let attention = h * q + 2 * h * kv + q * h + if c.attention_bias { q + 2 * kv } else { 0 };
    let layer = attention + 3 * h * f + 2 * h;
    let head = if c.tie_word_embeddings { 0 } else { v * h };
    v * h + c.num_hidden_layers as u64 * layer + h + head
}

/// Trainable parameters of rank-`rank` LoRA adapters on all seven projections.
pub fn lora_param_count(c: &Config, rank: usize) -> u64 {
    let (h, f, r) = (
        c.hidden_size as u64,
        c.intermediate_size as u64,
        rank as u64,
    );
    let q = (c.num_attention_heads * c.head_dim) as u64;
    let kv = (c.num_key_value_heads * c.head_dim) as u64;
    // A is rank×in, B is out×rank.
    let per_layer = r * ((h + q) + 2 * (h + kv) + (q + h) + 2 * (h + f) + (f + h));
    c.num_hidden_layers as u64 * per_layer
}

/// Bytes per f32.
const F32: u64 = 4;
/// Fixed cost: runtime, tokenizer, allocator slack.
const OVERHEAD: u64 = 256 << 20;
/// Activation floats kept per token and layer, per unit of hidden size, key/value width, MLP
/// size and attention width (heads × sequence length): counted from the ops in
/// `model::ops` (see `training_ram_bytes`).
const PER_HIDDEN: u64 = 10;
const PER_KV: u64 = 4;
const PER_MLP: u64 = 3;
const PER_ATTENTION: u64 = 2;
/// Rows of logits the fused LM head + loss op holds at once (`ops::linear_cross_entropy`).
const LOGIT_ROWS: u64 = 128;

/// Estimated peak RAM, in bytes, of LoRA training at `shape` in f32 on the CPU:
///
/// ```text
/// weights      params × 4                              frozen base weights, f32
/// adapters     lora_params × 4 × 4                     value, gradient, two AdamW moments
/// activations  layers × B·T × (10·hidden + 4·kv + 3·mlp + 2·heads·T) × 4
///                                                      intermediates kept for backward
/// logits       128 × vocab × 4                         one chunk of the fused head + loss
/// overhead     256 MiB
/// ```
///
/// candle keeps every intermediate of the graph until `backward` ends, so activations
/// dominate: per layer the residual stream, the norms' outputs, the projections' outputs, the
/// head-major copies and rotated q/k, the attention scores and probabilities, gate, up and
/// their product. Checked against one measurement: peak RSS 2.41 GB for SmolLM2-135M at batch
/// 8 × 128 (docs/PERFORMANCE.md); the estimate is within 10 % of it. It is an upper bound for a
/// run whose batches are shorter than `shape.seq` tokens.
pub fn training_ram_bytes(c: &Config, shape: TrainShape) -> u64 {
    let tokens = (shape.batch * shape.seq) as u64;
    let weights = param_count(c) * F32;
    let adapters = lora_param_count(c, shape.rank) * F32 * 4;
    let per_token = PER_HIDDEN * c.hidden_size as u64
        + PER_KV * (c.num_key_value_heads * c.head_dim) as u64
        + PER_MLP * c.intermediate_size as u64
        + PER_ATTENTION * (c.num_attention_heads * shape.seq) as u64;
    let activations = c.num_hidden_layers as u64 * tokens * per_token * F32;
    let logits = LOGIT_ROWS * c.vocab_size as u64 * F32;
    weights + adapters + activations + logits + OVERHEAD
}

/// RAM the system can give a new process now (Linux `MemAvailable`), `None` where unknown.
pub fn available_ram_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    mem_available(&info)
}

fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        Config::from_hf_json(json).unwrap()
    }

    const SMOLLM2_135M: &str = r#"{"architectures": ["LlamaForCausalLM"],
        "vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536,
        "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
        "tie_word_embeddings": true}"#;

    #[test]
    fn param_counts_match_the_published_models() {
        assert_eq!(param_count(&config(SMOLLM2_135M)), 134_515_008);
        let qwen = config(
            r#"{"architectures": ["Qwen2ForCausalLM"], "vocab_size": 151936,
            "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
            "num_attention_heads": 14, "num_key_value_heads": 2, "tie_word_embeddings": true}"#,
        );
        assert_eq!(param_count(&qwen), 494_032_768);
        let tinyllama = config(
            r#"{"architectures": ["LlamaForCausalLM"], "vocab_size": 32000,
            "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
            "num_attention_heads": 32, "num_key_value_heads": 4, "tie_word_embeddings": false}"#,
        );
        assert_eq!(param_count(&tinyllama), 1_100_048_384);
    }

    #[test]
    fn lora_count_matches_rank_8_on_smollm2() {
        // Per layer: q 8·(576+576), k and v 8·(576+192), o 8·(576+576), gate/up/down 8·(576+1536).
        assert_eq!(lora_param_count(&config(SMOLLM2_135M), 8), 30 * 81_408);
    }

    #[test]
    fn ram_estimate_matches_the_calibration_measurement() {
        let shape = TrainShape {
            batch: 8,
            seq: 128,
            rank: 8,
        };
        let est = training_ram_bytes(&config(SMOLLM2_135M), shape) as f64;
        let measured = 2.41e9;
        assert!(
            (est / measured - 1.0).abs() < 0.10,
            "estimate {est:.3e} vs measured {measured:.3e}"
        );
        // Longer sequences need more.
        assert!(training_ram_bytes(&config(SMOLLM2_135M), TrainShape::default()) as f64 > est);
    }

    #[test]
    fn reads_mem_available() {
        let info = "MemTotal:       16318360 kB\nMemFree:  1 kB\nMemAvailable:    8000000 kB\n";
        assert_eq!(mem_available(info), Some(8_192_000_000));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
        if cfg!(target_os = "linux") {
            assert!(available_ram_bytes().is_some_and(|b| b > 0));
        }
    }
}
