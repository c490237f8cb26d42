//! Handing a training job to a distributed trainer (`tunedesk job export`): the same rows, the
//! same prompt and completion text and the same hyperparameters, as a self-contained folder
//! another machine trains from — the splits as JSONL of `{prompt, completion}` exactly as
//! TuneDesk renders them, the trainer's config, a launch script and a README that names every
//! setting the trainer has no equivalent for.
//!
//! The folder is filled beside its final path and renamed into place, so a failure leaves
//! nothing at `out`.

mod axolotl;
mod llama_factory;

use crate::dataset::{split, DatasetError};
use crate::example::{label_and_field_sets, Example};
use crate::paths::fill_folder;
use crate::template::Template;
use crate::train::run::RunSpec;
use crate::train::{auto, TrainConfig};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The trainers a job can be handed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trainer {
    /// Axolotl (LoRA through PEFT, `accelerate` / DeepSpeed for several GPUs).
    Axolotl,
    /// LLaMA-Factory (LoRA through PEFT, torchrun / DeepSpeed for several GPUs).
    LlamaFactory,
}

impl Trainer {
    /// The name `--target` takes.
    pub fn name(self) -> &'static str {
        match self {
            Trainer::Axolotl => "axolotl",
            Trainer::LlamaFactory => "llama-factory",
        }
    }
}

/// The job to hand over.
#[derive(Debug, Clone)]
pub struct Job {
    /// Dataset whose train and validation splits are written.
    pub dataset: String,
    /// The base model as the other machine finds it (a Hugging Face repo id).
    pub base_model: String,
    /// Hyperparameters (epochs left automatic are decided here, as a run would).
    pub config: TrainConfig,
    /// Prompt and completion layout.
    pub template: Template,
    /// At most this many training rows (a stratified sample, as `train --train-limit`).
    pub train_limit: Option<usize>,
    /// At most this many validation rows.
    pub val_limit: Option<usize>,
    /// The base model's end-of-sequence token as text (`<|im_end|>`, `</s>`), for trainers
    /// whose template does not append it (LLaMA-Factory's `empty`).
    pub eos_text: Option<String>,
}

impl Job {
    /// Run `name`'s job: its dataset, row limits, template and settings (the epochs it chose),
    /// its base model as `base_model` names it or, by default, its Hugging Face repo id, and
    /// the base model's end-of-sequence text from the model on this machine.
    pub fn from_run(
        store: &crate::store::Store,
        name: &str,
        base_model: Option<String>,
    ) -> Result<Job, HandoffError> {
        let run = store.run(name)?;
        let bad = |e: serde_json::Error| HandoffError::BadRun(name.to_string(), e.to_string());
        let spec: RunSpec = serde_json::from_value(run.config.clone()).map_err(bad)?;
        let template: Template = serde_json::from_value(run.template.clone()).map_err(bad)?;
        let hub_id = crate::paths::model_label(&spec.model.display().to_string());
        let base_model = match base_model {
            Some(m) => m,
            None if hub_id.contains('/') => hub_id,
            None => {
                return Err(HandoffError::NotFromHub {
                    run: name.to_string(),
                    model: spec.model.clone(),
                })
            }
        };
        let (config, tokenizer) = crate::model::config_and_tokenizer(&spec.model)?;
        let eos_text = config
            .eos_token_ids
            .first()
            .and_then(|&id| tokenizer.token(id));
        Ok(Job {
            dataset: spec.dataset,
            base_model,
            config: spec.config,
            template,
            train_limit: spec.train_limit,
            val_limit: spec.val_limit,
            eos_text,
        })
    }
}

/// Why a hand-off could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandoffError {
    /// The dataset could not be read.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The base model could not be read.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// The run's stored settings are unreadable.
    #[error("run '{0}': its stored settings are unreadable: {1}")]
    BadRun(String, String),
    /// The run's base model has no Hugging Face id and none was given.
    #[error("run '{run}' trained on {}, not a Hugging Face model: say which repo id the GPU machine should load (--model)", model.display())]
    NotFromHub {
        /// The run.
        run: String,
        /// Its base model.
        model: PathBuf,
    },
    /// The dataset has no training rows.
    #[error("dataset '{0}' has no training rows to hand over")]
    NoRows(String),
    /// The trainer needs the end-of-sequence text and none was given.
    #[error("{0} needs the base model's end-of-sequence token: hand over a run whose base model is on this machine")]
    NoEos(&'static str),
    /// The output exists.
    #[error("{0} already exists: choose a new folder")]
    Exists(PathBuf),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// One example as the other trainer reads it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Record {
    /// The prompt, as TuneDesk tokenizes it (the model's BOS token, if it has one, first).
    pub prompt: String,
    /// The completion, tokenized on its own, then the end-of-sequence token (appended by
    /// Axolotl; written after the text for LLaMA-Factory, whose `empty` template adds none).
    pub completion: String,
}

