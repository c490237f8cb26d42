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
    /// Host memory (the CPU pass).
    Host(HostKv),
    /// Device tensors, (kv heads, columns, head size).
    Device { k: Tensor, v: Tensor },
}

/// A row's keys and values in host memory. Keys are stored transposed, (kv heads, head size,
/// capacity), so that scores for sixteen columns are sixteen lanes of one vector; values as
/// (columns, kv heads, head size), so that appending a token is one copy.
#[derive(Debug, Clone)]
pub struct HostKv {
    kt: Vec<f32>,
    v: Vec<f32>,
    capacity: usize,
    len: usize,
}

impl HostKv {
    fn new(s: &RowAttention, capacity: usize) -> HostKv {
        HostKv {
            kt: vec![0.0; s.kv * s.d * capacity],
            v: Vec::with_capacity(s.kv * s.d * capacity),
            capacity,
            len: 0,
        }
    }

    /// Appends `c` tokens' keys and values, (c, kv heads, head size) each.
    fn push(&mut self, s: &RowAttention, k: &[f32], v: &[f32]) {
        let kvd = s.kv * s.d;
        let c = k.len() / kvd;
        if self.len + c > self.capacity {
            let capacity = (self.capacity * 2).max(self.len + c + RESERVE_COLUMNS);
            let mut kt = vec![0.0; kvd * capacity];
            for (new, old) in kt
                .chunks_exact_mut(capacity)
                .zip(self.kt.chunks_exact(self.capacity))
            {
                new[..self.len].copy_from_slice(&old[..self.len]);
            }
            self.kt = kt;
            self.capacity = capacity;
        }
        for (t, key) in k.chunks_exact(kvd).enumerate() {
            for (e, &x) in key.iter().enumerate() {
                self.kt[e * self.capacity + self.len + t] = x;
            }
        }
        self.v.extend_from_slice(v);
        self.len += c;
    }
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
    // The prefix's keys transposed like the rows' own: (kv, d, p).
    let mut pkt = vec![0f32; pk.len().min(s.kv * p * s.d)];
    for g in 0..s.kv {
        for j in 0..p {
            for e in 0..s.d {
                pkt[(g * s.d + e) * p + j] = pk[(g * p + j) * s.d + e];
            }
        }
    }
    let prefix = Prefix { kt: &pkt, v: pv, p };
    caches
        .par_iter_mut()
        .zip(chunks)
        .zip(starts)
        .for_each(|((cache, y), start)| {
            let c = y.len() / width;
            if matches!(cache, RowKv::Empty) {
                **cache = RowKv::Host(HostKv::new(&s, c + RESERVE_COLUMNS));
            }
            let RowKv::Host(own) = &mut **cache else {
                unreachable!("device caches take candle's path");
            };
            let new = start * kvd..(start + c) * kvd;
            own.push(&s, &k[new.clone()], &v[new]);
            let q = &q[start * width..(start + c) * width];
            attend_row(&prefix, q, own, &s, y);
        });
    Ok(Some(Tensor::from_vec(out, (n, width), &device)?))
}

/// The prefix's keys, transposed (kv, d, p), and values (kv, p, d).
struct Prefix<'a> {
    kt: &'a [f32],
    v: &'a [f32],
    p: usize,
}

/// One row's output (c, heads · d) for its `c` queries (c, heads · d), whose tokens are the
/// last `c` columns of `own`. AVX-512 kernels for 64-wide heads (SmolLM2, Qwen2.5-0.5B,
/// Llama 3.2 1B, TinyLlama), else plain loops compiled for AVX2 + FMA where the CPU has them.
fn attend_row(pre: &Prefix, q: &[f32], own: &HostKv, s: &RowAttention, y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if s.d == 64 && std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features.
            return unsafe { avx512::attend_row(pre, q, own, s, y) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features.
            return unsafe { attend_row_avx2(pre, q, own, s, y) };
        }
    }
    attend_row_body::<Portable>(pre, q, own, s, y);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn attend_row_avx2(pre: &Prefix, q: &[f32], own: &HostKv, s: &RowAttention, y: &mut [f32]) {
    attend_row_body::<Portable>(pre, q, own, s, y);
}

