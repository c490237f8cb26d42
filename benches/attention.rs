//! Batched decoding's attention (`model::ops::row_attention`) on SmolLM2-135M's head shapes:
//! 96 rows after a 16-token prefix, each prefilled with 30 tokens, then 30 decoding steps of
//! one token per row, per layer. For the profile in docs/PERFORMANCE.md.
//!
//! `RAYON_NUM_THREADS=2 cargo bench --bench attention`

use candle_core::{Device, Tensor};
use std::time::Instant;
use tunedesk::model::ops::{row_attention, RowAttention, RowKv};

fn main() {
    let dev = Device::Cpu;
    let s = RowAttention {
        heads: 9,
        kv: 3,
        d: 64,
        scale: 0.125,
    };
    let (rows, prefix, prompt, steps) = (96, 16, 30, 30);
    let randn = |shape: (usize, usize, usize)| Tensor::randn(0f32, 1.0, shape, &dev).unwrap();
    let (pk, pv) = (randn((s.kv, prefix, s.d)), randn((s.kv, prefix, s.d)));
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let mut caches = vec![RowKv::Empty; rows];
        let n = rows * prompt;
        let (q, k, v) = (
            randn((n, s.heads, s.d)),
            randn((n, s.kv, s.d)),
            randn((n, s.kv, s.d)),
        );
        let mut refs: Vec<&mut RowKv> = caches.iter_mut().collect();
        let counts = vec![prompt; rows];
        row_attention(&q, &k, &v, Some((&pk, &pv)), &mut refs, &counts, s).unwrap();
        let inputs: Vec<_> = (0..steps)
            .map(|_| {
                (
                    randn((rows, s.heads, s.d)),
                    randn((rows, s.kv, s.d)),
                    randn((rows, s.kv, s.d)),
                )
            })
            .collect();
        let counts = vec![1; rows];
        let t = Instant::now();
        for (q, k, v) in &inputs {
            row_attention(q, k, v, Some((&pk, &pv)), &mut refs, &counts, s).unwrap();
        }
        best = best.min(t.elapsed().as_secs_f64() / steps as f64);
    }
    println!(
        "{rows} rows, prefix {prefix}, {prompt}..{} own columns: {:.3} ms per layer-step (best of 5)",
        prompt + steps,
        best * 1e3
    );
}
