//! Export: a run's adapter out of TuneDesk, in a form another tool loads — so far a Hugging
//! Face PEFT folder ([`peft`]), with `tunedesk.json` beside it ([`bundle`]) — proven by
//! reloading what was written and predicting a sample of the run's validation tickets: the
//! labels must equal the in-app predictions, or the export fails and leaves nothing behind.
//!
//! Input: a run, a checkpoint, a format and an output folder. Output: the folder, written to a
//! temporary folder beside it and renamed into place only after the check passed.
//! Must not touch: SQL (through [`Store`]), training state.

pub mod bundle;
pub mod peft;

use crate::adapter::{AdapterInfo, Checkpoint, RunDir};
use crate::dataset::split;
use crate::model::{default_device, LoadedModel, ModelError};
use crate::paths::DataDir;
use crate::predict::from_run::{load_run, LoadRunError};
use crate::predict::{PredictOptions, Predictor};
use crate::store::{Store, StoreError};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What a run can be exported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExportFormat {
    /// A PEFT LoRA folder (`PeftModel.from_pretrained(base, DIR)`).
    Peft,
}

/// Why an export failed (nothing was left at the output path).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run could not be loaded.
    #[error(transparent)]
    Run(#[from] LoadRunError),
    /// A model or adapter failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The run's data could not be read.
    #[error(transparent)]
    Dataset(#[from] crate::dataset::DatasetError),
    /// Writing failed.
    #[error("{path}: {source}")]
    Io {
        /// What was being written.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The output exists.
    #[error("{0} exists: choose a new folder (an export never overwrites)")]
    Exists(PathBuf),
    /// The reloaded export predicts differently from the run.
    #[error("the exported adapter does not reproduce the run: {0}")]
    Mismatch(String),
    /// The checkpoint has no description to export from.
    #[error("run '{0}': the checkpoint has no adapter.json (written before it existed); train or resume the run once to export it")]
    Undescribed(String),
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The description (`adapter.json`) of `run`'s `checkpoint` in `dir`.
fn checkpoint_info(
    dir: &RunDir,
    run: &str,
    checkpoint: Checkpoint,
) -> Result<AdapterInfo, ExportError> {
    let ck = dir.checkpoint(checkpoint);
    AdapterInfo::read(&ck)
        .map_err(io(&ck))?
        .ok_or_else(|| ExportError::Undescribed(run.to_string()))
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Run name.
    pub run: String,
    /// Which checkpoint.
    pub checkpoint: Checkpoint,
    /// The format.
    pub format: ExportFormat,
    /// The folder to create.
    pub out: PathBuf,
    /// Validation tickets the reloaded export must predict like the run.
    pub check_rows: usize,
}

/// Tickets checked after an export unless told otherwise.
pub const DEFAULT_CHECK_ROWS: usize = 16;

/// What an export wrote and how it was checked.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    /// The folder written.
    pub out: PathBuf,
    /// The format.
    pub format: ExportFormat,
    /// Files in it.
    pub files: Vec<String>,
    /// Tickets predicted by both the run and the reloaded export.
    pub checked: usize,
    /// Of those, how many got the same label.
    pub same_labels: usize,
}

/// Exports `req.run` as asked, then proves the export: see the module docs.
pub fn export(
    store: &mut Store,
    data_dir: &DataDir,
    req: &ExportRequest,
) -> Result<ExportSummary, ExportError> {
    if req.out.exists() {
        return Err(ExportError::Exists(req.out.clone()));
    }
    let run = store.run(&req.run)?;
    let dir = RunDir::new(data_dir, &run.name);
    let info = checkpoint_info(&dir, &run.name, req.checkpoint)?;
    let parent = match req.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".tunedesk-export-")
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    let mut files = match req.format {
        ExportFormat::Peft => {
            peft::write(store, &run, &info, &dir.adapter(req.checkpoint), tmp.path())?
        }
    };
    let base = peft::base_id(&info.base_model).0;
    bundle::write(
        tmp.path(),
        req.format,
        &run,
        req.checkpoint,
        &info,
        &base,
        &files,
    )?;
    files.push(bundle::BUNDLE_FILE.into());
    let (checked, same_labels) = check(store, data_dir, req, tmp.path())?;
    let staged = tmp.keep();
    std::fs::rename(&staged, &req.out).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        io(&req.out)(e)
    })?;
    Ok(ExportSummary {
        out: req.out.clone(),
        format: req.format,
        files,
        checked,
        same_labels,
    })
}

/// Predicts a sample of `req.run`'s validation tickets with the run itself and with the
/// export in `dir` (of `req.format`) reloaded; returns (tickets, same labels), or
/// [`ExportError::Mismatch`] when a label differs. [`export`] runs it before anything lands.
pub fn check(
    store: &mut Store,
    data_dir: &DataDir,
    req: &ExportRequest,
    dir: &Path,
) -> Result<(usize, usize), ExportError> {
    let run = store.run(&req.run)?;
    let info = checkpoint_info(&RunDir::new(data_dir, &run.name), &run.name, req.checkpoint)?;
    let dataset = run.dataset.clone();
    let (_, val) = split::run_examples(store, &dataset, None, Some(req.check_rows), 42)?;
    let tails: Vec<String> = val
        .iter()
        .map(|e| info.template.prompt_tail(&e.text))
        .collect();
    if tails.is_empty() {
        return Ok((0, 0));
    }
    // Full precision on both sides: the check compares the adapters, not the 8-bit path.
    let opts = PredictOptions {
        int8: false,
        ..PredictOptions::default()
    };
    let head = info.template.prompt_head();
    let mut rm = load_run(store, data_dir, &req.run, req.checkpoint)?;
    let expected = Predictor::new(&mut rm.lm, &head, &rm.labels, &rm.fields, opts.clone())?
        .predict(&tails, &mut |_, _| {})?;
    drop(rm);
    let mut lm = LoadedModel::load(&info.base_model, &default_device())?;
    match req.format {
        ExportFormat::Peft => peft::apply(&mut lm, dir)?,
    }
    let got = Predictor::new(&mut lm, &head, &info.labels, &info.fields, opts)?
        .predict(&tails, &mut |_, _| {})?;
    let same = expected
        .iter()
        .zip(&got)
        .filter(|(a, b)| a.label == b.label)
        .count();
    if same != tails.len() {
        let (i, (a, b)) = expected
            .iter()
            .zip(&got)
            .enumerate()
            .find(|(_, (a, b))| a.label != b.label)
            .expect("a differing prediction");
        return Err(ExportError::Mismatch(format!(
            "{same} of {} validation tickets got the same label; ticket {} was {:?} in the run and {:?} after export",
            tails.len(),
            val[i].row,
            a.label,
            b.label
        )));
    }
    Ok((tails.len(), same))
}
