//! A frozen linear layer with its LoRA adapter as one op:
//! `y = x·Wᵀ + s·(d∘x)·Aᵀ·Bᵀ` (`s = α/r`, `d` the dropout mask, `W` frozen).
//!
//! Written out with candle ops, the adapter path keeps three output-sized tensors per layer
//! for the backward pass (`x·Aᵀ·Bᵀ`, its scaled copy, the sum); this op keeps only `y` and
//! the rank-sized `u = (d∘x)·Aᵀ`, and computes `dL/dx`, `dL/dA`, `dL/dB` in one backward
//! call (never `dL/dW`).

use super::frozen_matmul::product;
use super::sgemm::{sgemm_add, sgemm_new, Mat};
use super::{contiguous, on_cpu_f32};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Storage, Tensor};
use std::sync::Mutex;

/// `x (…, in) · Wᵀ + scale · (mask∘x) · Aᵀ · Bᵀ` for `wt = Wᵀ` (in, out), `a` (r, in),
/// `b` (out, r); `mask` (one factor per element of `x`) is the adapter's dropout.
pub fn lora_linear(
    x: &Tensor,
    wt: &Tensor,
    a: &Tensor,
    b: &Tensor,
    scale: f64,
    mask: Option<Vec<f32>>,
) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let k = *dims.last().unwrap_or(&1);
    let out_dim = wt.dim(1)?;
    if !on_cpu_f32(x) {
        let xd = match &mask {
            Some(m) => (x * Tensor::from_slice(m, x.shape(), x.device())?.to_dtype(x.dtype())?)?,
            None => x.clone(),
        };
        let y = super::frozen_matmul(x, wt)?;
        let h = xd.broadcast_matmul(&a.t()?)?.broadcast_matmul(&b.t()?)?;
        return y + (h * scale)?;
    }
    let rows = x.elem_count() / k.max(1);
    let op = LoraLinear {
        wt: wt.contiguous()?,
        scale: scale as f32,
        mask,
        u: Mutex::new(None),
    };
    let y =
        x.contiguous()?
            .reshape((rows, k))?
            .apply_op3(&a.contiguous()?, &b.contiguous()?, op)?;
    let mut out_dims = dims;
    *out_dims.last_mut().expect("at least one dim") = out_dim;
    y.reshape(out_dims)
}

struct LoraLinear {
    /// `Wᵀ` (in, out), frozen.
    wt: Tensor,
    scale: f32,
    mask: Option<Vec<f32>>,
    /// `u = (mask∘x)·Aᵀ` (rows × r), from the forward pass for the backward pass.
    u: Mutex<Option<Vec<f32>>>,
}

/// Runs `f` on the f32 data of a contiguous CPU tensor.
fn with_data<R>(t: &Tensor, what: &str, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(s) => Ok(f(contiguous(s, layout, "lora-linear", what)?)),
        _ => candle_core::bail!("lora-linear: {what} must be on the CPU"),
    }
}

impl LoraLinear {
    /// `mask∘x`, or `x` borrowed when there is no dropout.
    fn dropped<'a>(&self, x: &'a [f32]) -> std::borrow::Cow<'a, [f32]> {
        match &self.mask {
            Some(m) => x.iter().zip(m).map(|(x, m)| x * m).collect(),
            None => x.into(),
        }
    }
}

