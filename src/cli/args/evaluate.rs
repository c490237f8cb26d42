//! `tunedesk eval` and `tunedesk compare` arguments.

use super::{CheckpointArg, DecodeArgs};
use clap::{Args, ValueEnum};

/// Rows to evaluate on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// The test split.
    Test,
    /// The validation split.
    Val,
    /// Every row of the dataset.
    All,
}

/// Options shared by `eval` and `compare`.
#[derive(Debug, Args)]
pub struct EvalOptions {
    /// At most this many rows (a stratified sample).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Decoding.
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Seed of the row sample and of the few-shot examples.
    #[arg(long, default_value_t = tunedesk::evaluate::run::DEFAULT_SEED)]
    pub seed: u64,
}

/// `tunedesk eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A fine-tuned run to evaluate.
    #[arg(long, conflicts_with_all = ["model", "shots"], required_unless_present = "model")]
    pub run: Option<String>,
    /// The checkpoint of the run.
    #[command(flatten)]
    pub checkpoint: CheckpointArg,
    /// A base model to evaluate without fine-tuning (registered name, Hugging Face repo id,
    /// folder or .gguf), prompted with the label list and --shots examples.
    #[arg(long, requires = "shots")]
    pub model: Option<String>,
    /// Worked examples in the base model's prompt (0 = zero-shot).
    #[arg(long)]
    pub shots: Option<usize>,
    /// Dataset whose train split gives the base model's labels, fields and examples
    /// (default: --dataset).
    #[arg(long)]
    pub shots_from: Option<String>,
    /// Dataset to evaluate on.
    #[arg(long)]
    pub dataset: String,
    /// Rows of the dataset to evaluate on.
    #[arg(long, value_enum, default_value_t = SplitArg::Test)]
    pub split: SplitArg,
    /// Shared options.
    #[command(flatten)]
    pub opts: EvalOptions,
}

/// `tunedesk compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The fine-tuned run (its latest evaluation is compared; one is run if there is none).
    pub run: String,
    /// K of each base-model baseline (reused when already evaluated).
    #[arg(long, value_delimiter = ',', default_values_t = tunedesk::evaluate::compare::BASELINE_SHOTS)]
    pub baseline_shots: Vec<usize>,
    /// Dataset to evaluate on when the run has no evaluation yet (default: the run's dataset).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Rows of the dataset, when the run has no evaluation yet.
    #[arg(long, value_enum, default_value_t = SplitArg::Test)]
    pub split: SplitArg,
    /// Shared options.
    #[command(flatten)]
    pub opts: EvalOptions,
}
