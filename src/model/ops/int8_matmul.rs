//! Inference-only `x · Wᵀ` in 8-bit integers (AVX-512 VNNI), quantized in blocks of [`BK`]
//! along the inner dimension as llama.cpp's Q8_0 is: the weight once (one scale per block of
//! each output column), each input row when it comes (one scale per block of the row). Each
//! block's products are summed exactly in `i32` by `vpdpbusd` (64 multiply-adds per
//! instruction, four times the f32 FMA rate of the same core), then scaled into an f32 sum.
//! Per-block scales keep the few large channels of a row from flattening the rest (one scale
//! per whole row moved SmolLM2's logits by 14 % of their range). Used by prediction and
//! evaluation after the adapter is merged; training never goes through it.
//!
//! `vpdpbusd` multiplies unsigned by signed bytes, so rows are stored shifted by 128
//! (`p + 128`, in 1..=255) and `128 · Σ q` over each block of a column is taken off again.
//!
//! The same integers are summed on the CPUs most laptops have ([`Kernel`]): AVX-VNNI (the
//! 256-bit `vpdpbusd` of recent Intel and AMD client chips), plain AVX2 (the row's signed
//! bytes `p`: `|p| · (q · sign p)` by `vpmaddubsw`, whose pair sums stay within `i16` because
//! both factors are at most 127, then widened by `vpmaddwd`, as llama.cpp's Q8_0 dot does),
//! and NEON on ARM (`smull` + `sadalp`, exact in `i16`/`i32`); a portable path elsewhere.
//! Every kernel sums exactly the same integers, so they differ only in f32 rounding.

use super::{contiguous, on_cpu_f32};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Output columns per panel: three 16-lane registers.
const NR: usize = 48;
/// Rows per register block (4 rows × 3 registers of i32 block sums + as many f32 sums).
#[cfg(target_arch = "x86_64")]
const MR: usize = 4;
/// Inner-dimension block with its own scales.
const BK: usize = 32;
/// Rows per outer block (their quantized bytes stay in L2 while every panel passes over them).
const M_BLOCK: usize = 256;

/// A weight quantized to signed bytes per block of each output column, packed for the kernel.
#[derive(Debug)]
pub struct Int8Weight {
    /// Input features.
    k: usize,
    /// Blocks of [`BK`] inputs (the last one zero-padded).
    kb: usize,
    /// Output features.
    n: usize,
    /// Panels of [`NR`] columns: `[panel][kb · BK / 4][NR][4]` bytes, zero past `n` and `k`.
    packed: Vec<i8>,
    /// `[panel][kb][NR]`: the scale `s` of each column's block.
    scale: Vec<f32>,
    /// `[panel][kb][NR]`: `s · 128 · Σ q` over each column's block (the shift taken off).
    shift: Vec<f32>,
}

/// The integer kernels, fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// 512-bit `vpdpbusd` (Intel server and recent desktop chips, AMD Zen 4+).
    Avx512Vnni,
    /// 256-bit `vpdpbusd` (Intel Alder Lake and later client chips, AMD Zen 5).
    AvxVnni,
    /// `vpmaddubsw` + `vpmaddwd` (every x86-64 chip since Haswell).
    Avx2,
    /// `smull` + `sadalp` (every 64-bit ARM chip: Apple Silicon, Graviton, Snapdragon).
    Neon,
    /// Plain Rust (tests; no CPU uses it for prediction).
    Portable,
}

impl Kernel {
    /// Every kernel, fastest first.
    pub const ALL: [Kernel; 5] = [
        Kernel::Avx512Vnni,
        Kernel::AvxVnni,
        Kernel::Avx2,
        Kernel::Neon,
        Kernel::Portable,
    ];

