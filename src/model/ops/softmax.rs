//! Softmax over the last dimension, one pass forward (max, exp, normalise in place) and one
//! pass backward from the output alone: `dL/dx = p ∘ (g − ⟨g, p⟩)`. candle's differentiable
//! softmax keeps three score-sized intermediates per attention layer for its backward.

use super::{contiguous, on_cpu_f32};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

/// Rows handed to one rayon task.
const ROWS_PER_TASK: usize = 32;

/// Softmax of `x` over its last dimension.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    if !on_cpu_f32(x) {
        return candle_nn::ops::softmax(x, D::Minus1);
    }
    x.contiguous()?.apply_op1(Softmax)
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
        out.par_chunks_mut(n * ROWS_PER_TASK).for_each(|rows| {
            for row in rows.chunks_mut(n) {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0f32;
                for v in row.iter_mut() {
                    *v = (*v - max).exp();
                    sum += *v;
                }
                let inv = 1.0 / sum;
                row.iter_mut().for_each(|v| *v *= inv);
            }
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            grad.contiguous()?
                .apply_op2_no_bwd(&res.contiguous()?, &SoftmaxGrad)?,
        ))
    }
}

/// `p ∘ (g − ⟨g, p⟩)` per row, from the gradient `g` and the softmax output `p`.
struct SoftmaxGrad;

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
        out.par_chunks_mut(n * ROWS_PER_TASK)
            .zip(g.par_chunks(n * ROWS_PER_TASK))
            .zip(p.par_chunks(n * ROWS_PER_TASK))
            .for_each(|((out, g), p)| {
                for ((dx, g), p) in out.chunks_mut(n).zip(g.chunks(n)).zip(p.chunks(n)) {
                    let dot: f32 = g.iter().zip(p).map(|(g, p)| g * p).sum();
                    for ((dx, g), p) in dx.iter_mut().zip(g).zip(p) {
                        *dx = p * (g - dot);
                    }
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::max_diff;
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
        let weights = Tensor::randn(0f32, 1.0, (2, 3, 7, 7), &dev)?;
        let g_want = (want * &weights)?.sum_all()?.backward()?;
        let g_got = (got * &weights)?.sum_all()?.backward()?;
        assert!(max_diff(g_want.get(&x).unwrap(), g_got.get(&x).unwrap())? < 1e-5);
        Ok(())
    }
}
