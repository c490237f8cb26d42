//! Export: a run's model out of TuneDesk in a form another tool loads — a Hugging Face PEFT
//! folder ([`peft`]), the base with the adapter merged as a Hugging Face folder ([`merged`]),
//! llama.cpp's merged GGUF and GGUF LoRA adapter ([`gguf`]), or an Ollama model ([`ollama`]);
//! `tunedesk.json` ([`bundle`]) and a model card ([`card`]) beside each. Every export is proven
//! by reloading what was written with TuneDesk's own readers and predicting a sample of the
//! run's validation tickets: the labels must equal the run's own (at Q8_0, at least
//! [`Q8_0_AGREEMENT`] of them), or the export fails and leaves nothing behind.
//!
//! Input: a run, a checkpoint, a format and an output folder. Output: the folder, written to a
//! temporary folder beside it and renamed into place only after the check passed.
//! Must not touch: SQL (through [`Store`]), training state.

pub mod bundle;
pub mod card;
pub mod gguf;
pub mod merged;
pub mod ollama;
pub mod peft;

use crate::adapter::{AdapterInfo, Checkpoint, RunDir};
use crate::dataset::split;
use crate::model::{default_device, LoadedModel, ModelError};
use crate::paths::{fill_folder, DataDir};
use crate::predict::from_run::{load_run, LoadRunError};
use crate::predict::{PredictOptions, Predictor};
use crate::store::{RunInfo, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a run can be exported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExportFormat {
    /// A PEFT LoRA folder (`PeftModel.from_pretrained(base, DIR)`).
    Peft,
    /// The base with the adapter merged, as a Hugging Face folder.
    Merged,
    /// A merged GGUF and a GGUF LoRA adapter for llama.cpp (and LM Studio).
    Gguf,
    /// The merged GGUF with a `Modelfile` for `ollama create`.
    Ollama,
}

impl ExportFormat {
    /// Every format, in the order the CLI and the window offer them.
    pub const ALL: [ExportFormat; 4] = [
        ExportFormat::Peft,
        ExportFormat::Merged,
        ExportFormat::Gguf,
        ExportFormat::Ollama,
    ];

    /// The weights' precision when none is asked for: the adapter's own f32 for PEFT, f16 for
    /// merged models (half the size, the same labels in the checks so far).
    pub fn default_precision(self) -> Precision {
        match self {
            ExportFormat::Peft => Precision::F32,
            _ => Precision::F16,
        }
    }

    /// The format's name in a menu.
    pub fn label(self) -> &'static str {
        match self {
            ExportFormat::Peft => "PEFT adapter",
            ExportFormat::Merged => "Merged model (Hugging Face)",
            ExportFormat::Gguf => "GGUF (llama.cpp, LM Studio)",
            ExportFormat::Ollama => "Ollama",
        }
    }

    /// What the format is for, in a sentence (the CLI's help and the window's export dialog).
    pub fn describe(self) -> &'static str {
        match self {
            ExportFormat::Peft => "A Hugging Face PEFT LoRA folder: load it on the base model with PeftModel.from_pretrained.",
            ExportFormat::Merged => "The base model with the adapter merged, as a Hugging Face folder: load it with AutoModelForCausalLM.from_pretrained.",
            ExportFormat::Gguf => "For llama.cpp and LM Studio: the merged model as one GGUF file, and the adapter as a GGUF LoRA adapter.",
            ExportFormat::Ollama => "For Ollama: the merged GGUF and a Modelfile with the run's prompt; ollama create NAME -f Modelfile.",
        }
    }

    /// The precisions this format can hold.
    pub fn precisions(self) -> &'static [Precision] {
        match self {
            ExportFormat::Peft => &[Precision::F32],
            ExportFormat::Merged => &[Precision::F32, Precision::Bf16, Precision::F16],
            ExportFormat::Gguf | ExportFormat::Ollama => &[
                Precision::F32,
                Precision::Bf16,
                Precision::F16,
                Precision::Q8_0,
            ],
        }
    }
}

named!(ExportFormat, "export format", [Peft => "peft", Merged => "merged", Gguf => "gguf", Ollama => "ollama"]);
named!(Precision, "precision", [F32 => "f32", Bf16 => "bf16", F16 => "f16", Q8_0 => "q8_0"]);