    /// The name `TUNEDESK_INT8_KERNEL` takes.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512Vnni => "avx512-vnni",
            Kernel::AvxVnni => "avx-vnni",
            Kernel::Avx2 => "avx2",
            Kernel::Neon => "neon",
            Kernel::Portable => "portable",
        }
    }

    /// True when this CPU has the kernel's instructions.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        let x86 = |f: &[bool]| f.iter().all(|&b| b);
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => x86(&[
                std::is_x86_feature_detected!("avx512f"),
                std::is_x86_feature_detected!("avx512bw"),
                std::is_x86_feature_detected!("avx512vnni"),
            ]),
            #[cfg(target_arch = "x86_64")]
            Kernel::AvxVnni => x86(&[
                std::is_x86_feature_detected!("avx2"),
                std::is_x86_feature_detected!("fma"),
                std::is_x86_feature_detected!("avxvnni"),
            ]),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => x86(&[
                std::is_x86_feature_detected!("avx2"),
                std::is_x86_feature_detected!("fma"),
            ]),
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => true,
            Kernel::Portable => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The kernel prediction uses: the one `TUNEDESK_INT8_KERNEL` names when this CPU has it
    /// (benchmarks compare them on one machine), else the fastest this CPU has.
    pub fn active() -> Kernel {
        static ACTIVE: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        *ACTIVE.get_or_init(|| {
            let asked = std::env::var("TUNEDESK_INT8_KERNEL").ok();
            let named = Kernel::ALL
                .into_iter()
                .find(|k| asked.as_deref() == Some(k.name()) && k.available());
            named.unwrap_or_else(|| {
                Kernel::ALL
                    .into_iter()
                    .find(|k| k.available())
                    .unwrap_or(Kernel::Portable)
            })
        })
    }
}

impl Int8Weight {
    /// True when prediction takes the 8-bit path here: the CPU has one of the SIMD kernels
    /// (or `TUNEDESK_INT8_KERNEL=portable` asks for the portable one).
    pub fn supported() -> bool {
        Kernel::active() != Kernel::Portable
            || std::env::var("TUNEDESK_INT8_KERNEL").as_deref() == Ok("portable")
    }

    /// Quantizes `wt = Wᵀ`, (k × n) row-major (panels in parallel).
    pub fn new(wt: &[f32], k: usize, n: usize) -> Int8Weight {
        assert_eq!(wt.len(), k * n, "int8 weight: {k} × {n} expected");
        let kb = k.div_ceil(BK);
        let panels = n.div_ceil(NR);
        let mut packed = vec![0i8; panels * kb * BK * NR];
        let mut scale = vec![0f32; panels * kb * NR];
        let mut shift = vec![0f32; panels * kb * NR];
        packed
            .par_chunks_mut(kb * BK * NR)
            .zip(scale.par_chunks_mut(kb * NR))
            .zip(shift.par_chunks_mut(kb * NR))
            .enumerate()
            .for_each(|(panel, ((packed, scale), shift))| {
                // Row by row over the panel's columns (contiguous in `wt`).
                let (c0, lanes) = (panel * NR, NR.min(n - panel * NR));
                for b in 0..kb {
                    let rows = b * BK..((b + 1) * BK).min(k);
                    let mut amax = [0f32; NR];
                    for r in rows.clone() {
                        let w = &wt[r * n + c0..][..lanes];
                        amax.iter_mut()
                            .zip(w)
                            .for_each(|(a, x)| *a = a.max(x.abs()));
                    }
                    let s = amax.map(|a| if a > 0.0 { a / 127.0 } else { 1.0 });
                    let inv = s.map(|s| 1.0 / s);
                    let mut sum = [0i32; NR];
                    for r in rows {
                        let w = &wt[r * n + c0..][..lanes];
                        for (lane, &x) in w.iter().enumerate() {
                            let q = round_even(x * inv[lane]) as i8;
                            packed[((r / 4) * NR + lane) * 4 + r % 4] = q;
                            sum[lane] += i32::from(q);
                        }
                    }
                    for lane in 0..lanes {
                        scale[b * NR + lane] = s[lane];
                        shift[b * NR + lane] = s[lane] * 128.0 * sum[lane] as f32;
                    }
                }
            });
        Int8Weight {
            k,
            kb,
            n,
            packed,
            scale,
            shift,
        }
    }

    /// Quantizes a weight held as candle's (k × n) `Wᵀ` tensor.
    pub fn of_tensor(wt: &Tensor) -> Result<Int8Weight> {
        let (k, n) = wt.dims2()?;
        let data: Vec<f32> = wt
            .to_dtype(candle_core::DType::F32)?
            .flatten_all()?
            .to_vec1()?;
        Ok(Int8Weight::new(&data, k, n))
    }

    /// `x (m × k) · W` → (m × n), f32, by the active kernel.
    pub fn product(&self, x: &[f32], m: usize) -> Vec<f32> {
        self.product_with(Kernel::active(), x, m)
    }

