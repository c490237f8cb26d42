//! Llama-family decoder (Llama, Llama 3.x, SmolLM2, TinyLlama; Qwen2 = the same with q/k/v
//! biases), written so that LoRA can be trained through it.
//!
//! Read top-down: rotary embedding → RMSNorm → MLP → attention → decoder layer → model.
//! Field names follow the checkpoint's tensor names (`q_proj`, `input_layernorm`, …). candle's
//! fused softmax, RMSNorm and RoPE kernels drop gradients silently (see the notes), so
//! training uses our own kernels with hand-written backward passes (`super::ops`).

use super::batch::Batch;
use super::config::Config;
use super::lora::{DropoutRng, Linear, Lora, LoraConfig};
use super::ops::{self, Int8Weight};
use super::weights::Weights;
use super::ModelError;
use candle_core::{DType, Device, IndexOp, Result, Tensor, Var, D};
use candle_nn::VarMap;
use rand::RngCore;
use std::sync::Arc;

mod shared_prefix;
pub use shared_prefix::{Prefix, RowBatch};

/// Precomputed RoPE tables (half-split layout, as in Hugging Face checkpoints).
#[derive(Debug, Clone)]
struct RotaryEmbedding {
    cos: Tensor,
    sin: Tensor,
}

impl RotaryEmbedding {
    fn new(cfg: &Config, device: &Device) -> Result<Self> {
        let d = cfg.head_dim;
        let mut inv_freq: Vec<f64> = (0..d / 2)
            .map(|i| 1.0 / cfg.rope_theta.powf(2.0 * i as f64 / d as f64))
            .collect();
        if let Some(s) = &cfg.rope_scaling {
            // Llama 3.1 frequency scaling (transformers' `_compute_llama3_parameters`).
            let old = s.original_max_position_embeddings as f64;
            let low_wavelen = old / s.low_freq_factor;
            let high_wavelen = old / s.high_freq_factor;
            for f in &mut inv_freq {
                let wavelen = 2.0 * std::f64::consts::PI / *f;
                if wavelen > low_wavelen {
                    *f /= s.factor;
                } else if wavelen >= high_wavelen {
                    let smooth = (old / wavelen - s.low_freq_factor)
                        / (s.high_freq_factor - s.low_freq_factor);
                    *f = (1.0 - smooth) * *f / s.factor + smooth * *f;
                }
            }
        }
        let n = cfg.max_position_embeddings;
        let mut cos = Vec::with_capacity(n * d / 2);
        let mut sin = Vec::with_capacity(n * d / 2);
        for pos in 0..n {
            for f in &inv_freq {
                let angle = pos as f64 * f;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        Ok(RotaryEmbedding {
            cos: Tensor::from_vec(cos, (n, d / 2), device)?,
            sin: Tensor::from_vec(sin, (n, d / 2), device)?,
        })
    }

    /// Rotates `x` (b, heads, t, d) for positions `offset..offset+t`.
    fn apply(&self, x: &Tensor, offset: usize, kernels: Kernels) -> Result<Tensor> {
        let t = x.dim(2)?;
        let cos = self.cos.narrow(0, offset, t)?;
        let sin = self.sin.narrow(0, offset, t)?;
        match kernels {
            Kernels::Fused => candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin),
            Kernels::Differentiable => ops::rope(x, &cos, &sin),
        }
    }
}

/// Which kernels to use: candle's fused ones have no backward pass, so training uses ours
/// (`super::ops`: the same results up to rounding, with backward passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernels {
    /// Inference.
    Fused,
    /// Training.
    Differentiable,
}

/// RMSNorm: `x / sqrt(mean(x²) + eps) · w`.
#[derive(Debug, Clone)]
struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn forward(&self, x: &Tensor, kernels: Kernels) -> Result<Tensor> {
        if kernels == Kernels::Fused {
            return candle_nn::ops::rms_norm(&x.contiguous()?, &self.weight, self.eps as f32);
        }
        ops::rms_norm(x, &self.weight, self.eps)
    }
}

