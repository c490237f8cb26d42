//! RMSNorm `y = x / sqrt(mean(x²) + eps) · w` over the last dimension, one pass forward and
//! one pass backward. The backward gives `dL/dx` only: the norm weights stay frozen under
//! LoRA. The formula's version keeps four full-size intermediates per norm for the backward;
//! this one keeps none (`x` is the op's input, the row scale is recomputed).

use super::{contiguous, on_cpu_f32, par_rows};
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, D};

/// Rows handed to one rayon task.
const ROWS_PER_TASK: usize = 16;

/// RMSNorm of `x` (…, k) with weight `w` (k).
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
    if !on_cpu_f32(x) {
        let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
        return x.broadcast_div(&(ms + eps)?.sqrt()?)?.broadcast_mul(w);
    }
    let dims = x.dims().to_vec();
    let k = *dims.last().unwrap_or(&1);
    x.contiguous()?
        .reshape((x.elem_count() / k.max(1), k))?
        .apply_op2(&w.contiguous()?, RmsNorm { eps: eps as f32 })?
        .reshape(dims)
}

/// `1 / sqrt(mean(row²) + eps)`.
fn inv_rms(row: &[f32], eps: f32) -> f32 {
    let ss: f32 = row.iter().map(|v| v * v).sum();
    1.0 / (ss / row.len() as f32 + eps).sqrt()
}

struct RmsNorm {
    eps: f32,
}

impl CustomOp2 for RmsNorm {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, "rms-norm", "input")?;
        let w = contiguous(s2, l2, "rms-norm", "weight")?;
        let k = w.len();
        let mut out = vec![0f32; x.len()];
        par_rows(&mut out, k, ROWS_PER_TASK, |row, y| {
            let x = &x[row * k..][..k];
            let r = inv_rms(x, self.eps);
            for ((y, x), w) in y.iter_mut().zip(x).zip(w) {
                *y = x * r * w;
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dx = x.apply_op3_no_bwd(&grad.contiguous()?, w, &RmsNormGrad { eps: self.eps })?;
        Ok((Some(dx), None))
    }
}

/// `dL/dx = r·(g∘w) − x·r³·⟨g∘w, x⟩ / k` per row, with `r = 1/sqrt(mean(x²) + eps)`.
struct RmsNormGrad {
    eps: f32,
}

impl CustomOp3 for RmsNormGrad {
    fn name(&self) -> &'static str {
        "rms-norm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, "rms-norm-grad", "input")?;
        let g = contiguous(s2, l2, "rms-norm-grad", "gradient")?;
        let w = contiguous(s3, l3, "rms-norm-grad", "weight")?;
        let k = w.len();
        let mut out = vec![0f32; x.len()];
        par_rows(&mut out, k, ROWS_PER_TASK, |row, dx| {
            let (x, g) = (&x[row * k..][..k], &g[row * k..][..k]);
            let r = inv_rms(x, self.eps);
            let dot: f32 = g.iter().zip(w).zip(x).map(|((g, w), x)| g * w * x).sum();
            let c = r * r * r * dot / k as f32;
            for (((dx, x), g), w) in dx.iter_mut().zip(x).zip(g).zip(w) {
                *dx = r * g * w - c * x;
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
    fn matches_the_formula_forward_and_backward() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::randn(0f32, 2.0, (3, 5, 24), &dev)?;
        let w = Tensor::randn(1f32, 0.3, 24, &dev)?;
        let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
        let want = x.broadcast_div(&(ms + 1e-5)?.sqrt()?)?.broadcast_mul(&w)?;
        let got = rms_norm(&x, &w, 1e-5)?;
        assert!(max_diff(&want, &got)? < 1e-5);
        let d = grad_diff(&want, &got, &[&x])?;
        assert!(d < 1e-4, "gradient differs by {d}");
        Ok(())
    }
}
