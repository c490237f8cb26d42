//! `x · Wᵀ` for a frozen weight `W` (out × in), kept transposed as `Wᵀ` (in × out, contiguous),
//! as a candle custom op on the CPU:
//!
//! - few rows (token-by-token decoding): a multi-threaded, AVX2/FMA product that streams `Wᵀ`
//!   once at memory speed (gemm's single-threaded gemv path reads it at ~13 GB/s);
//! - many rows: gemm. With `Wᵀ` stored this way gemm reads the weight in place; from the
//!   (out × in) layout it repacked the whole weight on every call (a fifth of batched decoding);
//! - backward: only `dL/dx = dL/dy · W`. candle's matmul would also compute `dL/dW`, a
//!   full-size product wasted on a frozen weight (about half of a LoRA training step).

use super::sgemm::{sgemm_new, Mat};
use super::{contiguous, on_cpu_f32};
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Up to this many rows go through the matrix-vector path.
const GEMV_MAX_ROWS: usize = 8;
/// Tasks per thread in the matrix-vector path (each streams a contiguous block of `Wᵀ` rows
/// into its own partial sum).
const GEMV_TASKS_PER_THREAD: usize = 2;

/// The op; see the module docs.
pub struct FrozenMatmul;

impl CustomOp2 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-matmul"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, "frozen-matmul", "input")?;
        let wt = contiguous(s2, l2, "frozen-matmul", "weight")?;
        let (m, k) = l1.shape().dims2()?;
        let (k2, n) = l2.shape().dims2()?;
        if k != k2 {
            candle_core::bail!("frozen-matmul: input has {k} features, weight expects {k2}");
        }
        Ok((
            CpuStorage::F32(product(x, wt, m, k, n)),
            Shape::from((m, n)),
        ))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.matmul(&w.t()?)?), None))
    }
}

/// `x (m × k) · wt (k × n)`, by the matrix-vector path for few rows.
pub(super) fn product(x: &[f32], wt: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    if m <= GEMV_MAX_ROWS {
        let mut out = vec![0f32; m * n];
        gemv(x, wt, m, k, n, &mut out);
        out
    } else {
        sgemm_new(m, n, k, Mat::rows(x, k), Mat::rows(wt, n))
    }
}

/// `out (m × n) = x (m × k) · wt (k × n)`: the `k` rows of `wt` are split into contiguous
/// blocks, each streamed by one task into a partial `m × n` sum; the partials are then added.
fn gemv(x: &[f32], wt: &[f32], m: usize, k: usize, n: usize, out: &mut [f32]) {
    let tasks = (rayon::current_num_threads() * GEMV_TASKS_PER_THREAD).clamp(1, k.max(1));
    let rows = k.div_ceil(tasks);
    let partials: Vec<Vec<f32>> = (0..tasks)
        .into_par_iter()
        .map(|t| {
            let mut acc = vec![0f32; m * n];
            for kk in t * rows..((t + 1) * rows).min(k) {
                let w = &wt[kk * n..(kk + 1) * n];
                for i in 0..m {
                    axpy(x[i * k + kk], w, &mut acc[i * n..(i + 1) * n]);
                }
            }
            acc
        })
        .collect();
    for p in &partials {
        axpy(1.0, p, out);
    }
}

/// `y += a · x`.
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { axpy_avx2(a, x, y) };
    }
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_avx2(a: f32, x: &[f32], y: &mut [f32]) {
    use std::arch::x86_64::*;
    let n = x.len().min(y.len());
    let (px, py) = (x.as_ptr(), y.as_mut_ptr());
    let va = _mm256_set1_ps(a);
    let mut i = 0;
    while i + 8 <= n {
        let v = _mm256_fmadd_ps(va, _mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(py.add(i)));
        _mm256_storeu_ps(py.add(i), v);
        i += 8;
    }
    while i < n {
        *py.add(i) += a * *px.add(i);
        i += 1;
    }
}

/// `x (…, in) · Wᵀ` for `wt = Wᵀ` (in × out), through [`FrozenMatmul`] on the CPU, plain
/// matmul elsewhere.
pub fn frozen_matmul(x: &Tensor, wt: &Tensor) -> Result<Tensor> {
    if !on_cpu_f32(x) {
        return x.broadcast_matmul(wt);
    }
    let dims = x.dims().to_vec();
    let k = *dims.last().unwrap_or(&0);
    let rows = x.elem_count() / k.max(1);
    let y = x
        .contiguous()?
        .reshape((rows, k))?
        .apply_op2(&wt.contiguous()?, FrozenMatmul)?;
    let mut out_dims = dims;
    *out_dims.last_mut().expect("at least one dim") = wt.dim(1)?;
    y.reshape(out_dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn matches_matmul_forward_and_input_gradient() -> Result<()> {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (37, 70), &dev)?;
        for rows in [1, 3, 8, 9, 40, 200] {
            let x = Var::randn(0f32, 1.0, (1, rows, 70), &dev)?;
            let want = x.broadcast_matmul(&w.t()?)?;
            let got = frozen_matmul(&x, &w.t()?.contiguous()?)?;
            let diff = (&want - &got)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 1e-4, "rows {rows}: forward differs by {diff}");
            let g_want = want.sqr()?.sum_all()?.backward()?;
            let g_got = got.sqr()?.sum_all()?.backward()?;
            let d = (g_want.get(&x).unwrap() - g_got.get(&x).unwrap())?
                .abs()?
                .max_all()?
                .to_scalar::<f32>()?;
            assert!(d < 1e-3, "rows {rows}: gradient differs by {d}");
        }
        Ok(())
    }
}
