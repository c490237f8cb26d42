//! Linear layers with optional LoRA adapters: `y = x·Wᵀ + b + (α/r)·dropout(x)·Aᵀ·Bᵀ`.
//!
//! The base weight is a frozen tensor; `A` (r×in, Kaiming-uniform as PEFT initialises it) and
//! `B` (out×r, zeros) are `Var`s registered in a `VarMap`, so saving the adapter is saving the
//! map. Merge folds `(α/r)·B·A` into the base weight for fast inference.

use super::ops::Int8Weight;
use candle_core::{DType, Device, Result, Tensor, Var};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The projections LoRA can target, by their checkpoint names.
pub const TARGET_MODULES: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// LoRA hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    /// Rank `r`.
    pub rank: usize,
    /// Scale numerator `α` (the update is scaled by `α / r`).
    pub alpha: f64,
    /// Dropout on the adapter's input during training.
    pub dropout: f64,
    /// Projections that get an adapter (names from [`TARGET_MODULES`]).
    pub target_modules: Vec<String>,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            rank: 8,
            alpha: 16.0,
            dropout: 0.05,
            target_modules: TARGET_MODULES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The trainable part of a LoRA linear layer.
#[derive(Debug, Clone)]
pub struct Lora {
    /// `A`, shape (r, in).
    pub a: Var,
    /// `B`, shape (out, r).
    pub b: Var,
    /// `α / r`.
    pub scale: f64,
    /// Training dropout probability.
    pub dropout: f32,
}

impl Lora {
    /// A new adapter for a layer of shape (out, in): `A` ~ U(±1/√in) (PEFT's Kaiming-uniform
    /// with a = √5), `B` = 0, drawn from `rng` so runs are reproducible.
    pub fn new(
        out_dim: usize,
        in_dim: usize,
        cfg: &LoraConfig,
        rng: &mut dyn RngCore,
        device: &Device,
    ) -> Result<Lora> {
        let bound = 1.0 / (in_dim as f32).sqrt();
        let a: Vec<f32> = (0..cfg.rank * in_dim)
            .map(|_| rng.random_range(-bound..bound))
            .collect();
        let a = Var::from_tensor(&Tensor::from_vec(a, (cfg.rank, in_dim), device)?)?;
        let b = Var::zeros((out_dim, cfg.rank), DType::F32, device)?;
        Ok(Lora {
            a,
            b,
            scale: cfg.alpha / cfg.rank as f64,
            dropout: cfg.dropout as f32,
        })
    }

    /// `scale · B · A`, the update to the base weight.
    pub fn delta(&self) -> Result<Tensor> {
        self.b.as_tensor().matmul(self.a.as_tensor())? * self.scale
    }
}

/// A linear layer: frozen weight (+ bias), optional LoRA adapter.
#[derive(Debug, Clone)]
pub struct Linear {
    /// The frozen weight, transposed: (in, out), contiguous (see `frozen_matmul`).
    weight_t: Tensor,
    bias: Option<Tensor>,
    lora: Option<Lora>,
    merged: bool,
    /// The weight (adapter merged) in 8-bit integers, for inference on CPUs that have the
    /// kernel ([`Linear::quantize`]); dropped whenever the weight changes.
    int8: Option<Arc<Int8Weight>>,
}

/// Randomness for training-time dropout (a seeded RNG, for reproducible runs); `None` in
/// inference.
pub type DropoutRng<'a> = Option<&'a mut rand_chacha::ChaCha8Rng>;

