//! The language-model head and the completion loss in one op: the mean negative
//! log-likelihood of the next tokens under `softmax(h · Wᵀ)`, counted where the mask is 1.
//!
//! The logits (tokens × vocabulary, 200 MB for 8×128 tokens of a 49k vocabulary) are never
//! stored whole: only the counted rows are projected, a chunk of rows at a time, and when a
//! gradient is wanted each chunk's `dL/dlogits = w·(softmax − onehot)` is multiplied back by
//! `W` right away. The backward pass then only scales the stored `dL/dh`. The separate
//! head + `log_softmax` + gather keeps four logits-sized tensors for the backward pass.

use super::sgemm::{sgemm, Mat};
use super::{contiguous, frozen_matmul, on_cpu_f32};
use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;
use std::sync::Mutex;

/// Rows projected together (a 128 × 49 152 chunk of logits is 25 MB).
const CHUNK_ROWS: usize = 128;

/// Mean NLL of `targets` (…) under `softmax(h · wt)`, `h` (…, k), `wt = Wᵀ` (k, vocab),
/// counted where `mask` (…, any dtype, 1/0) is 1. A scalar; 0 when nothing is counted.
pub fn linear_cross_entropy(
    h: &Tensor,
    wt: &Tensor,
    targets: &Tensor,
    mask: &Tensor,
) -> Result<Tensor> {
    if !on_cpu_f32(h) {
        return masked_nll(&frozen_matmul(h, wt)?, targets, mask);
    }
    let k = h.dim(D::Minus1)?;
    let rows = h.elem_count() / k.max(1);
    let targets: Vec<u32> = targets.flatten_all()?.to_dtype(DType::U32)?.to_vec1()?;
    let mask: Vec<f32> = mask.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
    if targets.len() != rows || mask.len() != rows {
        candle_core::bail!(
            "linear-cross-entropy: {rows} rows, {} targets, {} mask values",
            targets.len(),
            mask.len()
        );
    }
    let counted = mask.iter().filter(|&&m| m != 0.0).count();
    let weight = 1.0 / counted.max(1) as f32;
    let picked: Vec<(usize, u32)> = (0..rows)
        .filter(|&r| mask[r] != 0.0)
        .map(|r| (r, targets[r]))
        .collect();
    let op = LinearCrossEntropy {
        picked,
        weight,
        with_grad: h.track_op(),
        grad_h: Mutex::new(None),
    };
    let h = h.contiguous()?.reshape((rows, k))?;
    let wt = wt.contiguous()?;
    if op.with_grad {
        h.apply_op2(&wt, op)
    } else {
        h.apply_op2_no_bwd(&wt, &op)
    }
}

/// The same loss from materialised `logits` (b, t, vocab): `log_softmax → gather → mask`.
/// candle's `cross_entropy` has no ignore index and wants rank 2.
pub fn masked_nll(logits: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let last = logits.rank() - 1;
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = logp
        .gather(&targets.unsqueeze(last)?, last)?
        .squeeze(last)?;
    let mask = mask.to_dtype(DType::F32)?;
    let total = mask.sum_all()?;
    (picked * &mask)?
        .sum_all()?
        .neg()?
        .broadcast_div(&total.maximum(1.0)?)
}

struct LinearCrossEntropy {
    /// Counted rows and their target ids.
    picked: Vec<(usize, u32)>,
    /// 1 / number of counted rows.
    weight: f32,
    with_grad: bool,
    /// `dL/dh` (rows × k), written by the forward pass for the backward pass.
    grad_h: Mutex<Option<Vec<f32>>>,
}

