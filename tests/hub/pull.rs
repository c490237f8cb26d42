//! `tunedesk model pull` and friends against the fake hub.

use crate::fake_hub::{sha256_hex, FakeHub};
use crate::{repo_cache, tiny_repo, tunedesk};
use serde_json::Value;
use std::path::Path;

fn run(cmd: &mut assert_cmd::Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(cmd: &mut assert_cmd::Command) -> String {
    let (success, stdout, stderr) = run(cmd);
    assert!(success, "stdout:\n{stdout}\nstderr:\n{stderr}");
    stdout
}

fn fails(cmd: &mut assert_cmd::Command) -> String {
    let (success, stdout, stderr) = run(cmd);
    assert!(!success, "should fail; stdout:\n{stdout}");
    stderr
}

/// GETs whose path is a weight file's bytes (served at /cdn/ after the redirect).
fn weight_gets(hub: &FakeHub) -> Vec<Option<String>> {
    hub.requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/cdn/"))
        .map(|r| r.range)
        .collect()
}

#[test]
fn full_pull_then_generate_then_nothing_to_fetch() {
    let hub = FakeHub::start();
    let files = tiny_repo("LlamaForCausalLM", true);
    let commit = hub.add_repo("some-org/tiny-llama", files.clone(), None);
    let home = tempfile::tempdir().unwrap();

    let out = ok(tunedesk(home.path(), hub.url()).args(["model", "pull", "some-org/tiny-llama"]));
    assert!(out.contains("LlamaForCausalLM"), "{out}");
    assert!(out.contains("to download"), "{out}");
    assert!(out.contains("of RAM"), "{out}");
    assert!(out.contains("--model some-org/tiny-llama"), "{out}");

    // The standard cache layout, shared with transformers.
    let cache = repo_cache(home.path(), "some-org/tiny-llama");
    assert_eq!(
        std::fs::read_to_string(cache.join("refs/main")).unwrap(),
        commit
    );
    let snap = cache.join("snapshots").join(&commit);
    for (name, bytes) in &files {
        let p = snap.join(name);
        assert!(
            p.symlink_metadata().unwrap().file_type().is_symlink(),
            "{name}"
        );
        assert_eq!(&std::fs::read(&p).unwrap(), bytes, "{name}");
    }
    for (name, bytes) in files.iter().filter(|(n, _)| n.ends_with(".safetensors")) {
        assert!(
            cache.join("blobs").join(sha256_hex(bytes)).exists(),
            "{name}"
        );
    }

    // Registered, and usable by repo id from any command.
    let list: Value = serde_json::from_str(&ok(
        tunedesk(home.path(), hub.url()).args(["model", "list", "--json"])
    ))
    .unwrap();
    assert_eq!(list[0]["name"], "some-org/tiny-llama");
    assert_eq!(list[0]["kind"], "hub");
    let gen: Value = serde_json::from_str(&ok(tunedesk(home.path(), hub.url()).args([
        "generate",
        "--model",
        "some-org/tiny-llama",
        "--prompt",
        "w2 w3 w4",
        "--max-tokens",
        "4",
        "--json",
    ])))
    .unwrap();
    assert!(!gen["ids"].as_array().unwrap().is_empty(), "{gen}");

    // A second pull fetches nothing (metadata only).
    hub.clear_log();
    let out = ok(tunedesk(home.path(), hub.url()).args([
        "model",
        "pull",
        "some-org/tiny-llama",
        "--json",
    ]));
    let last: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "pulled");
    assert_eq!(last["downloaded_bytes"], 0, "{out}");
    assert!(weight_gets(&hub).is_empty());
    assert!(
        hub.requests().iter().all(|r| r.method == "HEAD"),
        "{:?}",
        hub.requests()
    );
}

#[test]
fn a_cut_connection_resumes_with_a_range_request() {
    let hub = FakeHub::start();
    let files = tiny_repo("LlamaForCausalLM", false);
    let weights = files["model.safetensors"].clone();
    hub.add_repo("some-org/tiny-llama", files, None);
    hub.cut_once("model.safetensors", 1000);
    let home = tempfile::tempdir().unwrap();

    let out = ok(tunedesk(home.path(), hub.url()).args(["model", "pull", "some-org/tiny-llama"]));
    assert!(
        out.contains("resuming model.safetensors from byte 1000"),
        "{out}"
    );
    // First GET cut after 1000 bytes; the second asked only for the rest.
    assert_eq!(weight_gets(&hub), [None, Some("bytes=1000-".to_string())]);
    let blob = repo_cache(home.path(), "some-org/tiny-llama")
        .join("blobs")
        .join(sha256_hex(&weights));
    assert_eq!(std::fs::read(blob).unwrap(), weights);
}

