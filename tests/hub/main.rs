//! Models from the Hugging Face Hub and from local files, against a fake hub (no internet):
//!
//! - `fake_hub`: the local server (resolve protocol, LFS redirects, Range, gates, faults).
//! - `pull`: `tunedesk model pull` end to end — full pull then use, resume after a cut,
//!   gated and missing repos, unsupported architectures, offline use, token secrecy, refetch
//!   of corrupt cache entries, the catalog.
//! - `engine`: the engine's pull API — an interrupted or cancelled pull leaves the cache
//!   consistent and the next one fetches only the rest.
//! - `local`: `tunedesk model add|list|show|remove` on local folders, with validation.

mod engine;
mod fake_hub;
mod local;
mod pull;
#[path = "../common/tiny_model.rs"]
mod tiny_model;

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::Path;

/// The `tunedesk` binary with its data and the Hugging Face cache in `home`, talking to
/// `endpoint`, and no ambient token or offline switch.
pub fn tunedesk(home: &Path, endpoint: &str) -> Command {
    let mut cmd = Command::cargo_bin("tunedesk").unwrap();
    cmd.env("TUNEDESK_HOME", home.join("data"))
        .env("HF_HOME", home.join("hf"))
        .env("HF_ENDPOINT", endpoint)
        .env_remove("TUNEDESK_LOG")
        .timeout(std::time::Duration::from_secs(120));
    for var in [
        "HF_TOKEN",
        "HF_TOKEN_PATH",
        "HF_HUB_OFFLINE",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The files of a tiny random Llama model (config, tokenizer, generation config, weights),
/// with the weights in two shards and an index when `sharded`.
pub fn tiny_repo(arch: &str, sharded: bool) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    tiny_model::write_tiny(dir.path(), arch, 7);
    let mut files = BTreeMap::new();
    for f in ["config.json", "tokenizer.json"] {
        files.insert(f.to_string(), std::fs::read(dir.path().join(f)).unwrap());
    }
    files.insert(
        "generation_config.json".into(),
        br#"{"eos_token_id": 1}"#.to_vec(),
    );
    let weights = dir.path().join("model.safetensors");
    if !sharded {
        files.insert("model.safetensors".into(), std::fs::read(&weights).unwrap());
        return files;
    }
    let tensors = candle_core::safetensors::load(&weights, &candle_core::Device::Cpu).unwrap();
    let mut names: Vec<_> = tensors.keys().cloned().collect();
    names.sort();
    let mut map = serde_json::Map::new();
    for (i, chunk) in names.chunks(names.len().div_ceil(2)).enumerate() {
        let shard = format!("model-0000{}-of-00002.safetensors", i + 1);
        let part: std::collections::HashMap<_, _> = chunk
            .iter()
            .map(|n| (n.clone(), tensors[n].clone()))
            .collect();
        let path = dir.path().join(&shard);
        candle_core::safetensors::save(&part, &path).unwrap();
        files.insert(shard.clone(), std::fs::read(&path).unwrap());
        for n in chunk {
            map.insert(n.clone(), shard.clone().into());
        }
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": map});
    files.insert(
        "model.safetensors.index.json".into(),
        index.to_string().into_bytes(),
    );
    files
}

/// The folder of repo `id` in the Hugging Face cache under `home`.
pub fn repo_cache(home: &Path, id: &str) -> std::path::PathBuf {
    home.join("hf/hub")
        .join(format!("models--{}", id.replace('/', "--")))
}