impl CustomOp3 for LoraLinear {
    fn name(&self) -> &'static str {
        "lora-linear"
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
        let x = contiguous(s1, l1, "lora-linear", "input")?;
        let a = contiguous(s2, l2, "lora-linear", "A")?;
        let b = contiguous(s3, l3, "lora-linear", "B")?;
        let (m, k) = l1.shape().dims2()?;
        let (r, k2) = l2.shape().dims2()?;
        let (n, r2) = l3.shape().dims2()?;
        let (k3, n2) = self.wt.dims2()?;
        if k != k2 || k != k3 || r != r2 || n != n2 {
            candle_core::bail!(
                "lora-linear: shapes x {m}×{k}, A {r}×{k2}, B {n}×{r2}, Wᵀ {k3}×{n2} do not fit"
            );
        }
        if self.mask.as_ref().is_some_and(|d| d.len() != x.len()) {
            candle_core::bail!("lora-linear: dropout mask does not match the input");
        }
        let mut y = with_data(&self.wt, "weight", |wt| product(x, wt, m, k, n))?;
        let xd = self.dropped(x);
        let u = sgemm_new(m, r, k, Mat::rows(&xd, k), Mat::transposed(a, k));
        sgemm_add(
            m,
            n,
            r,
            self.scale,
            Mat::rows(&u, r),
            Mat::transposed(b, r),
            &mut y,
        );
        *self.u.lock().expect("u lock") = Some(u);
        Ok((CpuStorage::F32(y), Shape::from((m, n))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        a: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let Some(u) = self.u.lock().expect("u lock").take() else {
            candle_core::bail!("lora-linear: backward ran twice or without a forward pass");
        };
        let (m, k) = x.dims2()?;
        let (r, _) = a.dims2()?;
        let n = b.dim(0)?;
        let g = grad.contiguous()?;
        let s = self.scale;
        let (mut da, mut db) = (vec![0f32; r * k], vec![0f32; n * r]);
        let (gb, mut dx) = with_data(&g, "gradient", |g| {
            // gb = g·B (m × r); dB = s·gᵀ·u (n × r).
            let gb = with_data(b, "B", |b| {
                sgemm_new(m, r, n, Mat::rows(g, n), Mat::rows(b, r))
            })?;
            sgemm_add(n, r, m, s, Mat::transposed(g, n), Mat::rows(&u, r), &mut db);
            // dx = g·W, with W = (Wᵀ)ᵀ read in place.
            let dx = with_data(&self.wt, "weight", |wt| {
                sgemm_new(m, k, n, Mat::rows(g, n), Mat::transposed(wt, n))
            })?;
            Ok::<_, candle_core::Error>((gb, dx))
        })??;
        with_data(x, "input", |x| {
            with_data(a, "A", |a| {
                // dA = s·gbᵀ·(mask∘x) (r × k).
                let xd = self.dropped(x);
                sgemm_add(
                    r,
                    k,
                    m,
                    s,
                    Mat::transposed(&gb, r),
                    Mat::rows(&xd, k),
                    &mut da,
                );
                // dx += mask∘(s·gb·A).
                match &self.mask {
                    None => sgemm_add(m, k, r, s, Mat::rows(&gb, r), Mat::rows(a, k), &mut dx),
                    Some(mask) => {
                        let t = sgemm_new(m, k, r, Mat::rows(&gb, r), Mat::rows(a, k));
                        for ((dx, t), d) in dx.iter_mut().zip(&t).zip(mask) {
                            *dx += s * t * d;
                        }
                    }
                }
            })
        })??;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (m, k), dev)?),
            Some(Tensor::from_vec(da, (r, k), dev)?),
            Some(Tensor::from_vec(db, (n, r), dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{grad_diff, max_diff};
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn matches_the_formula_forward_and_backward_with_and_without_dropout() -> Result<()> {
        let dev = Device::Cpu;
        let (k, n, r) = (24, 17, 4);
        let w = Tensor::randn(0f32, 1.0, (n, k), &dev)?;
        let wt = w.t()?.contiguous()?;
        for rows in [3, 40] {
            for with_mask in [false, true] {
                let x = Var::randn(0f32, 1.0, (1, rows, k), &dev)?;
                let a = Var::randn(0f32, 0.5, (r, k), &dev)?;
                let b = Var::randn(0f32, 0.5, (n, r), &dev)?;
                let mask: Option<Vec<f32>> = with_mask.then(|| {
                    (0..rows * k)
                        .map(|i| if i % 5 == 0 { 0.0 } else { 1.25 })
                        .collect()
                });
                let xd = match &mask {
                    Some(m) => (x.as_tensor() * Tensor::from_slice(m, (1, rows, k), &dev)?)?,
                    None => x.as_tensor().clone(),
                };
                let want = (x.broadcast_matmul(&w.t()?)?
                    + (xd.broadcast_matmul(&a.t()?)?.broadcast_matmul(&b.t()?)? * 2.0)?)?;
                let got = lora_linear(&x, &wt, &a, &b, 2.0, mask)?;
                assert!(max_diff(&want, &got)? < 1e-4);
                let d = grad_diff(&want, &got, &[&x, &a, &b])?;
                assert!(
                    d < 1e-3,
                    "rows {rows}, mask {with_mask}: gradient differs by {d}"
                );
            }
        }
        Ok(())
    }
}
