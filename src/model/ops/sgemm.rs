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
            false,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
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
