//! A pull, start to end: `config.json` first (its architecture is checked before anything
//! large is fetched), then the file list (tokenizer files, the safetensors index and its shards
//! or the single `model.safetensors`), a [`PullEvent::Plan`] with sizes and the RAM estimate,
//! then the downloads. Every request goes to the resolve URL of one commit, so a branch that
//! moves during the pull cannot mix two versions.

use super::cache::RepoCache;
use super::events::{FilePlan, Meter, PullEvent};
use super::http::{FileMeta, Http};
use super::small::Small;
use super::transfer::Transfers;
use super::{HubConfig, HubError, RepoId};
use crate::model::estimate::{param_count, training_ram_bytes, TrainShape};
use crate::model::{Config, SUPPORTED_ARCHITECTURES};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Files read besides the weights; the first is required.
const TOKENIZER_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "generation_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
];
const INDEX: &str = "model.safetensors.index.json";
const SINGLE: &str = "model.safetensors";

/// A model in the cache, ready to load.
#[derive(Debug, Clone, Serialize)]
pub struct Pulled {
    /// Repo id.
    pub repo: RepoId,
    /// Revision asked for.
    pub revision: String,
    /// The commit it resolved to.
    pub commit: String,
    /// The snapshot folder (what [`crate::model::LoadedModel::load`] takes).
    pub path: PathBuf,
    /// `architectures[0]` of config.json.
    pub architecture: String,
    /// Parameter count.
    pub params: u64,
    /// Estimated peak RAM of LoRA training at the default settings.
    pub train_ram_bytes: u64,
    /// Size of the files.
    pub size_bytes: u64,
    /// Bytes fetched over the network by this pull.
    pub downloaded_bytes: u64,
}

/// Pulls `repo` at `revision` into the cache (what is there and intact is not fetched
/// again). Offline, or when the Hub cannot be reached, a complete cached snapshot is used.
pub fn pull(
    cfg: &HubConfig,
    repo: &RepoId,
    revision: &str,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&PullEvent),
) -> Result<Pulled, HubError> {
    runtime()?.block_on(async {
        let mut emit = |e: PullEvent| on_event(&e);
        if cfg.offline {
            return from_cache(cfg, repo, revision)
                .await?
                .ok_or_else(|| HubError::NotCached {
                    repo: repo.to_string(),
                    revision: revision.to_string(),
                    cache_dir: cfg.cache_dir.clone(),
                });
        }
        let http = Http::new(cfg)?;
        let config_meta = match http.head(repo, revision, "config.json").await {
            Ok(Some(meta)) => meta,
            Ok(None) => {
                return Err(HubError::MissingFile {
                    repo: repo.to_string(),
                    file: format!("config.json at revision '{revision}'"),
                    why: "check the repo id and --revision; TuneDesk pulls Transformers models (config.json + safetensors)".into(),
                })
            }
            Err(e @ HubError::Unreachable { .. }) => {
                let Some(cached) = from_cache(cfg, repo, revision).await? else {
                    return Err(e);
                };
                emit(PullEvent::UsingCache {
                    reason: e.to_string(),
                });
                return Ok(cached);
            }
            Err(e) => return Err(e),
        };
        Puller::new(cfg, http, repo, revision, config_meta, cancel)?
            .run(&mut emit)
            .await
    })
}

/// The complete cached snapshot of `repo` at `revision`, if there is one (no network).
pub fn cached_snapshot(
    cfg: &HubConfig,
    repo: &RepoId,
    revision: &str,
) -> Result<Option<Pulled>, HubError> {
    runtime()?.block_on(from_cache(cfg, repo, revision))
}

fn runtime() -> Result<tokio::runtime::Runtime, HubError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| HubError::Client(format!("cannot start the I/O runtime: {e}")))
}

/// Looks the snapshot up through hf-hub's cache-only lookup: config.json, tokenizer.json and
/// every weight file must be there.
async fn from_cache(
    cfg: &HubConfig,
    repo: &RepoId,
    revision: &str,
) -> Result<Option<Pulled>, HubError> {
    let rc = RepoCache::new(&cfg.cache_dir, repo);
    let Some(commit) = rc.commit_of(revision) else {
        return Ok(None);
    };
    let http = Http::new(cfg)?;
    let small = Small::new(cfg, &http)?;
    let Some(config_path) = small.cached(repo, &commit, "config.json").await else {
        return Ok(None);
    };
    let dir = config_path
        .parent()
        .expect("a snapshot file has a folder")
        .to_path_buf();
    let mut files = vec![config_path, dir.join("tokenizer.json")];
    match small.cached(repo, &commit, INDEX).await {
        Some(index) => match shard_names(&index) {
            Ok(shards) => files.extend(shards.iter().map(|s| dir.join(s))),
            Err(_) => return Ok(None),
        },
        None => files.push(dir.join(SINGLE)),
    }
    if !files.iter().all(|f| f.exists()) {
        return Ok(None);
    }
    let Ok((architecture, config)) = read_config(repo, &dir.join("config.json")) else {
        return Ok(None);
    };
    let size_bytes = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| std::fs::metadata(e.path()).ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    Ok(Some(Pulled {
        repo: repo.clone(),
        revision: revision.to_string(),
        commit,
        path: dir,
        architecture,
        params: param_count(&config),
        train_ram_bytes: training_ram_bytes(&config, TrainShape::default()),
        size_bytes,
        downloaded_bytes: 0,
    }))
}