/// The two products of attention, for the `rep` query heads that share a key/value head.
trait Products {
    /// `out[r · out_cols + j] = Σₑ q[r · d + e] · kt[e · stride + j]` for `j < cols`.
    fn scores(
        q: &[f32],
        d: usize,
        kt: &[f32],
        stride: usize,
        cols: usize,
        out: &mut [f32],
        out_cols: usize,
    );
    /// `y[r · d + e] += Σⱼ w[r · w_cols + j] · v[j · stride + e]` for `j < cols`.
    fn values(
        w: &[f32],
        w_cols: usize,
        v: &[f32],
        stride: usize,
        cols: usize,
        d: usize,
        y: &mut [f32],
    );
}

/// Plain loops the compiler vectorizes.
struct Portable;

impl Products for Portable {
    #[inline(always)]
    fn scores(
        q: &[f32],
        d: usize,
        kt: &[f32],
        stride: usize,
        cols: usize,
        out: &mut [f32],
        out_cols: usize,
    ) {
        for (r, q) in q.chunks_exact(d).enumerate() {
            let out = &mut out[r * out_cols..][..cols];
            out.fill(0.0);
            for (e, &qe) in q.iter().enumerate() {
                let k = &kt[e * stride..][..cols];
                out.iter_mut().zip(k).for_each(|(o, k)| *o += qe * k);
            }
        }
    }

    #[inline(always)]
    fn values(
        w: &[f32],
        w_cols: usize,
        v: &[f32],
        stride: usize,
        cols: usize,
        d: usize,
        y: &mut [f32],
    ) {
        for (r, y) in y.chunks_exact_mut(d).enumerate() {
            for (j, &wj) in w[r * w_cols..][..cols].iter().enumerate() {
                let v = &v[j * stride..][..d];
                y.iter_mut().zip(v).for_each(|(y, v)| *y += wj * v);
            }
        }
    }
}

/// Each group of query heads that share a key/value head reads its keys and values once.
#[inline(always)]
fn attend_row_body<P: Products>(
    pre: &Prefix,
    q: &[f32],
    own: &HostKv,
    s: &RowAttention,
    y: &mut [f32],
) {
    let (p, d) = (pre.p, s.d);
    let (width, kvd) = (s.heads * d, s.kv * d);
    let rep = s.heads / s.kv;
    let (c, len) = (q.len() / width, own.len);
    let mut scores = vec![0f32; rep * (p + len)];
    for g in 0..s.kv {
        let pre_kt = &pre.kt[g * d * p..][..d * p];
        let pre_v = &pre.v[g * p * d..][..p * d];
        let own_kt = &own.kt[g * d * own.capacity..][..d * own.capacity];
        let own_v = &own.v[g * d..];
        for i in 0..c {
            // Query i sees the prefix and its row's columns up to itself.
            let seen = len - c + i + 1;
            let cols = p + seen;
            let qg = &q[i * width + g * rep * d..][..rep * d];
            P::scores(qg, d, pre_kt, p, p, &mut scores, cols);
            P::scores(qg, d, own_kt, own.capacity, seen, &mut scores[p..], cols);
            for r in 0..rep {
                softmax(&mut scores[r * cols..(r + 1) * cols], s.scale);
            }
            let yg = &mut y[i * width + g * rep * d..][..rep * d];
            P::values(&scores, cols, pre_v, d, p, d, yg);
            P::values(&scores[p..], cols, own_v, kvd, seen, d, yg);
        }
    }
}

