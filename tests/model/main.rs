//! Model engine tests:
//!
//! - `tiny`: tiny random Llama/Qwen2 models written by the tests (config.json + safetensors +
//!   tokenizer.json): loading, LoRA gradients against finite differences, merge, KV cache.
//! - `reference`: the real SmolLM2-135M GGUF (`$TUNEDESK_TEST_GGUF`) against the reference
//!   figures in `shared/reference/smollm2.json`; skipped loudly when the variable is unset.
//! - `train`: LoRA training on a tiny model (loss falls, evaluations, reproducibility).
//! - `export`: a trained tiny run exported in every format and proven by reloading it.
//! - `import`: PEFT adapters made by transformers + PEFT (`tests/fixtures/peft-llama/`)
//!   imported as runs that reproduce PEFT's logits; unusable adapters refused.

mod export;
mod import;
mod reference;
mod select;
mod tiny;
#[path = "../common/tiny_model.rs"]
mod tiny_model;
mod train;
