//! `tunedesk bench`: prefill and decode speed of a model, as JSON.

use crate::cli::args::{BenchArgs, BenchCommand};
use crate::cli::output;
use anyhow::Result;
use candle_core::{Tensor, D};
use std::time::Instant;
use tunedesk::model::{default_device, LoadedModel};

const PROMPT_TOKENS: usize = 128;
const DECODE_TOKENS: usize = 64;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A 128-token prompt of ordinary text.
fn prompt_ids(lm: &LoadedModel) -> Result<Vec<u32>> {
    let text =
        "Classify the following support ticket and extract relevant information. ".repeat(40);
    let mut ids = lm.tokenizer.encode_plain(&text)?;
    ids.truncate(PROMPT_TOKENS);
    anyhow::ensure!(ids.len() == PROMPT_TOKENS, "prompt too short");
    Ok(ids)
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    let (args, decode) = match cmd {
        BenchCommand::Forward(a) => (a, false),
        BenchCommand::Generate(a) => (a, true),
    };
    let BenchArgs { model, runs } = args;
    let t = Instant::now();
    let device = default_device();
    let lm = LoadedModel::load(&model, &device)?;
    let load_s = t.elapsed().as_secs_f64();
    let ids = prompt_ids(&lm)?;
    let mut times = Vec::new();
    let prompt = Tensor::new(ids.as_slice(), &device)?.unsqueeze(0)?;
    for run in 0..=runs {
        let mut cache = lm.model.new_cache();
        let t = Instant::now();
        let logits = lm.model.forward_next(&prompt, None, &mut cache)?;
        let prefill = t.elapsed().as_secs_f64();
        let secs = if decode {
            // Greedy decode of exactly DECODE_TOKENS tokens (EOS is not a stop here).
            let mut next = logits.argmax(D::Minus1)?;
            let t = Instant::now();
            for _ in 0..DECODE_TOKENS {
                let logits = lm
                    .model
                    .forward_next(&next.unsqueeze(0)?, None, &mut cache)?;
                next = logits.argmax(D::Minus1)?;
            }
            next.to_vec1::<u32>()?;
            t.elapsed().as_secs_f64() / DECODE_TOKENS as f64
        } else {
            prefill
        };
        if run > 0 {
            times.push(secs);
        }
    }
    let per = median(times);
    let result = if decode {
        serde_json::json!({"bench": "generate", "decode_tokens": DECODE_TOKENS, "prompt_tokens": PROMPT_TOKENS,
            "decode_tok_s": 1.0 / per, "ms_per_token": per * 1e3, "runs": runs, "load_s": load_s,
            "device": format!("{device:?}"), "threads": rayon_threads()})
    } else {
        serde_json::json!({"bench": "forward", "batch": 1, "tokens": PROMPT_TOKENS,
            "prefill_tok_s": PROMPT_TOKENS as f64 / per, "seconds": per, "runs": runs, "load_s": load_s,
            "device": format!("{device:?}"), "threads": rayon_threads()})
    };
    output::json(&result)
}

fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
