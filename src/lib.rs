//! TuneDesk engine: everything the desktop app and the `tunedesk` CLI do, without either.
//!
//! Data flows one way through the modules, each named for its pipeline stage:
//!
//! ```text
//! import ──▶ store ──▶ quality / dataset (split, export) ──▶ (train ▶ eval ▶ predict ▶ export)
//! ```
//!
//! - [`import`] reads CSV / JSONL files into validated [`example::Example`]s (no SQL).
//! - [`store`] is the only module that writes SQL: one SQLite file, versioned migrations.
//! - [`example`] holds the plain data types; [`dataset`] loading, stratified splitting and
//!   dataset export.
//! - [`quality`] inspects a dataset's examples and reports data problems (pure functions).
//! - [`template`] owns the task format: prompt + completion rendering and parsing.
//! - [`train`] fine-tunes LoRA adapters; [`adapter`] is a run's folder and the
//!   self-describing checkpoints in it; [`predict`] runs a model on tickets.
//! - [`metrics`] scores predictions against gold labels and fields (pure functions);
//!   [`evaluate`] runs and stores evaluations.
//! - [`model`] runs Llama-family models; [`hub`] brings them from the Hugging Face Hub;
//!   [`registry`] names local ones and resolves a `--model` argument.
//! - [`name`] says what a dataset or run name may be; [`text`] shows text from files safely.
//!
//! Each module imports only modules on lower floors of the layering in ARCHITECTURE.md
//! (`scripts/check-architecture.py` checks it). The engine knows nothing of Tauri or of the
//! terminal: progress is reported through callbacks and typed events, errors through
//! `thiserror` enums, one per stage.
//!
//! ```no_run
//! use tunedesk::{import::{self, ImportSpec}, store::Store};
//! let mut store = Store::open("/tmp/td/tunedesk.db")?;
//! let spec = ImportSpec::csv("tickets", ["body"], "category");
//! let summary = import::import_file(&mut store, "tickets.csv".as_ref(), &spec, &mut |_| {})?;
//! println!("{} rows", summary.rows);
//! # Ok::<(), tunedesk::Error>(())
//! ```

/// `name()`, `Display` and `FromStr` of an enum from its `snake_case` names (those of its serde
/// form), for the CLI and the window.
macro_rules! named {
    ($t:ty, $what:literal, [$($v:ident => $n:literal),*]) => {
        impl $t {
            /// The name the CLI and the window use.
            pub fn name(self) -> &'static str {
                match self { $(Self::$v => $n),* }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($n => Ok(Self::$v),)*
                    other => Err(format!(concat!("unknown ", $what, " '{}'; one of: {}"), other,
                        [$($n),*].join(", "))),
                }
            }
        }
    };
}

pub mod adapter;
pub mod chart;
pub mod dataset;
mod error;
pub mod evaluate;
pub mod example;
pub mod export;
pub mod handoff;
pub mod hub;
pub mod import;
pub mod metrics;
pub mod model;
pub mod name;
pub mod paths;
pub mod predict;
pub mod quality;
pub mod registry;
pub mod store;
pub mod template;
pub mod text;
pub mod train;

pub use error::{report, Error, Result};
