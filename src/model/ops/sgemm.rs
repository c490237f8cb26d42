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

fn product(m: usize, n: usize, k: usize, a: Mat, b: Mat, out: &mut [f32], add: Option<f32>) {
    assert!(a.covers(m, k) && b.covers(k, n) && out.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    // SAFETY: the asserts above keep every index the strides reach inside the slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            add.is_some(),
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
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
        );
    }
}
