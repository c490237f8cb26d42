//! `tunedesk export --format peft` on a tiny trained run: the folder PEFT expects, written only
//! after the reloaded adapter labelled the validation tickets as the run does.

use crate::train::setup;
use std::sync::atomic::AtomicBool;
use tunedesk::adapter::Checkpoint;
use tunedesk::export::{check, export, ExportError, ExportFormat, ExportRequest, Precision};
use tunedesk::template::Template;
use tunedesk::train::run as train_run;

#[test]
fn a_peft_export_is_what_peft_loads_and_predicts_like_the_run() {
    let (dir, mut store, data_dir, spec) = setup();
    train_r(&mut store, &data_dir, &spec, &Template::default());
    let out = dir.path().join("exports/r-peft");
    let req = ExportRequest {
        run: "r".into(),
        checkpoint: Checkpoint::Best,
        format: ExportFormat::Peft,
        precision: None,
        out: out.clone(),
        check_rows: 8,
    };
    let summary = export(&mut store, &data_dir, &req, &mut |_| {}).unwrap();
    assert!(
        summary.checked > 0 && summary.same_labels == summary.checked,
        "{summary:?}"
    );

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("adapter_config.json")).unwrap())
            .unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["task_type"], "CAUSAL_LM");
    assert_eq!(config["r"], spec.config.lora.rank);
    assert!(config["lora_alpha"].is_i64());
    assert_eq!(config["bias"], "none");
    assert_eq!(config["target_modules"].as_array().unwrap().len(), 7);

    let bytes = std::fs::read(out.join("adapter_model.safetensors")).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(
        meta.metadata()
            .as_ref()
            .and_then(|m| m.get("format"))
            .map(String::as_str),
        Some("pt")
    );
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let names: Vec<String> = tensors.names().into_iter().map(String::from).collect();
    let a = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
    let b = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight";
    assert!(
        names.iter().any(|n| n == a) && names.iter().any(|n| n == b),
        "{names:?}"
    );
    assert!(names.iter().all(|n| !n.contains(".default.")));
    let (r, hidden) = (spec.config.lora.rank, crate::tiny_model::HIDDEN);
    assert_eq!(
        tensors.tensor(a).unwrap().shape(),
        [r, hidden],
        "A is [r, in]"
    );
    assert_eq!(tensors.tensor(b).unwrap().shape()[1], r, "B is [out, r]");

    // Exactly what PEFT itself writes for the same model and rank (the fixture made by
    // transformers + PEFT has the tiny model's sizes): file names, key names, shapes, and
    // config keys PEFT knows.
    let peft_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/peft-llama/adapter");
    let theirs = std::fs::read(peft_dir.join("adapter_model.safetensors")).unwrap();
    let theirs = safetensors::SafeTensors::deserialize(&theirs).unwrap();
    let shapes = |t: &safetensors::SafeTensors| {
        let mut v: Vec<(String, Vec<usize>)> = t
            .tensors()
            .into_iter()
            .map(|(n, v)| (n, v.shape().to_vec()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(shapes(&tensors), shapes(&theirs), "PEFT's names and shapes");
    let their_config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(peft_dir.join("adapter_config.json")).unwrap(),
    )
    .unwrap();
    for key in config.as_object().unwrap().keys() {
        assert!(their_config.get(key).is_some(), "PEFT writes {key} too");
    }

    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tunedesk.json")).unwrap()).unwrap();
    assert_eq!(bundle["labels"], serde_json::json!(["w20", "w21"]));
    assert_eq!(bundle["fields"], serde_json::json!(["f"]));
    assert!(bundle["prompt"].as_str().unwrap().contains("{ticket}"));
    assert_eq!(
        bundle["files"].as_object().unwrap().len(),
        3,
        "hashes of the PEFT files"
    );
    assert_eq!(summary.files.len(), 4);

    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        card.starts_with("---\nlibrary_name: peft\nbase_model: "),
        "{card}"
    );
    assert!(
        card.contains("Classification:") && card.contains("`w20`"),
        "{card}"
    );

    // The check catches an adapter that does not reproduce the run: B zeroed is the base model.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for f in ["adapter_config.json", "README.md", "tunedesk.json"] {
        std::fs::copy(out.join(f), broken.join(f)).unwrap();
    }
    let zeros: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .tensors()
        .into_iter()
        .map(|(name, v)| {
            let data = if name.contains(".lora_B.") {
                vec![0u8; v.data().len()]
            } else {
                v.data().to_vec()
            };
            (name, data, v.shape().to_vec())
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = zeros
        .iter()
        .map(|(n, d, s)| {
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d)
                .unwrap();
            (n.clone(), view)
        })
        .collect();
    safetensors::serialize_to_file(views, None, &broken.join("adapter_model.safetensors")).unwrap();
    let err = check(
        &mut store,
        &data_dir,
        &req,
        Precision::F32,
        &broken,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, ExportError::Mismatch(_)), "{err}");
    assert_eq!(
        check(
            &mut store,
            &data_dir,
            &req,
            Precision::F32,
            &out,
            &mut |_| {}
        )
        .unwrap()[0]
            .same_labels,
        summary.checked
    );

    // The export comes back in as a run with the bundle's template, labels and fields, and
    // predicts as the original.
    let back = tunedesk::train::import::ImportRequest {
        dir: out.clone(),
        base: spec.model.clone(),
        name: "back".into(),
        dataset: "d".into(),
    };
    tunedesk::train::import::import_adapter(&mut store, &data_dir, &back).unwrap();
    let original =
        tunedesk::predict::from_run::load_run(&mut store, &data_dir, "r", Checkpoint::Best)
            .unwrap();
    let returned =
        tunedesk::predict::from_run::load_run(&mut store, &data_dir, "back", Checkpoint::Best)
            .unwrap();
    assert_eq!(returned.template, original.template);
    assert_eq!(
        (&returned.labels, &returned.fields),
        (&original.labels, &original.fields)
    );
    assert!(crate::tiny_model::max_diff(&logits(&returned.lm), &logits(&original.lm)) < 1e-5);
    drop((original, returned));

    // An export never overwrites, and a failed one leaves nothing behind.
    assert!(matches!(
        export(&mut store, &data_dir, &req, &mut |_| {}),
        Err(ExportError::Exists(_))
    ));
    let missing = ExportRequest {
        checkpoint: Checkpoint::Step(99_999),
        out: dir.path().join("exports/none"),
        ..req
    };
    assert!(export(&mut store, &data_dir, &missing, &mut |_| {}).is_err());
    let left: Vec<_> = std::fs::read_dir(dir.path().join("exports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["r-peft"], "no half-written folder");
}

/// A run of `arch` trained on the byte-level tiny model (a tokenizer llama.cpp can run).
fn trained_bpe_run(
    arch: &str,
) -> (
    tempfile::TempDir,
    tunedesk::store::Store,
    tunedesk::paths::DataDir,
) {
    let (dir, mut store, data_dir, spec) =
        crate::train::setup_with(|m| crate::tiny_model::write_tiny_bpe(m, arch, 5));
    let template = Template {
        instruction: "Classify:".into(),
        ..Template::default()
    };
    train_r(&mut store, &data_dir, &spec, &template);
    (dir, store, data_dir)
}

/// Trains run `r` to the end.
fn train_r(
    store: &mut tunedesk::store::Store,
    data_dir: &tunedesk::paths::DataDir,
    spec: &tunedesk::train::run::RunSpec,
    template: &Template,
) {
    let never = AtomicBool::new(false);
    train_run::start(store, data_dir, "r", spec, template, &never, &mut |_| {}).unwrap();
}

/// Logits at every position of a few prompts.
fn logits(lm: &tunedesk::model::LoadedModel) -> candle_core::Tensor {
    let ids = lm
        .tokenizer
        .encode_plain("Classify:\n\nTicket: \"w3 w7\"")
        .unwrap();
    let ids = candle_core::Tensor::new(&ids[..], &candle_core::Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    lm.model.forward_train(&ids, None, None).unwrap()
}

fn export_as(
    store: &mut tunedesk::store::Store,
    data_dir: &tunedesk::paths::DataDir,
    format: ExportFormat,
    precision: Precision,
    out: std::path::PathBuf,
) -> tunedesk::export::ExportSummary {
    let req = ExportRequest {
        run: "r".into(),
        checkpoint: Checkpoint::Best,
        format,
        precision: Some(precision),
        out,
        check_rows: 8,
    };
    let summary = export(store, data_dir, &req, &mut |_| {}).unwrap();
    assert!(
        summary.checked > 0 && summary.checks.iter().all(|c| c.checked == summary.checked),
        "{summary:?}"
    );
    summary
}

#[test]
fn merged_and_gguf_exports_reproduce_the_adapter_llama_and_qwen2() {
    use crate::tiny_model::max_diff;
    use tunedesk::model::{default_device, LoadedModel};
    for arch in ["LlamaForCausalLM", "Qwen2ForCausalLM"] {
        let (dir, mut store, data_dir) = trained_bpe_run(arch);
        let run =
            tunedesk::predict::from_run::load_run(&mut store, &data_dir, "r", Checkpoint::Best)
                .unwrap();
        let adapted = logits(&run.lm);
        let base =
            logits(&LoadedModel::load(&dir.path().join("model"), &default_device()).unwrap());
        assert!(
            max_diff(&adapted, &base) > 1e-3,
            "{arch}: the trained adapter changes the logits"
        );
        drop(run);

        // Merged Hugging Face folder, f32: the same network as base + adapter.
        let out = dir.path().join("merged-f32");
        let s = export_as(
            &mut store,
            &data_dir,
            ExportFormat::Merged,
            Precision::F32,
            out.clone(),
        );
        assert_eq!(s.same_labels, s.checked, "{s:?}");
        let merged = LoadedModel::load(&out, &default_device()).unwrap();
        assert!(
            max_diff(&logits(&merged), &adapted) < 1e-4,
            "{arch}: merged f32"
        );
        for f in [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "README.md",
            "tunedesk.json",
        ] {
            assert!(out.join(f).is_file(), "{arch}: {f} in {:?}", s.files);
        }
        assert_eq!(
            std::fs::read(out.join("tokenizer.json")).unwrap(),
            std::fs::read(dir.path().join("model/tokenizer.json")).unwrap(),
            "tokenizer copied byte for byte"
        );
        let st = std::fs::read(out.join("model.safetensors")).unwrap();
        let (_, meta) = safetensors::SafeTensors::read_metadata(&st).unwrap();
        assert_eq!(meta.metadata().as_ref().unwrap()["format"], "pt");

        // GGUF, F32: the merged file and the GGUF adapter both read back as the adapter path.
        let out = dir.path().join("gguf-f32");
        let s = export_as(
            &mut store,
            &data_dir,
            ExportFormat::Gguf,
            Precision::F32,
            out.clone(),
        );
        assert_eq!(s.checks.len(), 2, "{s:?}");
        let merged = LoadedModel::load(&out.join("model.gguf"), &default_device()).unwrap();
        assert!(
            max_diff(&logits(&merged), &adapted) < 1e-4,
            "{arch}: merged GGUF"
        );
        let mut with_adapter =
            LoadedModel::load(&dir.path().join("model"), &default_device()).unwrap();
        let (tensors, lora) = tunedesk::export::gguf::read_adapter(
            &out.join("adapter.gguf"),
            with_adapter.model.config(),
        )
        .unwrap();
        with_adapter.apply_adapter_tensors(&tensors, &lora).unwrap();
        assert!(
            max_diff(&logits(&with_adapter), &adapted) < 1e-4,
            "{arch}: GGUF adapter"
        );
        let mut file = std::fs::File::open(out.join("adapter.gguf")).unwrap();
        let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
        let text = |k: &str| content.metadata[k].to_string().unwrap().clone();
        assert_eq!(text("general.type"), "adapter");
        assert_eq!(text("adapter.type"), "lora");
        let a = &content.tensor_infos["blk.0.attn_q.weight.lora_a"];
        let b = &content.tensor_infos["blk.0.attn_q.weight.lora_b"];
        // GGUF lists dims innermost first: A is [r, in] → (in, r), B is [out, r] → (r, out).
        assert_eq!(a.shape.dims(), [4, crate::tiny_model::BPE_HIDDEN]);
        assert_eq!(b.shape.dims()[1], 4);

        // A GGUF base keeps its metadata: the merged GGUF, used as a base, exports again.
        let gguf_base = out.join("model.gguf");
        let relabelled = LoadedModel::load(&gguf_base, &default_device()).unwrap();
        assert_eq!(
            relabelled.tokenizer.encode_plain("w3 w7").unwrap(),
            merged.tokenizer.encode_plain("w3 w7").unwrap()
        );

        // F16 and Q8_0: smaller, labels checked (Q8_0 by agreement).
        let out = dir.path().join("ollama-q8");
        let s = export_as(
            &mut store,
            &data_dir,
            ExportFormat::Ollama,
            Precision::Q8_0,
            out.clone(),
        );
        let modelfile = std::fs::read_to_string(out.join("Modelfile")).unwrap();
        assert!(
            modelfile.contains(
                "TEMPLATE \"\"\"Classify:\n\nTicket: \"{{ .Prompt }}\"\n\nClassification:\"\"\""
            ),
            "{modelfile}"
        );
        assert!(
            modelfile.contains("PARAMETER stop \"<|endoftext|>\""),
            "{modelfile}"
        );
        assert!(s.same_labels as f64 >= 0.9 * s.checked as f64, "{s:?}");
        let out = dir.path().join("merged-f16");
        let s = export_as(
            &mut store,
            &data_dir,
            ExportFormat::Merged,
            Precision::F16,
            out,
        );
        assert_eq!(s.same_labels, s.checked, "{s:?}");
        assert!(matches!(
            export(
                &mut store,
                &data_dir,
                &ExportRequest {
                    run: "r".into(),
                    checkpoint: Checkpoint::Best,
                    format: ExportFormat::Merged,
                    precision: Some(Precision::Q8_0),
                    out: dir.path().join("merged-q8"),
                    check_rows: 8,
                },
                &mut |_| {}
            ),
            Err(ExportError::Unsupported(_))
        ));
    }
}
