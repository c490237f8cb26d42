//! Completion-only causal LM loss: mean negative log-likelihood of each next token, counted
//! only where the mask is 1 (candle's `cross_entropy` has no ignore index and wants rank 2).

//! The formula lives with the fused head + loss op (`model::ops`), which training uses.

pub use crate::model::ops::masked_nll;

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Result, Tensor};

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