/// The products for 64-wide heads with AVX-512: sixteen columns' scores per vector (keys
/// are stored transposed), up to four heads' accumulators held in registers.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{attend_row_body, HostKv, Prefix, Products, RowAttention};
    use std::arch::x86_64::*;

    const D: usize = 64;

    /// `f::<h>(args)` for a head count `h` of 1 to 4.
    macro_rules! for_heads {
        ($h:expr, $f:ident($($arg:expr),*)) => {
            match $h {
                4 => $f::<4>($($arg),*),
                3 => $f::<3>($($arg),*),
                2 => $f::<2>($($arg),*),
                _ => $f::<1>($($arg),*),
            }
        };
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn attend_row(
        pre: &Prefix,
        q: &[f32],
        own: &HostKv,
        s: &RowAttention,
        y: &mut [f32],
    ) {
        attend_row_body::<Avx512>(pre, q, own, s, y);
    }

    struct Avx512;

    impl Products for Avx512 {
        #[inline(always)]
        fn scores(
            q: &[f32],
            d: usize,
            kt: &[f32],
            stride: usize,
            cols: usize,
            out: &mut [f32],
            out_cols: usize,
        ) {
            debug_assert_eq!(d, D);
            in_chunks(q.len() / D, |r, h| {
                let (q, out) = (&q[r * D..], &mut out[r * out_cols..]);
                // SAFETY: called only from `attend_row` (AVX-512F present); every load and
                // store is masked to `cols` columns within the slices' bounds.
                unsafe { for_heads!(h, scores_h(q, kt, stride, cols, out, out_cols)) }
            });
        }

        #[inline(always)]
        fn values(
            w: &[f32],
            w_cols: usize,
            v: &[f32],
            stride: usize,
            cols: usize,
            d: usize,
            y: &mut [f32],
        ) {
            debug_assert_eq!(d, D);
            in_chunks(y.len() / D, |r, h| {
                let (w, y) = (&w[r * w_cols..], &mut y[r * D..]);
                // SAFETY: as in `scores`; value rows are read whole (`D` floats each).
                unsafe { for_heads!(h, values_h(w, w_cols, v, stride, cols, y)) }
            });
        }
    }

    /// `f(first, count)` over `heads` in chunks of at most four (the accumulators of four
    /// heads fit in the registers).
    #[inline(always)]
    fn in_chunks(heads: usize, mut f: impl FnMut(usize, usize)) {
        let mut r = 0;
        while r < heads {
            let h = (heads - r).min(4);
            f(r, h);
            r += h;
        }
    }

    /// Scores of `H` heads for sixteen columns at a time.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn scores_h<const H: usize>(
        q: &[f32],
        kt: &[f32],
        stride: usize,
        cols: usize,
        out: &mut [f32],
        out_cols: usize,
    ) {
        assert!(q.len() >= H * D && (cols == 0 || kt.len() >= (D - 1) * stride + cols));
        assert!(out.len() >= (H - 1) * out_cols + cols);
        let mut j = 0;
        while j < cols {
            let live = (cols - j).min(16);
            let mask: __mmask16 = if live == 16 { !0 } else { (1u16 << live) - 1 };
            let mut acc = [_mm512_setzero_ps(); H];
            for e in 0..D {
                let k = _mm512_maskz_loadu_ps(mask, kt.as_ptr().add(e * stride + j));
                for (h, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm512_fmadd_ps(_mm512_set1_ps(*q.get_unchecked(h * D + e)), k, *acc);
                }
            }
            for (h, acc) in acc.iter().enumerate() {
                _mm512_mask_storeu_ps(out.as_mut_ptr().add(h * out_cols + j), mask, *acc);
            }
            j += 16;
        }
    }

    /// Weighted sums of `cols` value rows for `H` heads, accumulators in registers.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn values_h<const H: usize>(
        w: &[f32],
        w_cols: usize,
        v: &[f32],
        stride: usize,
        cols: usize,
        y: &mut [f32],
    ) {
        assert!(y.len() >= H * D && w.len() >= (H - 1) * w_cols + cols);
        assert!(cols == 0 || v.len() >= (cols - 1) * stride + D);
        let mut acc = [[_mm512_setzero_ps(); 4]; H];
        for (h, acc) in acc.iter_mut().enumerate() {
            for (u, a) in acc.iter_mut().enumerate() {
                *a = _mm512_loadu_ps(y.as_ptr().add(h * D + u * 16));
            }
        }
        for j in 0..cols {
            let row = v.as_ptr().add(j * stride);
            let vs = [0, 1, 2, 3].map(|u| _mm512_loadu_ps(row.add(u * 16)));
            for (h, acc) in acc.iter_mut().enumerate() {
                let wj = _mm512_set1_ps(*w.get_unchecked(h * w_cols + j));
                for (a, v) in acc.iter_mut().zip(vs) {
                    *a = _mm512_fmadd_ps(wj, v, *a);
                }
            }
        }
        for (h, acc) in acc.iter().enumerate() {
            for (u, a) in acc.iter().enumerate() {
                _mm512_storeu_ps(y.as_mut_ptr().add(h * D + u * 16), *a);
            }
        }
    }
}

/// Softmax of `scale · x` in place (`scale > 0`), with a vectorizable `exp`.
#[inline(always)]
fn softmax(x: &mut [f32], scale: f32) {
    let max = x.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v));
    x.iter_mut().for_each(|v| *v = fast_exp((*v - max) * scale));
    let inv = 1.0 / x.iter().sum::<f32>();
    x.iter_mut().for_each(|v| *v *= inv);
}

