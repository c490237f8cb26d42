//! `tunedesk predict` arguments, and the decoding flags `eval` and `compare` share.

use clap::Args;
use std::path::PathBuf;
use tunedesk::predict::from_run::Checkpoint;
use tunedesk::predict::PredictOptions;

/// How tickets are decoded (`predict`, `eval`, `compare`).
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Free text decoding, parsed afterwards (default: constrained to known labels and fields).
    #[arg(long)]
    pub free: bool,
    /// Tickets decoded together.
    #[arg(long, default_value_t = PredictOptions::default().batch_size)]
    pub batch_size: usize,
    /// Keep every product in f32 (default: 8-bit integer products where the CPU has AVX-512
    /// VNNI, several times faster).
    #[arg(long)]
    pub f32: bool,
    /// Copy field values from the ticket: each value must be text of the ticket (ignoring
    /// case); constrained decoding only.
    #[arg(long, conflicts_with = "free")]
    pub copy_values: bool,
}

impl DecodeArgs {
    /// The engine's options for these flags.
    pub fn options(&self) -> PredictOptions {
        PredictOptions {
            constrained: !self.free,
            batch_size: self.batch_size,
            int8: !self.f32,
            copy_values: self.copy_values,
            ..PredictOptions::default()
        }
    }
}

/// Which checkpoint of a run (`predict`, `eval`).
#[derive(Debug, Args)]
pub struct CheckpointArg {
    /// Which checkpoint of the run: best (by the run's --select-by), last, or a step number
    /// (every evaluation step keeps its adapter; `tunedesk run show` lists them).
    #[arg(long, default_value = "best")]
    pub checkpoint: Checkpoint,
}

/// `tunedesk predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The fine-tuned run.
    #[arg(long)]
    pub run: String,
    /// The checkpoint.
    #[command(flatten)]
    pub checkpoint: CheckpointArg,
    /// One ticket text: its label and confidence, the most probable labels, the fields.
    #[arg(long, conflicts_with = "input", required_unless_present = "input")]
    pub text: Option<String>,
    /// With --text: the base model's answer too, prompted with worked examples (the window's
    /// Try page puts the two side by side).
    #[arg(long, requires = "text")]
    pub base: bool,
    /// A CSV file of tickets.
    #[arg(long, requires_all = ["text_col", "output"])]
    pub input: Option<PathBuf>,
    /// Column(s) holding the ticket text (repeat to join several with a newline).
    #[arg(long = "text-col")]
    pub text_col: Vec<String>,
    /// Output CSV: the input columns plus predictions.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Leave the label empty (needs_review = true) below this confidence (default: the run's
    /// threshold, `tunedesk run abstain`).
    #[arg(long)]
    pub abstain_below: Option<f64>,
    /// Decoding.
    #[command(flatten)]
    pub decode: DecodeArgs,
}