#[derive(Debug, Clone)]
struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
    /// Gate and up projections as one 8-bit weight (inference; see `Model::quantize_int8`).
    gate_up_int8: Option<Arc<Int8Weight>>,
}

impl Mlp {
    fn forward(&self, x: &Tensor, mut rng: DropoutRng) -> Result<Tensor> {
        let [gate, up] = match fused(
            x,
            self.gate_up_int8.as_deref(),
            &[&self.gate_proj, &self.up_proj],
        )? {
            Some([gate, up]) => [gate, up],
            None => [
                self.gate_proj.forward(x, rng.as_deref_mut())?,
                self.up_proj.forward(x, rng.as_deref_mut())?,
            ],
        };
        self.down_proj.forward(&ops::swiglu(&gate, &up)?, rng)
    }
}

/// `x` through projections that share their input, by their fused 8-bit weight `w`: one
/// product, split into each projection's output (plus its bias). `None` without `w` or where
/// the kernel does not apply.
fn fused<const N: usize>(
    x: &Tensor,
    w: Option<&Int8Weight>,
    parts: &[&Linear; N],
) -> Result<Option<[Tensor; N]>> {
    let Some(y) = w.map(|w| ops::int8_matmul(x, w)).transpose()?.flatten() else {
        return Ok(None);
    };
    let mut start = 0;
    let mut out = Vec::with_capacity(N);
    for part in parts {
        let (n, _) = part.dims()?;
        let y = y.narrow(D::Minus1, start, n)?;
        start += n;
        out.push(match part.bias() {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        });
    }
    Ok(out.try_into().ok())
}

/// One 8-bit weight for projections that share their input (their outputs side by side).
fn fuse_int8(parts: &[&Linear]) -> Result<Arc<Int8Weight>> {
    let wt = Tensor::cat(&parts.iter().map(|l| l.weight_t()).collect::<Vec<_>>(), 1)?;
    Ok(Arc::new(Int8Weight::of_tensor(&wt)?))
}

#[derive(Debug, Clone)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
    /// q, k and v projections as one 8-bit weight (inference; see `Model::quantize_int8`).
    qkv_int8: Option<Arc<Int8Weight>>,
}

/// What every layer of one forward pass shares.
struct Pass<'a> {
    rotary: &'a RotaryEmbedding,
    /// Additive attention bias (causal + padding), if anything is masked.
    bias: Option<&'a Tensor>,
    /// Positions already in the KV cache.
    offset: usize,
    kernels: Kernels,
}

impl Attention {
    /// The query, key and value projections of `x`.
    fn project_qkv(&self, x: &Tensor, mut rng: DropoutRng) -> Result<[Tensor; 3]> {
        let parts = [&self.q_proj, &self.k_proj, &self.v_proj];
        match fused(x, self.qkv_int8.as_deref(), &parts)? {
            Some(qkv) => Ok(qkv),
            None => Ok([
                self.q_proj.forward(x, rng.as_deref_mut())?,
                self.k_proj.forward(x, rng.as_deref_mut())?,
                self.v_proj.forward(x, rng)?,
            ]),
        }
    }