/// `e^x` for `x ≤ 0` (softmax after subtracting the maximum), relative error below 2e-7:
/// `2^n · e^r` with `|r| ≤ ln2/2` and a degree-6 polynomial, branch-free so loops over it
/// vectorize. Below −87 it gives e^−87 (1.6e-38, nothing next to the maximum's 1).
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    let x = x.max(-87.0);
    // Round to nearest by adding and removing 1.5·2²³ (no libm call, so it vectorizes).
    const ROUND: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    // r = x − n·ln2, with ln2 split in two for precision (Cody–Waite).
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_889)))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
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
            RowKv::Host(_) => candle_core::bail!("row_attention: a host cache off the CPU"),
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

    /// The CPU pass and candle's ops agree over a prefill of ragged rows and more steps,
    /// some feeding several tokens to a row, one outgrowing the caches' first capacity; for
    /// 64-wide heads (the AVX-512 kernels where the CPU has them) and another size.
    #[test]
    fn cpu_pass_matches_candle() -> Result<()> {
        let dev = Device::Cpu;
        for (heads, kv, d) in [(6, 2, 20), (9, 3, 64), (8, 1, 64)] {
            let s = RowAttention {
                heads,
                kv,
                d,
                scale: 1.0 / (d as f32).sqrt(),
            };
            for p in [5, 0] {
                let pk = Tensor::randn(0f32, 1.0, (kv, p, d), &dev)?;
                let pv = Tensor::randn(0f32, 1.0, (kv, p, d), &dev)?;
                let prefix = (p > 0).then_some((&pk, &pv));
                let mut cpu = vec![RowKv::Empty; 3];
                let mut reference = vec![RowKv::Empty; 3];
                for counts in [[3, 1, 4], [1, 1, 1], [1, 3, 2], [60, 1, 17], [1, 1, 1]] {
                    let n: usize = counts.iter().sum();
                    let q = Tensor::randn(0f32, 1.0, (n, heads, d), &dev)?;
                    let k = Tensor::randn(0f32, 1.0, (n, kv, d), &dev)?;
                    let v = Tensor::randn(0f32, 1.0, (n, kv, d), &dev)?;
                    let mut a: Vec<&mut RowKv> = cpu.iter_mut().collect();
                    let got = on_cpu(&q, &k, &v, prefix, &mut a, &counts, s)?.expect("CPU tensors");
                    let mut b: Vec<&mut RowKv> = reference.iter_mut().collect();
                    let want = with_candle(&q, &k, &v, prefix, &mut b, &counts, s)?;
                    let diff = max_diff(&got, &want)?;
                    assert!(diff < 1e-5, "d {d} p {p} {counts:?}: {diff}");
                }
                assert!(matches!(cpu[0], RowKv::Host(_)));
            }
        }
        Ok(())
    }

    #[test]
    fn token_counts_must_cover_the_rows() -> Result<()> {
        let dev = Device::Cpu;
        let s = RowAttention {
            heads: 2,
            kv: 1,
            d: 16,
            scale: 0.25,
        };
        let q = Tensor::zeros((3, 2, 16), candle_core::DType::F32, &dev)?;
        let kv = Tensor::zeros((3, 1, 16), candle_core::DType::F32, &dev)?;
        let mut caches = vec![RowKv::Empty; 2];
        // Two rows, three tokens: too few, one count for two rows, too many.
        for counts in [&[1, 1][..], &[3], &[2, 2]] {
            let mut refs: Vec<&mut RowKv> = caches.iter_mut().collect();
            let err = row_attention(&q, &kv, &kv, None, &mut refs, counts, s).unwrap_err();
            assert!(err
                .to_string()
                .contains("one cache and one token count per row"));
        }
        assert!(
            caches.iter().all(|c| matches!(c, RowKv::Empty)),
            "nothing appended"
        );
        Ok(())
    }

    #[test]
    fn fast_exp_is_exp_to_float_precision() {
        for i in 0..=17_400 {
            let x = -(i as f32) * 0.005;
            let (got, want) = (fast_exp(x), x.exp());
            assert!(
                (got - want).abs() <= 3e-7 * want + 1e-38,
                "exp({x}): {got} vs {want}"
            );
        }
        assert!(fast_exp(-1000.0) < 2e-38);
    }
}
