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
    out.par_chunks_mut(s.t * width)
        .enumerate()
        .for_each(|(row, y)| {
            let mut scores = vec![0f32; p + total];
            for h in 0..s.heads {
                let g = h / (s.heads / s.kv);
                let own_k = &ok[(row * s.kv + g) * capacity * s.d..][..total * s.d];
                let own_v = &ov[(row * s.kv + g) * capacity * s.d..][..total * s.d];
                let (pre_k, pre_v) = (&pk[g * p * s.d..][..p * s.d], &pv[g * p * s.d..][..p * s.d]);
                for i in 0..s.t {
                    let qv = &q[((row * s.heads + h) * s.t + i) * s.d..][..s.d];
                    let mask = &bias[(row * s.t + i) * total..][..total];
                    for (j, k) in pre_k.chunks_exact(s.d).enumerate() {
                        scores[j] = dot(qv, k) * s.scale;
                    }
                    for (j, k) in own_k.chunks_exact(s.d).enumerate() {
                        scores[p + j] = dot(qv, k) * s.scale + mask[j];
                    }
                    let max = scores.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v));
                    let mut sum = 0f32;
                    for v in &mut scores {
                        *v = (*v - max).exp();
                        sum += *v;
                    }
                    let yv = &mut y[i * width + h * s.d..][..s.d];
                    let values = pre_v.chunks_exact(s.d).chain(own_v.chunks_exact(s.d));
                    for (&w, v) in scores.iter().zip(values) {
                        let w = w / sum;
                        for (y, v) in yv.iter_mut().zip(v) {
                            *y += w * v;
                        }
                    }
                }
            }
        });
    Ok(Some(Tensor::from_vec(out, (s.b, s.t, width), &device)?))
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums, so the compiler keeps them in one vector register.
    let mut acc = [0f32; 8];
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for k in 0..8 {
            acc[k] += a[k] * b[k];
        }
    }
    let tail: f32 = a
        .chunks_exact(8)
        .remainder()
        .iter()
        .zip(b.chunks_exact(8).remainder())
        .map(|(a, b)| a * b)
        .sum();
    acc.iter().sum::<f32>() + tail
}
