//! `tunedesk dataset …` arguments.

use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use tunedesk::dataset::split::SplitPlan;
use tunedesk::quality::QualityOptions;

/// `tunedesk dataset` subcommands.
#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Import a CSV or JSONL file as a new dataset (all rows or none).
    Import(ImportArgs),
    /// Import the sample dataset of support tickets (category + Customer ID, Account Number,
    /// Email), to try TuneDesk before using your own data.
    Sample {
        /// Dataset name.
        #[arg(long, default_value = tunedesk::import::sample::SAMPLE_NAME)]
        name: String,
    },
    /// Show a file's columns, first rows and a suggested mapping, without importing.
    Preview(PreviewArgs),
    /// List datasets.
    List,
    /// Row count, label counts, field fill rates and split counts of a dataset.
    Show {
        /// Dataset name.
        name: String,
    },
    /// Write a dataset to a CSV or JSONL file.
    Export {
        /// Dataset name.
        name: String,
        /// Output file (.csv or .jsonl).
        #[arg(long, short)]
        out: PathBuf,
        /// Output format (default: from the file extension).
        #[arg(long, value_enum)]
        format: Option<ExportFormatArg>,
    },
    /// Delete a dataset.
    Delete {
        /// Dataset name.
        name: String,
    },
    /// Assign train / val / test splits (stratified by label, reproducible).
    Split(SplitArgs),
    /// Report data-quality problems: duplicates, conflicting labels, layout, leakage, …
    Quality(QualityArgs),
    /// Rows whose label a fine-tuned model contradicts with high confidence, most suspicious
    /// first (from `tunedesk eval --run R --split train|val` of this dataset).
    Mislabels(MislabelArgs),
    /// Change one row's label (one transaction; recorded with who, when, old and new).
    Relabel {
        /// Dataset name.
        name: String,
        /// Row to change.
        #[arg(long)]
        row: u64,
        /// The label it has now (the change is refused if it no longer has it).
        #[arg(long)]
        from: String,
        /// The new label.
        #[arg(long)]
        to: String,
        /// Why (kept with the change).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Keep a suspected mislabel's label: the row is no longer suggested with it.
    Dismiss {
        /// Dataset name.
        name: String,
        /// Row to keep.
        #[arg(long)]
        row: u64,
        /// Its label, as it stays.
        #[arg(long)]
        label: String,
    },
    /// The label changes made to a dataset, oldest first.
    Edits {
        /// Dataset name.
        name: String,
    },
}

/// `tunedesk dataset mislabels`.
#[derive(Debug, Args)]
pub struct MislabelArgs {
    /// Dataset name.
    pub name: String,
    /// Evaluation (id, from `tunedesk eval list`) of a fine-tuned run on this dataset's rows.
    #[arg(long)]
    pub eval: i64,
    /// An evaluation of another checkpoint on the same rows, to cross-check.
    #[arg(long)]
    pub second: Option<i64>,
    /// Lowest confidence of a disagreement that counts.
    #[arg(long, default_value_t = tunedesk::evaluate::mislabels::MIN_CONFIDENCE)]
    pub min_confidence: f64,
    /// Show at most this many.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// `dataset import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV or JSONL file.
    pub file: PathBuf,
    /// Name of the new dataset.
    #[arg(long)]
    pub name: String,
    /// Column(s) holding the ticket text; several are joined (e.g. subject + body).
    #[arg(long = "text", value_name = "COL")]
    pub text: Vec<String>,
    /// Column holding the label.
    #[arg(long, value_name = "COL")]
    pub label: Option<String>,
    /// Column holding a field to extract (repeatable).
    #[arg(long = "field", value_name = "COL")]
    pub field: Vec<String>,
    /// Every column not used as text or label is a field to extract.
    #[arg(long)]
    pub fields_rest: bool,
    /// File format (default: from the extension).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// CSV delimiter, e.g. ',' ';' '|' or 'tab' (default: sniffed).
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
    /// Replace an existing dataset of the same name.
    #[arg(long)]
    pub replace: bool,
}

/// `dataset preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// CSV or JSONL file.
    pub file: PathBuf,
    /// File format (default: from the extension).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// CSV delimiter (default: sniffed).
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
}

/// `dataset split`.
#[derive(Debug, Args)]
pub struct SplitArgs {
    /// Dataset name.
    pub name: String,
    /// Fraction of each label's rows for validation.
    #[arg(long, default_value_t = SplitPlan::default().val, conflicts_with = "by_column")]
    pub val: f64,
    /// Fraction of each label's rows for test.
    #[arg(long, default_value_t = SplitPlan::default().test, conflicts_with = "by_column")]
    pub test: f64,
    /// Random seed (same seed, same split).
    #[arg(long, default_value_t = SplitPlan::default().seed, conflicts_with = "by_column")]
    pub seed: u64,
    /// Take the split from this (unmapped) column of the imported file.
    #[arg(long, value_name = "COL")]
    pub by_column: Option<String>,
}

/// `dataset quality`.
#[derive(Debug, Args)]
pub struct QualityArgs {
    /// Dataset name.
    pub name: String,
    /// Report texts estimated longer than this many tokens.
    #[arg(long, default_value_t = QualityOptions::default().max_tokens)]
    pub max_tokens: usize,
    /// Report classes with fewer rows than this.
    #[arg(long, default_value_t = QualityOptions::default().min_class_rows)]
    pub min_class_rows: usize,
    /// Findings shown per check in the text output (JSON lists all).
    #[arg(long, default_value_t = 10)]
    pub show_findings: usize,
}

/// Input formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Delimited text with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormatArg {
    /// text,label,fields…,split
    Csv,
    /// {"text","label","fields","split"} per line.
    Jsonl,
    /// {"prompt","completion"} per line, in the task layout.
    PromptCompletion,
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err(format!("'{s}' is not a single ASCII character (or 'tab')")),
    }
}