#[test]
fn gated_repo_explains_license_and_token() {
    let hub = FakeHub::start();
    hub.add_repo(
        "meta-llama/tiny-gated",
        tiny_repo("LlamaForCausalLM", false),
        Some("hf_granted"),
    );
    let home = tempfile::tempdir().unwrap();
    let err =
        fails(tunedesk(home.path(), hub.url()).args(["model", "pull", "meta-llama/tiny-gated"]));
    for want in [
        "gated",
        "accept its license",
        "HF_TOKEN",
        &format!("{}/meta-llama/tiny-gated", hub.url()),
    ] {
        assert!(err.contains(want), "missing '{want}' in: {err}");
    }
    // A token without access: 403, told to wait for access.
    let err = fails(
        tunedesk(home.path(), hub.url())
            .env("HF_TOKEN", "hf_not_granted")
            .args(["model", "pull", "meta-llama/tiny-gated"]),
    );
    assert!(err.contains("no access yet"), "{err}");
    assert!(!repo_cache(home.path(), "meta-llama/tiny-gated")
        .join("blobs")
        .exists());
}

#[test]
fn missing_repo_revision_and_bad_id_are_clear() {
    let hub = FakeHub::start();
    hub.add_repo(
        "some-org/tiny-llama",
        tiny_repo("LlamaForCausalLM", false),
        None,
    );
    let home = tempfile::tempdir().unwrap();
    let err = fails(tunedesk(home.path(), hub.url()).args(["model", "pull", "some-org/nope"]));
    assert!(
        err.contains("no model some-org/nope at revision 'main'"),
        "{err}"
    );
    let err = fails(tunedesk(home.path(), hub.url()).args([
        "model",
        "pull",
        "some-org/tiny-llama",
        "--revision",
        "v9",
    ]));
    assert!(err.contains("revision 'v9'"), "{err}");
    let err = fails(tunedesk(home.path(), hub.url()).args(["model", "pull", "not-a-repo-id"]));
    assert!(err.contains("owner/name"), "{err}");
    // A repo without safetensors.
    let mut files = tiny_repo("LlamaForCausalLM", false);
    files.remove("model.safetensors");
    hub.add_repo("some-org/bin-only", files, None);
    let err = fails(tunedesk(home.path(), hub.url()).args(["model", "pull", "some-org/bin-only"]));
    assert!(err.contains("has no model.safetensors"), "{err}");
}

#[test]
fn unsupported_architecture_is_refused_before_download() {
    let hub = FakeHub::start();
    let mut files = tiny_repo("LlamaForCausalLM", false);
    files.insert(
        "config.json".into(),
        br#"{"architectures": ["GPT2LMHeadModel"], "n_embd": 8}"#.to_vec(),
    );
    hub.add_repo("some-org/gpt2-tiny", files, None);
    let home = tempfile::tempdir().unwrap();
    let err = fails(tunedesk(home.path(), hub.url()).args(["model", "pull", "some-org/gpt2-tiny"]));
    assert!(err.contains("GPT2LMHeadModel"), "{err}");
    assert!(err.contains("LlamaForCausalLM, Qwen2ForCausalLM"), "{err}");
    let touched: Vec<_> = hub
        .requests()
        .into_iter()
        .filter(|r| !r.path.ends_with("/config.json"))
        .collect();
    assert!(
        touched.is_empty(),
        "only config.json may be requested: {touched:?}"
    );
}

#[test]
fn offline_and_unreachable_use_the_cache_or_fail_fast() {
    let hub = FakeHub::start();
    hub.add_repo(
        "some-org/tiny-llama",
        tiny_repo("LlamaForCausalLM", false),
        None,
    );
    let home = tempfile::tempdir().unwrap();
    ok(tunedesk(home.path(), hub.url()).args(["model", "pull", "some-org/tiny-llama"]));

    // Nothing listens on port 9 of localhost.
    let dead = "http://127.0.0.1:9";
    for offline in [true, false] {
        let mut cmd = tunedesk(home.path(), dead);
        if offline {
            cmd.env("HF_HUB_OFFLINE", "1");
        }
        let out = ok(cmd.args(["model", "pull", "some-org/tiny-llama"]));
        assert!(out.contains("some-org/tiny-llama"), "{out}");
        // The cached model generates, by repo id.
        let mut cmd = tunedesk(home.path(), dead);
        if offline {
            cmd.env("HF_HUB_OFFLINE", "1");
        }
        ok(cmd.args([
            "generate",
            "--model",
            "some-org/tiny-llama",
            "--prompt",
            "w2",
            "--max-tokens",
            "2",
        ]));
    }
    let start = std::time::Instant::now();
    let err = fails(
        tunedesk(home.path(), dead)
            .env("HF_HUB_OFFLINE", "1")
            .args(["model", "pull", "some-org/other"]),
    );
    assert!(
        err.contains("offline") && err.contains("not in the cache"),
        "{err}"
    );
    let err = fails(tunedesk(home.path(), dead).args(["model", "pull", "some-org/other"]));
    assert!(err.contains("cannot reach http://127.0.0.1:9"), "{err}");
    let err = fails(tunedesk(home.path(), dead).args([
        "generate",
        "--model",
        "some-org/other",
        "--prompt",
        "w2",
    ]));
    assert!(err.contains("cannot reach"), "{err}");
    assert!(
        start.elapsed().as_secs() < 60,
        "no hang: {:?}",
        start.elapsed()
    );
}

/// Every byte of the data directory (database, WAL, …).
fn data_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_file() {
            all.extend(std::fs::read(e.path()).unwrap());
        }
    }
    all
}

