//! `tunedesk generate` and `tunedesk bench` arguments.

use clap::{Args, Subcommand};

/// `tunedesk generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Model: a registered name, a Hugging Face repo id (pulled if needed), or a Hugging Face
    /// folder / .gguf file.
    #[arg(long)]
    pub model: String,
    /// The prompt.
    #[arg(long)]
    pub prompt: String,
    /// Wrap the prompt in the model's chat template as a user turn.
    #[arg(long)]
    pub chat: bool,
    /// Most new tokens.
    #[arg(long, default_value_t = 128)]
    pub max_tokens: usize,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    /// Nucleus sampling mass.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// Sampling seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Stop at this string (repeatable).
    #[arg(long = "stop")]
    pub stop: Vec<String>,
}

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
