//! Rotary position embedding, half-split layout (Hugging Face's `rotate_half`): for each
//! head row `x = [x₁, x₂]`, `y = [x₁·cos − x₂·sin, x₂·cos + x₁·sin]`. One pass, no
//! intermediates; the backward is the inverse rotation (the same op with `−sin`).

use super::{contiguous, on_cpu_f32, par_rows};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

/// Rotates `x` (b, heads, t, d) by `cos`, `sin` (t, d/2).
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    if !on_cpu_f32(x) {
        return candle_nn::rotary_emb::rope_slow(x, cos, sin);
    }
    x.contiguous()?.apply_op3(
        &cos.contiguous()?,
        &sin.contiguous()?,
        Rope { inverse: false },
    )
}

struct Rope {
    /// Rotate by −angle (the backward pass).
    inverse: bool,
}

impl CustomOp3 for Rope {
    fn name(&self) -> &'static str {
        "rope-half-split"
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
        let x = contiguous(s1, l1, "rope", "input")?;
        let cos = contiguous(s2, l2, "rope", "cos")?;
        let sin = contiguous(s3, l3, "rope", "sin")?;
        let (_, _, t, d) = l1.shape().dims4()?;
        let half = d / 2;
        if cos.len() != t * half || sin.len() != t * half {
            candle_core::bail!("rope: tables must be ({t}, {half})");
        }
        let sign = if self.inverse { -1.0 } else { 1.0 };
        let mut out = vec![0f32; x.len()];
        // One task per (batch, head): t rows of d, one per position.
        par_rows(&mut out, d, t, |row, y| {
            let pos = row % t;
            let (c, s) = (&cos[pos * half..][..half], &sin[pos * half..][..half]);
            let (x1, x2) = x[row * d..][..d].split_at(half);
            let (y1, y2) = y.split_at_mut(half);
            for i in 0..half {
                let s = sign * s[i];
                y1[i] = x1[i] * c[i] - x2[i] * s;
                y2[i] = x2[i] * c[i] + x1[i] * s;
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let inverse = Rope {
            inverse: !self.inverse,
        };
        let dx = grad.contiguous()?.apply_op3_no_bwd(cos, sin, &inverse)?;
        Ok((Some(dx), None, None))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{grad_diff, max_diff};
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn matches_rope_slow_forward_and_backward() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::randn(0f32, 1.0, (2, 3, 5, 8), &dev)?;
        let cos = Tensor::randn(0f32, 1.0, (5, 4), &dev)?;
        let sin = Tensor::randn(0f32, 1.0, (5, 4), &dev)?;
        let want = candle_nn::rotary_emb::rope_slow(&x, &cos, &sin)?;
        let got = rope(&x, &cos, &sin)?;
        assert!(max_diff(&want, &got)? < 1e-6);
        assert!(grad_diff(&want, &got, &[&x])? < 1e-5);
        Ok(())
    }
}
