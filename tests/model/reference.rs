//! The real SmolLM2-135M-Instruct GGUF against figures computed with PyTorch/transformers
//! (`shared/reference/smollm2.json`, copied to `tests/data/smollm2-reference.json`).
//! Needs `$TUNEDESK_TEST_GGUF` (`.ci/run` sets it); without it the tests say so and pass.

use candle_core::{Device, Tensor};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;
use tunedesk::model::generate::{generate, GenerateOptions};
use tunedesk::model::LoadedModel;

const REFERENCE: &str = include_str!("../data/smollm2-reference.json");

fn gguf() -> Option<PathBuf> {
    match std::env::var_os("TUNEDESK_TEST_GGUF") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            // CI must run these: never skip silently there.
            assert!(
                std::env::var_os("CI").is_none(),
                "TUNEDESK_TEST_GGUF must be set in CI (scripts/setup.sh fetches the model)"
            );
            eprintln!("\n*** SKIPPED: TUNEDESK_TEST_GGUF is not set (path to SmolLM2-135M-Instruct.Q4_1.gguf; scripts/setup.sh fetches it) ***\n");
            None
        }
    }
}

fn model() -> Option<&'static LoadedModel> {
    static MODEL: OnceLock<LoadedModel> = OnceLock::new();
    let path = gguf()?;
    Some(MODEL.get_or_init(|| LoadedModel::load(&path, &Device::Cpu).expect("load the GGUF")))
}

