//! Base models from the Hugging Face Hub: the recommended [`catalog`], and [`pull`], which
//! downloads a repo's configuration, tokenizer and safetensors weights into the standard Hugging
//! Face cache (shared with `transformers`), with progress events, resume and verification.
//!
//! Input: a repo id and revision, plus endpoint, token and cache settings ([`HubConfig`]).
//! Output: a snapshot folder in the cache that [`crate::model::LoadedModel::load`] reads, and
//! typed [`PullEvent`]s.
//! Must not touch: the store, datasets, training. The token never leaves [`Token`] except as an
//! `Authorization` header.
//!
//! Small files (JSON, tokenizer) go through hf-hub's `download_file`; weights go through
//! [`transfer`], because hf-hub restarts an interrupted file from byte 0 (it truncates its
//! `.incomplete` file) while weights are resumed with HTTP `Range` requests.

pub mod cache;
pub mod catalog;
mod error;
mod events;
mod http;
pub mod pull;
mod small;
mod token;
mod transfer;

pub use error::HubError;
pub use events::{FilePlan, PullEvent};
pub use pull::{cached_snapshot, pull, Pulled};
pub use token::Token;
pub use transfer::sha256_file;

use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// The public Hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// A model repository id, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RepoId(String);

impl RepoId {
    /// Parses `owner/name` (letters, digits, `-`, `_`, `.`; no `..`, no leading `-` or `.`).
    pub fn parse(s: &str) -> Result<RepoId, HubError> {
        let ok_part = |p: &str| {
            !p.is_empty()
                && p.len() <= 96
                && !p.starts_with(['-', '.'])
                && !p.ends_with('.')
                && !p.contains("..")
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match s.split_once('/') {
            Some((owner, name)) if ok_part(owner) && ok_part(name) => Ok(RepoId(s.to_string())),
            _ => Err(HubError::InvalidRepoId(s.to_string())),
        }
    }

    /// `owner/name`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The owner part.
    pub fn owner(&self) -> &str {
        self.0.split_once('/').map_or("", |(o, _)| o)
    }

    /// The name part.
    pub fn name(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(_, n)| n)
    }
}

impl std::fmt::Display for RepoId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where and how to reach the Hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Base URL (`$HF_ENDPOINT`, else the public Hub).
    pub endpoint: String,
    /// The Hugging Face hub cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    /// `~/.cache/huggingface/hub`).
    pub cache_dir: PathBuf,
    /// Access token, if any.
    pub token: Option<Token>,
    /// Never touch the network (`$HF_HUB_OFFLINE`): only cached models work.
    pub offline: bool,
    /// How often an interrupted weight download is resumed before giving up.
    pub retries: usize,
    /// Connect timeout, and the longest silence tolerated while a request is in flight.
    pub timeout: Duration,
}

impl HubConfig {
    /// The settings from the environment, with `token` (e.g. the app's settings) taking
    /// precedence over `$HF_TOKEN` and the token file.
    pub fn from_env(token: Option<Token>) -> HubConfig {
        let endpoint = std::env::var("HF_ENDPOINT")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let offline = std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
        HubConfig {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            cache_dir: hub_cache_dir(),
            token: Token::resolve(token),
            offline,
            retries: 3,
            timeout: Duration::from_secs(30),
        }
    }

    /// The model's page on the Hub.
    pub fn repo_url(&self, repo: &RepoId) -> String {
        format!("{}/{}", self.endpoint, repo)
    }
}

/// `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
pub fn hf_home() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(home) = var("HF_HOME") {
        return home.into();
    }
    if let Some(xdg) = var("XDG_CACHE_HOME") {
        return PathBuf::from(xdg).join("huggingface");
    }
    let home = var("HOME")
        .or_else(|| var("USERPROFILE"))
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("huggingface")
}

/// The hub cache, as `huggingface_hub` finds it: `$HF_HUB_CACHE`, `$HUGGINGFACE_HUB_CACHE`,
/// else `hf_home()/hub`.
pub fn hub_cache_dir() -> PathBuf {
    ["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"]
        .iter()
        .find_map(|k| std::env::var_os(k).filter(|v| !v.is_empty()))
        .map(PathBuf::from)
        .unwrap_or_else(|| hf_home().join("hub"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids() {
        let r = RepoId::parse("HuggingFaceTB/SmolLM2-135M-Instruct").unwrap();
        assert_eq!(
            (r.owner(), r.name()),
            ("HuggingFaceTB", "SmolLM2-135M-Instruct")
        );
        for bad in [
            "gpt2", "a/b/c", "/x", "x/", "a/..", "a/b c", "../x", "-a/b", "a/b.",
        ] {
            assert!(RepoId::parse(bad).is_err(), "{bad}");
        }
    }
}
