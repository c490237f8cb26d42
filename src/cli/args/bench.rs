//! `tunedesk bench` arguments.

use clap::{Args, Subcommand};

/// `tunedesk bench`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Prefill speed: one forward pass over 1×128 tokens.
    Forward(BenchArgs),
    /// Decode speed: greedy generation of 64 tokens after a 128-token prompt.
    Generate(BenchArgs),
    /// LoRA training speed: r=8 on all 7 projections, batch 8×128, loss on all tokens.
    Train(BenchArgs),
}

/// Common benchmark options.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Model: a registered name, a Hugging Face repo id (pulled if needed), or a Hugging Face
    /// folder / .gguf file.
    #[arg(long)]
    pub model: String,
    /// Timed repetitions (after one warm-up).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}
