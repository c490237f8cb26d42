//! `x · Wᵀ` for a frozen weight `W` (out × in), as a candle custom op on the CPU:
//!
//! - few rows (token-by-token decoding): a multi-threaded, AVX2/FMA matrix-vector product that
//!   streams `W` once at memory speed (gemm's single-threaded gemv path reads it at ~13 GB/s);
//! - many rows: gemm, exactly as candle's own matmul;
//! - backward: only `dL/dx = dL/dy · W`. candle's matmul would also compute `dL/dW`, a
//!   full-size product wasted on a frozen weight (about half of a LoRA training step).

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Up to this many rows go through the matrix-vector path.
const GEMV_MAX_ROWS: usize = 8;
/// Output features per parallel task in the matrix-vector path.
const GEMV_CHUNK: usize = 64;

/// The op; see the module docs.
pub struct FrozenMatmul;

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(d) => d,
        _ => candle_core::bail!("frozen-matmul: {what} must be f32"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("frozen-matmul: {what} must be contiguous"),
    }
}

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
        let x = contiguous(s1, l1, "input")?;
        let w = contiguous(s2, l2, "weight")?;
        let (m, k) = l1.shape().dims2()?;
        let (n, k2) = l2.shape().dims2()?;
        if k != k2 {
            candle_core::bail!("frozen-matmul: input has {k} features, weight expects {k2}");
        }
        let mut out = vec![0f32; m * n];
        if m <= GEMV_MAX_ROWS {
            gemv(x, w, m, k, n, &mut out);
        } else {
            let threads = rayon::current_num_threads();
            // SAFETY: the pointers cover m·k, n·k and m·n f32s with the strides given.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    out.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    x.as_ptr(),
                    1,
                    k as isize,
                    w.as_ptr(),
                    k as isize,
                    1,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    if threads > 1 {
                        gemm::Parallelism::Rayon(threads)
                    } else {
                        gemm::Parallelism::None
                    },
                );
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((m, n))))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.matmul(w)?), None))
    }
}

/// `out (m × n) = x (m × k) · Wᵀ`, parallel over blocks of output features.
fn gemv(x: &[f32], w: &[f32], m: usize, k: usize, n: usize, out: &mut [f32]) {
    // Work in the transposed layout (n × m) so each task owns a contiguous block.
    let mut out_t = vec![0f32; n * m];
    out_t
        .par_chunks_mut(GEMV_CHUNK * m)
        .enumerate()
        .for_each(|(c, block)| {
            let first = c * GEMV_CHUNK;
            for (j, dst) in block.chunks_mut(m).enumerate() {
                let row = &w[(first + j) * k..(first + j + 1) * k];
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = dot(&x[i * k..(i + 1) * k], row);
                }
            }
        });
    for j in 0..n {
        for i in 0..m {
            out[i * n + j] = out_t[j * m + i];
        }
    }
}

/// Dot product, with AVX2/FMA when the CPU has them.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the features were just detected.
        return unsafe { dot_avx2(a, b) };
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (u, acc) in acc.iter_mut().enumerate() {
            let off = i + 8 * u;
            *acc = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(off)),
                _mm256_loadu_ps(pb.add(off)),
                *acc,
            );
        }
        i += 32;
    }
    while i + 8 <= n {
        acc[0] = _mm256_fmadd_ps(
            _mm256_loadu_ps(pa.add(i)),
            _mm256_loadu_ps(pb.add(i)),
            acc[0],
        );
        i += 8;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut lanes = [0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
    let mut total: f32 = lanes.iter().sum();
    while i < n {
        total += *pa.add(i) * *pb.add(i);
        i += 1;
    }
    total
}

/// `x (…, in) · Wᵀ` through [`FrozenMatmul`] on the CPU, plain matmul elsewhere.
pub fn frozen_matmul(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() || x.dtype() != candle_core::DType::F32 {
        return x.broadcast_matmul(&w.t()?);
    }
    let dims = x.dims().to_vec();
    let k = *dims.last().unwrap_or(&0);
    let rows = x.elem_count() / k.max(1);
    let y = x
        .contiguous()?
        .reshape((rows, k))?
        .apply_op2(&w.contiguous()?, FrozenMatmul)?;
    let mut out_dims = dims;
    *out_dims.last_mut().expect("at least one dim") = w.dim(0)?;
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
        for rows in [1, 3, 8, 9, 40] {
            let x = Var::randn(0f32, 1.0, (1, rows, 70), &dev)?;
            let want = x.broadcast_matmul(&w.t()?)?;
            let got = frozen_matmul(&x, &w)?;
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