impl CustomOp2 for LinearCrossEntropy {
    fn name(&self) -> &'static str {
        "linear-cross-entropy"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let h = contiguous(s1, l1, "linear-cross-entropy", "hidden states")?;
        let wt = contiguous(s2, l2, "linear-cross-entropy", "weight")?;
        let (rows, k) = l1.shape().dims2()?;
        let (k2, vocab) = l2.shape().dims2()?;
        if k != k2 {
            candle_core::bail!("linear-cross-entropy: hidden size {k}, weight expects {k2}");
        }
        if let Some(&(_, t)) = self.picked.iter().find(|(_, t)| *t as usize >= vocab) {
            candle_core::bail!("linear-cross-entropy: target {t} outside the vocabulary ({vocab})");
        }
        let mut grad_h = self.with_grad.then(|| vec![0f32; rows * k]);
        let mut loss = 0f64;
        let mut logits = vec![0f32; CHUNK_ROWS.min(self.picked.len()) * vocab];
        let mut hc = Vec::with_capacity(CHUNK_ROWS * k);
        let mut dh = vec![0f32; CHUNK_ROWS * k];
        for chunk in self.picked.chunks(CHUNK_ROWS) {
            let c = chunk.len();
            hc.clear();
            for &(r, _) in chunk {
                hc.extend_from_slice(&h[r * k..(r + 1) * k]);
            }
            let logits = &mut logits[..c * vocab];
            sgemm(c, vocab, k, Mat::rows(&hc, k), Mat::rows(wt, vocab), logits);
            let with_grad = self.with_grad;
            let weight = self.weight;
            loss += logits
                .par_chunks_mut(vocab)
                .zip(chunk)
                .map(|(z, &(_, target))| {
                    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let target_logit = z[target as usize];
                    // One exp per logit: z becomes exp(z − max), then (with a gradient)
                    // dL/dz = weight · (softmax(z) − onehot(target)).
                    let mut sum = 0f32;
                    for v in z.iter_mut() {
                        *v = (*v - max).exp();
                        sum += *v;
                    }
                    if with_grad {
                        let f = weight / sum;
                        z.iter_mut().for_each(|v| *v *= f);
                        z[target as usize] -= weight;
                    }
                    (max + sum.ln() - target_logit) as f64
                })
                .sum::<f64>();
            if let Some(grad_h) = grad_h.as_mut() {
                let dh = &mut dh[..c * k];
                // dL/dh = dL/dz · W, with W = wtᵀ read in place.
                sgemm(
                    c,
                    k,
                    vocab,
                    Mat::rows(logits, vocab),
                    Mat::transposed(wt, vocab),
                    dh,
                );
                for (i, &(r, _)) in chunk.iter().enumerate() {
                    grad_h[r * k..(r + 1) * k].copy_from_slice(&dh[i * k..(i + 1) * k]);
                }
            }
        }
        *self.grad_h.lock().expect("grad lock") = grad_h;
        let mean = (loss * self.weight as f64) as f32;
        Ok((CpuStorage::F32(vec![mean]), Shape::from(())))
    }

    fn bwd(
        &self,
        h: &Tensor,
        _wt: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let Some(grad_h) = self.grad_h.lock().expect("grad lock").take() else {
            candle_core::bail!(
                "linear-cross-entropy: backward ran twice or without a forward pass"
            );
        };
        let grad_h = Tensor::from_vec(grad_h, h.shape(), h.device())?;
        Ok((Some(grad_h.broadcast_mul(grad)?), None))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::max_diff;
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn matches_head_plus_masked_nll_forward_and_backward() -> Result<()> {
        let dev = Device::Cpu;
        // More rows than one chunk, so chunking and the row scatter are exercised.
        let (b, t, k, vocab) = (3, 100, 16, 37);
        let h = Var::randn(0f32, 1.0, (b, t, k), &dev)?;
        let wt = Tensor::randn(0f32, 0.5, (k, vocab), &dev)?;
        let targets: Vec<u32> = (0..b * t).map(|i| (i * 7 % vocab) as u32).collect();
        let targets = Tensor::from_vec(targets, (b, t), &dev)?;
        let mask: Vec<u8> = (0..b * t).map(|i| (i % 3 != 0) as u8).collect();
        let mask = Tensor::from_vec(mask, (b, t), &dev)?;
        let want = masked_nll(&h.broadcast_matmul(&wt)?, &targets, &mask)?;
        let got = linear_cross_entropy(&h, &wt, &targets, &mask)?;
        let (w, g) = (want.to_scalar::<f32>()?, got.to_scalar::<f32>()?);
        assert!((w - g).abs() < 1e-4, "loss {g} vs {w}");
        // Scaled, as gradient accumulation divides the loss.
        let g_want = (want / 3.0)?.backward()?;
        let g_got = (got / 3.0)?.backward()?;
        let d = max_diff(g_want.get(&h).unwrap(), g_got.get(&h).unwrap())?;
        assert!(d < 1e-5, "gradient differs by {d}");
        // Rows outside the mask get no gradient.
        let row0: Vec<f32> = g_got.get(&h).unwrap().get(0)?.get(0)?.to_vec1()?;
        assert!(row0.iter().all(|&v| v == 0.0));
        Ok(())
    }

    #[test]
    fn without_counted_rows_the_loss_is_zero() -> Result<()> {
        let dev = Device::Cpu;
        let h = Tensor::randn(0f32, 1.0, (1, 4, 8), &dev)?;
        let wt = Tensor::randn(0f32, 1.0, (8, 11), &dev)?;
        let targets = Tensor::zeros((1, 4), DType::U32, &dev)?;
        let mask = Tensor::zeros((1, 4), DType::U8, &dev)?;
        let loss = linear_cross_entropy(&h, &wt, &targets, &mask)?;
        assert_eq!(loss.to_scalar::<f32>()?, 0.0);
        Ok(())
    }
}
