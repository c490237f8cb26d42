//! `tunedesk adapter import`: PEFT adapters made by the real libraries
//! (`scripts/make-peft-fixture.py` → `tests/fixtures/peft-llama/`) become runs that reproduce
//! PEFT's logits; adapters TuneDesk cannot use are refused with nothing registered.

use crate::tiny_model::max_diff;
use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};
use tunedesk::adapter::Checkpoint;
use tunedesk::model::LoadedModel;
use tunedesk::paths::DataDir;
use tunedesk::predict::from_run::load_run;
use tunedesk::store::Store;
use tunedesk::train::import::{import_adapter, ImportRequest};
use tunedesk::train::run::TrainError;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/peft-llama")
}

/// A store with a small dataset over the fixture's vocabulary.
fn store() -> (tempfile::TempDir, Store, DataDir) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::resolve(Some(&dir.path().join("home")));
    let mut store = Store::open(data_dir.db_path()).unwrap();
    let mut csv = String::from("text,label,f\n");
    for i in 0..12 {
        csv.push_str(&format!("w{} w{},w{},w30\n", 2 + i, 9 + i, 20 + i % 2));
    }
    let file = dir.path().join("d.csv");
    std::fs::write(&file, csv).unwrap();
    let mut spec = tunedesk::import::ImportSpec::csv("d", ["text"], "label");
    spec.field_columns = vec!["f".into()];
    tunedesk::import::import_file(&mut store, &file, &spec, &mut |_| {}).unwrap();
    (dir, store, data_dir)
}

fn request(dir: PathBuf, name: &str) -> ImportRequest {
    ImportRequest {
        dir,
        base: fixture().join("base"),
        name: name.into(),
        dataset: "d".into(),
    }
}

/// PEFT's reference: the token ids and, per sequence, the logits at every position.
fn reference(key: &str) -> Vec<(Vec<u32>, Tensor)> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("logits.json")).unwrap())
            .unwrap();
    let ids: Vec<Vec<u32>> = serde_json::from_value(v["input_ids"].clone()).unwrap();
    let logits: Vec<Vec<Vec<f32>>> = serde_json::from_value(v[key].clone()).unwrap();
    ids.into_iter()
        .zip(logits)
        .map(|(ids, l)| {
            let rows = l.len();
            let flat: Vec<f32> = l.into_iter().flatten().collect();
            (
                ids,
                Tensor::from_vec(flat, (rows, 40), &Device::Cpu).unwrap(),
            )
        })
        .collect()
}

