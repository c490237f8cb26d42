//! The hand-off for LLaMA-Factory: `dataset_info.json` naming the splits (alpaca columns:
//! the prompt as the instruction, the completion as the response), its YAML (`stage: sft`,
//! `finetuning_type: lora`, `template: empty`, which adds nothing around the text — so the
//! completions carry the base model's end-of-sequence token, as TuneDesk appends it), a
//! DeepSpeed ZeRO-2 config, `run.sh` and the README.

use super::{launch_files, yaml, File, Job, Readme};
use serde_json::{json, Value};

/// The dataset names `dataset_info.json` gives the splits.
const TRAIN: &str = "tunedesk_train";
const VAL: &str = "tunedesk_val";

fn dataset_info(with_val: bool) -> Vec<u8> {
    let entry = |file: &str| {
        json!({
            "file_name": file,
            "formatting": "alpaca",
            "columns": {"prompt": "prompt", "response": "completion"},
        })
    };
    let mut info = serde_json::Map::new();
    info.insert(TRAIN.into(), entry("train.jsonl"));
    if with_val {
        info.insert(VAL.into(), entry("val.jsonl"));
    }
    serde_json::to_vec_pretty(&info).expect("json")
}

/// Warmup in optimizer steps on one GPU: transformers 5 dropped `warmup_ratio` (its
/// `warmup_steps` takes a ratio instead, which transformers 4 would read as steps), so a whole
/// number of steps is what every version LLaMA-Factory supports reads the same.
fn warmup_steps(job: &Job, epochs: usize, train_rows: usize) -> usize {
    let c = &job.config;
    let per_epoch = train_rows.div_ceil((c.batch_size * c.grad_accum).max(1));
    (c.warmup_ratio * (per_epoch * epochs) as f64).ceil() as usize
}

/// The YAML's keys, in order.
pub(super) fn config(
    job: &Job,
    epochs: usize,
    with_val: bool,
    train_rows: usize,
) -> Vec<(&'static str, Value)> {
    let c = &job.config;
    let mut keys = vec![
        ("model_name_or_path", json!(job.base_model)),
        ("stage", json!("sft")),
        ("do_train", json!(true)),
        ("finetuning_type", json!("lora")),
        ("lora_rank", json!(c.lora.rank)),
        ("lora_alpha", json!(c.lora.alpha)),
        ("lora_dropout", json!(c.lora.dropout)),
        ("lora_target", json!(c.lora.target_modules.join(","))),
        ("dataset_dir", json!("data")),
        ("dataset", json!(TRAIN)),
    ];
    if with_val {
        keys.extend([
            ("eval_dataset", json!(VAL)),
            ("eval_strategy", json!("epoch")),
        ]);
    }
    keys.extend([
        ("template", json!("empty")),
        ("cutoff_len", json!(c.max_len)),
        ("learning_rate", json!(c.lr)),
        ("lr_scheduler_type", json!(c.scheduler)),
        ("warmup_steps", json!(warmup_steps(job, epochs, train_rows))),
        ("weight_decay", json!(c.weight_decay)),
        ("num_train_epochs", json!(epochs)),
        ("per_device_train_batch_size", json!(c.batch_size)),
        ("gradient_accumulation_steps", json!(c.grad_accum)),
        ("seed", json!(c.seed)),
        ("bf16", json!(true)),
        ("output_dir", json!("output")),
        ("save_strategy", json!("epoch")),
        ("logging_steps", json!(10)),
        ("overwrite_output_dir", json!(true)),
    ]);
    keys
}

const RUN_SH: &str = r#"#!/usr/bin/env bash
# Trains this hand-off with LLaMA-Factory: `./run.sh` on one GPU, `./run.sh N` on N GPUs of
# this node (torchrun + DeepSpeed ZeRO-2). The adapter lands in ./output (PEFT); bring it
# back with `tunedesk adapter import output --base BASE`.
set -euo pipefail
cd "$(dirname "$0")"
gpus="${1:-1}"
if [ "$gpus" -gt 1 ]; then
  FORCE_TORCHRUN=1 NPROC_PER_NODE="$gpus" exec llamafactory-cli train llamafactory.yaml deepspeed=deepspeed_zero2.json
fi
exec llamafactory-cli train llamafactory.yaml
"#;

/// The LLaMA-Factory files of `job` (`eos`: the base model's end-of-sequence text).
pub(super) fn files(
    job: &Job,
    epochs: usize,
    with_val: bool,
    eos: &str,
    train_rows: usize,
) -> Vec<File> {
    let readme = Readme {
        trainer: "LLaMA-Factory",
        tokens: format!(
            "`data/train.jsonl` and `data/val.jsonl` hold `{{prompt, completion}}` records as \
             TuneDesk renders them, each completion followed by the model's end-of-sequence \
             token `{eos}`: the `empty` template adds nothing around the text, so LLaMA-Factory \
             tokenizes the prompt, then the completion and its end token, and trains on the \
             completion only — the tokens TuneDesk trains on."
        ),
        install: "llamafactory deepspeed",
        not_carried: vec![format!(
            "warmup as a share of the steps ({}): written as {} steps, that share of one \
             GPU's steps; on N GPUs there are about N times fewer steps, so lower warmup_steps",
            job.config.warmup_ratio,
            warmup_steps(job, epochs, train_rows)
        )],
    };
    let mut files = vec![
        File {
            path: "data/dataset_info.json",
            bytes: dataset_info(with_val),
        },
        File {
            path: "llamafactory.yaml",
            bytes: yaml(&config(job, epochs, with_val, train_rows)).into_bytes(),
        },
    ];
    files.extend(launch_files(job, epochs, RUN_SH, readme));
    files
}
