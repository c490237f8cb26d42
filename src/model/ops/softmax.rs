//! Softmax over the last dimension, one pass forward (max, exp, normalise in place) and one
//! pass backward from the output alone: `dL/dx = p ∘ (g − ⟨g, p⟩)`. candle's differentiable
//! softmax keeps three score-sized intermediates per attention layer for its backward.
//! [`scaled_masked_softmax`] also folds in attention's scale and additive mask, which would
//! otherwise be two more score-sized tensors per layer.

use super::{contiguous, on_cpu_f32, par_rows};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, D};

/// Rows handed to one rayon task.
const ROWS_PER_TASK: usize = 32;

/// Softmax of `x` over its last dimension.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    if !on_cpu_f32(x) {
        return candle_nn::ops::softmax(x, D::Minus1);
    }
    x.contiguous()?.apply_op1(Softmax)
}

/// `softmax(scale · scores + bias)` for attention: `scores` (b, heads, q, keys) where the `q`
/// rows are `q / t` groups of `t` query positions (grouped-query heads stacked along time),
/// `bias` (b or 1, 1, t, keys) added to each group. The bias gets no gradient.
pub fn scaled_masked_softmax(scores: &Tensor, scale: f64, bias: &Tensor) -> Result<Tensor> {
    let (b, heads, q, keys) = scores.dims4()?;
    let (bb, _, t, keys2) = bias.dims4()?;
    if !on_cpu_f32(scores) || keys != keys2 || q % t != 0 || (bb != 1 && bb != b) {
        let s = (scores * scale)?
            .reshape((b, heads, q / t, t, keys))?
            .broadcast_add(&bias.unsqueeze(1)?)?
            .reshape((b, heads, q, keys))?;
        return candle_nn::ops::softmax(&s, D::Minus1);
    }
    let op = MaskedSoftmax {
        scale: scale as f32,
        t,
        rows_per_batch: heads * q,
        bias_per_batch: bb != 1,
    };
    scores.contiguous()?.apply_op2(&bias.contiguous()?, op)
}

/// Softmax of one row in place.
fn softmax_row(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f32;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

struct MaskedSoftmax {
    scale: f32,
    /// Query positions per group (rows of the bias).
    t: usize,
    rows_per_batch: usize,
    /// The bias has one slice per batch row (else one for all).
    bias_per_batch: bool,
}

impl CustomOp2 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "scaled-masked-softmax"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, "masked-softmax", "scores")?;
        let bias = contiguous(s2, l2, "masked-softmax", "bias")?;
        let n = l1.shape().dims().last().copied().unwrap_or(1).max(1);
        let mut out = vec![0f32; x.len()];
        par_rows(&mut out, n, ROWS_PER_TASK, |row, y| {
            let batch = if self.bias_per_batch {
                row / self.rows_per_batch
            } else {
                0
            };
            let bias = &bias[(batch * self.t + row % self.t) * n..][..n];
            for ((y, x), b) in y.iter_mut().zip(&x[row * n..][..n]).zip(bias) {
                *y = self.scale * x + b;
            }
            softmax_row(y);
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _bias: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let op = SoftmaxGrad { scale: self.scale };
        let dx = grad
            .contiguous()?
            .apply_op2_no_bwd(&res.contiguous()?, &op)?;
        Ok((Some(dx), None))
    }
}

struct Softmax;

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "softmax-last-dim"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s, l, "softmax", "input")?;
        let n = l.shape().dims().last().copied().unwrap_or(1).max(1);
        let mut out = x.to_vec();
        par_rows(&mut out, n, ROWS_PER_TASK, |_, row| softmax_row(row));
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op2_no_bwd(
            &res.contiguous()?,
            &SoftmaxGrad { scale: 1.0 },
        )?))
    }
}

/// `scale · p ∘ (g − ⟨g, p⟩)` per row, from the gradient `g` and the softmax output `p`.
struct SoftmaxGrad {
    scale: f32,
}

impl CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "softmax-last-dim-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = contiguous(s1, l1, "softmax-grad", "gradient")?;
        let p = contiguous(s2, l2, "softmax-grad", "output")?;
        let n = l1.shape().dims().last().copied().unwrap_or(1).max(1);
        let mut out = vec![0f32; g.len()];
        par_rows(&mut out, n, ROWS_PER_TASK, |row, dx| {
            let (g, p) = (&g[row * n..][..n], &p[row * n..][..n]);
            let dot: f32 = g.iter().zip(p).map(|(g, p)| g * p).sum();
            for ((dx, g), p) in dx.iter_mut().zip(g).zip(p) {
                *dx = self.scale * p * (g - dot);
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{grad_diff, max_diff};
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn matches_candle_forward_and_backward_with_masked_entries() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::randn(0f32, 3.0, (2, 3, 7, 7), &dev)?;
        // A causal -inf mask, as attention uses it.
        let mask: Vec<f32> = (0..7)
            .flat_map(|i| (0..7).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (7, 7), &dev)?;
        let scores = x.broadcast_add(&mask)?;
        let want = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let got = softmax_last_dim(&scores)?;
        assert!(max_diff(&want, &got)? < 1e-6);
        assert!(grad_diff(&want, &got, &[&x])? < 1e-5);
        Ok(())
    }

    #[test]
    fn scaled_masked_matches_the_formula_for_shared_and_per_row_bias() -> Result<()> {
        let dev = Device::Cpu;
        // 2 batch rows, 3 KV heads, 2 query heads per KV head stacked along 4 positions.
        let x = Var::randn(0f32, 3.0, (2, 3, 8, 6), &dev)?;
        let causal: Vec<f32> = (0..4)
            .flat_map(|i| (0..6).map(move |j| if j > i + 2 { f32::NEG_INFINITY } else { 0.0 }))
            .collect();
        let causal = Tensor::from_vec(causal, (1, 1, 4, 6), &dev)?;
        let padding = Tensor::new(
            &[0f32, 0., -1e9, 0., 0., 0., -1e9, 0., 0., 0., 0., 0.],
            &dev,
        )?
        .reshape((2, 1, 1, 6))?;
        for bias in [causal.clone(), causal.broadcast_add(&padding)?] {
            let bb = bias.dim(0)?;
            let formula = (x.as_tensor() * 0.5)?
                .reshape((2, 3, 2, 4, 6))?
                .broadcast_add(&bias.unsqueeze(1)?)?
                .reshape((2, 3, 8, 6))?;
            let want = candle_nn::ops::softmax(&formula, D::Minus1)?;
            let got = scaled_masked_softmax(&x, 0.5, &bias)?;
            assert!(max_diff(&want, &got)? < 1e-6, "bias batch {bb}");
            assert!(grad_diff(&want, &got, &[&x])? < 1e-5);
        }
        Ok(())
    }
}