    /// `x (m × k) · W` → (m × n), f32, by `kernel` (which this CPU must have).
    ///
    /// # Panics
    /// If the CPU lacks `kernel`.
    pub fn product_with(&self, kernel: Kernel, x: &[f32], m: usize) -> Vec<f32> {
        assert!(kernel.available(), "int8-matmul: no {kernel:?} here");
        let (rows, row_scale) = quantize_rows(x, m, self.k, self.kb);
        // Not zeroed first: the panels write every element (a fresh zeroed buffer cost page
        // faults on every call for the LM head's outputs).
        let mut out: Vec<f32> = Vec::with_capacity(m * self.n);
        let stride = self.kb * BK;
        for start in (0..m).step_by(M_BLOCK) {
            let len = M_BLOCK.min(m - start);
            let block = Block {
                rows: &rows[start * stride..(start + len) * stride],
                row_scale: &row_scale[start * self.kb..(start + len) * self.kb],
                // SAFETY: inside the capacity.
                out: SendPtr(unsafe { out.as_mut_ptr().add(start * self.n) }),
                m: len,
            };
            (0..self.n.div_ceil(NR))
                .into_par_iter()
                .for_each(|panel| self.panel(kernel, &block, panel));
        }
        // SAFETY: every row of every panel, i.e. all `m · n` elements, was written above.
        unsafe { out.set_len(m * self.n) };
        out
    }

    /// One panel of [`NR`] columns for every row of `block`, by `kernel` (available).
    fn panel(&self, kernel: Kernel, block: &Block, panel: usize) {
        // SAFETY (every arm): the CPU has the kernel's features (checked by `product_with`);
        // a kernel writes only this panel's columns of `block.out`, which no other task
        // touches.
        match kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => unsafe { self.panel_vnni(block, panel) },
            #[cfg(target_arch = "x86_64")]
            Kernel::AvxVnni => unsafe { x86::panel_avx_vnni(self, block, panel) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { x86::panel_avx2(self, block, panel) },
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => unsafe { neon::panel(self, block, panel) },
            _ => self.panel_scalar(block, panel),
        }
    }