/// A format as the window offers it.
#[derive(Debug, Clone, Serialize)]
pub struct FormatInfo {
    /// The format.
    pub format: ExportFormat,
    /// [`ExportFormat::label`].
    pub label: &'static str,
    /// [`ExportFormat::describe`].
    pub description: &'static str,
    /// [`ExportFormat::precisions`].
    pub precisions: &'static [Precision],
    /// [`ExportFormat::default_precision`].
    pub default_precision: Precision,
}

/// Every format with its description and precisions, in [`ExportFormat::ALL`]'s order.
pub fn formats() -> Vec<FormatInfo> {
    ExportFormat::ALL
        .iter()
        .map(|&format| FormatInfo {
            format,
            label: format.label(),
            description: format.describe(),
            precisions: format.precisions(),
            default_precision: format.default_precision(),
        })
        .collect()
}

/// Where an export is, for progress displays.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum ExportPhase {
    /// Writing the files (merging the adapter into the base first, for merged formats).
    Writing,
    /// Predicting validation tickets with the run itself.
    Predicting,
    /// Reloading this file or folder of the export and predicting with it.
    Checking {
        /// What is reloaded.
        what: String,
    },
}

impl std::fmt::Display for ExportPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportPhase::Writing => f.write_str("writing"),
            ExportPhase::Predicting => f.write_str("predicting with the run"),
            ExportPhase::Checking { what } => write!(f, "checking {what}"),
        }
    }
}

/// The number type of an export's merged weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// 32-bit floats.
    F32,
    /// bfloat16.
    Bf16,
    /// IEEE half precision.
    F16,
    /// llama.cpp's 8-bit blocks (GGUF only); its labels may differ slightly from the run's.
    Q8_0,
}

/// At Q8_0 the reloaded model must give at least this share of the run's labels.
pub const Q8_0_AGREEMENT: f64 = 0.9;

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
    /// The format cannot hold what was asked.
    #[error("{0}")]
    Unsupported(String),
    /// The checkpoint has no description to export from.
    #[error("run '{0}': the checkpoint has no adapter.json (written before it existed); train or resume the run once to export it")]
    Undescribed(String),
}

impl From<candle_core::Error> for ExportError {
    fn from(e: candle_core::Error) -> Self {
        ExportError::Model(ModelError::Candle(e))
    }
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
    /// The merged weights' precision (`None`: the format's default).
    pub precision: Option<Precision>,
    /// The folder to create.
    pub out: PathBuf,
    /// Validation tickets the reloaded export must predict like the run.
    pub check_rows: usize,
}

/// Tickets checked after an export unless told otherwise.
pub const DEFAULT_CHECK_ROWS: usize = 16;

/// One reloaded model of an export and how it predicted the run's validation tickets.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// The file or folder reloaded (relative to the export).
    pub what: String,
    /// Its weights' precision (a GGUF adapter is f32 whatever the merged model's).
    pub precision: Precision,
    /// Tickets predicted by both the run and the reloaded model.
    pub checked: usize,
    /// Of those, how many got the same label.
    pub same_labels: usize,
}

/// What an export wrote and how it was checked.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    /// The folder written.
    pub out: PathBuf,
    /// The format.
    pub format: ExportFormat,
    /// The merged weights' precision.
    pub precision: Precision,
    /// Files in it.
    pub files: Vec<String>,
    /// Tickets checked (the same for every reloaded model).
    pub checked: usize,
    /// The fewest same labels among the reloaded models.
    pub same_labels: usize,
    /// Each reloaded model's result.
    pub checks: Vec<CheckResult>,
}

/// What the format writers share: the run, its checkpoint's description and adapter file.
pub(crate) struct Job<'a> {
    store: &'a Store,
    run: &'a RunInfo,
    info: &'a AdapterInfo,
    /// The base as the card and config name it (`owner/name` for a Hub snapshot).
    base_id: String,
    /// The checkpoint's adapter (PEFT names).
    adapter: PathBuf,
}

impl Job<'_> {
    /// Writes the model card with the format's front-matter line and "Use" section.
    fn card(&self, front: &str, use_it: &str, dir: &Path) -> Result<String, ExportError> {
        let text = card::card(
            self.store,
            self.run,
            self.info,
            &self.base_id,
            front,
            use_it,
        )?;
        let path = dir.join(card::CARD_FILE);
        std::fs::write(&path, text).map_err(io(&path))?;
        Ok(card::CARD_FILE.to_string())
    }

    /// The base with the checkpoint's adapter merged in.
    fn merged(&self) -> Result<merged::Merged, ExportError> {
        let scale = self.info.lora.alpha / self.info.lora.rank as f64;
        merged::merge(&self.info.base_model, &self.adapter, scale)
    }
}

