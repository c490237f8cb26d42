//! `tunedesk model …` arguments: base models from the Hugging Face Hub and local files.

use clap::Subcommand;
use std::path::PathBuf;

/// `tunedesk model` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Recommended small base models: parameters, download size, license, RAM for LoRA
    /// training, and whether each is in the Hugging Face cache.
    Catalog,
    /// Download a model from the Hugging Face Hub into the Hugging Face cache (resumable).
    Pull {
        /// Repo id, e.g. HuggingFaceTB/SmolLM2-135M-Instruct.
        repo: String,
        /// Branch, tag or commit.
        #[arg(long, default_value = "main")]
        revision: String,
    },
    /// Register a local Hugging Face folder or .gguf file (validated first).
    Add {
        /// The folder or file.
        path: PathBuf,
        /// Name to use it by (default: the folder name or file stem).
        #[arg(long)]
        name: Option<String>,
    },
    /// Registered models (added and pulled).
    List,
    /// One registered model.
    Show {
        /// Its name.
        name: String,
    },
    /// Unregister a model (its files are kept).
    Remove {
        /// Its name.
        name: String,
    },
    /// GGUF models that Ollama or LM Studio keep on this machine.
    Discover {
        /// Register every supported one not registered yet.
        #[arg(long)]
        add: bool,
    },
}