    /// The same arithmetic as the kernel, in plain Rust (other CPUs, tests).
    fn panel_scalar(&self, block: &Block, panel: usize) {
        let stride = self.kb * BK;
        let w = &self.packed[panel * stride * NR..(panel + 1) * stride * NR];
        for r in 0..block.m {
            let a = &block.rows[r * stride..(r + 1) * stride];
            for lane in 0..NR {
                let col = panel * NR + lane;
                if col >= self.n {
                    break;
                }
                let mut sum = 0f32;
                for b in 0..self.kb {
                    let mut acc = 0i32;
                    for kk in b * BK..(b + 1) * BK {
                        acc += i32::from(a[kk]) * i32::from(w[((kk / 4) * NR + lane) * 4 + kk % 4]);
                    }
                    let at = (panel * self.kb + b) * NR + lane;
                    let t = self.scale[at] * acc as f32 - self.shift[at];
                    sum += block.row_scale[r * self.kb + b] * t;
                }
                // SAFETY: (r, col) is inside the block's output, owned by this panel's task.
                unsafe { *block.out.0.add(r * self.n + col) = sum };
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn panel_vnni(&self, block: &Block, panel: usize) {
        let mut r = 0;
        while r + MR <= block.m {
            self.kernel::<MR>(block, panel, r);
            r += MR;
        }
        match block.m - r {
            0 => {}
            1 => self.kernel::<1>(block, panel, r),
            2 => self.kernel::<2>(block, panel, r),
            _ => self.kernel::<3>(block, panel, r),
        }
    }

    /// Rows `r0..r0 + R` × one panel, over the whole of `k`: per block, `R × 3` registers of
    /// exact `i32` sums, then scaled into as many f32 sums.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn kernel<const R: usize>(&self, block: &Block, panel: usize, r0: usize) {
        use std::arch::x86_64::*;
        let stride = self.kb * BK;
        let w = self.packed.as_ptr().add(panel * stride * NR);
        let a = block.rows.as_ptr().add(r0 * stride);
        let mut sums = [[_mm512_setzero_ps(); 3]; R];
        for b in 0..self.kb {
            let mut acc = [[_mm512_setzero_si512(); 3]; R];
            for g in b * BK / 4..(b + 1) * BK / 4 {
                let wg = w.add(g * NR * 4);
                let b0 = _mm512_loadu_si512(wg as *const __m512i);
                let b1 = _mm512_loadu_si512(wg.add(64) as *const __m512i);
                let b2 = _mm512_loadu_si512(wg.add(128) as *const __m512i);
                for (i, acc) in acc.iter_mut().enumerate() {
                    let p = (a.add(i * stride + g * 4) as *const i32).read_unaligned();
                    let av = _mm512_set1_epi32(p);
                    acc[0] = _mm512_dpbusd_epi32(acc[0], av, b0);
                    acc[1] = _mm512_dpbusd_epi32(acc[1], av, b1);
                    acc[2] = _mm512_dpbusd_epi32(acc[2], av, b2);
                }
            }
            let at = (panel * self.kb + b) * NR;
            let scale = self.scale.as_ptr().add(at);
            let shift = self.shift.as_ptr().add(at);
            for (i, (acc, sums)) in acc.iter().zip(sums.iter_mut()).enumerate() {
                let rs = _mm512_set1_ps(*block.row_scale.get_unchecked((r0 + i) * self.kb + b));
                for j in 0..3 {
                    let t = _mm512_fmsub_ps(
                        _mm512_loadu_ps(scale.add(j * 16)),
                        _mm512_cvtepi32_ps(acc[j]),
                        _mm512_loadu_ps(shift.add(j * 16)),
                    );
                    sums[j] = _mm512_fmadd_ps(rs, t, sums[j]);
                }
            }
        }
        let col0 = panel * NR;
        for (i, sums) in sums.iter().enumerate() {
            let out = block.out.0.add((r0 + i) * self.n);
            for (j, &v) in sums.iter().enumerate() {
                let col = col0 + j * 16;
                if col >= self.n {
                    break;
                }
                let live = (self.n - col).min(16);
                let mask: __mmask16 = if live == 16 { !0 } else { (1u16 << live) - 1 };
                _mm512_mask_storeu_ps(out.add(col), mask, v);
            }
        }
    }
}

/// The 256-bit kernels: AVX-VNNI and AVX2 share their loops and differ in the multiply-add.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Block, Int8Weight, BK, NR};
    use std::arch::x86_64::*;

    /// Rows per register block: AVX-VNNI keeps 4 × 3 accumulators and the three weight
    /// registers in its 16; AVX2 needs four more registers for its sign trick, so 2 rows.
    const R_VNNI: usize = 4;
    const R_AVX2: usize = 2;
    /// Columns per pass: three 8-lane registers (half a panel).
    const HALF: usize = 24;

    #[target_feature(enable = "avx2,fma,avxvnni")]
    pub(super) unsafe fn panel_avx_vnni(w: &Int8Weight, block: &Block, panel: usize) {
        rows::<true, R_VNNI>(w, block, panel)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn panel_avx2(w: &Int8Weight, block: &Block, panel: usize) {
        rows::<false, R_AVX2>(w, block, panel)
    }

    #[inline(always)]
    unsafe fn rows<const VNNI: bool, const R: usize>(w: &Int8Weight, block: &Block, panel: usize) {
        for half in 0..NR / HALF {
            let mut r = 0;
            while r + R <= block.m {
                kernel::<R, VNNI>(w, block, panel, half, r);
                r += R;
            }
            match block.m - r {
                0 => {}
                1 => kernel::<1, VNNI>(w, block, panel, half, r),
                2 => kernel::<2, VNNI>(w, block, panel, half, r),
                _ => kernel::<3, VNNI>(w, block, panel, half, r),
            }
        }
    }

    /// Rows `r0..r0 + N` × the `half`-th 24 columns of a panel, over the whole of `k`. With
    /// `VNNI`, `vpdpbusd` on the shifted rows (the shift taken off after); without, the rows'
    /// signed bytes through `vpmaddubsw(|p|, q · sign p)` and `vpmaddwd`.
    #[inline(always)]
    unsafe fn kernel<const N: usize, const VNNI: bool>(
        w: &Int8Weight,
        block: &Block,
        panel: usize,
        half: usize,
        r0: usize,
    ) {
        let stride = w.kb * BK;
        let wp = w.packed.as_ptr().add(panel * stride * NR + half * HALF * 4);
        let a = block.rows.as_ptr().add(r0 * stride);
        let (flip, ones) = (_mm256_set1_epi8(-128), _mm256_set1_epi16(1));
        let mut sums = [[_mm256_setzero_ps(); 3]; N];
        for b in 0..w.kb {
            let mut acc = [[_mm256_setzero_si256(); 3]; N];
            for g in b * BK / 4..(b + 1) * BK / 4 {
                let wg = wp.add(g * NR * 4);
                let q = [
                    _mm256_loadu_si256(wg as *const __m256i),
                    _mm256_loadu_si256(wg.add(32) as *const __m256i),
                    _mm256_loadu_si256(wg.add(64) as *const __m256i),
                ];
                for (i, acc) in acc.iter_mut().enumerate() {
                    let p = (a.add(i * stride + g * 4) as *const i32).read_unaligned();
                    let av = _mm256_set1_epi32(p);
                    if VNNI {
                        for j in 0..3 {
                            acc[j] = _mm256_dpbusd_avx_epi32(acc[j], av, q[j]);
                        }
                    } else {
                        let signed = _mm256_xor_si256(av, flip);
                        let abs = _mm256_abs_epi8(signed);
                        for j in 0..3 {
                            let pairs = _mm256_maddubs_epi16(abs, _mm256_sign_epi8(q[j], signed));
                            acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(pairs, ones));
                        }
                    }
                }
            }
            let at = (panel * w.kb + b) * NR + half * HALF;
            let (scale, shift) = (w.scale.as_ptr().add(at), w.shift.as_ptr().add(at));
            for (i, (acc, sums)) in acc.iter().zip(sums.iter_mut()).enumerate() {
                let rs = _mm256_set1_ps(*block.row_scale.get_unchecked((r0 + i) * w.kb + b));
                for j in 0..3 {
                    let s = _mm256_loadu_ps(scale.add(j * 8));
                    let t = if VNNI {
                        _mm256_fmsub_ps(
                            s,
                            _mm256_cvtepi32_ps(acc[j]),
                            _mm256_loadu_ps(shift.add(j * 8)),
                        )
                    } else {
                        _mm256_mul_ps(s, _mm256_cvtepi32_ps(acc[j]))
                    };
                    sums[j] = _mm256_fmadd_ps(rs, t, sums[j]);
                }
            }
        }
        let col0 = panel * NR + half * HALF;
        for (i, sums) in sums.iter().enumerate() {
            let out = block.out.0.add((r0 + i) * w.n);
            for (j, &v) in sums.iter().enumerate() {
                let col = col0 + j * 8;
                if col >= w.n {
                    break;
                }
                if col + 8 <= w.n {
                    _mm256_storeu_ps(out.add(col), v);
                } else {
                    let mut lanes = [0f32; 8];
                    _mm256_storeu_ps(lanes.as_mut_ptr(), v);
                    std::ptr::copy_nonoverlapping(lanes.as_ptr(), out.add(col), w.n - col);
                }
            }
        }
    }
}

/// The NEON kernel: the rows' signed bytes times the weight's by `smull`/`smull2` (exact in
/// `i16`), pairwise accumulated into `i32` by `sadalp`.
#[cfg(target_arch = "aarch64")]
mod neon {
    use super::{Block, Int8Weight, BK, NR};
    use std::arch::aarch64::*;