fn logits(lm: &LoadedModel, ids: &[u32]) -> Tensor {
    let input = Tensor::new(ids, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    lm.model
        .forward_train(&input, None, None)
        .unwrap()
        .squeeze(0)
        .unwrap()
}

#[test]
fn peft_adapters_become_runs_that_reproduce_peft_logits() {
    let base = LoadedModel::load(&fixture().join("base"), &Device::Cpu).unwrap();
    for (ids, want) in reference("base_logits") {
        let d = max_diff(&logits(&base, &ids), &want);
        assert!(d < 1e-4, "the transformers-5 base loads as written: {d}");
    }
    let (_dir, mut store, data_dir) = store();
    for folder in ["adapter", "adapter-all-linear", "adapter-regex"] {
        let run = import_adapter(
            &mut store,
            &data_dir,
            &request(fixture().join(folder), folder),
        )
        .unwrap();
        assert_eq!(run.status.as_str(), "done");
        let rm = load_run(&mut store, &data_dir, folder, Checkpoint::Best).unwrap();
        assert_eq!(rm.labels, ["w20", "w21"], "labels from the dataset");
        assert_eq!(rm.fields, ["f"]);
        for (ids, want) in reference("peft_logits") {
            let d = max_diff(&logits(&rm.lm, &ids), &want);
            assert!(d < 1e-4, "{folder}: PEFT's logits within 1e-4, got {d}");
        }
    }
    assert!(
        matches!(
            import_adapter(
                &mut store,
                &data_dir,
                &request(fixture().join("adapter"), "adapter")
            ),
            Err(TrainError::Store(_))
        ),
        "a run name is used once"
    );
}

/// Copies the fixture adapter into a new folder, then lets `edit` spoil it.
fn spoiled(root: &Path, name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["adapter_config.json", "adapter_model.safetensors"] {
        std::fs::copy(fixture().join("adapter").join(f), dir.join(f)).unwrap();
    }
    edit(&dir);
    dir
}

fn set_config(dir: &Path, key: &str, value: serde_json::Value) {
    let path = dir.join("adapter_config.json");
    let mut c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    c[key] = value;
    std::fs::write(&path, c.to_string()).unwrap();
}

#[test]
fn unusable_adapters_are_refused_and_nothing_is_registered() {
    let (dir, mut store, data_dir) = store();
    let root = dir.path();
    let cases: Vec<(PathBuf, Option<PathBuf>, &str)> = vec![
        (
            spoiled(root, "dora", |d| set_config(d, "use_dora", true.into())),
            None,
            "DoRA",
        ),
        (
            spoiled(root, "bias", |d| set_config(d, "bias", "all".into())),
            None,
            "biases",
        ),
        (
            spoiled(root, "saved", |d| {
                set_config(d, "modules_to_save", serde_json::json!(["lm_head"]))
            }),
            None,
            "modules_to_save",
        ),
        (
            spoiled(root, "missing", |d| {
                std::fs::remove_file(d.join("adapter_model.safetensors")).unwrap()
            }),
            None,
            "no adapter_model.safetensors",
        ),
        (
            spoiled(root, "corrupt", |d| {
                let f = d.join("adapter_model.safetensors");
                let bytes = std::fs::read(&f).unwrap();
                std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
            }),
            None,
            "not a readable safetensors file",
        ),
        (
            spoiled(root, "other-base", |_| {}),
            Some({
                let other = root.join("other-base-model");
                std::fs::create_dir_all(&other).unwrap();
                crate::tiny_model::write_tiny_bpe(&other, "LlamaForCausalLM", 1);
                other
            }),
            "another base model",
        ),
    ];
    for (adapter, base, why) in cases {
        let mut req = request(adapter.clone(), "imported");
        if let Some(b) = base {
            req.base = b;
        }
        let err = import_adapter(&mut store, &data_dir, &req).unwrap_err();
        assert!(
            matches!(err, TrainError::BadAdapter(_)) && err.to_string().contains(why),
            "{}: {err}",
            adapter.display()
        );
        assert!(store.list_runs().unwrap().is_empty(), "nothing registered");
        assert!(
            !data_dir.path().join("runs/imported").exists(),
            "no run folder"
        );
    }
}

/// A trainer's sharded adapter (`adapter_model-0000N-of-0000M.safetensors` + the index, as
/// `save_pretrained(max_shard_size=…)` writes on a GPU machine) imports like the single file.
#[test]
fn a_sharded_peft_adapter_imports_and_reproduces_peft_logits() {
    let (dir, mut store, data_dir) = store();
    let sharded = spoiled(dir.path(), "sharded", |d| {
        let single = d.join("adapter_model.safetensors");
        let tensors = candle_core::safetensors::load(&single, &Device::Cpu).unwrap();
        let mut names: Vec<&String> = tensors.keys().collect();
        names.sort();
        let mut shards = [
            std::collections::HashMap::new(),
            std::collections::HashMap::new(),
        ];
        let mut weight_map = serde_json::Map::new();
        for (i, name) in names.into_iter().enumerate() {
            let file = format!("adapter_model-0000{}-of-00002.safetensors", i % 2 + 1);
            shards[i % 2].insert(name.clone(), tensors[name].clone());
            weight_map.insert(name.clone(), file.into());
        }
        for (i, shard) in shards.iter().enumerate() {
            let file = d.join(format!("adapter_model-0000{}-of-00002.safetensors", i + 1));
            candle_core::safetensors::save(shard, file).unwrap();
        }
        let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
        std::fs::write(
            d.join("adapter_model.safetensors.index.json"),
            index.to_string(),
        )
        .unwrap();
        std::fs::remove_file(single).unwrap();
    });
    import_adapter(&mut store, &data_dir, &request(sharded, "sharded")).unwrap();
    let rm = load_run(&mut store, &data_dir, "sharded", Checkpoint::Best).unwrap();
    for (ids, want) in reference("peft_logits") {
        let d = max_diff(&logits(&rm.lm, &ids), &want);
        assert!(d < 1e-4, "PEFT's logits within 1e-4, got {d}");
    }
}