impl Record {
    /// `example` rendered by `template`.
    pub fn of(template: &Template, example: &Example) -> Record {
        Record {
            prompt: template.prompt(&example.text),
            completion: template.completion(&example.text, &example.label, &example.fields),
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// The folder.
    pub dir: PathBuf,
    /// Its files, relative to it.
    pub files: Vec<String>,
    /// Training rows written.
    pub train_rows: usize,
    /// Validation rows written.
    pub val_rows: usize,
    /// The epochs the job trains for (decided here when left automatic).
    pub epochs: usize,
}

/// A file of the hand-off: its path in the folder and its bytes.
struct File {
    path: &'static str,
    bytes: Vec<u8>,
}

/// Writes `job` for `trainer` into the new folder `out`.
pub fn write(
    store: &mut crate::store::Store,
    job: &Job,
    trainer: Trainer,
    out: &Path,
) -> Result<Written, HandoffError> {
    if out.exists() {
        return Err(HandoffError::Exists(out.to_path_buf()));
    }
    let seed = job.config.seed;
    let (train, val) =
        split::run_examples(store, &job.dataset, job.train_limit, job.val_limit, seed)?;
    if train.is_empty() {
        return Err(HandoffError::NoRows(job.dataset.clone()));
    }
    let (labels, fields) = label_and_field_sets(&train);
    let epochs = job
        .config
        .epochs
        .unwrap_or_else(|| auto::epochs(train.len(), labels.len()));
    // The text after each completion: its EOS for a trainer that does not append one.
    let suffix = match trainer {
        Trainer::Axolotl => "",
        Trainer::LlamaFactory => job
            .eos_text
            .as_deref()
            .ok_or(HandoffError::NoEos("LLaMA-Factory"))?,
    };
    let jsonl = |rows: &[Example]| -> Vec<u8> {
        rows.iter()
            .flat_map(|e| {
                let mut record = Record::of(&job.template, e);
                record.completion.push_str(suffix);
                let mut line = serde_json::to_vec(&record).expect("a record serializes");
                line.push(b'\n');
                line
            })
            .collect()
    };
    let bundle = serde_json::json!({
        "tunedesk_handoff": 1, "trainer": trainer, "dataset": job.dataset,
        "base_model": job.base_model, "template": job.template,
        "prompt": job.template.prompt("{ticket}"), "labels": labels, "fields": fields,
        "config": job.config, "epochs": epochs,
    });
    let mut files = vec![
        File {
            path: "data/train.jsonl",
            bytes: jsonl(&train),
        },
        File {
            path: "data/val.jsonl",
            bytes: jsonl(&val),
        },
        File {
            path: "tunedesk.json",
            bytes: serde_json::to_vec_pretty(&bundle).expect("the bundle serializes"),
        },
    ];
    match trainer {
        Trainer::Axolotl => files.extend(axolotl::files(job, epochs, !val.is_empty())),
        Trainer::LlamaFactory => files.extend(llama_factory::files(
            job,
            epochs,
            !val.is_empty(),
            suffix,
            train.len(),
        )),
    }
    write_folder(out, &files)?;
    Ok(Written {
        dir: out.to_path_buf(),
        files: files.iter().map(|f| f.path.to_string()).collect(),
        train_rows: train.len(),
        val_rows: val.len(),
        epochs,
    })
}

/// Writes `files` into the new folder `out`, whole or not at all.
fn write_folder(out: &Path, files: &[File]) -> Result<(), HandoffError> {
    let io = |path: &Path, source| HandoffError::Io {
        path: path.to_path_buf(),
        source,
    };
    fill_folder(out, ".tunedesk-handoff-", io, |tmp| {
        for f in files {
            let path = tmp.join(f.path);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            }
            std::fs::write(&path, &f.bytes).map_err(|e| io(&path, e))?;
            #[cfg(unix)]
            if f.path.ends_with(".sh") {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| io(&path, e))?;
            }
        }
        Ok(())
    })
}

