//! The gated MLP activation `silu(gate) ∘ up` in one pass, and its backward in one pass:
//! with `s = σ(gate)`, `dL/dup = g ∘ gate ∘ s` and `dL/dgate = g ∘ up ∘ s ∘ (1 + gate ∘ (1 − s))`.
//! The formula's version keeps `silu(gate)` alive and makes three passes.

use super::{contiguous, on_cpu_f32};
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Elements handed to one rayon task.
const CHUNK: usize = 16 * 1024;

/// `silu(gate) ∘ up` (same shapes).
pub fn swiglu(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    if !on_cpu_f32(gate) || gate.shape() != up.shape() {
        return gate.silu()? * up;
    }
    gate.contiguous()?.apply_op2(&up.contiguous()?, SwiGlu)
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

struct SwiGlu;

impl CustomOp2 for SwiGlu {
    fn name(&self) -> &'static str {
        "swiglu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let gate = contiguous(s1, l1, "swiglu", "gate")?;
        let up = contiguous(s2, l2, "swiglu", "up")?;
        let mut out = vec![0f32; gate.len()];
        out.par_chunks_mut(CHUNK)
            .zip(gate.par_chunks(CHUNK))
            .zip(up.par_chunks(CHUNK))
            .for_each(|((out, gate), up)| {
                for ((y, &g), &u) in out.iter_mut().zip(gate).zip(up) {
                    *y = g * sigmoid(g) * u;
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        // One op writes both gradients, stacked: (2, …).
        let both = gate.apply_op3_no_bwd(up, &grad.contiguous()?, &SwiGluGrad)?;
        Ok((Some(both.get(0)?), Some(both.get(1)?)))
    }
}

/// Both input gradients of [`SwiGlu`], stacked as (2, …): `[dL/dgate, dL/dup]`.
struct SwiGluGrad;

impl CustomOp3 for SwiGluGrad {
    fn name(&self) -> &'static str {
        "swiglu-grad"
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
        let gate = contiguous(s1, l1, "swiglu-grad", "gate")?;
        let up = contiguous(s2, l2, "swiglu-grad", "up")?;
        let g = contiguous(s3, l3, "swiglu-grad", "gradient")?;
        let n = gate.len();
        let mut out = vec![0f32; 2 * n];
        let (d_gate, d_up) = out.split_at_mut(n);
        d_gate
            .par_chunks_mut(CHUNK)
            .zip(d_up.par_chunks_mut(CHUNK))
            .zip(gate.par_chunks(CHUNK))
            .zip(up.par_chunks(CHUNK).zip(g.par_chunks(CHUNK)))
            .for_each(|(((d_gate, d_up), gate), (up, g))| {
                for i in 0..gate.len() {
                    let (x, u, g) = (gate[i], up[i], g[i]);
                    let s = sigmoid(x);
                    d_up[i] = g * x * s;
                    d_gate[i] = g * u * s * (1.0 + x * (1.0 - s));
                }
            });
        let mut dims = vec![2];
        dims.extend_from_slice(l1.shape().dims());
        Ok((CpuStorage::F32(out), Shape::from(dims)))
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
        let gate = Var::randn(0f32, 3.0, (4, 9, 40), &dev)?;
        let up = Var::randn(0f32, 1.0, (4, 9, 40), &dev)?;
        let want = (gate.silu()? * up.as_tensor())?;
        let got = swiglu(&gate, &up)?;
        assert!(max_diff(&want, &got)? < 1e-5);
        let d = grad_diff(&want, &got, &[&gate, &up])?;
        assert!(d < 1e-4, "gradient differs by {d}");
        Ok(())
    }
}
