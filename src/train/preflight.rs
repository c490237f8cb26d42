//! What a run will take, worked out before it starts (the window's pre-flight card): steps,
//! tickets cut at the maximum length, peak RAM against free RAM, disk for checkpoints, and a
//! duration estimated from the speed this model trained at on this machine and device before
//! (else, on the CPU, from the training benchmark, scaled; on a GPU, none until a run has
//! measured it).

use super::run::{run_data, stored_device, RunSpec, TrainError};
use super::{data, encode_with, Schedule};
use crate::model::config_and_tokenizer;
use crate::model::estimate::{
    available_ram_bytes, lora_param_count, param_count, training_ram_bytes, TrainShape,
};
use crate::store::Store;
use crate::template::Template;
use serde::Serialize;

/// The plan of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preflight {
    /// Training examples.
    pub train_examples: usize,
    /// Validation examples.
    pub val_examples: usize,
    /// Passes over the training examples (the automatic number when none was set).
    pub epochs: usize,
    /// Optimizer steps.
    pub total_steps: usize,
    /// Examples longer than `max_len` tokens (their prompt is cut).
    pub truncated: usize,
    /// Tokens of the longest example.
    pub longest_tokens: usize,
    /// Tokens of one epoch of training examples.
    pub epoch_tokens: u64,
    /// Estimated peak RAM of training.
    pub ram_bytes: u64,
    /// RAM free now, where the system says.
    pub free_ram_bytes: Option<u64>,
    /// The memory of the GPU it trains on, where the driver says (training holds the model
    /// there, not in RAM).
    pub gpu_memory_bytes: Option<u64>,
    /// Disk the checkpoints take (best, last, one adapter per validation).
    pub checkpoint_bytes: u64,
    /// How long it should take; none on a GPU no run of this model has trained on yet.
    pub estimate: Option<Estimate>,
}

/// A duration estimate and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Seconds the run should take.
    pub seconds: f64,
    /// The training speed assumed.
    pub tokens_per_s: f64,
    /// Where that speed comes from.
    pub basis: Basis,
}

/// Where a speed comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Basis {
    /// Measured by an earlier run of this model on this machine and device.
    Run {
        /// That run.
        name: String,
    },
    /// The training benchmark (docs/PERFORMANCE.md), scaled to this model's size and this
    /// machine's cores: a rougher guess.
    Bench,
}

/// LoRA training speed of SmolLM2-135M on the 2-core reference machine (docs/PERFORMANCE.md,
/// `tunedesk bench train`, batch 8 × 128): 203–206 tokens/s.
const BENCH_TOKENS_PER_S: f64 = 204.0;
/// Parameters of the benchmarked model.
const BENCH_PARAMS: f64 = 134_515_008.0;
/// Cores of the benchmark machine.
const BENCH_CORES: f64 = 2.0;

/// A validation token costs about a third of a training token (forward only).
const EVAL_COST: f64 = 1.0 / 3.0;

/// A ticket decoded to score a validation costs about 0.4 training tokens per token of it
/// (measured: SmolLM2-135M, 36 sample tickets of ≈ 90 tokens decoded in 4.8 s, while training
/// ran at ≈ 260 tokens/s).
const SCORE_COST: f64 = 0.4;

