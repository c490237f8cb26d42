//! The engine's pull API: interrupted and cancelled pulls leave the cache consistent (partial
//! bytes in `blobs/<etag>.incomplete`, no snapshot entry), and the next pull fetches only the
//! rest.

use crate::fake_hub::{sha256_hex, FakeHub};
use crate::tiny_repo;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tunedesk::hub::{self, HubConfig, HubError, PullEvent, RepoId};

fn config(hub: &FakeHub, cache: &std::path::Path) -> HubConfig {
    let mut cfg = HubConfig::from_env(None);
    cfg.endpoint = hub.url().to_string();
    cfg.cache_dir = cache.to_path_buf();
    cfg.token = None;
    cfg.offline = false;
    cfg
}

/// The state a broken pull must leave: the partial bytes kept, nothing in the snapshot.
fn assert_partial(cache: &std::path::Path, repo: &str, etag: &str, commit: &str, bytes: u64) {
    let folder = cache.join(format!("models--{}", repo.replace('/', "--")));
    let part = folder.join("blobs").join(format!("{etag}.incomplete"));
    assert_eq!(std::fs::metadata(&part).unwrap().len(), bytes);
    assert!(!folder.join("blobs").join(etag).exists());
    let snap = folder.join("snapshots").join(commit);
    assert!(!snap.join("model.safetensors").exists());
    assert!(
        snap.join("config.json").exists(),
        "small files are complete"
    );
    let cfg_dir = cache.to_path_buf();
    let id = RepoId::parse(repo).unwrap();
    let mut c = HubConfig::from_env(None);
    c.cache_dir = cfg_dir;
    assert!(
        hub::cached_snapshot(&c, &id, "main").unwrap().is_none(),
        "an incomplete model is not a cached model"
    );
}

#[test]
fn interrupted_pull_resumes_in_the_next_run() {
    let hub = FakeHub::start();
    let files = tiny_repo("Qwen2ForCausalLM", false);
    let weights = files["model.safetensors"].clone();
    let commit = hub.add_repo("org/tiny-qwen", files, None);
    let cache = tempfile::tempdir().unwrap();
    let repo = RepoId::parse("org/tiny-qwen").unwrap();
    let never = AtomicBool::new(false);

    let mut cfg = config(&hub, cache.path());
    cfg.retries = 0;
    hub.cut_once("model.safetensors", 1500);
    let err = hub::pull(&cfg, &repo, "main", &never, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, HubError::Interrupted { done: 1500, .. }),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("run the same command again to resume"));
    let etag = sha256_hex(&weights);
    assert_partial(cache.path(), "org/tiny-qwen", &etag, &commit, 1500);

    hub.clear_log();
    let mut events = Vec::new();
    let pulled = hub::pull(&cfg, &repo, "main", &never, &mut |e| events.push(e.clone())).unwrap();
    let ranges: Vec<_> = hub
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/cdn/"))
        .map(|r| r.range)
        .collect();
    assert_eq!(ranges, [Some("bytes=1500-".to_string())]);
    assert!(events.contains(&PullEvent::FileStarted {
        file: "model.safetensors".into(),
        size: weights.len() as u64,
        resumed_from: 1500,
    }));
    assert_eq!(
        pulled.downloaded_bytes,
        weights.len() as u64 - 1500,
        "only the rest was fetched"
    );
    assert_eq!(
        std::fs::read(pulled.path.join("model.safetensors")).unwrap(),
        weights
    );
    // The pulled snapshot loads and runs.
    let lm = tunedesk::model::LoadedModel::load(&pulled.path, &candle_core::Device::Cpu).unwrap();
    assert_eq!(lm.model.config().family, tunedesk::model::Family::Qwen2);
}

#[test]
fn cancelled_pull_keeps_its_bytes_and_resumes() {
    let hub = FakeHub::start();
    let files = tiny_repo("LlamaForCausalLM", false);
    let weights = files["model.safetensors"].clone();
    let commit = hub.add_repo("org/tiny", files, None);
    let cache = tempfile::tempdir().unwrap();
    let repo = RepoId::parse("org/tiny").unwrap();
    let cfg = config(&hub, cache.path());

    hub.stall_once("model.safetensors", 2000, Duration::from_secs(3));
    let cancel = AtomicBool::new(false);
    let err = hub::pull(&cfg, &repo, "main", &cancel, &mut |e| {
        if let PullEvent::Progress { file, bytes, .. } = e {
            if file == "model.safetensors" && *bytes >= 2000 {
                cancel.store(true, Ordering::Relaxed);
            }
        }
    })
    .unwrap_err();
    assert!(matches!(err, HubError::Cancelled), "{err}");
    assert_partial(
        cache.path(),
        "org/tiny",
        &sha256_hex(&weights),
        &commit,
        2000,
    );

    hub.clear_log();
    let pulled = hub::pull(&cfg, &repo, "main", &AtomicBool::new(false), &mut |_| {}).unwrap();
    assert_eq!(pulled.downloaded_bytes, weights.len() as u64 - 2000);
    assert_eq!(
        std::fs::read(pulled.path.join("model.safetensors")).unwrap(),
        weights
    );
}
