//! Inference attention for batched decoding after a shared prefix (`llama::shared_prefix`).
//! The new tokens of all rows arrive packed (no padding); each row's keys and values are
//! appended to the row's own cache, then each query attends to the prefix and to its row's
//! columns up to itself. On the CPU (f32) this is one pass, rows in parallel, over caches in
//! host memory that grow in place and hold only the row's own tokens; elsewhere it is
//! candle's ops, row by row.

use candle_core::{CpuStorage, Result, Storage, Tensor};
use rayon::prelude::*;

/// Columns a host cache reserves beyond its first tokens, so that decoding rarely reallocates.
const RESERVE_COLUMNS: usize = 48;

/// One row's keys and values after the prefix, for one layer.
#[derive(Debug, Clone, Default)]
pub enum RowKv {
    /// No tokens yet.
    #[default]
    Empty,
    /// Host memory, (columns, kv heads, head size) row-major: appending a token is one copy.
    Host { k: Vec<f32>, v: Vec<f32> },
    /// Device tensors, (kv heads, columns, head size).
    Device { k: Tensor, v: Tensor },
}

/// Head shapes of one [`row_attention`] call.
#[derive(Debug, Clone, Copy)]
pub struct RowAttention {
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (each serves `heads / kv` query heads).
    pub kv: usize,
    /// Head size.
    pub d: usize,
    /// Score scale (1/√d).
    pub scale: f32,
}

/// Attention for packed new tokens: `q` (n, heads, …, d) and `k`, `v` (n, kv, …, d), both
/// contiguous, hold `counts[r]` consecutive tokens of row `r` in row order. Row `r`'s keys and
/// values are appended to `caches[r]`; each query then attends to the prefix's keys/values
/// (kv, p, d) and to its row's columns up to and including itself. Returns (n, heads · d).
pub fn row_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    prefix: Option<(&Tensor, &Tensor)>,
    caches: &mut [&mut RowKv],
    counts: &[usize],
    s: RowAttention,
) -> Result<Tensor> {
    if counts.len() != caches.len() || counts.iter().sum::<usize>() != q.dim(0)? {
        candle_core::bail!("row_attention: one cache and one token count per row");
    }
    let on_device = caches.iter().any(|c| matches!(c, RowKv::Device { .. }));
    if !on_device {
        if let Some(y) = on_cpu(q, k, v, prefix, caches, counts, s)? {
            return Ok(y);
        }
    }
    with_candle(q, k, v, prefix, caches, counts, s)
}

/// The CPU pass, or `None` when an input is not a contiguous f32 CPU tensor.
fn on_cpu(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    prefix: Option<(&Tensor, &Tensor)>,
    caches: &mut [&mut RowKv],
    counts: &[usize],
    s: RowAttention,
) -> Result<Option<Tensor>> {
    let device = q.device().clone();
    let guards = [
        Some(q),
        Some(k),
        Some(v),
        prefix.map(|p| p.0),
        prefix.map(|p| p.1),
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
    let [q, k, v, pk, pv] = slices;
    let p = prefix.map_or(Ok(0), |(k, _)| k.dim(1))?;
    let (width, kvd) = (s.heads * s.d, s.kv * s.d);
    let n: usize = counts.iter().sum();
    let mut out = vec![0f32; n * width];
    // Each row's slice of the output, and where its tokens start.
    let mut chunks = Vec::with_capacity(counts.len());
    let mut starts = Vec::with_capacity(counts.len());
    let (mut rest, mut start) = (out.as_mut_slice(), 0);
    for &c in counts {
        let (mine, tail) = rest.split_at_mut(c * width);
        chunks.push(mine);
        starts.push(start);
        rest = tail;
        start += c;
    }
    let prefix = Prefix { k: pk, v: pv, p };
    caches
        .par_iter_mut()
        .zip(chunks)
        .zip(starts)
        .for_each(|((cache, y), start)| {
            let c = y.len() / width;
            if matches!(cache, RowKv::Empty) {
                let reserve = (c + RESERVE_COLUMNS) * kvd;
                **cache = RowKv::Host {
                    k: Vec::with_capacity(reserve),
                    v: Vec::with_capacity(reserve),
                };
            }
            let RowKv::Host { k: own_k, v: own_v } = &mut **cache else {
                unreachable!("device caches take candle's path");
            };
            own_k.extend_from_slice(&k[start * kvd..(start + c) * kvd]);
            own_v.extend_from_slice(&v[start * kvd..(start + c) * kvd]);
            let q = &q[start * width..(start + c) * width];
            attend_row(&prefix, q, own_k, own_v, &s, y);
        });
    Ok(Some(Tensor::from_vec(out, (n, width), &device)?))
}

/// The prefix's keys and values, (kv, p, d) each.
struct Prefix<'a> {
    k: &'a [f32],
    v: &'a [f32],
    p: usize,
}

