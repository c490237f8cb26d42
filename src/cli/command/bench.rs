//! `tunedesk bench`: prefill and decode speed of a model, as JSON.

use super::models::resolve_model;
use super::Context;
use crate::cli::args::{BenchArgs, BenchCommand};
use crate::cli::output;
use anyhow::Result;
use candle_core::{Tensor, D};
use std::path::Path;
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

/// Peak resident memory of this process in MB (Linux `VmHWM`), if known.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// LoRA training steps on random tokens (the same workload as the PyTorch reference's
/// `lora_all_b8_s128`).
fn bench_train(model: &Path, args: BenchArgs) -> Result<()> {
    use rand::{Rng, SeedableRng};
    use tunedesk::model::lora::LoraConfig;
    use tunedesk::train::optim::{AdamW, AdamWConfig};
    const BATCH: usize = 8;
    const SEQ: usize = 128;
    let t = Instant::now();
    let device = default_device();
    let mut lm = LoadedModel::load(model, &device)?;
    let load_s = t.elapsed().as_secs_f64();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let varmap = candle_nn::VarMap::new();
    let lora = LoraConfig {
        dropout: 0.0,
        ..LoraConfig::default()
    };
    lm.model.add_lora(&lora, &varmap, &mut rng)?;
    let vars: Vec<_> = lm.model.lora_vars().into_iter().map(|(_, v)| v).collect();
    let trainable: usize = vars.iter().map(|v| v.elem_count()).sum();
    let mut opt = AdamW::new(vars, AdamWConfig::default())?;
    let vocab = lm.model.config().vocab_size as u32;
    let mut times = Vec::new();
    let mut losses = Vec::new();
    for run in 0..args.runs + 2 {
        let ids: Vec<u32> = (0..BATCH * (SEQ + 1))
            .map(|_| rng.random_range(0..vocab))
            .collect();
        let all = Tensor::from_vec(ids, (BATCH, SEQ + 1), &device)?;
        let input = all.narrow(1, 0, SEQ)?;
        let targets = all.narrow(1, 1, SEQ)?.contiguous()?;
        let mask = Tensor::ones((BATCH, SEQ), candle_core::DType::U8, &device)?;
        let t = Instant::now();
        let loss = lm.model.completion_loss(&input, &targets, &mask, None)?;
        let grads = loss.backward()?;
        opt.step(&grads, 1e-4)?;
        losses.push(loss.to_scalar::<f32>()?);
        if run >= 2 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let per = median(times);
    output::json(
        &serde_json::json!({"bench": "train", "config": "lora_all_b8_s128", "batch": BATCH, "seq": SEQ,
        "lora_rank": lora.rank, "trainable_params": trainable, "sec_per_step": per,
        "tokens_per_s": (BATCH * SEQ) as f64 / per, "peak_rss_mb": peak_rss_mb(), "losses": losses,
        "runs": args.runs, "load_s": load_s, "device": format!("{device:?}"), "threads": rayon_threads()}),
    )
}

pub fn run(ctx: &Context, cmd: BenchCommand) -> Result<()> {
    let (args, decode) = match cmd {
        BenchCommand::Forward(a) => (a, false),
        BenchCommand::Generate(a) => (a, true),
        BenchCommand::Train(a) => return bench_train(&resolve_model(ctx, &a.model)?, a),
    };
    let model = resolve_model(ctx, &args.model)?;
    let runs = args.runs;
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