    fn forward(
        &self,
        x: &Tensor,
        pass: &Pass,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
        mut rng: DropoutRng,
    ) -> Result<Tensor> {
        let Pass {
            rotary,
            bias,
            offset,
            kernels,
        } = *pass;
        let (b, t, _) = x.dims3()?;
        let heads = |y: Tensor, n: usize| {
            y.reshape((b, t, n, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let [q, k, v] = self.project_qkv(x, rng.as_deref_mut())?;
        let q = heads(q, self.num_heads)?;
        let k = heads(k, self.num_kv_heads)?;
        let v = heads(v, self.num_kv_heads)?;
        let q = rotary.apply(&q, offset, kernels)?;
        let mut k = rotary.apply(&k, offset, kernels)?;
        let mut v = v;
        if let Some(cache) = cache {
            if let Some((pk, pv)) = cache.as_ref() {
                // A prefix cached once for all rows (a shared prompt head) is broadcast to
                // them; in training its gradients then sum over the rows.
                let rows = |c: &Tensor| -> Result<Tensor> {
                    let (cb, h, n, d) = c.dims4()?;
                    if cb == b {
                        Ok(c.clone())
                    } else {
                        c.broadcast_as((b, h, n, d))?.contiguous()
                    }
                };
                k = Tensor::cat(&[&rows(pk)?, &k], 2)?;
                v = Tensor::cat(&[&rows(pv)?, &v], 2)?;
            }
            *cache = Some(match kernels {
                // Detached: with an unmerged adapter (a run's validation decodes while it
                // trains) the keys would otherwise keep the whole pass's autograd graph alive.
                Kernels::Fused => (k.detach(), v.detach()),
                Kernels::Differentiable => (k.clone(), v.clone()),
            });
        }
        // Grouped-query attention without copying K/V: the `rep` query heads that share a KV
        // head are stacked along the time axis, (b, kv, rep·t, d).
        let kv = self.num_kv_heads;
        let rep = self.num_heads / kv;
        let q = q.reshape((b, kv, rep * t, self.head_dim))?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = q.matmul(&k.t()?)?;
        let probs = match (bias, kernels) {
            (Some(bias), _) => ops::scaled_masked_softmax(&scores, scale, bias)?,
            (None, Kernels::Fused) => candle_nn::ops::softmax_last_dim(&(scores * scale)?)?,
            (None, Kernels::Differentiable) => ops::softmax_last_dim(&(scores * scale)?)?,
        };
        let y = probs
            .matmul(&v)?
            .reshape((b, self.num_heads, t, self.head_dim))?
            .transpose(1, 2)?
            .reshape((b, t, self.num_heads * self.head_dim))?;
        self.o_proj.forward(&y, rng)
    }
}

#[derive(Debug, Clone)]
struct DecoderLayer {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
}

/// Per-layer key/value cache for incremental decoding.
#[derive(Debug, Clone, Default)]
pub struct Cache {
    layers: Vec<Option<(Tensor, Tensor)>>,
}

impl Cache {
    /// Positions already cached.
    pub fn len(&self) -> usize {
        self.layers
            .first()
            .and_then(|l| l.as_ref())
            .map_or(0, |(k, _)| k.dim(2).unwrap_or(0))
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A causal language model of the Llama family.
#[derive(Debug, Clone)]
pub struct Model {
    embed_tokens: Tensor,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    lm_head: Linear,
    rotary: RotaryEmbedding,
    config: Config,
    device: Device,
}

impl Model {
    /// The tensors (Hugging Face names) that [`Model::load`] cannot do without; optional ones
    /// (biases, an untied `lm_head`) are not listed.
    pub fn required_tensors(config: &Config) -> Vec<String> {
        let mut names = vec![
            "model.embed_tokens.weight".to_string(),
            "model.norm.weight".to_string(),
        ];
        for i in 0..config.num_hidden_layers {
            for part in [
                "self_attn.q_proj",
                "self_attn.k_proj",
                "self_attn.v_proj",
                "self_attn.o_proj",
                "mlp.gate_proj",
                "mlp.up_proj",
                "mlp.down_proj",
                "input_layernorm",
                "post_attention_layernorm",
            ] {
                names.push(format!("model.layers.{i}.{part}.weight"));
            }
        }
        names
    }

    /// Builds the model from `weights` (Hugging Face tensor names), in f32 on `device`.
    pub fn load(
        config: &Config,
        weights: &Weights,
        device: &Device,
    ) -> std::result::Result<Model, ModelError> {
        let get = |name: &str| weights.get(name, device);
        let opt = |name: &str| -> std::result::Result<Option<Tensor>, ModelError> {
            if weights.contains(name) {
                Ok(Some(get(name)?))
            } else {
                Ok(None)
            }
        };
        let linear = |p: &str, bias: bool| -> std::result::Result<Linear, ModelError> {
            let b = if bias {
                opt(&format!("{p}.bias"))?
            } else {
                None
            };
            Ok(Linear::new(get(&format!("{p}.weight"))?, b)?)
        };
        let norm = |name: &str| -> std::result::Result<RmsNorm, ModelError> {
            Ok(RmsNorm {
                weight: get(name)?,
                eps: config.rms_norm_eps,
            })
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let bias = config.attention_bias;
            layers.push(DecoderLayer {
                self_attn: Attention {
                    q_proj: linear(&format!("{p}.self_attn.q_proj"), bias)?,
                    k_proj: linear(&format!("{p}.self_attn.k_proj"), bias)?,
                    v_proj: linear(&format!("{p}.self_attn.v_proj"), bias)?,
                    o_proj: linear(&format!("{p}.self_attn.o_proj"), false)?,
                    num_heads: config.num_attention_heads,
                    num_kv_heads: config.num_key_value_heads,
                    head_dim: config.head_dim,
                    qkv_int8: None,
                },
                mlp: Mlp {
                    gate_proj: linear(&format!("{p}.mlp.gate_proj"), false)?,
                    up_proj: linear(&format!("{p}.mlp.up_proj"), false)?,
                    down_proj: linear(&format!("{p}.mlp.down_proj"), false)?,
                    gate_up_int8: None,
                },
                input_layernorm: norm(&format!("{p}.input_layernorm.weight"))?,
                post_attention_layernorm: norm(&format!("{p}.post_attention_layernorm.weight"))?,
            });
        }
        let embed_tokens = get("model.embed_tokens.weight")?;
        // Tied embeddings get their own transposed copy for the output projection.
        let lm_head = if config.tie_word_embeddings || !weights.contains("lm_head.weight") {
            Linear::new(embed_tokens.clone(), None)?
        } else {
            linear("lm_head", false)?
        };
        Ok(Model {
            embed_tokens,
            layers,
            norm: norm("model.norm.weight")?,
            lm_head,
            rotary: RotaryEmbedding::new(config, device)?,
            config: config.clone(),
            device: device.clone(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// A fresh, empty KV cache.
    pub fn new_cache(&self) -> Cache {
        Cache {
            layers: vec![None; self.layers.len()],
        }
    }

    fn linears_mut(&mut self) -> impl Iterator<Item = (String, &mut Linear)> {
        self.layers.iter_mut().enumerate().flat_map(|(i, l)| {
            let a = &mut l.self_attn;
            let m = &mut l.mlp;
            [
                ("self_attn.q_proj", &mut a.q_proj),
                ("self_attn.k_proj", &mut a.k_proj),
                ("self_attn.v_proj", &mut a.v_proj),
                ("self_attn.o_proj", &mut a.o_proj),
                ("mlp.gate_proj", &mut m.gate_proj),
                ("mlp.up_proj", &mut m.up_proj),
                ("mlp.down_proj", &mut m.down_proj),
            ]
            .into_iter()
            .map(move |(n, lin)| (format!("model.layers.{i}.{n}"), lin))
        })
    }

    /// Adds LoRA adapters to the targeted projections, registering `A` and `B` in `varmap`
    /// under PEFT's names (`base_model.model.<module>.lora_A.weight`). Initialisation draws
    /// from `rng`, so the same seed gives the same adapter.
    pub fn add_lora(
        &mut self,
        cfg: &LoraConfig,
        varmap: &VarMap,
        rng: &mut dyn RngCore,
    ) -> Result<()> {
        let device = self.device.clone();
        self.drop_fused_int8();
        for (name, lin) in self.linears_mut() {
            let short = name.rsplit('.').next().unwrap_or_default();
            if !cfg.target_modules.iter().any(|t| t == short) {
                continue;
            }
            let (out_dim, in_dim) = lin.dims()?;
            let lora = Lora::new(out_dim, in_dim, cfg, rng, &device)?;
            let mut data = varmap.data().lock().expect("varmap lock");
            data.insert(
                format!("base_model.model.{name}.lora_A.weight"),
                lora.a.clone(),
            );
            data.insert(
                format!("base_model.model.{name}.lora_B.weight"),
                lora.b.clone(),
            );
            drop(data);
            lin.set_lora(lora);
        }
        Ok(())
    }

    /// The LoRA variables, by PEFT name.
    pub fn lora_vars(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let a = &l.self_attn;
            let m = &l.mlp;
            for (n, lin) in [
                ("self_attn.q_proj", &a.q_proj),
                ("self_attn.k_proj", &a.k_proj),
                ("self_attn.v_proj", &a.v_proj),
                ("self_attn.o_proj", &a.o_proj),
                ("mlp.gate_proj", &m.gate_proj),
                ("mlp.up_proj", &m.up_proj),
                ("mlp.down_proj", &m.down_proj),
            ] {
                if let Some(lora) = lin.lora() {
                    let p = format!("base_model.model.model.layers.{i}.{n}");
                    out.push((format!("{p}.lora_A.weight"), lora.a.clone()));
                    out.push((format!("{p}.lora_B.weight"), lora.b.clone()));
                }
            }
        }
        out
    }

    /// Folds every adapter into its base weight (for fast inference).
    pub fn merge_lora(&mut self) -> Result<()> {
        self.drop_fused_int8();
        self.linears_mut().try_for_each(|(_, l)| l.merge())
    }

    /// Keeps 8-bit copies of every projection weight, the LM head's included (adapters merged
    /// first), that inference then uses on the CPU (`ops::int8_matmul`): q/k/v and gate/up
    /// each as one fused weight. Returns false, changing nothing, where the CPU lacks the
    /// kernel. Training is unaffected (it never takes the 8-bit path).
    pub fn quantize_int8(&mut self) -> Result<bool> {
        if !Int8Weight::supported() || !self.device.is_cpu() {
            return Ok(false);
        }
        self.merge_lora()?;
        for layer in &mut self.layers {
            let (a, m) = (&mut layer.self_attn, &mut layer.mlp);
            a.qkv_int8 = Some(fuse_int8(&[&a.q_proj, &a.k_proj, &a.v_proj])?);
            a.o_proj.quantize()?;
            m.gate_up_int8 = Some(fuse_int8(&[&m.gate_proj, &m.up_proj])?);
            m.down_proj.quantize()?;
        }
        self.lm_head.quantize()?;
        Ok(true)
    }

    /// Forgets the fused 8-bit weights (their projections are about to change).
    fn drop_fused_int8(&mut self) {
        for layer in &mut self.layers {
            layer.self_attn.qkv_int8 = None;
            layer.mlp.gate_up_int8 = None;
        }
    }

    /// Takes the adapters back out of the base weights.
    pub fn unmerge_lora(&mut self) -> Result<()> {
        self.drop_fused_int8();
        self.linears_mut().try_for_each(|(_, l)| l.unmerge())
    }

    /// Runs the decoder over `input_ids` (b, t) and returns the final hidden states
    /// (b, t, hidden). `key_mask` (b, offset + t; 1 = attend, 0 = padding) masks padded keys.
    fn hidden(
        &self,
        input_ids: &Tensor,
        key_mask: Option<&Tensor>,
        mut cache: Option<&mut Cache>,
        kernels: Kernels,
        mut rng: DropoutRng,
    ) -> Result<Tensor> {
        let (b, t) = input_ids.dims2()?;
        let offset = cache.as_ref().map_or(0, |c| c.len());
        let mut x = self
            .embed_tokens
            .index_select(&input_ids.flatten_all()?, 0)?
            .reshape((b, t, self.config.hidden_size))?;
        let bias = attention_bias(b, t, offset, key_mask, &self.device)?;
        let pass = Pass {
            rotary: &self.rotary,
            bias: bias.as_ref(),
            offset,
            kernels,
        };
        for (i, layer) in self.layers.iter().enumerate() {
            let slot = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            let h = layer.input_layernorm.forward(&x, kernels)?;
            let h = layer
                .self_attn
                .forward(&h, &pass, slot, rng.as_deref_mut())?;
            x = (x + h)?;
            let h = layer.post_attention_layernorm.forward(&x, kernels)?;
            let h = layer.mlp.forward(&h, rng.as_deref_mut())?;
            x = (x + h)?;
            if kernels == Kernels::Fused {
                // Inference never backpropagates: an unmerged adapter's graph ends here, so
                // each layer's activations are freed as the next one runs.
                x = x.detach();
            }
        }
        self.norm.forward(&x, kernels)
    }

    fn logits(&self, h: &Tensor) -> Result<Tensor> {
        self.lm_head.forward(h, None)
    }

    /// Logits at every position, (b, t, vocab), for training. `rng` enables LoRA dropout.
    pub fn forward_train(
        &self,
        input_ids: &Tensor,
        key_mask: Option<&Tensor>,
        rng: DropoutRng,
    ) -> Result<Tensor> {
        let h = self.hidden(input_ids, key_mask, None, Kernels::Differentiable, rng)?;
        self.logits(&h)
    }

    /// Final hidden states of `input_ids` (b, t) that follow `head` (1, h), the prompt head
    /// every row shares: the head runs once and each row attends to its keys and values
    /// (broadcast, so that their gradients sum over the rows). Without a head, the rows
    /// alone.
    fn hidden_after(
        &self,
        head: Option<&Tensor>,
        input_ids: &Tensor,
        kernels: Kernels,
        mut rng: DropoutRng,
    ) -> Result<Tensor> {
        let Some(head) = head else {
            return self.hidden(input_ids, None, None, kernels, rng);
        };
        let mut cache = self.new_cache();
        self.hidden(head, None, Some(&mut cache), kernels, rng.as_deref_mut())?;
        self.hidden(input_ids, None, Some(&mut cache), kernels, rng)
    }

    /// The completion loss for training: mean negative log-likelihood of `targets` (b, t)
    /// where `mask` (b, t) is 1, through the fused head + loss op (the logits are never stored
    /// whole). The rows continue `head` (1, h) when given (see [`Batch`]: the same loss as
    /// with the head repeated in every row). `rng` enables LoRA dropout.
    pub fn completion_loss(&self, batch: &Batch, rng: DropoutRng) -> Result<Tensor> {
        let h = self.hidden_after(
            batch.head.as_ref(),
            &batch.ids,
            Kernels::Differentiable,
            rng,
        )?;
        ops::linear_cross_entropy(&h, self.lm_head.weight_t(), &batch.targets, &batch.mask)
    }

    /// The same loss without gradient and with the inference kernels (validation).
    pub fn completion_loss_eval(&self, batch: &Batch) -> Result<Tensor> {
        let h = self
            .hidden_after(batch.head.as_ref(), &batch.ids, Kernels::Fused, None)?
            .detach();
        ops::linear_cross_entropy(&h, self.lm_head.weight_t(), &batch.targets, &batch.mask)
    }

    /// Logits of the last position, (b, vocab), extending `cache` (inference).
    pub fn forward_next(
        &self,
        input_ids: &Tensor,
        key_mask: Option<&Tensor>,
        cache: &mut Cache,
    ) -> Result<Tensor> {
        let h = self.hidden(input_ids, key_mask, Some(cache), Kernels::Fused, None)?;
        let t = h.dim(1)?;
        self.logits(&h.i((.., t - 1..t, ..))?)?.squeeze(1)
    }
}

/// Additive attention bias (b or 1, 1, t, offset + t): 0 where a query may attend, -inf where
/// the key is in the future or padding. `None` when nothing needs masking (one new token, no
/// padding).
fn attention_bias(
    b: usize,
    t: usize,
    offset: usize,
    key_mask: Option<&Tensor>,
    device: &Device,
) -> Result<Option<Tensor>> {
    let total = offset + t;
    let causal = (t > 1).then(|| {
        let v: Vec<f32> = (0..t)
            .flat_map(|i| {
                (0..total).map(move |j| {
                    if j > offset + i {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        Tensor::from_vec(v, (1, 1, t, total), device)
    });
    let causal = causal.transpose()?;
    let padding = match key_mask {
        Some(m) => {
            // 1 → 0, 0 → -1e9. Finite on purpose: a padded query whose keys are all padding
            // gets a uniform (ignored) row instead of NaNs that would spread through 0·NaN.
            let m = m.to_dtype(DType::F32)?.reshape((b, 1, 1, total))?;
            Some(((m - 1.0)? * 1e9)?)
        }
        None => None,
    };
    Ok(match (causal, padding) {
        (Some(c), Some(p)) => Some(c.broadcast_add(&p)?),
        (Some(c), None) => Some(c),
        (None, Some(p)) => Some(p),
        (None, None) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn attention_bias_masks_the_future_and_padding() {
        let dev = Device::Cpu;
        // One new token and no padding: nothing to mask.
        assert!(attention_bias(1, 1, 5, None, &dev).unwrap().is_none());
        // Two new tokens after three cached ones: each sees the cache and itself.
        let b = attention_bias(1, 2, 3, None, &dev).unwrap().unwrap();
        assert_eq!(b.dims(), [1, 1, 2, 5]);
        let inf = f32::NEG_INFINITY;
        assert_eq!(values(&b), [0., 0., 0., 0., inf, 0., 0., 0., 0., 0.]);
        // A padded key (mask 0) is pushed far down but stays finite (no NaN rows).
        let mask = Tensor::new(&[[1u32, 0, 1]], &dev).unwrap();
        let b = attention_bias(1, 1, 2, Some(&mask), &dev).unwrap().unwrap();
        assert_eq!(values(&b), [0., -1e9, 0.]);
    }

    fn config(theta: f64, scaling: &str) -> Config {
        Config::from_hf_json(&format!(
            r#"{{"architectures": ["LlamaForCausalLM"], "vocab_size": 16, "hidden_size": 8,
               "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 1,
               "num_key_value_heads": 1, "max_position_embeddings": 4, "rope_theta": {theta:?}
               {scaling}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn rotary_tables_follow_the_frequencies_and_llama3_scaling() {
        let dev = Device::Cpu;
        let plain = RotaryEmbedding::new(&config(10000.0, ""), &dev).unwrap();
        assert_eq!(plain.cos.dims(), [4, 4]);
        let cos = values(&plain.cos);
        // Position 0 is the identity; position 2 of frequency i is cos(2 · θ^(-2i/d)).
        assert!(cos[..4].iter().all(|&c| c == 1.0));
        for i in 0..4 {
            let f = 1.0 / 10000f64.powf(2.0 * i as f64 / 8.0);
            assert!((cos[8 + i] as f64 - (2.0 * f).cos()).abs() < 1e-6);
        }
        // Llama 3.1 (its own factors): wavelengths past 8192 are slowed by `factor`, those
        // under 8192 / 4 are kept.
        let llama3 = r#", "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}"#;
        let scaled = values(
            &RotaryEmbedding::new(&config(1e6, llama3), &dev)
                .unwrap()
                .sin,
        );
        let plain = values(&RotaryEmbedding::new(&config(1e6, ""), &dev).unwrap().sin);
        assert_eq!(scaled[4], plain[4], "the highest frequency is kept");
        let lowest = 1.0 / 1e6f64.powf(6.0 / 8.0);
        assert!((scaled[4 + 3] as f64 - (lowest / 8.0).sin()).abs() < 1e-9);
        assert!((plain[4 + 3] as f64 - lowest.sin()).abs() < 1e-9);
    }
}
