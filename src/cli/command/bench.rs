//! `tunedesk bench`: prefill, decode and training speed of a model, as JSON.

use super::models::resolve_model;
use super::Context;
use crate::cli::args::{BenchArgs, BenchCommand, EpochArgs, TryArgs};
use crate::cli::output;
use anyhow::Result;
use candle_core::{Tensor, D};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use tunedesk::adapter::Checkpoint as RunCheckpoint;
use tunedesk::dataset::split::run_examples;
use tunedesk::evaluate::trial::Playground;
use tunedesk::model::batch::shared_head;
use tunedesk::model::ops::Kernel as Int8Kernel;
use tunedesk::model::{device, Batch, LoadedModel};
use tunedesk::predict::PredictOptions;
use tunedesk::template::Template;
use tunedesk::train::data::{batches, Encoded};
use tunedesk::train::select::Selection;
use tunedesk::train::{encode_all, train, Checkpoint, Hooks, TrainConfig, TrainEvent};

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
    let chosen = args.device.unwrap_or_else(device::preferred);
    let device = chosen.open()?;
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
        let batch = Batch {
            head: None,
            ids: input.contiguous()?,
            targets,
            mask,
            counted: BATCH * SEQ,
        };
        let loss = lm.model.completion_loss(&batch, None)?;
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
        "runs": args.runs, "load_s": load_s, "device": chosen.to_string(), "threads": rayon_threads()}),
    )
}

/// Tokens computed in `batches` of `examples`: (rows padded to the longest, the same after
/// the shared prompt head of each batch is split off and counted once).
fn computed_tokens(examples: &[Encoded], batches: &[Vec<usize>]) -> (usize, usize) {
    let (mut padded, mut shared) = (0, 0);
    for batch in batches {
        let rows: Vec<_> = batch.iter().map(|&i| examples[i].sequence()).collect();
        let longest = rows.iter().map(|r| r.ids.len()).max().unwrap_or(0);
        let head = shared_head(&rows);
        padded += rows.len() * longest;
        shared += head + rows.len() * (longest - head);
    }
    (padded, shared)
}

/// One epoch of training over a dataset's examples with the default settings.
fn bench_epoch(ctx: &Context, args: EpochArgs) -> Result<()> {
    let model = resolve_model(ctx, &args.model)?;
    let cfg = TrainConfig {
        epochs: Some(1),
        patience: None,
        select_by: Selection::Loss,
        score_rows: 0,
        shared_head: !args.no_shared_head,
        ..TrainConfig::default()
    };
    let cfg = TrainConfig {
        batch_size: args.batch_size.unwrap_or(cfg.batch_size),
        ..cfg
    };
    let (rows, _) = run_examples(
        &mut ctx.store()?,
        &args.dataset,
        args.limit,
        Some(0),
        cfg.seed,
    )?;
    let chosen = args.device.unwrap_or_else(device::preferred);
    let device = chosen.open()?;
    let mut lm = LoadedModel::load(&model, &device)?;
    let (examples, _) = encode_all(&lm, &Template::default(), &rows, cfg.max_len)?;
    let lengths: Vec<usize> = examples.iter().map(|e| e.input_ids.len()).collect();
    let order = batches(&lengths, cfg.batch_size, cfg.seed, 0);
    if let Some(path) = &args.dump {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for (k, batch) in order.iter().enumerate() {
            for &i in batch {
                let e = &examples[i];
                serde_json::to_writer(
                    &mut out,
                    &serde_json::json!({"batch": k, "input_ids": e.input_ids, "completion_start": e.completion_start}),
                )?;
                writeln!(out)?;
            }
        }
        out.flush()?;
    }
    let (padded, shared) = computed_tokens(&examples, &order);
    let mut losses = Vec::new();
    let mut on_event = |e: TrainEvent| {
        if let TrainEvent::Step { loss, .. } = e {
            losses.push(loss);
        }
    };
    let mut checkpoint = |_: Checkpoint<'_>| Ok(());
    let cancel = AtomicBool::new(false);
    let mut hooks = Hooks {
        on_event: &mut on_event,
        checkpoint: &mut checkpoint,
        cancel: &cancel,
        score: None,
    };
    let t = Instant::now();
    train(&mut lm, &examples, &[], &cfg, None, &mut hooks)?;
    let secs = t.elapsed().as_secs_f64();
    let tokens: usize = lengths.iter().sum();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    output::json(
        &serde_json::json!({"bench": "epoch", "dataset": args.dataset, "rows": examples.len(),
        "shared_head": cfg.shared_head, "batch": cfg.batch_size, "lora_rank": cfg.lora.rank,
        "seconds": secs, "rows_per_s": examples.len() as f64 / secs, "tokens": tokens,
        "tokens_per_s": tokens as f64 / secs, "computed_tokens_padded": padded,
        "computed_tokens_shared_head": shared, "steps": losses.len(),
        "mean_loss_first_10": mean(&losses[..losses.len().min(10)]),
        "mean_loss_last_10": mean(&losses[losses.len().saturating_sub(10)..]),
        "peak_rss_mb": peak_rss_mb(), "device": chosen.to_string(), "threads": rayon_threads()}),
    )
}

