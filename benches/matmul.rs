//! candle's f32 matmul throughput on the shapes of SmolLM2-135M's projections (prefill: 128
//! rows; decode: 1 row), for the profile in docs/PERFORMANCE.md; and the inference int8
//! kernels (`model::ops::Int8Weight`, each `Kernel` this CPU has) on the same shapes.
//!
//! `RAYON_NUM_THREADS=2 cargo bench --bench matmul`

use candle_core::{Device, Tensor};
use std::time::Instant;
use tunedesk::model::ops::{Int8Weight, Kernel};
/// Mean seconds per call over 20 calls, after one warm-up call.
fn time<F: FnMut()>(mut f: F) -> f64 {
    f();
    let n = 20;
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() / n as f64
}
fn main() {
    let d = Device::Cpu;
    for (m, k, n) in [
        (128usize, 576usize, 1536usize),
        (64, 576, 1536),
        (64, 1536, 576),
        (128, 576, 576),
        (128, 1536, 576),
        (1, 576, 1536),
        (1, 576, 49152),
    ] {
        let x = Tensor::randn(0f32, 1., (1, m, k), &d).unwrap();
        let w = Tensor::randn(0f32, 1., (n, k), &d).unwrap();
        let wt = w.t().unwrap().contiguous().unwrap();
        let x2 = x.squeeze(0).unwrap();
        let a = time(|| {
            x.broadcast_matmul(&w.t().unwrap()).unwrap();
        });
        let b = time(|| {
            x2.matmul(&w.t().unwrap()).unwrap();
        });
        let c = time(|| {
            x2.matmul(&wt).unwrap();
        });
        let fl = 2.0 * (m * k * n) as f64 / 1e9;
        let q = Int8Weight::new(&wt.flatten_all().unwrap().to_vec1().unwrap(), k, n);
        let xs: Vec<f32> = x2.flatten_all().unwrap().to_vec1().unwrap();
        let int8: Vec<String> = Kernel::ALL
            .into_iter()
            .filter(|k| k.available() && *k != Kernel::Portable)
            .map(|kernel| {
                let t = time(|| {
                    q.product_with(kernel, &xs, m);
                });
                format!("{} {:.1}", kernel.name(), fl / t)
            })
            .collect();
        let int8 = int8.join(" | ");
        println!(
            "m{m} k{k} n{n}: bcast W^T {:.1} GF/s ({:.2}ms) | 2d W^T {:.1} | 2d contiguous {:.1} | int8 GOP/s: {int8}",
            fl / a,
            a * 1e3,
            fl / b,
            fl / c
        );
    }
}