/// `architectures[0]` (or `model_type`) of a config.json, and the parsed configuration;
/// an architecture the engine does not implement is refused.
fn read_config(repo: &RepoId, path: &Path) -> Result<(String, Config), HubError> {
    let text = std::fs::read_to_string(path).map_err(|e| HubError::io(path, e))?;
    let config_error = |source| HubError::Config {
        repo: repo.to_string(),
        source: Box::new(source),
    };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        config_error(crate::model::ModelError::Config(format!(
            "config.json: {e}"
        )))
    })?;
    let architecture = json["architectures"][0]
        .as_str()
        .or(json["model_type"].as_str())
        .unwrap_or("(none)")
        .to_string();
    if !SUPPORTED_ARCHITECTURES.contains(&architecture.as_str()) {
        return Err(HubError::Unsupported {
            repo: repo.to_string(),
            architecture,
        });
    }
    let config = Config::from_hf_json(&text).map_err(config_error)?;
    Ok((architecture, config))
}

/// The shard files a safetensors index names (sorted, deduplicated, plain file names only).
fn shard_names(index: &Path) -> Result<Vec<String>, HubError> {
    let text = std::fs::read_to_string(index).map_err(|e| HubError::io(index, e))?;
    let bad = |what: String| HubError::Protocol {
        url: index.display().to_string(),
        what,
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let map = json["weight_map"]
        .as_object()
        .ok_or_else(|| bad("no weight_map".into()))?;
    let mut names: Vec<String> = map
        .values()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names.dedup();
    if let Some(n) = names.iter().find(|n| {
        n.is_empty()
            || n.contains(['/', '\\'])
            || n.starts_with('.')
            || !n.ends_with(".safetensors")
    }) {
        return Err(bad(format!("unexpected shard name '{n}'")));
    }
    Ok(names)
}

/// One pull in progress.
struct Puller<'a> {
    cfg: &'a HubConfig,
    http: Http,
    small: Small,
    cache: RepoCache,
    repo: &'a RepoId,
    revision: &'a str,
    config_meta: FileMeta,
    cancel: &'a AtomicBool,
}

