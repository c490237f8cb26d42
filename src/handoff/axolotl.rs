//! The hand-off for Axolotl: its config (the splits through its user-defined instruction
//! format, so that it tokenizes the prompt, then the completion on its own with the EOS token
//! appended, and trains on the completion only — as TuneDesk does), a DeepSpeed ZeRO-2 config
//! for several GPUs, `run.sh` and the README.

use super::{launch_files, yaml, File, Job, Readme};
use serde_json::{json, Value};

/// Where the trainer writes the adapter (relative to the folder).
const OUTPUT_DIR: &str = "./output";

/// The dataset entry of a split: Axolotl's user-defined format with the prompt as the
/// instruction, written as is.
fn dataset(path: &str) -> Value {
    json!({
        "path": path,
        "ds_type": "json",
        "split": "train",
        "type": {
            "field_instruction": "prompt",
            "field_output": "completion",
            "format": "{instruction}",
            "no_input_format": "{instruction}",
        },
    })
}

/// The config's keys, in the order the README explains them.
pub(super) fn config(job: &Job, epochs: usize, with_val: bool) -> Vec<(&'static str, Value)> {
    let c = &job.config;
    let mut keys = vec![
        ("base_model", json!(job.base_model)),
        ("datasets", json!([dataset("data/train.jsonl")])),
    ];
    if with_val {
        keys.push(("test_datasets", json!([dataset("data/val.jsonl")])));
    }
    keys.extend([
        ("val_set_size", json!(0)),
        ("train_on_inputs", json!(false)),
        ("sequence_len", json!(c.max_len)),
        ("adapter", json!("lora")),
        ("lora_r", json!(c.lora.rank)),
        ("lora_alpha", json!(c.lora.alpha)),
        ("lora_dropout", json!(c.lora.dropout)),
        ("lora_target_modules", json!(c.lora.target_modules)),
        ("learning_rate", json!(c.lr)),
        ("lr_scheduler", json!(c.scheduler)),
        ("warmup_ratio", json!(c.warmup_ratio)),
        ("optimizer", json!("adamw_torch")),
        ("weight_decay", json!(c.weight_decay)),
        ("num_epochs", json!(epochs)),
        ("micro_batch_size", json!(c.batch_size)),
        ("gradient_accumulation_steps", json!(c.grad_accum)),
        ("seed", json!(c.seed)),
        ("bf16", json!("auto")),
        ("output_dir", json!(OUTPUT_DIR)),
        ("save_safetensors", json!(true)),
    ]);
    keys
}

const RUN_SH: &str = r#"#!/usr/bin/env bash
# Trains this hand-off with Axolotl: `./run.sh` on one GPU, `./run.sh N` on N GPUs of this
# node (DeepSpeed ZeRO-2). The adapter lands in ./output (PEFT: adapter_config.json +
# adapter_model.safetensors); bring it back with `tunedesk adapter import output --base BASE`.
set -euo pipefail
cd "$(dirname "$0")"
gpus="${1:-1}"
if [ "$gpus" -gt 1 ]; then
  exec accelerate launch --num_processes "$gpus" -m axolotl.cli.train axolotl.yml --deepspeed deepspeed_zero2.json
fi
exec accelerate launch --num_processes 1 -m axolotl.cli.train axolotl.yml
"#;

/// The Axolotl files of `job`.
pub(super) fn files(job: &Job, epochs: usize, with_val: bool) -> Vec<File> {
    let readme = Readme {
        trainer: "Axolotl",
        tokens: "The rows, the prompt and completion text and the hyperparameters are \
                 TuneDesk's: `data/train.jsonl` and `data/val.jsonl` hold `{prompt, completion}` \
                 records exactly as TuneDesk renders them; Axolotl tokenizes the prompt, then \
                 the completion on its own and appends the end-of-sequence token, and trains on \
                 the completion only (`train_on_inputs: false`) — the same tokens TuneDesk \
                 trains on."
            .to_string(),
        install: "axolotl deepspeed",
        not_carried: Vec::new(),
    };
    let mut files = vec![File {
        path: "axolotl.yml",
        bytes: yaml(&config(job, epochs, with_val)).into_bytes(),
    }];
    files.extend(launch_files(job, epochs, RUN_SH, readme));
    files
}
