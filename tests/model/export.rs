//! `tunedesk export --format peft` on a tiny trained run: the folder PEFT expects, written only
//! after the reloaded adapter labelled the validation tickets as the run does.

use crate::train::setup;
use std::sync::atomic::AtomicBool;
use tunedesk::adapter::Checkpoint;
use tunedesk::export::{check, export, ExportError, ExportFormat, ExportRequest};
use tunedesk::template::Template;
use tunedesk::train::run as train_run;

#[test]
fn a_peft_export_is_what_peft_loads_and_predicts_like_the_run() {
    let (dir, mut store, data_dir, spec) = setup();
    let never = AtomicBool::new(false);
    train_run::start(
        &mut store,
        &data_dir,
        "r",
        &spec,
        &Template::default(),
        &never,
        &mut |_| {},
    )
    .unwrap();
    let out = dir.path().join("exports/r-peft");
    let req = ExportRequest {
        run: "r".into(),
        checkpoint: Checkpoint::Best,
        format: ExportFormat::Peft,
        out: out.clone(),
        check_rows: 8,
    };
    let summary = export(&mut store, &data_dir, &req).unwrap();
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
    let err = check(&mut store, &data_dir, &req, &broken).unwrap_err();
    assert!(matches!(err, ExportError::Mismatch(_)), "{err}");
    assert_eq!(
        check(&mut store, &data_dir, &req, &out).unwrap().1,
        summary.checked
    );

    // An export never overwrites, and a failed one leaves nothing behind.
    assert!(matches!(
        export(&mut store, &data_dir, &req),
        Err(ExportError::Exists(_))
    ));
    let missing = ExportRequest {
        checkpoint: Checkpoint::Step(99_999),
        out: dir.path().join("exports/none"),
        ..req
    };
    assert!(export(&mut store, &data_dir, &missing).is_err());
    let left: Vec<_> = std::fs::read_dir(dir.path().join("exports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["r-peft"], "no half-written folder");
}
