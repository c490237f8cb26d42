//! Command-line definitions (clap derive). Behaviour lives in `cli::command`.

mod bench;
mod dataset;
mod evaluate;
mod generate;
mod models;
mod predict;
mod train;

pub use bench::*;
pub use dataset::*;
pub use evaluate::*;
pub use generate::*;
pub use models::*;
pub use predict::*;
pub use train::*;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Fine-tune small LLMs to classify support tickets and extract fields.
#[derive(Debug, Parser)]
#[command(name = "tunedesk", version, about, propagate_version = true)]
pub struct Cli {
    /// Data directory (default: $TUNEDESK_HOME, else the platform data directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// `tunedesk export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The run.
    pub run: String,
    /// The checkpoint of the run.
    #[command(flatten)]
    pub checkpoint: CheckpointArg,
    /// What to write: `peft` (a folder PEFT loads with `PeftModel.from_pretrained`), `merged`
    /// (a Hugging Face folder of the base with the adapter merged), `gguf` (a merged GGUF and a
    /// GGUF LoRA adapter for llama.cpp / LM Studio), `ollama` (the merged GGUF + a Modelfile).
    #[arg(long, default_value = "peft")]
    pub format: tunedesk::export::ExportFormat,
    /// The merged weights' number type: f32, bf16, f16 (merged, gguf, ollama) or q8_0 (gguf,
    /// ollama). Default: f32 for peft, else f16.
    #[arg(long)]
    pub precision: Option<tunedesk::export::Precision>,
    /// The folder to create (it must not exist).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Validation tickets the reloaded export must predict as the run does.
    #[arg(long, default_value_t = tunedesk::export::DEFAULT_CHECK_ROWS)]
    pub check_rows: usize,
}

/// `tunedesk job`.
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Hand a training job to a distributed trainer: a new folder with the train and
    /// validation splits as JSONL of {prompt, completion} (as TuneDesk renders them), the
    /// trainer's config with the same hyperparameters, run.sh (one GPU or N) and a README.
    Export {
        /// The dataset (default: the run's, with --from-run).
        #[arg(long, required_unless_present = "from_run")]
        dataset: Option<String>,
        /// The base model as the GPU machine finds it: a Hugging Face repo id (default: the
        /// run's, with --from-run, when it came from the Hub).
        #[arg(long)]
        model: Option<String>,
        /// Take the dataset, rows, template and hyperparameters of this run (default: the
        /// training defaults).
        #[arg(long)]
        from_run: Option<String>,
        /// The trainer.
        #[arg(long, value_enum)]
        target: TrainerArg,
        /// The folder to create.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Trainers a job can be handed to.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TrainerArg {
    /// Axolotl.
    Axolotl,
    /// LLaMA-Factory (needs --from-run: the completions carry the base model's end token).
    LlamaFactory,
}

/// `tunedesk adapter`.
#[derive(Debug, Subcommand)]
pub enum AdapterCommand {
    /// Make a PEFT LoRA adapter trained elsewhere a run (evaluate, predict, compare, export
    /// it like one trained here).
    Import {
        /// The PEFT folder (adapter_config.json + adapter_model.safetensors, or shards).
        dir: PathBuf,
        /// The base model it was trained on (name, path or Hugging Face repo id).
        #[arg(long)]
        base: String,
        /// The dataset it is for (its labels and fields, unless the folder has a tunedesk.json).
        #[arg(long)]
        dataset: String,
        /// The run to create (default: the folder's name).
        #[arg(long)]
        name: Option<String>,
    },
}

/// The loss chart's x axis.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ChartX {
    /// Optimizer steps.
    Step,
    /// Epochs.
    Epoch,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import, inspect, split, check and export datasets.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Fine-tune a LoRA adapter on a dataset (or resume a run).
    Train(Box<TrainArgs>),
    /// The devices this build can train on here (the first is `train`'s default).
    Devices,
    /// Inspect and manage training runs.
    #[command(subcommand)]
    Run(RunCommand),
    /// Draw a run's loss chart (train, smoothed train, validation, best, overfitting).
    Chart {
        /// Run name.
        run: String,
        /// Output file (.svg or .png).
        #[arg(long, short)]
        out: PathBuf,
        /// Draw the confusion matrix of the run's latest evaluation instead.
        #[arg(long)]
        confusion: bool,
        /// What the x axis counts.
        #[arg(long, value_enum, default_value = "step")]
        x: ChartX,
        /// A logarithmic loss axis.
        #[arg(long)]
        log: bool,
    },
    /// Evaluate a fine-tuned run, or a base model zero/K-shot, on a dataset split.
    Eval(Box<EvalArgs>),
    /// Compare a fine-tuned run with base-model baselines, side by side.
    Compare(CompareArgs),
    /// Write an evaluation to a file: a Markdown report (.md), every answer (.csv), or its
    /// confusion chart (.svg, .png).
    Report {
        /// Evaluation id (`tunedesk eval` prints it).
        id: i64,
        /// Output file; its extension says what to write.
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Run a fine-tuned model on one ticket or a CSV file of tickets.
    Predict(PredictArgs),
    /// Export a run's adapter for other tools (checked by reloading it and predicting).
    Export(ExportArgs),
    /// Adapters trained elsewhere.
    #[command(subcommand)]
    Adapter(AdapterCommand),
    /// Training jobs for other trainers.
    #[command(subcommand)]
    Job(JobCommand),
    /// Base models: the catalog, pulls from Hugging Face, local folders and GGUF files.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Generate text with a model (a quick way to try one).
    Generate(GenerateArgs),
    /// Measure model speed (tokens/s), printed as JSON.
    #[command(subcommand)]
    Bench(BenchCommand),
}