#[test]
fn the_token_is_sent_but_never_shown_or_stored() {
    const TOKEN: &str = "hf_SeCrEt0123456789token";
    let hub = FakeHub::start();
    hub.add_repo(
        "meta-llama/tiny-gated",
        tiny_repo("LlamaForCausalLM", false),
        Some(TOKEN),
    );
    let home = tempfile::tempdir().unwrap();
    let mut outputs = String::new();
    for json in [true, false] {
        let mut cmd = tunedesk(home.path(), hub.url());
        cmd.env("HF_TOKEN", TOKEN).env("TUNEDESK_LOG", "trace");
        cmd.args(["model", "pull", "meta-llama/tiny-gated"]);
        if json {
            cmd.arg("--json");
        }
        let (success, stdout, stderr) = run(&mut cmd);
        assert!(success, "{stderr}");
        outputs += &stdout;
        outputs += &stderr;
        // The next run fetches everything again.
        std::fs::remove_dir_all(home.path().join("hf/hub")).unwrap();
    }
    for args in [
        &["model", "list", "--json"][..],
        &["model", "show", "meta-llama/tiny-gated"],
    ] {
        let (_, stdout, stderr) = run(tunedesk(home.path(), hub.url())
            .env("HF_TOKEN", TOKEN)
            .args(args));
        outputs += &stdout;
        outputs += &stderr;
    }
    // A refused token is not shown either.
    let (_, stdout, stderr) = run(tunedesk(home.path(), hub.url())
        .env("HF_TOKEN", "hf_WrongTokenValue42")
        .args(["model", "pull", "meta-llama/tiny-gated"]));
    assert!(!stdout.contains("hf_WrongTokenValue42") && !stderr.contains("hf_WrongTokenValue42"));

    assert!(outputs.contains("meta-llama/tiny-gated"), "{outputs}");
    assert!(!outputs.contains(TOKEN), "the token leaked into the output");
    let db = data_bytes(&home.path().join("data"));
    assert!(!db.is_empty());
    assert!(
        !db.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
        "the token is in the data directory"
    );
    let wrong = "Bearer hf_WrongTokenValue42";
    let sent: Vec<_> = hub
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/resolve/") && r.authorization.as_deref() != Some(wrong))
        .collect();
    assert!(!sent.is_empty());
    let bearer = format!("Bearer {TOKEN}");
    let with_token = sent
        .iter()
        .filter(|r| r.authorization.as_deref() == Some(bearer.as_str()))
        .count();
    assert_eq!(with_token, sent.len(), "{sent:?}");
}

#[test]
fn corrupt_cache_entries_are_fetched_again() {
    let hub = FakeHub::start();
    let files = tiny_repo("LlamaForCausalLM", false);
    let weights = files["model.safetensors"].clone();
    let commit = hub.add_repo("some-org/tiny-llama", files.clone(), None);
    let home = tempfile::tempdir().unwrap();
    ok(tunedesk(home.path(), hub.url()).args(["model", "pull", "some-org/tiny-llama"]));

    let cache = repo_cache(home.path(), "some-org/tiny-llama");
    let blob = cache.join("blobs").join(sha256_hex(&weights));
    let mut bad = weights.clone();
    bad[100] ^= 0xff; // same size, wrong hash
    std::fs::write(&blob, &bad).unwrap();
    let config =
        std::fs::canonicalize(cache.join("snapshots").join(&commit).join("config.json")).unwrap();
    std::fs::write(&config, b"{}").unwrap(); // wrong size

    hub.clear_log();
    ok(tunedesk(home.path(), hub.url()).args(["model", "pull", "some-org/tiny-llama"]));
    assert_eq!(std::fs::read(&blob).unwrap(), weights);
    assert_eq!(std::fs::read(&config).unwrap(), files["config.json"]);
    assert_eq!(weight_gets(&hub), [None]);
}

#[test]
fn catalog_lists_the_recommended_models_and_their_cache_state() {
    let hub = FakeHub::start();
    // The fake hub serves a tiny model under a catalog id, so that it shows as cached.
    hub.add_repo(
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        tiny_repo("LlamaForCausalLM", false),
        None,
    );
    let home = tempfile::tempdir().unwrap();
    let rows: Value = serde_json::from_str(&ok(
        tunedesk(home.path(), hub.url()).args(["model", "catalog", "--json"])
    ))
    .unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 7);
    assert!(rows.iter().all(|r| r["cached"] == false));
    let llama = rows
        .iter()
        .find(|r| r["repo"] == "meta-llama/Llama-3.2-1B-Instruct")
        .unwrap();
    assert_eq!(llama["gated"], true);
    ok(tunedesk(home.path(), hub.url()).args([
        "model",
        "pull",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
    ]));
    let out = ok(tunedesk(home.path(), hub.url()).args(["model", "catalog"]));
    let line = out.lines().find(|l| l.contains("SmolLM2-135M")).unwrap();
    assert!(line.trim_end().ends_with("yes"), "{out}");
    assert!(out.contains("llama3.2 (gated)"), "{out}");
}
