//! GGUF's side of a model, both ways: tensor names (`blk.3.attn_q.weight` ↔
//! `model.layers.3.self_attn.q_proj.weight`), llama.cpp's interleaved RoPE layout of the Llama
//! q/k rows (un-permuted on load, permuted again on export), and the metadata llama.cpp needs
//! to run a model whose configuration came from a Hugging Face folder.

use super::config::{Config, Family};
use super::{ModelError, Tokenizer};
use candle_core::quantized::gguf_file::Value;
use candle_core::Tensor;

/// GGUF names of the per-layer modules, beside their Hugging Face names.
const LAYER_MODULES: [(&str, &str); 9] = [
    ("self_attn.q_proj", "attn_q"),
    ("self_attn.k_proj", "attn_k"),
    ("self_attn.v_proj", "attn_v"),
    ("self_attn.o_proj", "attn_output"),
    ("mlp.gate_proj", "ffn_gate"),
    ("mlp.up_proj", "ffn_up"),
    ("mlp.down_proj", "ffn_down"),
    ("input_layernorm", "attn_norm"),
    ("post_attention_layernorm", "ffn_norm"),
];

/// GGUF names of the tensors outside the layers, beside their Hugging Face names.
const GLOBAL_TENSORS: [(&str, &str); 3] = [
    ("model.embed_tokens.weight", "token_embd.weight"),
    ("model.norm.weight", "output_norm.weight"),
    ("lm_head.weight", "output.weight"),
];

/// The GGUF tensor name for a Hugging Face name, if there is one.
pub fn tensor_name(hf: &str) -> Option<String> {
    if let Some((_, g)) = GLOBAL_TENSORS.iter().find(|(h, _)| *h == hf) {
        return Some(g.to_string());
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, rest) = rest.split_once('.')?;
    let (module, kind) = rest.rsplit_once('.')?;
    let (_, g) = LAYER_MODULES.iter().find(|(h, _)| *h == module)?;
    Some(format!("blk.{layer}.{g}.{kind}"))
}

/// The Hugging Face name for a GGUF tensor name, if there is one.
pub fn hf_name(gguf: &str) -> Option<String> {
    if let Some((h, _)) = GLOBAL_TENSORS.iter().find(|(_, g)| *g == gguf) {
        return Some(h.to_string());
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let (module, kind) = rest.rsplit_once('.')?;
    let (h, _) = LAYER_MODULES.iter().find(|(_, g)| *g == module)?;
    Some(format!("model.layers.{layer}.{h}.{kind}"))
}

/// The `general.architecture` of a family.
pub fn architecture(family: Family) -> &'static str {
    match family {
        Family::Llama => "llama",
        Family::Qwen2 => "qwen2",
    }
}

/// The head count by which llama.cpp permutes the rows of the Hugging Face tensor `hf` (Llama
/// q/k projections and their LoRA `B`), or `None` when it leaves them alone.
pub fn permuted_heads(config: &Config, hf: &str) -> Option<usize> {
    if config.family != Family::Llama {
        return None;
    }
    if hf.contains("self_attn.q_proj.") {
        Some(config.num_attention_heads)
    } else if hf.contains("self_attn.k_proj.") {
        Some(config.num_key_value_heads)
    } else {
        None
    }
}

/// Undoes llama.cpp's q/k permutation: rows (heads, 2, d/2) ← (heads, d/2, 2).
pub fn unpermute(w: &Tensor, heads: usize) -> candle_core::Result<Tensor> {
    regroup(w, heads, true)
}

/// llama.cpp's q/k permutation (`convert_hf_to_gguf.py`'s `permute`): rows (heads, d/2, 2) ←
/// (heads, 2, d/2).
pub fn permute(w: &Tensor, heads: usize) -> candle_core::Result<Tensor> {
    regroup(w, heads, false)
}

fn regroup(w: &Tensor, heads: usize, from_interleaved: bool) -> candle_core::Result<Tensor> {
    let dims = w.dims().to_vec();
    let out = dims[0];
    let rest: usize = dims[1..].iter().product();
    let split = if from_interleaved {
        (heads, out / heads / 2, 2, rest)
    } else {
        (heads, 2, out / heads / 2, rest)
    };
    w.reshape(split)?
        .transpose(1, 2)?
        .contiguous()?
        .reshape(dims)
}

/// The metadata llama.cpp needs to run a model of `config` with `tokenizer` (for a base that
/// came from a Hugging Face folder; a GGUF base keeps its own). Llama-3 RoPE scaling is refused:
/// llama.cpp takes it as a `rope_freqs` tensor that TuneDesk's GGUF reader does not read back.
pub fn model_metadata(
    config: &Config,
    tokenizer: &Tokenizer,
    name: &str,
) -> Result<Vec<(String, Value)>, ModelError> {
    if config.rope_scaling.is_some() {
        return Err(ModelError::Config(
            "this model scales RoPE the Llama-3 way, which the GGUF export does not write yet; export the merged folder and convert it with llama.cpp's convert_hf_to_gguf.py".into(),
        ));
    }
    let arch = architecture(config.family);
    let u = |n: usize| Value::U32(n as u32);
    let mut md = vec![
        (
            "general.architecture".to_string(),
            Value::String(arch.into()),
        ),
        ("general.name".to_string(), Value::String(name.into())),
    ];
    let keys = [
        ("context_length", u(config.max_position_embeddings)),
        ("embedding_length", u(config.hidden_size)),
        ("block_count", u(config.num_hidden_layers)),
        ("feed_forward_length", u(config.intermediate_size)),
        ("attention.head_count", u(config.num_attention_heads)),
        ("attention.head_count_kv", u(config.num_key_value_heads)),
        ("attention.key_length", u(config.head_dim)),
        ("attention.value_length", u(config.head_dim)),
        (
            "attention.layer_norm_rms_epsilon",
            Value::F32(config.rms_norm_eps as f32),
        ),
        ("rope.freq_base", Value::F32(config.rope_theta as f32)),
        ("rope.dimension_count", u(config.head_dim)),
        ("vocab_size", u(config.vocab_size)),
    ];
    md.extend(keys.into_iter().map(|(k, v)| (format!("{arch}.{k}"), v)));
    md.extend(tokenizer.gguf_metadata(config)?);
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn maps_names_both_ways() {
        for (hf, g) in [
            (
                "model.layers.3.self_attn.q_proj.weight",
                "blk.3.attn_q.weight",
            ),
            ("model.layers.0.self_attn.k_proj.bias", "blk.0.attn_k.bias"),
            (
                "model.layers.12.post_attention_layernorm.weight",
                "blk.12.ffn_norm.weight",
            ),
            ("lm_head.weight", "output.weight"),
        ] {
            assert_eq!(tensor_name(hf).unwrap(), g);
            assert_eq!(hf_name(g).unwrap(), hf);
        }
        assert!(tensor_name("model.layers.0.rotary.inv_freq").is_none());
        assert!(hf_name("rope_freqs.weight").is_none());
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
        assert_eq!(
            permute(&w, heads)?.to_vec2::<f32>()?,
            permuted.to_vec2::<f32>()?
        );
        let back = unpermute(&permuted, heads)?;
        assert_eq!(back.to_vec2::<f32>()?, w.to_vec2::<f32>()?);
        Ok(())
    }
}