    /// Columns per pass: four 4-lane registers.
    const COLS: usize = 16;

    pub(super) unsafe fn panel(w: &Int8Weight, block: &Block, panel: usize) {
        for part in 0..NR / COLS {
            for r in 0..block.m {
                row(w, block, panel, part, r);
            }
        }
    }

    #[inline(always)]
    unsafe fn row(w: &Int8Weight, block: &Block, panel: usize, part: usize, r: usize) {
        let stride = w.kb * BK;
        let wp = w.packed.as_ptr().add(panel * stride * NR + part * COLS * 4);
        let a = block.rows.as_ptr().add(r * stride);
        let mut sums = [vdupq_n_f32(0.0); 4];
        for b in 0..w.kb {
            // Per register: lanes (0, 1) and (2, 3), each as pairs of partial sums.
            let mut lo = [vdupq_n_s32(0); 4];
            let mut hi = [vdupq_n_s32(0); 4];
            for g in b * BK / 4..(b + 1) * BK / 4 {
                let p = (a.add(g * 4) as *const u32).read_unaligned() ^ 0x8080_8080;
                let av = vreinterpretq_s8_u32(vdupq_n_u32(p));
                let wg = wp.add(g * NR * 4);
                for j in 0..4 {
                    let q = vld1q_s8(wg.add(j * 16));
                    lo[j] = vpadalq_s16(lo[j], vmull_s8(vget_low_s8(q), vget_low_s8(av)));
                    hi[j] = vpadalq_s16(hi[j], vmull_high_s8(q, av));
                }
            }
            let at = (panel * w.kb + b) * NR + part * COLS;
            let rs = vdupq_n_f32(*block.row_scale.get_unchecked(r * w.kb + b));
            for j in 0..4 {
                let acc = vpaddq_s32(lo[j], hi[j]);
                let s = vld1q_f32(w.scale.as_ptr().add(at + j * 4));
                let t = vmulq_f32(s, vcvtq_f32_s32(acc));
                sums[j] = vfmaq_f32(sums[j], rs, t);
            }
        }
        let out = block.out.0.add(r * w.n);
        let col0 = panel * NR + part * COLS;
        for (j, &v) in sums.iter().enumerate() {
            let col = col0 + j * 4;
            if col >= w.n {
                break;
            }
            let mut lanes = [0f32; 4];
            vst1q_f32(lanes.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(lanes.as_ptr(), out.add(col), (w.n - col).min(4));
        }
    }
}

/// A block of quantized rows and where its outputs go.
struct Block<'a> {
    /// `m` rows of `kb · BK` bytes, shifted by 128.
    rows: &'a [u8],
    /// `m × kb` scales, one per block of each row.
    row_scale: &'a [f32],
    /// The first output row (rows of `n`).
    out: SendPtr,
    m: usize,
}

/// The output pointer, shared by panel tasks that write disjoint columns.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: every task writes only its own panel's columns (see `Int8Weight::panel`).
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

/// Each block of [`BK`] values of each row of `x` (m × k) as `round(x / a) + 128`, with
/// `a = max |x| / 127` over the block; rows padded to `kb` blocks with the zero 128.
fn quantize_rows(x: &[f32], m: usize, k: usize, kb: usize) -> (Vec<u8>, Vec<f32>) {
    let mut rows = vec![128u8; m * kb * BK];
    let mut scales = vec![1f32; m * kb];
    rows.par_chunks_mut(kb * BK)
        .zip(scales.par_chunks_mut(kb))
        .enumerate()
        .for_each(|(r, (q, s))| {
            let x = &x[r * k..(r + 1) * k];
            for ((q, s), x) in q.chunks_mut(BK).zip(s.iter_mut()).zip(x.chunks(BK)) {
                quantize_block(x, q, s);
            }
        });
    (rows, scales)
}

/// One block: `q = round(x / s) + 128` with `s = max |x| / 127` (1 for an all-zero block).
fn quantize_block(x: &[f32], q: &mut [u8], s: &mut f32) {
    #[cfg(target_arch = "x86_64")]
    if x.len() == BK && Kernel::Avx512Vnni.available() {
        // SAFETY: the CPU has the features, and both slices hold a whole block.
        return unsafe { quantize_block_avx512(x, q, s) };
    }
    let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
    if amax > 0.0 {
        *s = amax / 127.0;
    }
    let inv = 1.0 / *s;
    for (q, &v) in q.iter_mut().zip(x) {
        *q = ((v * inv).round_ties_even().clamp(-127.0, 127.0) as i32 + 128) as u8;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn quantize_block_avx512(x: &[f32], q: &mut [u8], s: &mut f32) {
    use std::arch::x86_64::*;
    let v = [
        _mm512_loadu_ps(x.as_ptr()),
        _mm512_loadu_ps(x.as_ptr().add(16)),
    ];
    let amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v[0]), _mm512_abs_ps(v[1])));
    if amax > 0.0 {
        *s = amax / 127.0;
    }
    let inv = _mm512_set1_ps(1.0 / *s);
    let (lo, hi) = (_mm512_set1_epi32(1), _mm512_set1_epi32(255));
    for (h, v) in v.iter().enumerate() {
        // Rounds to nearest even (the default MXCSR mode), as the scalar path does.
        let i = _mm512_cvtps_epi32(_mm512_mul_ps(*v, inv));
        let u = _mm512_min_epi32(
            _mm512_max_epi32(_mm512_add_epi32(i, _mm512_set1_epi32(128)), lo),
            hi,
        );
        _mm_storeu_si128(
            q.as_mut_ptr().add(h * 16) as *mut __m128i,
            _mm512_cvtepi32_epi8(u),
        );
    }
}