/// The Try page's answer time for one ticket, the model warm (the first answer loads it).
fn bench_try(ctx: &Context, args: TryArgs) -> Result<()> {
    let mut store = ctx.store()?;
    let mut playground = Playground::new(PredictOptions::default());
    let mut ask = |store: &mut tunedesk::store::Store| {
        playground.ask(
            store,
            &ctx.data_dir,
            &args.run,
            RunCheckpoint::Best,
            &args.text,
            false,
        )
    };
    let t = Instant::now();
    let first = ask(&mut store)?.remove(0);
    let load_s = t.elapsed().as_secs_f64() - first.seconds;
    let mut times = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let t = Instant::now();
        ask(&mut store)?;
        times.push(t.elapsed().as_secs_f64());
    }
    let ticket_tokens =
        tunedesk::model::config_and_tokenizer(std::path::Path::new(&store.run(&args.run)?.model))?
            .1
            .encode_plain(&args.text)?
            .len();
    let worst = times.iter().copied().fold(0.0, f64::max);
    output::json(
        &serde_json::json!({"bench": "try", "run": args.run, "ticket_tokens": ticket_tokens,
        "median_ms": median(times) * 1e3, "max_ms": worst * 1e3, "runs": args.runs,
        "load_s": load_s, "label": first.prediction.label, "top": first.top,
        "int8_kernel": Int8Kernel::active().name(), "threads": rayon_threads()}),
    )
}

pub fn run(ctx: &Context, cmd: BenchCommand) -> Result<()> {
    let (args, decode) = match cmd {
        BenchCommand::Forward(a) => (a, false),
        BenchCommand::Generate(a) => (a, true),
        BenchCommand::Train(a) => return bench_train(&resolve_model(ctx, &a.model)?, a),
        BenchCommand::Epoch(a) => return bench_epoch(ctx, a),
        BenchCommand::Try(a) => return bench_try(ctx, a),
    };
    let model = resolve_model(ctx, &args.model)?;
    let runs = args.runs;
    let t = Instant::now();
    let chosen = args.device.unwrap_or_else(device::preferred);
    let device = chosen.open()?;
    let lm = LoadedModel::load(&model, &device)?;
    let load_s = t.elapsed().as_secs_f64();
    let ids = prompt_ids(&lm)?;
    let mut times = Vec::new();
    let prompt = Tensor::new(ids.as_slice(), &device)?.unsqueeze(0)?;
    for run in 0..=runs {
        let mut cache = lm.model.new_cache();
        let t = Instant::now();
        let logits = lm.model.forward_next(&prompt, None, &mut cache)?;
        // A GPU returns before it has computed: wait for it.
        device.synchronize()?;
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
            "device": chosen.to_string(), "threads": rayon_threads()})
    } else {
        serde_json::json!({"bench": "forward", "batch": 1, "tokens": PROMPT_TOKENS,
            "prefill_tok_s": PROMPT_TOKENS as f64 / per, "seconds": per, "runs": runs, "load_s": load_s,
            "device": chosen.to_string(), "threads": rayon_threads()})
    };
    output::json(&result)
}

fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