/// Plans run `spec` laid out with `template`. Like the run itself, it splits the dataset first
/// if it has no splits yet (the same stratified split the run would make).
pub fn preflight(
    store: &mut Store,
    spec: &RunSpec,
    template: &Template,
) -> Result<Preflight, TrainError> {
    let (train, val) = run_data(store, spec)?;
    let (config, tokenizer) = config_and_tokenizer(&spec.model)?;
    let cfg = &spec.config.resolved(&train);
    let eos = config.eos_token();
    let (train_set, cut_train) = encode_with(&tokenizer, eos, template, &train, cfg.max_len)?;
    let (val_set, cut_val) = encode_with(&tokenizer, eos, template, &val, cfg.max_len)?;
    let tokens = |set: &[data::Encoded]| set.iter().map(|e| e.input_ids.len() as u64).sum::<u64>();
    let schedule = Schedule::of(train_set.len(), cfg);
    let longest = train_set
        .iter()
        .chain(&val_set)
        .map(|e| e.input_ids.len() + e.truncated)
        .max()
        .unwrap_or(0);
    let evals = schedule.total_steps / schedule.eval_every.unwrap_or(usize::MAX).max(1)
        + schedule.epochs
        + 1;
    let adapter = lora_param_count(&config, cfg.lora.rank) * 4;
    let epoch_tokens = tokens(&train_set);
    let work = epoch_tokens as f64 * schedule.total_steps as f64
        / schedule.steps_per_epoch.max(1) as f64
        + tokens(&val_set) as f64 * evals as f64 * EVAL_COST
        + scored_tokens(&val_set, cfg.score_rows) * (evals - 1) as f64 * SCORE_COST;
    Ok(Preflight {
        train_examples: train_set.len(),
        val_examples: val_set.len(),
        epochs: schedule.epochs,
        total_steps: schedule.total_steps,
        truncated: cut_train + cut_val,
        longest_tokens: longest,
        epoch_tokens,
        ram_bytes: training_ram_bytes(
            &config,
            TrainShape {
                batch: cfg.batch_size,
                seq: longest.min(cfg.max_len),
                rank: cfg.lora.rank,
            },
        ),
        free_ram_bytes: available_ram_bytes(),
        gpu_memory_bytes: spec.device.is_gpu().then(|| gpu_memory(spec)).flatten(),
        // best and last hold the adapter and AdamW's two moments; each validation keeps an adapter.
        checkpoint_bytes: adapter * 3 * 2 + adapter * evals as u64,
        estimate: {
            let speed = match measured_speed(store, spec)? {
                Some((speed, name)) => Some((speed, Basis::Run { name })),
                // The benchmark is the CPU's: it says nothing of a GPU's speed.
                None if spec.device.is_gpu() => None,
                None => Some((bench_speed(param_count(&config)), Basis::Bench)),
            };
            speed.map(|(tokens_per_s, basis)| Estimate {
                seconds: work / tokens_per_s,
                tokens_per_s,
                basis,
            })
        },
    })
}

/// The memory of the GPU the spec trains on, when this build finds it and its driver says.
fn gpu_memory(spec: &RunSpec) -> Option<u64> {
    crate::model::device::available()
        .into_iter()
        .find(|d| d.id == spec.device)?
        .memory_bytes
}

/// Tokens of the tickets a validation decodes (its sample, at the validation set's mean length).
fn scored_tokens(val: &[data::Encoded], rows: usize) -> f64 {
    if val.is_empty() {
        return 0.0;
    }
    let mean = val.iter().map(|e| e.input_ids.len()).sum::<usize>() as f64 / val.len() as f64;
    mean * rows.min(val.len()) as f64
}

/// The benchmark's speed scaled to a model of `params` parameters (compute grows with the
/// parameter count) and this machine's cores.
fn bench_speed(params: u64) -> f64 {
    let cores = std::thread::available_parallelism().map_or(BENCH_CORES, |n| n.get() as f64);
    BENCH_TOKENS_PER_S * BENCH_PARAMS / params.max(1) as f64 * cores / BENCH_CORES
}

/// The median training speed of the newest run of the spec's model on its device that
/// recorded steps.
fn measured_speed(store: &Store, spec: &RunSpec) -> Result<Option<(f64, String)>, TrainError> {
    let model = spec.model.display().to_string();
    for run in store
        .list_runs()?
        .into_iter()
        .filter(|r| r.model == model && stored_device(&r.config) == Some(spec.device))
    {
        let mut speeds: Vec<f64> = store
            .run_metrics(&run)?
            .steps
            .iter()
            .map(|s| s.tokens_per_s)
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        if speeds.is_empty() {
            continue;
        }
        speeds.sort_by(f64::total_cmp);
        return Ok(Some((speeds[speeds.len() / 2], run.name)));
    }
    Ok(None)
}
