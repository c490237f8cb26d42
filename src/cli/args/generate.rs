//! `tunedesk generate` arguments.

use clap::Args;

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