/// DeepSpeed ZeRO stage 2 for `run.sh N` (sizes left to the trainer: `auto`).
fn zero2() -> Vec<u8> {
    let config = serde_json::json!({
        "zero_optimization": {
            "stage": 2,
            "overlap_comm": true,
            "contiguous_gradients": true,
            "reduce_bucket_size": "auto",
        },
        "bf16": {"enabled": "auto"},
        "fp16": {"enabled": "auto"},
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "wall_clock_breakdown": false,
    });
    serde_json::to_vec_pretty(&config).expect("json")
}

/// Settings TuneDesk trains with that `trainer`'s config does not carry.
fn not_carried(job: &Job, trainer: &str) -> Vec<String> {
    let c = &job.config;
    let mut out = vec![format!(
        "validation during training: TuneDesk decodes validation tickets to pick the best \
             checkpoint by the task's scores; {trainer} evaluates the loss on the validation \
             rows only"
    )];
    if let Some(p) = c.patience {
        out.push(format!(
            "early stopping after {p} validations without improvement (not set here)"
        ));
    }
    if let Some(s) = c.max_steps {
        out.push(format!("max_steps {s} (not set: num_epochs is)"));
    }
    if c.shared_head {
        out.push(
            "the shared prompt head (a speed-up with the same loss and gradients; LoRA \
             dropout on the head is drawn once per micro-batch in TuneDesk, per row there)"
                .to_string(),
        );
    }
    out.push(format!(
        "prompts longer than {} tokens: TuneDesk keeps their start and end and cuts the \
         middle; {trainer} drops or truncates such rows by its own rule",
        c.max_len
    ));
    out
}

/// What a trainer's README says beyond the shared parts.
struct Readme<'a> {
    /// `Axolotl`, `LLaMA-Factory`.
    trainer: &'static str,
    /// How the rows reach the trainer's tokens (a paragraph).
    tokens: String,
    /// The pip packages to install.
    install: &'a str,
    /// Settings not carried over besides [`not_carried`]'s.
    not_carried: Vec<String>,
}

/// The README, `run.sh` and DeepSpeed files every trainer's hand-off has.
fn launch_files(job: &Job, epochs: usize, run_sh: &str, readme: Readme) -> Vec<File> {
    let mut not = not_carried(job, readme.trainer);
    not.extend(readme.not_carried);
    let not = not.iter().map(|s| format!("- {s}\n")).collect::<String>();
    let text = format!(
        "# Training job for {trainer} (from TuneDesk)\n\n\
         Dataset `{dataset}`, base model `{base}`, {epochs} epochs. {tokens}\n\n\
         ## Install\n\n```sh\npip install {install}   # with a CUDA build of PyTorch\n```\n\n\
         ## Train\n\n```sh\n./run.sh        # one GPU\n./run.sh 8      # eight GPUs on this node (DeepSpeed ZeRO-2)\n```\n\n\
         ## Bring it back\n\n```sh\ntunedesk adapter import output --base {base} --dataset {dataset}\n\
         tunedesk eval --run <the imported run> --dataset {dataset}\n```\n\n\
         ## Not carried over\n\n{not}\n\
         `tunedesk.json` names the template, the labels and the fields, and TuneDesk's own \
         settings for this job.\n",
        trainer = readme.trainer,
        dataset = job.dataset,
        base = job.base_model,
        tokens = readme.tokens,
        install = readme.install,
    );
    vec![
        File {
            path: "deepspeed_zero2.json",
            bytes: zero2(),
        },
        File {
            path: "run.sh",
            bytes: run_sh.as_bytes().to_vec(),
        },
        File {
            path: "README.md",
            bytes: text.into_bytes(),
        },
    ]
}

/// A YAML document of `keys` in order: a block mapping whose values are written in JSON's
/// flow style (valid YAML, read the same by any YAML loader, quoting every string).
fn yaml(keys: &[(&str, serde_json::Value)]) -> String {
    keys.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_whose_stored_settings_are_unreadable_is_refused_naming_it() {
        let mut store = crate::store::Store::open_in_memory().unwrap();
        let template = serde_json::to_value(Template::default()).unwrap();
        let settings = serde_json::json!({"dataset": 1});
        store
            .create_run("broken", "d", "m.gguf", &settings, &template)
            .unwrap();
        let err = Job::from_run(&store, "broken", Some("org/model".into())).unwrap_err();
        assert!(matches!(err, HandoffError::BadRun(ref run, _) if run == "broken"));
        let text = err.to_string();
        assert!(
            text.contains("run 'broken': its stored settings are unreadable"),
            "{text}"
        );
    }
}
