//! `tunedesk bench` arguments.

use clap::{Args, Subcommand};
use tunedesk::model::DeviceChoice;

/// `tunedesk bench`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Prefill speed: one forward pass over 1×128 tokens.
    Forward(BenchArgs),
    /// Decode speed: greedy generation of 64 tokens after a 128-token prompt.
    Generate(BenchArgs),
    /// LoRA training speed: r=8 on all 7 projections, batch 8×128, loss on all tokens.
    Train(BenchArgs),
    /// One training epoch over a dataset's real examples with the default settings: seconds,
    /// tokens/s, and the tokens computed with and without the shared prompt head.
    Epoch(EpochArgs),
    /// The Try page's answer time: one ticket through a run kept warm (label, top labels,
    /// fields), median of the timed answers.
    Try(TryArgs),
}

/// `tunedesk bench try`.
#[derive(Debug, Args)]
pub struct TryArgs {
    /// The fine-tuned run.
    #[arg(long)]
    pub run: String,
    /// The ticket (default: a 30-token flight request).
    #[arg(long, default_value = TRY_TICKET)]
    pub text: String,
    /// Timed answers (after one that loads the model).
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
}

/// The default ticket of `bench try`.
pub const TRY_TICKET: &str = "i would like to book a flight from denver to pittsburgh on \
    thursday morning and return to denver on sunday evening please";

/// `tunedesk bench epoch`.
#[derive(Debug, Args)]
pub struct EpochArgs {
    /// Model: a registered name, a Hugging Face repo id, or a folder / .gguf file.
    #[arg(long)]
    pub model: String,
    /// Dataset whose train split is trained on.
    #[arg(long)]
    pub dataset: String,
    /// At most this many training rows (a stratified sample, as `train --train-limit`).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Examples per micro-batch (default: the training default).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Run every row's prompt head itself (the way before the shared head).
    #[arg(long)]
    pub no_shared_head: bool,
    /// Write the epoch's batches as JSON lines (`batch`, `input_ids`, `completion_start`), for
    /// another trainer to train exactly the same tokens (scripts/bench-epoch-torch.py).
    #[arg(long)]
    pub dump: Option<std::path::PathBuf>,
    /// Where to run: cpu, cuda:N or metal:N (default: the first GPU, else the CPU).
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<DeviceChoice>,
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
    /// Where to run: cpu, cuda:N or metal:N (default: the first GPU, else the CPU).
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<DeviceChoice>,
}
