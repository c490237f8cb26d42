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
    let dims = Dims {
        vocab: VOCAB,
        hidden: HIDDEN,
        ffn: FFN,
        eos: 1,
        positions: 64,
    };
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
    write_model(dir, arch, seed, &dims);
}

/// Width of the byte-level tiny model: a multiple of 32, so its matrices can be Q8_0.
pub const BPE_HIDDEN: usize = 32;

/// Writes a tiny random model of `arch` with a byte-level BPE tokenizer (GPT-2's byte
/// alphabet, one merge, `<|endoftext|>` as EOS): the kind of tokenizer llama.cpp can run, so
/// it can be exported to GGUF.
pub fn write_tiny_bpe(dir: &Path, arch: &str, seed: u64) {
    let mut vocab = serde_json::Map::new();
    for (i, c) in byte_alphabet().into_iter().enumerate() {
        vocab.insert(c.to_string(), i.into());
    }
    vocab.insert("Ġw".into(), 256.into());
    vocab.insert("<|endoftext|>".into(), 257.into());
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{"id": 257, "content": "<|endoftext|>", "single_word": false,
                          "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                  "ignore_merges": false, "vocab": vocab, "merges": ["Ġ w"]}
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    let dims = Dims {
        vocab: 258,
        hidden: BPE_HIDDEN,
        ffn: 64,
        eos: 257,
        positions: 512,
    };
    write_model(dir, arch, seed, &dims);
}

/// GPT-2's printable stand-ins for the 256 byte values, in byte order.
fn byte_alphabet() -> Vec<char> {
    let printable =
        |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut extra = 0;
    (0..256u32)
        .map(|b| {
            if printable(b) {
                char::from_u32(b).unwrap()
            } else {
                extra += 1;
                char::from_u32(255 + extra).unwrap()
            }
        })
        .collect()
}

/// A tiny model's sizes.
struct Dims {
    vocab: usize,
    hidden: usize,
    ffn: usize,
    eos: u32,
    positions: usize,
}

fn write_model(dir: &Path, arch: &str, seed: u64, d: &Dims) {
    let (vocab, hidden, ffn) = (d.vocab, d.hidden, d.ffn);
    let qwen = arch == "Qwen2ForCausalLM";
    let config = serde_json::json!({
        "architectures": [arch], "vocab_size": vocab, "hidden_size": hidden,
        "intermediate_size": ffn, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "max_position_embeddings": d.positions, "tie_word_embeddings": !qwen, "eos_token_id": d.eos,
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let dev = Device::Cpu;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut t = |shape: &[usize], scale: f32| {
        use rand::Rng;
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
        Tensor::from_vec(v, shape, &dev).unwrap()
    };
    let hd = hidden / HEADS;
    let mut w: HashMap<String, Tensor> = HashMap::new();
    w.insert("model.embed_tokens.weight".into(), t(&[vocab, hidden], 1.0));
    w.insert("model.norm.weight".into(), t(&[hidden], 1.0).abs().unwrap());
    if qwen {
        w.insert("lm_head.weight".into(), t(&[vocab, hidden], 0.5));
    }
    for l in 0..LAYERS {
        let p = format!("model.layers.{l}");
        for (name, shape) in [
            ("self_attn.q_proj", [HEADS * hd, hidden]),
            ("self_attn.k_proj", [KV_HEADS * hd, hidden]),
            ("self_attn.v_proj", [KV_HEADS * hd, hidden]),
            ("self_attn.o_proj", [hidden, HEADS * hd]),
            ("mlp.gate_proj", [ffn, hidden]),
            ("mlp.up_proj", [ffn, hidden]),
            ("mlp.down_proj", [hidden, ffn]),
        ] {
            w.insert(format!("{p}.{name}.weight"), t(&shape, 0.4));
            if qwen && ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"].contains(&name)
            {
                w.insert(format!("{p}.{name}.bias"), t(&[shape[0]], 0.2));
            }
        }
        w.insert(
            format!("{p}.input_layernorm.weight"),
            t(&[hidden], 1.0).abs().unwrap(),
        );
        w.insert(
            format!("{p}.post_attention_layernorm.weight"),
            t(&[hidden], 1.0).abs().unwrap(),
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