/// Exports `req.run` as asked, then proves the export: see the module docs.
pub fn export(
    store: &mut Store,
    data_dir: &DataDir,
    req: &ExportRequest,
    on_phase: &mut dyn FnMut(ExportPhase),
) -> Result<ExportSummary, ExportError> {
    if req.out.exists() {
        return Err(ExportError::Exists(req.out.clone()));
    }
    let precision = req.precision.unwrap_or(req.format.default_precision());
    if !req.format.precisions().contains(&precision) {
        return Err(ExportError::Unsupported(format!(
            "{} exports hold {}, not {precision}",
            req.format,
            req.format
                .precisions()
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let run = store.run(&req.run)?;
    let dir = RunDir::new(data_dir, &run.name);
    let info = checkpoint_info(&dir, &run.name, req.checkpoint)?;
    let fail = |path: &Path, e| io(path)(e);
    let (files, checks) = fill_folder(&req.out, ".tunedesk-export-", fail, |tmp| {
        let job = Job {
            store,
            run: &run,
            info: &info,
            base_id: peft::base_id(&info.base_model).0,
            adapter: dir.adapter(req.checkpoint),
        };
        on_phase(ExportPhase::Writing);
        let mut files = write_format(&job, req.format, precision, tmp)?;
        bundle::write(
            tmp,
            req.format,
            &run,
            req.checkpoint,
            &info,
            &job.base_id,
            &files,
        )?;
        files.push(bundle::BUNDLE_FILE.into());
        let checks = check(store, data_dir, req, precision, tmp, on_phase)?;
        Ok((files, checks))
    })?;
    Ok(ExportSummary {
        out: req.out.clone(),
        format: req.format,
        precision,
        files,
        checked: checks.iter().map(|c| c.checked).max().unwrap_or(0),
        same_labels: checks.iter().map(|c| c.same_labels).min().unwrap_or(0),
        checks,
    })
}

/// Writes `format`'s files into `dir`; returns their names.
fn write_format(
    job: &Job,
    format: ExportFormat,
    precision: Precision,
    dir: &Path,
) -> Result<Vec<String>, ExportError> {
    match format {
        ExportFormat::Peft => peft::write(job, dir),
        ExportFormat::Merged => {
            merged::write(job, &job.merged()?, precision, merged::SHARD_BYTES, dir)
        }
        ExportFormat::Gguf => {
            let m = job.merged()?;
            gguf::write_model(&m, precision, &job.run.name, dir)?;
            gguf::write_adapter(&m.config, &job.info.lora, &job.adapter, dir)?;
            let use_it = format!(
                "```sh\n# the merged model\nllama-cli -m {model} -p \"$(cat prompt.txt)\" -n 64 --temp 0\n\
                 # or the base with the adapter (the base as a GGUF file)\nllama-cli -m BASE.gguf --lora {adapter} -p \"$(cat prompt.txt)\" -n 64 --temp 0\n```\n\n\
                 `prompt.txt` is the prompt above with the ticket in place of `{{ticket}}`.\n",
                model = gguf::MODEL_FILE,
                adapter = gguf::ADAPTER_FILE,
            );
            let card = job.card("library_name: gguf", &use_it, dir)?;
            Ok(vec![
                gguf::MODEL_FILE.into(),
                gguf::ADAPTER_FILE.into(),
                card,
            ])
        }
        ExportFormat::Ollama => {
            let m = job.merged()?;
            gguf::write_model(&m, precision, &job.run.name, dir)?;
            let stops: Vec<String> = m
                .config
                .eos_token_ids
                .iter()
                .filter_map(|&id| m.tokenizer.token(id))
                .collect();
            let path = dir.join(ollama::MODELFILE);
            let text = ollama::modelfile(&job.info.template, &stops)?;
            std::fs::write(&path, text).map_err(io(&path))?;
            let card = job.card("library_name: gguf", &ollama::usage(&job.run.name), dir)?;
            Ok(vec![
                gguf::MODEL_FILE.into(),
                ollama::MODELFILE.into(),
                card,
            ])
        }
    }
}

/// Loads one model an export reloads to.
type Reload = Box<dyn Fn() -> Result<LoadedModel, ExportError>>;

/// The models an export in `dir` reloads to, each with its name for the report: built lazily,
/// one at a time, so two never sit in memory together.
fn reloads(format: ExportFormat, info: &AdapterInfo, dir: &Path) -> Vec<(String, Reload)> {
    let device = default_device();
    let base = info.base_model.clone();
    let dir = dir.to_path_buf();
    let merged_file = |file: &'static str| {
        let (dir, device) = (dir.clone(), device.clone());
        Box::new(move || Ok(LoadedModel::load(&dir.join(file), &device)?)) as Reload
    };
    match format {
        ExportFormat::Peft => vec![(
            peft::WEIGHTS_FILE.into(),
            Box::new(move || {
                let mut lm = LoadedModel::load(&base, &device)?;
                peft::apply(&mut lm, &dir)?;
                Ok(lm)
            }),
        )],
        ExportFormat::Merged => vec![("the merged folder".into(), merged_file(""))],
        ExportFormat::Gguf => vec![
            (gguf::MODEL_FILE.into(), merged_file(gguf::MODEL_FILE)),
            (
                gguf::ADAPTER_FILE.into(),
                Box::new(move || {
                    let mut lm = LoadedModel::load(&base, &device)?;
                    let path = dir.join(gguf::ADAPTER_FILE);
                    let (tensors, lora) = gguf::read_adapter(&path, lm.model.config())?;
                    lm.apply_adapter_tensors(&tensors, &lora)?;
                    Ok(lm)
                }),
            ),
        ],
        ExportFormat::Ollama => vec![(gguf::MODEL_FILE.into(), merged_file(gguf::MODEL_FILE))],
    }
}

/// Predicts a sample of `req.run`'s validation tickets with the run itself and with each model
/// the export in `dir` reloads to; fails with [`ExportError::Mismatch`] when a label differs
/// (at Q8_0: when fewer than [`Q8_0_AGREEMENT`] agree). [`export`] runs it before anything
/// lands.
pub fn check(
    store: &mut Store,
    data_dir: &DataDir,
    req: &ExportRequest,
    precision: Precision,
    dir: &Path,
    on_phase: &mut dyn FnMut(ExportPhase),
) -> Result<Vec<CheckResult>, ExportError> {
    let run = store.run(&req.run)?;
    let info = checkpoint_info(&RunDir::new(data_dir, &run.name), &run.name, req.checkpoint)?;
    let dataset = run.dataset.clone();
    let (_, val) = split::run_examples(store, &dataset, None, Some(req.check_rows), 42)?;
    let tails: Vec<String> = val
        .iter()
        .map(|e| info.template.prompt_tail(&e.text))
        .collect();
    if tails.is_empty() {
        return Ok(Vec::new());
    }
    // Full precision on both sides: the check compares the export, not the 8-bit path.
    let opts = PredictOptions {
        int8: false,
        ..PredictOptions::default()
    };
    let head = info.template.prompt_head();
    on_phase(ExportPhase::Predicting);
    let mut rm = load_run(store, data_dir, &req.run, req.checkpoint)?;
    let expected = Predictor::new(&mut rm.lm, &head, &rm.labels, &rm.fields, opts.clone())?
        .predict(&tails, &mut |_, _| {})?;
    drop(rm);
    let mut results = Vec::new();
    for (what, load) in reloads(req.format, &info, dir) {
        on_phase(ExportPhase::Checking { what: what.clone() });
        let mut lm = load()?;
        let got = Predictor::new(&mut lm, &head, &info.labels, &info.fields, opts.clone())?
            .predict(&tails, &mut |_, _| {})?;
        drop(lm);
        let same = expected
            .iter()
            .zip(&got)
            .filter(|(a, b)| a.label == b.label)
            .count();
        let precision = if what == gguf::ADAPTER_FILE {
            Precision::F32
        } else {
            precision
        };
        let enough = if precision == Precision::Q8_0 {
            same as f64 >= Q8_0_AGREEMENT * tails.len() as f64
        } else {
            same == tails.len()
        };
        if !enough {
            let (i, (a, b)) = expected
                .iter()
                .zip(&got)
                .enumerate()
                .find(|(_, (a, b))| a.label != b.label)
                .expect("a differing prediction");
            return Err(ExportError::Mismatch(format!(
                "{what}: {same} of {} validation tickets got the same label; ticket {} was {:?} in the run and {:?} after export",
                tails.len(),
                val[i].row,
                a.label,
                b.label
            )));
        }
        results.push(CheckResult {
            what,
            precision,
            checked: tails.len(),
            same_labels: same,
        });
    }
    Ok(results)
}