impl<'a> Puller<'a> {
    fn new(
        cfg: &'a HubConfig,
        http: Http,
        repo: &'a RepoId,
        revision: &'a str,
        config_meta: FileMeta,
        cancel: &'a AtomicBool,
    ) -> Result<Puller<'a>, HubError> {
        Ok(Puller {
            cfg,
            small: Small::new(cfg, &http)?,
            http,
            cache: RepoCache::new(&cfg.cache_dir, repo),
            repo,
            revision,
            config_meta,
            cancel,
        })
    }

    fn commit(&self) -> &str {
        &self.config_meta.commit
    }

    /// HEAD of a file at the pull's commit; a missing required file is an error.
    async fn head(&self, file: &str, required: Option<&str>) -> Result<Option<FileMeta>, HubError> {
        match self.http.head(self.repo, self.commit(), file).await? {
            None => match required {
                Some(why) => Err(HubError::MissingFile {
                    repo: self.repo.to_string(),
                    file: file.to_string(),
                    why: why.to_string(),
                }),
                None => Ok(None),
            },
            some => Ok(some),
        }
    }

    async fn small(
        &self,
        file: &str,
        meta: &FileMeta,
        meter: &mut Meter,
        emit: &mut dyn FnMut(PullEvent),
    ) -> Result<PathBuf, HubError> {
        self.small
            .fetch(
                &self.cache,
                self.repo,
                self.commit(),
                file,
                meta,
                meter,
                self.cancel,
                emit,
            )
            .await
    }

    async fn run(self, emit: &mut dyn FnMut(PullEvent)) -> Result<Pulled, HubError> {
        // Paces the events of config.json and the index, fetched before the plan is known.
        let mut pre = Meter::new(0, 0);
        let config_meta = self.config_meta.clone();
        let config_path = self
            .small("config.json", &config_meta, &mut pre, emit)
            .await?;
        let (architecture, config) = read_config(self.repo, &config_path)?;

        let mut files: Vec<(String, FileMeta)> = vec![("config.json".into(), config_meta)];
        let weights = self.weight_files(&mut files, &mut pre, emit).await?;
        // config.json and the index are in place already.
        let early = files.len();
        for (i, name) in TOKENIZER_FILES.iter().enumerate() {
            let required = (i == 0).then_some("TuneDesk needs the tokenizer in tokenizer.json");
            if let Some(meta) = self.head(name, required).await? {
                files.push((name.to_string(), meta));
            }
        }

        let plan: Vec<FilePlan> = files
            .iter()
            .chain(&weights)
            .map(|(file, meta)| FilePlan {
                file: file.clone(),
                size: meta.size,
                cached: self.is_cached(file, meta),
            })
            .collect();
        let total_bytes: u64 = plan.iter().map(|f| f.size).sum();
        let params = param_count(&config);
        let train_ram_bytes = training_ram_bytes(&config, TrainShape::default());
        emit(PullEvent::Plan {
            repo: self.repo.to_string(),
            revision: self.revision.to_string(),
            commit: self.commit().to_string(),
            architecture: architecture.clone(),
            params,
            train_ram_bytes,
            download_bytes: plan.iter().filter(|f| !f.cached).map(|f| f.size).sum(),
            files: plan,
            total_bytes,
        });

        let mut meter = Meter::new(total_bytes, 0);
        for (i, (file, meta)) in files.iter().enumerate() {
            if i < early {
                meter.add(meta.size, false);
            } else {
                self.small(file, meta, &mut meter, emit).await?;
            }
        }
        let transfers = Transfers {
            http: &self.http,
            cache: &self.cache,
            repo: self.repo,
            commit: self.commit(),
            retries: self.cfg.retries,
            lock_wait: self.cfg.timeout,
            cancel: self.cancel,
        };
        for (file, meta) in &weights {
            transfers.fetch(file, meta, &mut meter, emit).await?;
        }
        self.cache.write_ref(self.revision, self.commit())?;
        let path = self.cache.snapshot_dir(self.commit());
        let downloaded_bytes = pre.fetched() + meter.fetched();
        emit(PullEvent::Done {
            path: path.clone(),
            commit: self.commit().to_string(),
            downloaded_bytes,
        });
        Ok(Pulled {
            repo: self.repo.clone(),
            revision: self.revision.to_string(),
            commit: self.commit().to_string(),
            path,
            architecture,
            params,
            train_ram_bytes,
            size_bytes: total_bytes,
            downloaded_bytes,
        })
    }

    /// The weight files: the shards the safetensors index names (the index itself is fetched
    /// and added to `files`), else `model.safetensors`.
    async fn weight_files(
        &self,
        files: &mut Vec<(String, FileMeta)>,
        pre: &mut Meter,
        emit: &mut dyn FnMut(PullEvent),
    ) -> Result<Vec<(String, FileMeta)>, HubError> {
        Ok(match self.head(INDEX, None).await? {
            Some(index_meta) => {
                let index_path = self.small(INDEX, &index_meta, pre, emit).await?;
                files.push((INDEX.into(), index_meta));
                let mut shards = Vec::new();
                for name in shard_names(&index_path)? {
                    let why = "the safetensors index names it but the repo lacks it";
                    let meta = self.head(&name, Some(why)).await?.expect("required");
                    shards.push((name, meta));
                }
                shards
            }
            None => {
                let why = "TuneDesk reads safetensors weights (model.safetensors, or shards with model.safetensors.index.json)";
                let meta = self.head(SINGLE, Some(why)).await?.expect("required");
                vec![(SINGLE.into(), meta)]
            }
        })
    }

    /// Whether the file's blob is in the cache with the announced size (the hash is checked
    /// when the file's turn comes).
    fn is_cached(&self, _file: &str, meta: &FileMeta) -> bool {
        std::fs::metadata(self.cache.blob(&meta.etag)).is_ok_and(|m| m.len() == meta.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names_are_plain_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("i.json");
        std::fs::write(
            &p,
            r#"{"weight_map": {"a": "m-2.safetensors", "b": "m-1.safetensors", "c": "m-1.safetensors"}}"#,
        )
        .unwrap();
        assert_eq!(
            shard_names(&p).unwrap(),
            ["m-1.safetensors", "m-2.safetensors"]
        );
        std::fs::write(&p, r#"{"weight_map": {"a": "../../etc/x.safetensors"}}"#).unwrap();
        assert!(shard_names(&p).is_err());
    }
}
