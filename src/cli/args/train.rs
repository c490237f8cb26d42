//! `tunedesk train` and `tunedesk run …` arguments.

use clap::{Args, Subcommand, ValueEnum};
use tunedesk::model::DeviceChoice;
use tunedesk::train::optim::Scheduler;
use tunedesk::train::select::Selection;
use tunedesk::train::TrainConfig;

/// The engine's defaults, which the flags show and use.
fn defaults() -> TrainConfig {
    TrainConfig::default()
}

/// `tunedesk train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Continue this run from its last checkpoint (other options are taken from the run).
    #[arg(long, value_name = "RUN", conflicts_with_all = ["dataset", "model", "name"])]
    pub resume: Option<String>,
    /// Dataset to train on (its train split; val split for validation).
    #[arg(long, required_unless_present = "resume")]
    pub dataset: Option<String>,
    /// Base model: a registered name, a Hugging Face repo id (pulled if needed), or a Hugging
    /// Face folder / .gguf file.
    #[arg(long, required_unless_present = "resume")]
    pub model: Option<String>,
    /// Name of the new run.
    #[arg(long, required_unless_present = "resume")]
    pub name: Option<String>,
    /// Where to train: cpu, cuda:N or metal:N (default: the first GPU this build finds, else
    /// the CPU; `tunedesk devices` lists them). A resumed run stays on its device.
    #[arg(long, value_name = "DEVICE", conflicts_with = "resume")]
    pub device: Option<DeviceChoice>,
    /// Passes over the training data (default: automatic, from the training set's size and
    /// label count; `tunedesk train` prints the number it chose).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Peak learning rate.
    #[arg(long, default_value_t = defaults().lr)]
    pub lr: f64,
    /// Examples per batch.
    #[arg(long, default_value_t = defaults().batch_size)]
    pub batch_size: usize,
    /// Batches per optimizer step.
    #[arg(long, default_value_t = defaults().grad_accum)]
    pub grad_accum: usize,
    /// Decoupled weight decay.
    #[arg(long, default_value_t = defaults().weight_decay)]
    pub weight_decay: f64,
    /// Fraction of steps for linear warmup.
    #[arg(long, default_value_t = defaults().warmup_ratio)]
    pub warmup_ratio: f64,
    /// Learning-rate schedule after warmup.
    #[arg(long, value_enum, default_value_t = defaults().scheduler.into())]
    pub scheduler: SchedulerArg,
    /// LoRA rank.
    #[arg(long, default_value_t = defaults().lora.rank)]
    pub lora_rank: usize,
    /// LoRA alpha (the update is scaled by alpha / rank).
    #[arg(long, default_value_t = defaults().lora.alpha)]
    pub lora_alpha: f64,
    /// Dropout on the LoRA input.
    #[arg(long, default_value_t = defaults().lora.dropout)]
    pub lora_dropout: f64,
    /// Projections that get adapters (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = defaults().lora.target_modules)]
    pub target_modules: Vec<String>,
    /// Longest sequence in tokens (prompt + completion; longer prompts are cut).
    #[arg(long, default_value_t = defaults().max_len)]
    pub max_len: usize,
    /// Validate every this many steps (and at each epoch end).
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Stop after this many validations without improvement (by --select-by); 0: never.
    #[arg(long, default_value_t = defaults().patience.unwrap_or(0))]
    pub patience: usize,
    /// What the best checkpoint and early stopping follow: task (mean of label accuracy and
    /// field F1 on the decoded validation sample), accuracy, macro_f1, field_f1, or loss.
    #[arg(long, default_value_t = defaults().select_by)]
    pub select_by: Selection,
    /// Validation tickets decoded at each validation to measure accuracy, macro-F1 and field
    /// F1 (0: measure the loss only; --select-by other than loss needs at least 1).
    #[arg(long, default_value_t = defaults().score_rows)]
    pub score_rows: usize,
    /// Stop after this many optimizer steps.
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Train on at most this many rows of the train split (stratified sample).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Validate on at most this many rows of the val split (stratified sample).
    #[arg(long, default_value_t = tunedesk::train::run::DEFAULT_VAL_LIMIT)]
    pub val_limit: usize,
    /// Seed of adapter init, data order and dropout.
    #[arg(long, default_value_t = defaults().seed)]
    pub seed: u64,
    /// Run every row's prompt head itself instead of once per micro-batch (the same loss; only
    /// the LoRA dropout on the head differs).
    #[arg(long)]
    pub no_shared_head: bool,
    /// Order of the field lines the model learns to write.
    #[arg(long, value_enum, default_value_t = FieldOrderArg::Dataset)]
    pub field_order: FieldOrderArg,
}

/// `--field-order`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FieldOrderArg {
    /// As the dataset stores them (column order on import).
    Dataset,
    /// By where each value first appears in the ticket (values not in it last).
    Text,
}

impl From<FieldOrderArg> for tunedesk::template::FieldOrder {
    fn from(a: FieldOrderArg) -> Self {
        match a {
            FieldOrderArg::Text => Self::Text,
            FieldOrderArg::Dataset => Self::Dataset,
        }
    }
}

/// Learning-rate schedules.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchedulerArg {
    /// Cosine decay to 0.
    Cosine,
    /// Linear decay to 0.
    Linear,
    /// Constant.
    Constant,
}

impl From<Scheduler> for SchedulerArg {
    fn from(s: Scheduler) -> Self {
        match s {
            Scheduler::Cosine => SchedulerArg::Cosine,
            Scheduler::Linear => SchedulerArg::Linear,
            Scheduler::Constant => SchedulerArg::Constant,
        }
    }
}

impl From<SchedulerArg> for Scheduler {
    fn from(s: SchedulerArg) -> Self {
        match s {
            SchedulerArg::Cosine => Scheduler::Cosine,
            SchedulerArg::Linear => Scheduler::Linear,
            SchedulerArg::Constant => Scheduler::Constant,
        }
    }
}

/// `tunedesk run` subcommands.
#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// List training runs.
    List,
    /// A run's configuration, status, losses and warnings.
    Show {
        /// Run name.
        name: String,
    },
    /// Delete a run, its metrics and checkpoints.
    Delete {
        /// Run name.
        name: String,
    },
    /// Coverage and accuracy at each confidence threshold (from the run's latest evaluation),
    /// and the threshold under which `predict` leaves the label empty.
    Abstain {
        /// Run name.
        name: String,
        /// Save this threshold for `predict`.
        #[arg(long, conflicts_with = "never")]
        below: Option<f64>,
        /// Never abstain (forget the saved threshold).
        #[arg(long)]
        never: bool,
    },
}
