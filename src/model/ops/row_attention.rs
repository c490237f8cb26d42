//! Inference attention for batched decoding after a shared prefix (`llama::shared_prefix`), in
//! one pass on the CPU: each row's queries against the prefix's keys and the row's own, with
//! the row's additive mask, softmax, and the weighted sum of the values, rows in parallel.
//! The same arithmetic as candle's op-by-op version (products, mask, cat, softmax, products,
//! transposes), which spent most of a decoding step copying small tensors between its ops.

use candle_core::{CpuStorage, Result, Storage, Tensor};
use rayon::prelude::*;

/// Shapes of one [`row_attention`] call.
#[derive(Debug, Clone, Copy)]
pub struct RowAttention {
    /// Rows.
    pub b: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (each serves `heads / kv` query heads).
    pub kv: usize,
    /// New tokens per row.
    pub t: usize,
    /// Head size.
    pub d: usize,
    /// Score scale (1/√d).
    pub scale: f32,
}

/// `q` (b, heads, t, d) against the prefix's keys/values (kv, p, d) and the rows' own
/// (b, kv, capacity, d) buffers, of which the first `total` columns count, under `bias`
/// (b, t, total; added to the own columns' scores). Returns (b, t, heads · d), or `None` when
/// a tensor is not a contiguous f32 CPU tensor (the caller then takes candle's ops).
pub fn row_attention(
    q: &Tensor,
    prefix: Option<(&Tensor, &Tensor)>,
    own: (&Tensor, &Tensor),
    total: usize,
    bias: &[f32],
    s: RowAttention,
) -> Result<Option<Tensor>> {
    let device = q.device().clone();
    let guards = [
        Some(q),
        prefix.map(|p| p.0),
        prefix.map(|p| p.1),
        Some(own.0),
        Some(own.1),
    ]
    .map(|t| t.map(|t| (t.storage_and_layout(), t.is_contiguous())));
    let mut slices: [&[f32]; 5] = [&[]; 5];
    for (slot, guard) in slices.iter_mut().zip(&guards) {
        let Some(((storage, layout), contiguous)) = guard else {
            continue;
        };
        match (&**storage, contiguous) {
            (Storage::Cpu(CpuStorage::F32(v)), true) => *slot = &v[layout.start_offset()..],
            _ => return Ok(None),
        }
    }
    let [q, pk, pv, ok, ov] = slices;
    let p = prefix.map_or(Ok(0), |(k, _)| k.dim(1))?;
    let capacity = own.0.dim(2)?;
    let width = s.heads * s.d;
    let mut out = vec![0f32; s.b * s.t * width];
    let parts = Parts {
        q,
        pk,
        pv,
        ok,
        ov,
        bias,
        p,
        total,
        capacity,
    };
    out.par_chunks_mut(s.t * width)
        .enumerate()
        .for_each(|(row, y)| attend_row(&parts, &s, row, y));
    Ok(Some(Tensor::from_vec(out, (s.b, s.t, width), &device)?))
}

/// The inputs of a call, as slices.
struct Parts<'a> {
    q: &'a [f32],
    pk: &'a [f32],
    pv: &'a [f32],
    ok: &'a [f32],
    ov: &'a [f32],
    bias: &'a [f32],
    p: usize,
    total: usize,
    capacity: usize,
}

/// One row's output (t, heads · d), compiled for AVX-512 or AVX2 + FMA where the CPU has them.
fn attend_row(x: &Parts, s: &RowAttention, row: usize, y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features.
            return unsafe { attend_row_avx512(x, s, row, y) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features.
            return unsafe { attend_row_avx2(x, s, row, y) };
        }
    }
    attend_row_body(x, s, row, y);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn attend_row_avx512(x: &Parts, s: &RowAttention, row: usize, y: &mut [f32]) {
    attend_row_body(x, s, row, y);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn attend_row_avx2(x: &Parts, s: &RowAttention, row: usize, y: &mut [f32]) {
    attend_row_body(x, s, row, y);
}

/// The query heads that share a key/value head are scored and summed together, so each
/// key and value row is read once per group rather than once per head.
#[inline(always)]
fn attend_row_body(x: &Parts, s: &RowAttention, row: usize, y: &mut [f32]) {
    let (p, total, capacity, d) = (x.p, x.total, x.capacity, s.d);
    let width = s.heads * d;
    let rep = s.heads / s.kv;
    let cols = p + total;
    let mut scores = vec![0f32; rep * cols];
    for g in 0..s.kv {
        let own_k = &x.ok[(row * s.kv + g) * capacity * d..][..total * d];
        let own_v = &x.ov[(row * s.kv + g) * capacity * d..][..total * d];
        let (pre_k, pre_v) = (&x.pk[g * p * d..][..p * d], &x.pv[g * p * d..][..p * d]);
        for i in 0..s.t {
            let query = |r: usize| &x.q[((row * s.heads + g * rep + r) * s.t + i) * d..][..d];
            let mask = &x.bias[(row * s.t + i) * total..][..total];
            for (j, k) in pre_k
                .chunks_exact(d)
                .chain(own_k.chunks_exact(d))
                .enumerate()
            {
                let m = if j < p { 0.0 } else { mask[j - p] };
                for r in 0..rep {
                    scores[r * cols + j] = dot(query(r), k) * s.scale + m;
                }
            }
            for r in 0..rep {
                let sc = &mut scores[r * cols..(r + 1) * cols];
                let max = sc.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v));
                let mut sum = 0f32;
                for v in sc.iter_mut() {
                    *v = (*v - max).exp();
                    sum += *v;
                }
                let inv = 1.0 / sum;
                sc.iter_mut().for_each(|v| *v *= inv);
            }
            let values = pre_v.chunks_exact(d).chain(own_v.chunks_exact(d));
            for (j, v) in values.enumerate() {
                for r in 0..rep {
                    let w = scores[r * cols + j];
                    let yv = &mut y[i * width + (g * rep + r) * d..][..d];
                    for (y, v) in yv.iter_mut().zip(v) {
                        *y += w * v;
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Sixteen partial sums, so the compiler keeps them in vector registers.
    let mut acc = [0f32; 16];
    for (a, b) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
        for k in 0..16 {
            acc[k] += a[k] * b[k];
        }
    }
    let tail: f32 = a
        .chunks_exact(16)
        .remainder()
        .iter()
        .zip(b.chunks_exact(16).remainder())
        .map(|(a, b)| a * b)
        .sum();
    acc.iter().sum::<f32>() + tail
}
