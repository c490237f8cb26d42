//! A tiny random Llama/Qwen2 model written to a folder (config.json + safetensors +
//! tokenizer.json), shared by the test binaries.
#![allow(dead_code)]

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use std::collections::HashMap;
use std::path::Path;

pub const VOCAB: usize = 40;
pub const HIDDEN: usize = 16;
pub const LAYERS: usize = 2;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const FFN: usize = 24;

/// Writes a tiny random model of `arch` into `dir`.
pub fn write_tiny(dir: &Path, arch: &str, seed: u64) {
    let qwen = arch == "Qwen2ForCausalLM";
    let config = serde_json::json!({
        "architectures": [arch], "vocab_size": VOCAB, "hidden_size": HIDDEN,
        "intermediate_size": FFN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "max_position_embeddings": 64, "tie_word_embeddings": !qwen, "eos_token_id": 1,
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let mut vocab = serde_json::Map::new();
    vocab.insert("<unk>".into(), 0.into());
    vocab.insert("</s>".into(), 1.into());
    for i in 2..VOCAB {
        vocab.insert(format!("w{i}"), i.into());
    }
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": false},
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"}
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();

    let dev = Device::Cpu;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut t = |shape: &[usize], scale: f32| {
        use rand::Rng;
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
        Tensor::from_vec(v, shape, &dev).unwrap()
    };
    let hd = HIDDEN / HEADS;
    let mut w: HashMap<String, Tensor> = HashMap::new();
    w.insert("model.embed_tokens.weight".into(), t(&[VOCAB, HIDDEN], 1.0));
    w.insert("model.norm.weight".into(), t(&[HIDDEN], 1.0).abs().unwrap());
    if qwen {
        w.insert("lm_head.weight".into(), t(&[VOCAB, HIDDEN], 0.5));
    }
    for l in 0..LAYERS {
        let p = format!("model.layers.{l}");
        for (name, shape) in [
            ("self_attn.q_proj", [HEADS * hd, HIDDEN]),
            ("self_attn.k_proj", [KV_HEADS * hd, HIDDEN]),
            ("self_attn.v_proj", [KV_HEADS * hd, HIDDEN]),
            ("self_attn.o_proj", [HIDDEN, HEADS * hd]),
            ("mlp.gate_proj", [FFN, HIDDEN]),
            ("mlp.up_proj", [FFN, HIDDEN]),
            ("mlp.down_proj", [HIDDEN, FFN]),
        ] {
            w.insert(format!("{p}.{name}.weight"), t(&shape, 0.4));
            if qwen && ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"].contains(&name)
            {
                w.insert(format!("{p}.{name}.bias"), t(&[shape[0]], 0.2));
            }
        }
        w.insert(
            format!("{p}.input_layernorm.weight"),
            t(&[HIDDEN], 1.0).abs().unwrap(),
        );
        w.insert(
            format!("{p}.post_attention_layernorm.weight"),
            t(&[HIDDEN], 1.0).abs().unwrap(),
        );
    }
    candle_core::safetensors::save(&w, dir.join("model.safetensors")).unwrap();
}

/// Largest absolute difference between two tensors of the same shape.
pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}
