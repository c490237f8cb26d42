//! Base models by name: registering local folders and GGUF files (validated first), recording
//! pulled Hub models, finding GGUF files other apps keep ([`discover`]), and [`resolve`], the
//! one function that turns a `--model` argument into files to load.
//!
//! Input: the store, hub settings, a model argument or path. Output: registered entries and
//! loadable paths. Must not touch: datasets, training; the token (it stays in [`crate::hub`]).

pub mod discover;

use crate::hub::{self, HubConfig, HubError, PullEvent, Pulled, RepoId};
use crate::model::inspect::{inspect, ModelFormat};
use crate::model::{Family, ModelError};
use crate::store::{ModelInfo, ModelKind, NewModel, Store, StoreError};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Why a model could not be registered or resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The files are not a usable model.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The Hub or its cache failed.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// Not a registered name, an existing path or a repo id.
    #[error("'{arg}' is not a registered model, an existing path or a Hugging Face repo id (owner/name); registered models: {}", if .available.is_empty() { "none yet".to_string() } else { .available.join(", ") })]
    NotFound {
        /// The argument.
        arg: String,
        /// Registered names.
        available: Vec<String>,
    },
    /// A repo id that is not cached, and pulling was not allowed.
    #[error("{repo} is not downloaded yet; pull it first (tunedesk model pull {repo})")]
    NeedsPull {
        /// Repo id.
        repo: String,
    },
    /// A registered model whose files are gone.
    #[error("model '{name}' is registered at {path}, which no longer exists (tunedesk model remove {name}, then add it again)")]
    FilesMissing {
        /// Name.
        name: String,
        /// Registered path.
        path: String,
    },
    /// A name that cannot be used.
    #[error("'{0}' cannot name a local model: use letters, digits, '-', '_', '.' and ':' (names with '/' are Hugging Face repo ids)")]
    BadName(String),
    /// The path could not be read.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// How a model argument was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum Origin {
    /// A registered name.
    Registered {
        /// The name.
        name: String,
    },
    /// A folder or file given directly.
    Path,
    /// A repo id found complete in the Hugging Face cache.
    Cache {
        /// Repo id.
        repo: String,
    },
    /// A repo id pulled just now.
    Pulled {
        /// Repo id.
        repo: String,
    },
}

/// A model argument, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// What the model loader opens.
    pub path: PathBuf,
    /// How it was found.
    pub origin: Origin,
}

/// Turns a `--model` argument into files to load, trying in order: a registered name, an
/// existing path, then a Hugging Face repo id — its cached snapshot of `main`, else a pull
/// when `allow_pull` (recorded in the registry under the repo id), else
/// [`RegistryError::NeedsPull`].
pub fn resolve(
    store: &mut Store,
    hub_cfg: &HubConfig,
    arg: &str,
    allow_pull: bool,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&PullEvent),
) -> Result<Resolved, RegistryError> {
    if let Some(m) = store.find_model(arg)? {
        let path = PathBuf::from(&m.path);
        if path.exists() {
            return Ok(Resolved {
                path,
                origin: Origin::Registered { name: m.name },
            });
        }
        if m.kind != ModelKind::Hub {
            return Err(RegistryError::FilesMissing {
                name: m.name,
                path: m.path,
            });
        }
    }
    let path = Path::new(arg);
    if path.exists() {
        return Ok(Resolved {
            path: path.to_path_buf(),
            origin: Origin::Path,
        });
    }
    let Ok(repo) = RepoId::parse(arg) else {
        return Err(RegistryError::NotFound {
            arg: arg.to_string(),
            available: store.list_models()?.into_iter().map(|m| m.name).collect(),
        });
    };
    if let Some(cached) = hub::cached_snapshot(hub_cfg, &repo, "main")? {
        return Ok(Resolved {
            path: cached.path,
            origin: Origin::Cache {
                repo: repo.to_string(),
            },
        });
    }
    if hub_cfg.offline {
        return Err(HubError::NotCached {
            repo: repo.to_string(),
            revision: "main".into(),
            cache_dir: hub_cfg.cache_dir.clone(),
        }
        .into());
    }
    if !allow_pull {
        return Err(RegistryError::NeedsPull {
            repo: repo.to_string(),
        });
    }
    let pulled = hub::pull(hub_cfg, &repo, "main", cancel, on_event)?;
    record_pull(store, &pulled)?;
    Ok(Resolved {
        path: pulled.path,
        origin: Origin::Pulled {
            repo: repo.to_string(),
        },
    })
}

/// Records a pulled model in the registry under its repo id (replacing an older entry).
pub fn record_pull(store: &mut Store, p: &Pulled) -> Result<ModelInfo, RegistryError> {
    Ok(store.add_model(
        &NewModel {
            name: p.repo.to_string(),
            kind: ModelKind::Hub,
            source: p.repo.to_string(),
            revision: Some(p.revision.clone()),
            path: p.path.display().to_string(),
            architecture: p.architecture.clone(),
            params: p.params,
            size_bytes: p.size_bytes,
        },
        true,
    )?)
}

fn architecture_name(family: Family) -> &'static str {
    match family {
        Family::Llama => "LlamaForCausalLM",
        Family::Qwen2 => "Qwen2ForCausalLM",
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// Validates the Hugging Face folder or `.gguf` file at `path` (architecture, tokenizer,
/// complete tensors) and registers it as `name` (default: the file or folder name).
pub fn add(store: &mut Store, path: &Path, name: Option<&str>) -> Result<ModelInfo, RegistryError> {
    let abs = std::fs::canonicalize(path).map_err(|source| RegistryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let summary = inspect(&abs)?;
    let default_name = match summary.format {
        ModelFormat::Gguf => abs.file_stem(),
        ModelFormat::Folder => abs.file_name(),
    }
    .map(|s| s.to_string_lossy().into_owned())
    .unwrap_or_default();
    let name = name.map(str::to_string).unwrap_or(default_name);
    if !valid_name(&name) {
        return Err(RegistryError::BadName(name));
    }
    Ok(store.add_model(
        &NewModel {
            name,
            kind: match summary.format {
                ModelFormat::Gguf => ModelKind::Gguf,
                ModelFormat::Folder => ModelKind::Folder,
            },
            source: path.display().to_string(),
            revision: None,
            path: abs.display().to_string(),
            architecture: architecture_name(summary.config.family).to_string(),
            params: summary.params,
            size_bytes: summary.size_bytes,
        },
        false,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("smollm2:135m-q4_1"));
        assert!(!valid_name("org/model"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
    }

    #[test]
    fn unknown_arguments_list_the_registered_models() {
        let mut store = Store::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = HubConfig::from_env(None);
        cfg.cache_dir = dir.path().to_path_buf();
        cfg.offline = true;
        let cancel = AtomicBool::new(false);
        let err = resolve(
            &mut store,
            &cfg,
            "no such thing",
            true,
            &cancel,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, RegistryError::NotFound { .. }), "{err}");
        let err = resolve(&mut store, &cfg, "org/absent", true, &cancel, &mut |_| {}).unwrap_err();
        assert!(
            matches!(err, RegistryError::Hub(HubError::NotCached { .. })),
            "{err}"
        );
        cfg.offline = false;
        let err = resolve(&mut store, &cfg, "org/absent", false, &cancel, &mut |_| {}).unwrap_err();
        assert!(matches!(err, RegistryError::NeedsPull { .. }), "{err}");
        let err = add(&mut store, dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
    }
}
