//! A run's folder and its checkpoints, as every stage reads them: the layout
//! (`<data dir>/runs/<name>/{last,best,steps/<step>}/adapter.safetensors`) and the
//! self-description each checkpoint keeps beside its weights ([`AdapterInfo`] in
//! `adapter.json`: base model, LoRA settings, template, labels and fields), so that prediction
//! and export read a checkpoint without knowing how training stored its run.
//!
//! Input: a data directory and a run name. Output: paths, and the description read back.
//! Must not touch: the store, training state (optimizer, RNG: `train::checkpoint` owns those).

use crate::model::lora::LoraConfig;
use crate::paths::DataDir;
use crate::template::Template;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File of a checkpoint's adapter weights (LoRA `A`/`B` by PEFT name).
pub const ADAPTER_FILE: &str = "adapter.safetensors";
/// The file written beside every export (`export::bundle`) that describes how to prompt the
/// model: template, labels, fields; read back when an adapter is imported.
pub const BUNDLE_FILE: &str = "tunedesk.json";
/// File of a checkpoint's [`AdapterInfo`].
pub const INFO_FILE: &str = "adapter.json";
/// Folder (in a run's folder) of the adapters kept at each checkpointed step: `<step>/`.
pub const STEPS_DIR: &str = "steps";

/// Which checkpoint of a run, written `best`, `last` or a step number.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde_with::SerializeDisplay, serde_with::DeserializeFromStr,
)]
pub enum Checkpoint {
    /// Lowest validation loss.
    Best,
    /// The most recent.
    Last,
    /// The one written at this optimizer step (at an evaluation or a cancel).
    Step(usize),
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Checkpoint::Best => f.write_str("best"),
            Checkpoint::Last => f.write_str("last"),
            Checkpoint::Step(n) => write!(f, "{n}"),
        }
    }
}

impl std::str::FromStr for Checkpoint {
    type Err = String;

    /// `best`, `last` or a step number.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "best" => Ok(Checkpoint::Best),
            "last" => Ok(Checkpoint::Last),
            _ => s
                .parse()
                .map(Checkpoint::Step)
                .map_err(|_| format!("'{s}' is not best, last or a step number")),
        }
    }
}

/// The folder of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir(PathBuf);

impl RunDir {
    /// The folder of run `name` in `data_dir`.
    pub fn new(data_dir: &DataDir, name: &str) -> RunDir {
        RunDir(data_dir.path().join("runs").join(name))
    }

    /// The folder itself.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The folder of a checkpoint.
    pub fn checkpoint(&self, c: Checkpoint) -> PathBuf {
        match c {
            Checkpoint::Best => self.0.join("best"),
            Checkpoint::Last => self.0.join("last"),
            Checkpoint::Step(n) => self.0.join(STEPS_DIR).join(n.to_string()),
        }
    }

    /// The adapter weights of a checkpoint.
    pub fn adapter(&self, c: Checkpoint) -> PathBuf {
        self.checkpoint(c).join(ADAPTER_FILE)
    }

    /// Steps of the step checkpoints the run keeps, ascending.
    pub fn kept_steps(&self) -> Vec<usize> {
        let mut steps: Vec<usize> = std::fs::read_dir(self.0.join(STEPS_DIR))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join(ADAPTER_FILE).exists())
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        steps.sort_unstable();
        steps
    }

    /// The checkpoints the run has, for a message: `best`, `last`, `steps 4, 8`.
    pub fn kept(&self) -> Vec<String> {
        let mut kept: Vec<String> = [Checkpoint::Best, Checkpoint::Last]
            .into_iter()
            .filter(|c| self.adapter(*c).exists())
            .map(|c| c.to_string())
            .collect();
        let steps = self.kept_steps();
        if !steps.is_empty() {
            let steps: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
            kept.push(format!("steps {}", steps.join(", ")));
        }
        kept
    }
}

/// What a checkpoint's adapter is: enough to predict with it or export it alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterInfo {
    /// The base model it adapts (HF folder or `.gguf` file).
    pub base_model: PathBuf,
    /// Its LoRA settings (rank, alpha, target modules).
    pub lora: LoraConfig,
    /// The prompt/completion template it was trained with.
    pub template: Template,
    /// The labels it was trained on, sorted.
    pub labels: Vec<String>,
    /// The field names it was trained on, sorted.
    pub fields: Vec<String>,
}

impl AdapterInfo {
    /// Writes the description into checkpoint folder `dir` (which must exist), atomically.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(format!(".{INFO_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, json)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dir.join(INFO_FILE))
    }

    /// The description in checkpoint folder `dir`; `None` for checkpoints written before
    /// checkpoints described themselves.
    pub fn read(dir: &Path) -> std::io::Result<Option<AdapterInfo>> {
        let path = dir.join(INFO_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_kept_checkpoints() {
        let root = tempfile::tempdir().unwrap();
        let run = RunDir::new(&DataDir::resolve(Some(root.path())), "r");
        assert_eq!(run.path(), root.path().join("runs/r"));
        assert_eq!(
            run.adapter(Checkpoint::Step(8)),
            root.path().join("runs/r/steps/8/adapter.safetensors")
        );
        assert!(run.kept().is_empty());
        for c in [Checkpoint::Last, Checkpoint::Step(8), Checkpoint::Step(12)] {
            std::fs::create_dir_all(run.checkpoint(c)).unwrap();
            std::fs::write(run.adapter(c), b"").unwrap();
        }
        // A step folder without its adapter (cut while writing) is not kept.
        std::fs::create_dir_all(run.checkpoint(Checkpoint::Step(16))).unwrap();
        assert_eq!(run.kept_steps(), [8, 12]);
        assert_eq!(run.kept(), ["last", "steps 8, 12"]);
        for s in ["best", "last", "12"] {
            assert_eq!(s.parse::<Checkpoint>().unwrap().to_string(), s);
        }
        assert!("latest".parse::<Checkpoint>().is_err());
    }

    #[test]
    fn description_round_trips_and_old_checkpoints_have_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(AdapterInfo::read(dir.path()).unwrap(), None);
        let info = AdapterInfo {
            base_model: "m.gguf".into(),
            lora: LoraConfig::default(),
            template: Template::default(),
            labels: vec!["Billing".into()],
            fields: vec!["Email".into()],
        };
        info.write(dir.path()).unwrap();
        assert_eq!(AdapterInfo::read(dir.path()).unwrap(), Some(info));
        std::fs::write(dir.path().join(INFO_FILE), b"{").unwrap();
        assert!(AdapterInfo::read(dir.path()).is_err());
    }
}