impl Linear {
    /// A frozen linear layer from its weight (out, in) and optional bias (out).
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        Ok(Linear {
            weight_t: weight.t()?.contiguous()?,
            bias,
            lora: None,
            merged: false,
            int8: None,
        })
    }

    /// Output and input sizes.
    pub fn dims(&self) -> Result<(usize, usize)> {
        let (i, o) = self.weight_t.dims2()?;
        Ok((o, i))
    }

    /// The adapter, if any.
    pub fn lora(&self) -> Option<&Lora> {
        self.lora.as_ref()
    }

    /// Attaches an adapter.
    pub fn set_lora(&mut self, lora: Lora) {
        self.lora = Some(lora);
        self.merged = false;
        self.int8 = None;
    }

    /// Keeps an 8-bit copy of the weight (with the adapter merged in, if any) that inference
    /// then uses on the CPU. Returns false, doing nothing, where the kernel is unavailable
    /// (another CPU, a GPU tensor, an unmerged adapter).
    pub fn quantize(&mut self) -> Result<bool> {
        let unmerged = self.lora.is_some() && !self.merged;
        if unmerged || !self.weight_t.device().is_cpu() || !Int8Weight::supported() {
            return Ok(false);
        }
        self.int8 = Some(Arc::new(Int8Weight::of_tensor(&self.weight_t)?));
        Ok(true)
    }

    /// Folds the adapter into the base weight (idempotent).
    pub fn merge(&mut self) -> Result<()> {
        if let (Some(l), false) = (&self.lora, self.merged) {
            // Detached: the frozen weight must not carry the adapter's autograd graph (it would
            // keep the old weight alive and make every inference pass record its graph).
            self.weight_t = (&self.weight_t + l.delta()?.t()?)?.contiguous()?.detach();
            self.merged = true;
            self.int8 = None;
        }
        Ok(())
    }

    /// Takes the adapter back out of the base weight (idempotent).
    pub fn unmerge(&mut self) -> Result<()> {
        if let (Some(l), true) = (&self.lora, self.merged) {
            self.weight_t = (&self.weight_t - l.delta()?.t()?)?.contiguous()?.detach();
            self.merged = false;
            self.int8 = None;
        }
        Ok(())
    }

    /// The bias, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// The frozen weight, transposed: (in, out), contiguous.
    pub fn weight_t(&self) -> &Tensor {
        &self.weight_t
    }

    /// Applies the layer to `x` of shape (…, in). `rng` enables adapter dropout (training).
    pub fn forward(&self, x: &Tensor, rng: DropoutRng) -> Result<Tensor> {
        let quantized = match &self.int8 {
            Some(q) => super::ops::int8_matmul(x, q)?,
            None => None,
        };
        let y = match (quantized, &self.lora, self.merged) {
            (Some(y), _, _) => y,
            (None, Some(l), false) => {
                let mask = match rng {
                    Some(rng) if l.dropout > 0.0 => {
                        Some(dropout_mask(x.elem_count(), l.dropout, rng))
                    }
                    _ => None,
                };
                let (a, b) = (l.a.as_tensor(), l.b.as_tensor());
                super::ops::lora_linear(x, &self.weight_t, a, b, l.scale, mask)?
            }
            (None, _, _) => super::ops::frozen_matmul(x, &self.weight_t)?,
        };
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// An inverted-dropout mask of `n` factors (0 or 1/(1−p)) drawn from `rng` (candle's own RNG
/// cannot be seeded).
fn dropout_mask(n: usize, p: f32, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f32> {
    let keep = 1.0 - p;
    (0..n)
        .map(|_| {
            if rng.random::<f32>() < keep {
                1.0 / keep
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn zero_b_is_identity_and_merge_matches() -> Result<()> {
        let dev = Device::Cpu;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let w = Tensor::randn(0f32, 1.0, (6, 4), &dev)?;
        let x = Tensor::randn(0f32, 1.0, (2, 3, 4), &dev)?;
        let mut lin = Linear::new(w, Some(Tensor::ones(6, DType::F32, &dev)?))?;
        let base = lin.forward(&x, None)?;
        lin.set_lora(Lora::new(
            6,
            4,
            &LoraConfig {
                rank: 2,
                ..Default::default()
            },
            &mut rng,
            &dev,
        )?);
        let with_zero_b = lin.forward(&x, None)?;
        assert_eq!(base.to_vec3::<f32>()?, with_zero_b.to_vec3::<f32>()?);

        let lora = lin.lora().unwrap().clone();
        lora.b.set(&Tensor::randn(0f32, 1.0, (6, 2), &dev)?)?;
        let unmerged = lin.forward(&x, None)?;
        lin.merge()?;
        let merged = lin.forward(&x, None)?;
        let diff = (unmerged - &merged)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5, "merged differs by {diff}");
        lin.unmerge()?;
        let back = (lin.forward(&x, None)? - merged)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        assert!(back < 1e-5);
        Ok(())
    }
}