/// `x` rounded to the nearest integer, ties to even, for `|x| < 2²²` (the same as
/// `round_ties_even`, without a libm call: adding and removing 1.5·2²³ leaves the rounding to
/// the FPU's default mode).
#[inline(always)]
fn round_even(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (x + MAGIC) - MAGIC
}

/// The candle op over a borrowed weight (forward only).
struct Int8Matmul<'a>(&'a Int8Weight);

impl CustomOp1 for Int8Matmul<'_> {
    fn name(&self) -> &'static str {
        "int8-matmul"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s, l, "int8-matmul", "input")?;
        let (m, k) = l.shape().dims2()?;
        if k != self.0.k {
            candle_core::bail!(
                "int8-matmul: input has {k} features, weight expects {}",
                self.0.k
            );
        }
        Ok((
            CpuStorage::F32(self.0.product(x, m)),
            Shape::from((m, self.0.n)),
        ))
    }
}

/// `x (…, in) · W` through the int8 kernel; `None` when `x` is not an f32 CPU tensor.
pub fn int8_matmul(x: &Tensor, w: &Int8Weight) -> Result<Option<Tensor>> {
    if !on_cpu_f32(x) {
        return Ok(None);
    }
    let dims = x.dims().to_vec();
    let rows = x.elem_count() / w.k.max(1);
    let y = x
        .contiguous()?
        .reshape((rows, w.k))?
        .apply_op1_no_bwd(&Int8Matmul(w))?;
    let mut out_dims = dims;
    *out_dims.last_mut().expect("at least one dim") = w.n;
    Ok(Some(y.reshape(out_dims)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// The kernel against the scalar path (same integers, so equal up to f32 rounding of the
    /// epilogue), and both against the f32 product within the quantization error.
    #[test]
    fn matches_the_f32_product_within_quantization_error() -> Result<()> {
        let dev = Device::Cpu;
        for (m, k, n) in [
            (1, 64, 48),
            (9, 70, 37),
            (17, 576, 192),
            (300, 128, 100),
            (6, 96, 7),
        ] {
            let wt = Tensor::randn(0f32, 1.0, (k, n), &dev)?;
            let x = Tensor::randn(0f32, 1.0, (m, k), &dev)?;
            let w = Int8Weight::new(&wt.flatten_all()?.to_vec1()?, k, n);
            let got = int8_matmul(&x, &w)?.expect("cpu f32");
            let want = x.matmul(&wt)?;
            // Each factor is off by at most half a step (max / 254 of its block); the sum of
            // k products of unit variance has standard deviation √k.
            let tol = 4.0 * (k as f32).sqrt() * 3.0 / 254.0;
            let diff = super::super::test_util::max_diff(&got, &want)?;
            assert!(
                diff < tol,
                "{m}×{k}×{n}: differs by {diff} (tolerance {tol})"
            );

            let xs: Vec<f32> = x.flatten_all()?.to_vec1()?;
            let (rows, row_scale) = quantize_rows(&xs, m, k, w.kb);
            let mut scalar = vec![0f32; m * n];
            let block = Block {
                rows: &rows,
                row_scale: &row_scale,
                out: SendPtr(scalar.as_mut_ptr()),
                m,
            };
            for panel in 0..n.div_ceil(NR) {
                w.panel_scalar(&block, panel);
            }
            let scalar = Tensor::from_vec(scalar, (m, n), &dev)?;
            // Every kernel this CPU has sums the same integers as the scalar path.
            for kernel in Kernel::ALL.into_iter().filter(|k| k.available()) {
                let got = Tensor::from_vec(w.product_with(kernel, &xs, m), (m, n), &dev)?;
                let d = super::super::test_util::max_diff(&got, &scalar)?;
                assert!(
                    d < 1e-3,
                    "{m}×{k}×{n}: {kernel:?} and the scalar path differ by {d}"
                );
            }
        }
        let here: Vec<&str> = Kernel::ALL
            .iter()
            .filter(|k| k.available())
            .map(|k| k.name())
            .collect();
        eprintln!("int8-matmul: kernels tested against the scalar path here: {here:?}");
        Ok(())
    }

    #[test]
    fn round_even_is_round_ties_even() {
        for i in -1040..=1040 {
            let x = i as f32 * 0.125;
            assert_eq!(round_even(x), x.round_ties_even(), "{x}");
        }
        assert_eq!(round_even(2.5), 2.0);
        assert_eq!(round_even(-3.5), -4.0);
    }
}