/// One row's output (c, heads · d) for its `c` queries (c, heads · d) against the prefix and
/// its own cache (columns, kv · d), whose last `c` columns are the queries' own tokens.
/// Compiled for AVX-512 or AVX2 + FMA where the CPU has them.
fn attend_row(pre: &Prefix, q: &[f32], k: &[f32], v: &[f32], s: &RowAttention, y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features.
            return unsafe { attend_row_avx512(pre, q, k, v, s, y) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features.
            return unsafe { attend_row_avx2(pre, q, k, v, s, y) };
        }
    }
    attend_row_body(pre, q, k, v, s, y);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn attend_row_avx512(
    pre: &Prefix,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    s: &RowAttention,
    y: &mut [f32],
) {
    attend_row_body(pre, q, k, v, s, y);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn attend_row_avx2(
    pre: &Prefix,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    s: &RowAttention,
    y: &mut [f32],
) {
    attend_row_body(pre, q, k, v, s, y);
}

/// The query heads that share a key/value head are scored and summed together, so each
/// key and value is read once per group rather than once per head.
#[inline(always)]
fn attend_row_body(pre: &Prefix, q: &[f32], k: &[f32], v: &[f32], s: &RowAttention, y: &mut [f32]) {
    let (p, d) = (pre.p, s.d);
    let (width, kvd) = (s.heads * d, s.kv * d);
    let rep = s.heads / s.kv;
    let c = q.len() / width;
    let len = k.len() / kvd;
    let mut scores = vec![0f32; rep * (p + len)];
    for g in 0..s.kv {
        let (pre_k, pre_v) = (&pre.k[g * p * d..][..p * d], &pre.v[g * p * d..][..p * d]);
        for i in 0..c {
            // Query i sees the prefix and its row's columns up to itself.
            let own = len - c + i + 1;
            let cols = p + own;
            let query = |r: usize| &q[i * width + (g * rep + r) * d..][..d];
            let own_k = k.chunks_exact(kvd).take(own).map(|c| &c[g * d..][..d]);
            for (j, key) in pre_k.chunks_exact(d).chain(own_k).enumerate() {
                for r in 0..rep {
                    scores[r * cols + j] = dot(query(r), key) * s.scale;
                }
            }
            for r in 0..rep {
                softmax(&mut scores[r * cols..(r + 1) * cols]);
            }
            let own_v = v.chunks_exact(kvd).take(own).map(|c| &c[g * d..][..d]);
            for (j, value) in pre_v.chunks_exact(d).chain(own_v).enumerate() {
                for r in 0..rep {
                    let w = scores[r * cols + j];
                    let yv = &mut y[i * width + (g * rep + r) * d..][..d];
                    for (y, v) in yv.iter_mut().zip(value) {
                        *y += w * v;
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn softmax(x: &mut [f32]) {
    let max = x.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v));
    let mut sum = 0f32;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    x.iter_mut().for_each(|v| *v *= inv);
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

/// The same with candle's ops, one row at a time (any device and dtype).
fn with_candle(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    prefix: Option<(&Tensor, &Tensor)>,
    caches: &mut [&mut RowKv],
    counts: &[usize],
    s: RowAttention,
) -> Result<Tensor> {
    let rep = s.heads / s.kv;
    // (c, n heads, d) rows of `x` from `start` → (n heads, c, d).
    let heads = |x: &Tensor, start: usize, c: usize, n: usize| {
        x.narrow(0, start, c)?
            .reshape((c, n, s.d))?
            .transpose(0, 1)?
            .contiguous()
    };
    let mut outs = Vec::with_capacity(counts.len());
    let mut start = 0;
    for (cache, &c) in caches.iter_mut().zip(counts) {
        let (kn, vn) = (heads(k, start, c, s.kv)?, heads(v, start, c, s.kv)?);
        let (own_k, own_v) = match &**cache {
            RowKv::Empty => (kn, vn),
            RowKv::Device { k, v } => (Tensor::cat(&[k, &kn], 1)?, Tensor::cat(&[v, &vn], 1)?),
            RowKv::Host { .. } => candle_core::bail!("row_attention: a host cache off the CPU"),
        };
        **cache = RowKv::Device {
            k: own_k.clone(),
            v: own_v.clone(),
        };
        let (keys, values) = match prefix {
            Some((pk, pv)) => (
                Tensor::cat(&[pk, &own_k], 1)?,
                Tensor::cat(&[pv, &own_v], 1)?,
            ),
            None => (own_k, own_v),
        };
        let total = keys.dim(1)?;
        let bias: Vec<f32> = (0..c)
            .flat_map(|i| {
                (0..total).map(move |j| {
                    if j + c <= total + i {
                        0.0
                    } else {
                        f32::NEG_INFINITY
                    }
                })
            })
            .collect();
        let bias = Tensor::from_vec(bias, (1, 1, c, total), q.device())?.to_dtype(q.dtype())?;
        let qr = heads(q, start, c, s.heads)?.reshape((s.kv, rep * c, s.d))?;
        let scores = (qr.matmul(&keys.t()?)? * f64::from(s.scale))?
            .reshape((s.kv, rep, c, total))?
            .broadcast_add(&bias)?
            .reshape((s.kv, rep * c, total))?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let y = probs
            .matmul(&values)?
            .reshape((s.heads, c, s.d))?
            .transpose(0, 1)?
            .reshape((c, s.heads * s.d))?;
        outs.push(y);
        start += c;
    }
    Tensor::cat(&outs, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ops::test_util::max_diff;
    use candle_core::Device;

    /// The CPU pass and candle's ops agree over a prefill of ragged rows and two more steps,
    /// the second feeding several tokens to one row.
    #[test]
    fn cpu_pass_matches_candle() -> Result<()> {
        let dev = Device::Cpu;
        let s = RowAttention {
            heads: 6,
            kv: 2,
            d: 20,
            scale: 0.2,
        };
        let pk = Tensor::randn(0f32, 1.0, (s.kv, 5, s.d), &dev)?;
        let pv = Tensor::randn(0f32, 1.0, (s.kv, 5, s.d), &dev)?;
        let mut cpu = vec![RowKv::Empty; 3];
        let mut reference = vec![RowKv::Empty; 3];
        for counts in [[3, 1, 4], [1, 1, 1], [1, 3, 2]] {
            let n: usize = counts.iter().sum();
            let q = Tensor::randn(0f32, 1.0, (n, s.heads, s.d), &dev)?;
            let k = Tensor::randn(0f32, 1.0, (n, s.kv, s.d), &dev)?;
            let v = Tensor::randn(0f32, 1.0, (n, s.kv, s.d), &dev)?;
            let mut a: Vec<&mut RowKv> = cpu.iter_mut().collect();
            let got =
                on_cpu(&q, &k, &v, Some((&pk, &pv)), &mut a, &counts, s)?.expect("CPU tensors");
            let mut b: Vec<&mut RowKv> = reference.iter_mut().collect();
            let want = with_candle(&q, &k, &v, Some((&pk, &pv)), &mut b, &counts, s)?;
            assert!(max_diff(&got, &want)? < 1e-5, "{counts:?}");
        }
        assert!(matches!(cpu[0], RowKv::Host { .. }));
        Ok(())
    }
}
