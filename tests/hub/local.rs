//! `tunedesk model add|list|show|remove` on local Hugging Face folders: validation on add
//! (architecture, tokenizer, complete tensors), then use by name.

use crate::tiny_model::write_tiny;
use crate::tunedesk;
use serde_json::Value;

/// Nothing listens there: these tests never touch a hub.
const NO_HUB: &str = "http://127.0.0.1:9";

#[test]
fn add_validates_then_the_name_works_everywhere() {
    let home = tempfile::tempdir().unwrap();
    let good = home.path().join("tiny-local");
    std::fs::create_dir_all(&good).unwrap();
    write_tiny(&good, "LlamaForCausalLM", 3);

    let out = tunedesk(home.path(), NO_HUB)
        .args(["model", "add"])
        .arg(&good)
        .args(["--name", "tiny", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added["kind"], "folder");
    assert_eq!(added["architecture"], "LlamaForCausalLM");
    assert!(added["params"].as_u64().unwrap() > 0);

    // The same name again is refused.
    let out = tunedesk(home.path(), NO_HUB)
        .args(["model", "add"])
        .arg(&good)
        .args(["--name", "tiny"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("already registered"));

    let out = tunedesk(home.path(), NO_HUB)
        .args([
            "generate",
            "--model",
            "tiny",
            "--prompt",
            "w2 w3",
            "--max-tokens",
            "3",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = tunedesk(home.path(), NO_HUB)
        .args(["model", "show", "tiny"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("folder") && text.contains("tiny-local"),
        "{text}"
    );

    let out = tunedesk(home.path(), NO_HUB)
        .args(["model", "remove", "tiny"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        good.join("model.safetensors").exists(),
        "remove keeps the files"
    );
    let out = tunedesk(home.path(), NO_HUB)
        .args(["model", "list", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn broken_models_are_refused_and_nothing_is_registered() {
    let home = tempfile::tempdir().unwrap();
    let make = |name: &str| {
        let dir = home.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        write_tiny(&dir, "LlamaForCausalLM", 1);
        dir
    };
    let no_tokenizer = make("no-tokenizer");
    std::fs::remove_file(no_tokenizer.join("tokenizer.json")).unwrap();

    let gpt2 = make("gpt2");
    let cfg = std::fs::read_to_string(gpt2.join("config.json")).unwrap();
    std::fs::write(
        gpt2.join("config.json"),
        cfg.replace("LlamaForCausalLM", "GPT2LMHeadModel"),
    )
    .unwrap();

    let missing_tensor = make("missing-tensor");
    let st = missing_tensor.join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&st, &candle_core::Device::Cpu).unwrap();
    tensors.remove("model.layers.1.mlp.down_proj.weight");
    candle_core::safetensors::save(&tensors, &st).unwrap();

    let missing_shard = make("missing-shard");
    std::fs::write(
        missing_shard.join("model.safetensors.index.json"),
        r#"{"weight_map": {"model.norm.weight": "model-00002-of-00002.safetensors"}}"#,
    )
    .unwrap();

    for (dir, want) in [
        (&no_tokenizer, "tokenizer.json"),
        (&gpt2, "GPT2LMHeadModel"),
        (&missing_tensor, "model.layers.1.mlp.down_proj.weight"),
        (&missing_shard, "model-00002-of-00002.safetensors"),
    ] {
        let out = tunedesk(home.path(), NO_HUB)
            .args(["model", "add"])
            .arg(dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}", dir.display());
        assert!(err.contains(want), "missing '{want}' in: {err}");
    }
    let out = tunedesk(home.path(), NO_HUB)
        .args(["model", "list", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
}
