//! `out = a · b` in f32 through the gemm crate, any strides, on rayon's threads.

/// A read-only matrix: data and its row and column strides (in elements).
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> Mat<'a> {
    /// Row-major (`rows × cols`, contiguous).
    pub fn rows(data: &'a [f32], cols: usize) -> Mat<'a> {
        Mat {
            data,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of a row-major `rows × cols` matrix (so `cols × rows`).
    pub fn transposed(data: &'a [f32], cols: usize) -> Mat<'a> {
        Mat {
            data,
            row_stride: 1,
            col_stride: cols,
        }
    }

    fn covers(&self, rows: usize, cols: usize) -> bool {
        rows == 0
            || cols == 0
            || (rows - 1) * self.row_stride + (cols - 1) * self.col_stride < self.data.len()
    }
}

/// `out (m × n, row-major) = a (m × k) · b (k × n)`; `out` is overwritten.
pub fn sgemm(m: usize, n: usize, k: usize, a: Mat, b: Mat, out: &mut [f32]) {
    product(m, n, k, a, b, out, None);
}

/// `a (m × k) · b (k × n)` as a new row-major `m × n` buffer (not zeroed first: gemm writes
/// every element).
pub fn sgemm_new(m: usize, n: usize, k: usize, a: Mat, b: Mat) -> Vec<f32> {
    if k == 0 {
        return vec![0f32; m * n];
    }
    let mut out = Vec::with_capacity(m * n);
    // SAFETY: gemm only writes to `out` (the destination is not read), and it writes all m·n
    // elements since k > 0; `set_len` comes after.
    unsafe {
        let spare = std::slice::from_raw_parts_mut(out.as_mut_ptr(), m * n);
        product(m, n, k, a, b, spare, None);
        out.set_len(m * n);
    }
    out
}

/// `out (m × n, row-major) += scale · a (m × k) · b (k × n)`.
pub fn sgemm_add(m: usize, n: usize, k: usize, scale: f32, a: Mat, b: Mat, out: &mut [f32]) {
    product(m, n, k, a, b, out, Some(scale));
}

/// Up to this many rows, the columns are split between the threads (each runs gemm alone on
/// its block): gemm's own threading leaves a core idle on such short products.
const SPLIT_COLUMNS_MAX_ROWS: usize = 256;
/// Narrowest column block worth a thread.
const MIN_BLOCK_COLUMNS: usize = 64;

fn product(m: usize, n: usize, k: usize, a: Mat, b: Mat, out: &mut [f32], add: Option<f32>) {
    assert!(a.covers(m, k) && b.covers(k, n) && out.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    let blocks = (n / MIN_BLOCK_COLUMNS).clamp(1, threads);
    if m > SPLIT_COLUMNS_MAX_ROWS || blocks < 2 {
        // SAFETY: the asserts above keep every index the strides reach inside the slices.
        unsafe {
            block(
                m,
                n,
                k,
                a,
                b.data.as_ptr(),
                b,
                out.as_mut_ptr(),
                n,
                add,
                threads,
            )
        };
        return;
    }
    // Column blocks, multiples of 16 wide; each thread writes only its own columns of `out`.
    let width = n.div_ceil(blocks).div_ceil(16) * 16;
    let out_addr = out.as_mut_ptr() as usize;
    let b_addr = b.data.as_ptr() as usize;
    rayon::scope(|s| {
        for j0 in (0..n).step_by(width) {
            s.spawn(move |_| {
                let cols = width.min(n - j0);
                let out = (out_addr as *mut f32).wrapping_add(j0);
                let b_block = (b_addr as *const f32).wrapping_add(j0 * b.col_stride);
                // SAFETY: columns j0..j0+cols of `b` and `out` lie inside the slices (asserted
                // for the whole matrices above), and no two tasks write the same column.
                unsafe { block(m, cols, k, a, b_block, b, out, n, add, 1) };
            });
        }
    });
}

/// gemm on raw pointers: `out` (m × n, row stride `out_stride`) from `a` and the `n` columns
/// of `b` starting at `b_ptr` (strides of `b`).
///
/// # Safety
/// Every element the strides reach must be inside live allocations, and `out`'s elements
/// must not be written by anyone else meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn block(
    m: usize,
    n: usize,
    k: usize,
    a: Mat,
    b_ptr: *const f32,
    b: Mat,
    out: *mut f32,
    out_stride: usize,
    add: Option<f32>,
    threads: usize,
) {
    gemm::gemm(
        m,
        n,
        k,
        out,
        1,
        out_stride as isize,
        add.is_some(),
        a.data.as_ptr(),
        a.col_stride as isize,
        a.row_stride as isize,
        b_ptr,
        b.col_stride as isize,
        b.row_stride as isize,
        if add.is_some() { 1.0 } else { 0.0 },
        add.unwrap_or(1.0),
        false,
        false,
        false,
        if threads > 1 {
            gemm::Parallelism::Rayon(threads)
        } else {
            gemm::Parallelism::None
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_blocks_give_the_plain_product() {
        // Rows below and above the split threshold, widths that do not divide evenly, and a
        // transposed right operand.
        for (m, n, k) in [(3, 150, 20), (40, 577, 33), (300, 130, 9)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 - 6.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.5).collect();
            let mut want = vec![0f32; m * n];
            for i in 0..m {
                for j in 0..n {
                    want[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
                }
            }
            let got = sgemm_new(m, n, k, Mat::rows(&a, k), Mat::rows(&b, n));
            assert_eq!(got, want, "{m}×{n}×{k}");
            // bᵀ stored row-major (n × k), read transposed.
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let mut acc = vec![1f32; m * n];
            sgemm_add(
                m,
                n,
                k,
                2.0,
                Mat::rows(&a, k),
                Mat::transposed(&bt, k),
                &mut acc,
            );
            for (g, w) in acc.iter().zip(&want) {
                assert_eq!(*g, 1.0 + 2.0 * w);
            }
        }
    }
}
