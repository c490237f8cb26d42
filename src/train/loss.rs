//! Completion-only causal LM loss: mean negative log-likelihood of each next token, counted
//! only where the mask is 1 (candle's `cross_entropy` has no ignore index and wants rank 2).

use candle_core::{DType, Result, Tensor, D};

/// `logits` (b, t, vocab), `targets` (b, t) next-token ids, `mask` (b, t) 1 where the target
/// counts. Returns the mean loss over counted positions (a scalar).
pub fn masked_nll(logits: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = logp.gather(&targets.unsqueeze(2)?, 2)?.squeeze(2)?;
    let mask = mask.to_dtype(DType::F32)?;
    let total = mask.sum_all()?;
    (picked * &mask)?
        .sum_all()?
        .neg()?
        .broadcast_div(&total.maximum(1.0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn counts_only_masked_positions() -> Result<()> {
        let dev = Device::Cpu;
        // Two positions, vocab 3: uniform logits give ln 3 wherever counted.
        let logits = Tensor::zeros((1, 2, 3), DType::F32, &dev)?;
        let targets = Tensor::new(&[[0u32, 2]], &dev)?;
        let loss = masked_nll(&logits, &targets, &Tensor::new(&[[0u8, 1]], &dev)?)?;
        assert!((loss.to_scalar::<f32>()? - 3f32.ln()).abs() < 1e-6);
        // A confident right answer costs ~0, and masked-out positions cost nothing.
        let logits = Tensor::new(&[[[0f32, 50., 0.], [0., 0., 50.]]], &dev)?;
        let loss = masked_nll(&logits, &targets, &Tensor::new(&[[0u8, 1]], &dev)?)?;
        assert!(loss.to_scalar::<f32>()? < 1e-6);
        Ok(())
    }
}
