//! CPU kernels for the decoder, with hand-written backward passes where candle's fused ops
//! have none (see the notes: candle's fused RMSNorm, RoPE and softmax drop gradients) and
//! where its differentiable formulas keep too many intermediates alive for the backward pass.
//!
//! Every op takes and returns candle tensors and falls back to candle's differentiable
//! formula off the CPU or for other dtypes, so CUDA/Metal builds keep working. Each is tested
//! against that formula, forward and gradient.

mod frozen_matmul;
mod int8_matmul;
mod linear_cross_entropy;
mod lora_linear;
mod rms_norm;
mod rope;
mod row_attention;
mod sgemm;
mod softmax;
mod swiglu;

pub use frozen_matmul::frozen_matmul;
pub use int8_matmul::{int8_matmul, Int8Weight, Kernel};
pub use linear_cross_entropy::{linear_cross_entropy, masked_nll};
pub use lora_linear::lora_linear;
pub use rms_norm::rms_norm;
pub use rope::rope;
pub use row_attention::{row_attention, RowAttention, RowKv};
pub use softmax::{scaled_masked_softmax, softmax_last_dim};
pub use swiglu::swiglu;

use candle_core::{CpuStorage, DType, Layout, Result, Tensor};

/// True when `x` can go through the CPU kernels (f32 on the CPU).
fn on_cpu_f32(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32
}

/// Fills `out`, rows of `n`, in parallel (`rows_per_task` rows per rayon task):
/// `f(row, out_row)` with the row's index, so inputs are read as `&x[row * n..][..n]`.
fn par_rows(out: &mut [f32], n: usize, rows_per_task: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    use rayon::prelude::*;
    let n = n.max(1);
    let rows_per_task = rows_per_task.max(1);
    out.par_chunks_mut(n * rows_per_task)
        .enumerate()
        .for_each(|(task, block)| {
            for (i, y) in block.chunks_mut(n).enumerate() {
                f(task * rows_per_task + i, y);
            }
        });
}

/// The f32 elements of a contiguous CPU tensor, or an error naming `op` and `what`.
fn contiguous<'a>(s: &'a CpuStorage, l: &Layout, op: &str, what: &str) -> Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(d) => d,
        _ => candle_core::bail!("{op}: {what} must be f32"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("{op}: {what} must be contiguous"),
    }
}

#[cfg(test)]
mod test_util {
    use candle_core::{Result, Tensor, Var};

    /// Largest absolute difference.
    pub fn max_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
        (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
    }

    /// Largest difference between the gradients that `want` and `got` (same shape) give
    /// `vars`, under a loss weighing every output element differently.
    pub fn grad_diff(want: &Tensor, got: &Tensor, vars: &[&Var]) -> Result<f32> {
        let weights = Tensor::randn(0f32, 1.0, want.shape(), want.device())?;
        let g_want = (want * &weights)?.sum_all()?.backward()?;
        let g_got = (got * &weights)?.sum_all()?.backward()?;
        let mut worst = 0f32;
        for v in vars {
            let (w, g) = (g_want.get(v), g_got.get(v));
            let (Some(w), Some(g)) = (w, g) else {
                candle_core::bail!("no gradient for a variable");
            };
            worst = worst.max(max_diff(w, g)?);
        }
        Ok(worst)
    }
}