fn reference() -> Value {
    serde_json::from_str(REFERENCE).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn tokenizer_matches_reference_ids_and_round_trips() {
    let Some(lm) = model() else { return };
    for case in reference()["tokenize"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let got = lm.tokenizer.encode(text).unwrap();
        assert_eq!(got, ids(&case["ids"]), "ids of {text:?}");
        assert_eq!(
            lm.tokenizer.decode(&got).unwrap(),
            text,
            "round trip of {text:?}"
        );
    }
}

#[test]
fn logits_top5_and_greedy_tokens_match_reference() {
    let Some(lm) = model() else { return };
    for case in reference()["next_token"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        let prompt_ids = ids(&case["prompt_ids"]);
        assert_eq!(
            lm.tokenizer.encode(prompt).unwrap(),
            prompt_ids,
            "prompt ids"
        );
        let input = Tensor::new(prompt_ids.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let logits: Vec<f32> = lm
            .model
            .forward_next(&input, None, &mut lm.model.new_cache())
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1()
            .unwrap();
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        let top5: Vec<u32> = order[..5].iter().map(|&i| i as u32).collect();
        assert_eq!(top5, ids(&case["top5_ids"]), "top-5 of {prompt:?}");
        for (i, want) in case["top5_logits"].as_array().unwrap().iter().enumerate() {
            let got = logits[order[i]];
            let want = want.as_f64().unwrap() as f32;
            assert!(
                (got - want).abs() < 1e-2,
                "{prompt:?} top-{i} logit {got} vs {want}"
            );
        }
        for (i, want) in case["logits_first8"].as_array().unwrap().iter().enumerate() {
            let want = want.as_f64().unwrap() as f32;
            assert!(
                (logits[i] - want).abs() < 1e-2,
                "{prompt:?} logit[{i}] {} vs {want}",
                logits[i]
            );
        }
        let opts = GenerateOptions {
            max_tokens: 12,
            ..Default::default()
        };
        let mut all = Vec::new();
        let g = generate(
            &lm.model,
            &lm.tokenizer,
            &prompt_ids,
            &opts,
            None,
            &mut |id| all.push(id),
        )
        .unwrap();
        let want = ids(&case["greedy_12_ids"]);
        assert_eq!(
            all[..want.len().min(all.len())],
            want[..want.len().min(all.len())],
            "greedy ids of {prompt:?}"
        );
        if g.ids.len() == want.len() {
            assert_eq!(g.text, case["greedy_12_text"].as_str().unwrap());
        }
    }
}

#[test]
fn chat_answers_the_capital_of_france() {
    let Some(lm) = model() else { return };
    let prompt = lm.chat_prompt("What is the capital of France?").unwrap();
    let ids = lm.tokenizer.encode(&prompt).unwrap();
    let opts = GenerateOptions {
        max_tokens: 32,
        ..Default::default()
    };
    let g = generate(&lm.model, &lm.tokenizer, &ids, &opts, None, &mut |_| {}).unwrap();
    assert_eq!(g.text, "The capital of France is Paris.");
}

#[test]
fn hugging_face_folder_gives_the_same_logits_as_the_gguf() {
    // Needs a folder made by shared/reference/make_hf_folder.py (not available in CI).
    let Some(dir) = std::env::var_os("TUNEDESK_TEST_HF_DIR") else {
        eprintln!("*** SKIPPED: TUNEDESK_TEST_HF_DIR is not set (a float32 HF folder of the same model) ***");
        return;
    };
    let Some(lm) = model() else { return };
    let hf = LoadedModel::load(std::path::Path::new(&dir), &Device::Cpu).unwrap();
    let prompt = "Classify the following support ticket:\n\nTicket: \"My card was charged twice\"";
    let ids = lm.tokenizer.encode(prompt).unwrap();
    assert_eq!(
        hf.tokenizer.encode(prompt).unwrap(),
        ids,
        "tokenizer.json and GGUF tokenizers agree"
    );
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let a = lm.model.forward_train(&input, None, None).unwrap();
    let b = hf.model.forward_train(&input, None, None).unwrap();
    let diff = crate::tiny_model::max_diff(&a, &b);
    assert!(diff < 1e-3, "max logit difference {diff}");
}

#[test]
fn int8_inference_keeps_the_f32_answers() {
    let Some(path) = gguf() else { return };
    let mut q = LoadedModel::load(&path, &Device::Cpu).unwrap();
    if !q.model.quantize_int8().unwrap() {
        eprintln!("*** SKIPPED: this CPU has no AVX-512 VNNI, so inference stays f32 ***");
        return;
    }
    let lm = model().unwrap();
    for case in reference()["next_token"].as_array().unwrap() {
        let prompt_ids = ids(&case["prompt_ids"]);
        let input = Tensor::new(prompt_ids.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let next = |m: &LoadedModel| -> Vec<f64> {
            let l: Vec<f32> = m
                .model
                .forward_next(&input, None, &mut m.model.new_cache())
                .unwrap()
                .squeeze(0)
                .unwrap()
                .to_vec1()
                .unwrap();
            // Log-probabilities.
            let max = l.iter().fold(f32::MIN, |a, &v| a.max(v)) as f64;
            let z = l.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln() + max;
            l.iter().map(|&v| v as f64 - z).collect()
        };
        let (f, i) = (next(lm), next(&q));
        let kl: f64 = f.iter().zip(&i).map(|(a, b)| a.exp() * (a - b)).sum();
        let top = |l: &[f64]| (0..l.len()).max_by(|&a, &b| l[a].total_cmp(&l[b])).unwrap();
        eprintln!("int8 vs f32 on {:?}: KL {kl:.5}", case["prompt"]);
        assert_eq!(top(&i), top(&f), "next token of {:?}", case["prompt"]);
        // Measured 0.003–0.014 on these prompts (blocks of 32; one scale per whole row: > 0.1).
        assert!(kl < 0.03, "KL(f32 ‖ int8) = {kl} on {:?}", case["prompt"]);
        let opts = GenerateOptions {
            max_tokens: 12,
            ..Default::default()
        };
        let mut got = Vec::new();
        generate(
            &q.model,
            &q.tokenizer,
            &prompt_ids,
            &opts,
            None,
            &mut |id| got.push(id),
        )
        .unwrap();
        let want = ids(&case["greedy_12_ids"]);
        let n = want.len().min(got.len());
        assert_eq!(
            got[..n],
            want[..n],
            "int8 greedy ids of {:?}",
            case["prompt"]
        );
    }
}

/// Constrained prediction with the real tokenizer, where the grammar forces tokens (the
/// labels' shared ` atis_` start, the blank line's second newline, the rest of a field name
/// once it is the only one possible): only known labels and known, unique field names come
/// out, and a batch decodes each ticket exactly as a batch of one does (rows then get
/// different numbers of tokens per step).
#[test]
fn constrained_prediction_with_forced_tokens() {
    use tunedesk::predict::{PredictOptions, Predictor};
    let Some(lm) = model() else { return };
    let mut lm = lm.clone();
    let head = "Classify each ticket and extract its fields.\n\n\
        Ticket: \"flights from boston to denver on monday\"\nClassification: atis_flight\n\n\
        fromloc.city_name: boston\ntoloc.city_name: denver\ndepart_date.day_name: monday\n\n\
        Ticket: \"how much is a ticket from dallas to atlanta\"\nClassification: atis_airfare\n\n\
        fromloc.city_name: dallas\ntoloc.city_name: atlanta\n\n\
        Ticket: \"";
    let labels = ["atis_flight", "atis_airfare", "atis_ground_service"].map(String::from);
    let fields = [
        "fromloc.city_name",
        "toloc.city_name",
        "toloc.state_code",
        "depart_date.day_name",
    ]
    .map(String::from);
    let tails: Vec<String> = [
        "show me flights from pittsburgh to san francisco on friday",
        "what is the cheapest fare from miami to chicago",
        "ground transportation in denver",
        "i need a flight to boston",
        "flights from seattle to salt lake city on tuesday morning",
    ]
    .iter()
    .map(|t| format!("{t}\"\nClassification:"))
    .collect();
    let run_with = |lm: &mut LoadedModel, batch_size: usize, copy_values: bool| {
        let opts = PredictOptions {
            batch_size,
            int8: false,
            max_new_tokens: 40,
            copy_values,
            ..PredictOptions::default()
        };
        let p = Predictor::new(lm, head, &labels, &fields, opts).unwrap();
        p.predict(&tails, &mut |_, _| {}).unwrap()
    };
    let run = |lm: &mut LoadedModel, batch_size: usize| run_with(lm, batch_size, false);
    // Copied values: every value is text of its own ticket.
    let copied = run_with(&mut lm, 8, true);
    assert!(copied.iter().any(|p| !p.fields.is_empty()), "{copied:?}");
    for (p, tail) in copied.iter().zip(&tails) {
        let ticket = tail.split('"').next().unwrap();
        for (name, value) in &p.fields {
            assert!(
                ticket.contains(value.trim()),
                "{name}: {value:?} is not in {ticket:?}"
            );
        }
    }
    let batched = run(&mut lm, 8);
    let mut with_fields = 0;
    for p in &batched {
        let label = p.label.as_deref().expect("a label");
        assert!(labels.iter().any(|l| l == label), "{p:?}");
        assert!(p.output.starts_with(&format!(" {label}")), "{p:?}");
        let names: Vec<&str> = p.fields.iter().map(|(n, _)| n.as_str()).collect();
        for (i, n) in names.iter().enumerate() {
            assert!(fields.iter().any(|f| f == n), "{p:?}");
            assert!(!names[..i].contains(n), "a field twice: {p:?}");
        }
        with_fields += usize::from(!p.fields.is_empty());
    }
    assert!(
        with_fields >= 3,
        "the few-shot prompt yields fields: {batched:?}"
    );
    for (a, b) in batched.iter().zip(run(&mut lm, 1)) {
        assert_eq!(
            (&a.label, &a.fields, &a.output),
            (&b.label, &b.fields, &b.output)
        );
        let (ca, cb) = (a.confidence.unwrap(), b.confidence.unwrap());
        assert!((ca - cb).abs() < 1e-5, "{ca} vs {cb}");
    }
    // The label distribution: with every label asked for, the probabilities sum to one
    // (none of these three is under the shown minimum on these tickets), most probable first,
    // and the predicted label's probability is its confidence.
    let opts = PredictOptions {
        int8: false,
        ..PredictOptions::default()
    };
    let p = Predictor::new(&mut lm, head, &labels, &fields, opts).unwrap();
    for (tail, predicted) in tails.iter().zip(&batched) {
        let top = p.top_labels(tail, labels.len()).unwrap();
        let sum: f64 = top.iter().map(|s| s.probability).sum();
        assert!(
            top.len() <= labels.len() && (sum - 1.0).abs() < 1e-3,
            "{top:?}"
        );
        assert!(top.windows(2).all(|w| w[0].probability >= w[1].probability));
        let mine = top
            .iter()
            .find(|s| Some(&s.label) == predicted.label.as_ref())
            .expect("the predicted label is listed");
        let c = predicted.confidence.unwrap();
        assert!((mine.probability - c).abs() < 1e-4, "{top:?} vs {c}");
        let one = p.top_labels(tail, 1).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].label, top[0].label);
    }
}
