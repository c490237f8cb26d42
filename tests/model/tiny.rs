//! Tiny random models: the mechanics of loading, LoRA training and caching, checked exactly.

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarMap;
use rand::SeedableRng;
use std::collections::HashMap;
use tunedesk::model::generate::{generate, GenerateOptions, TokenTrie};
use tunedesk::model::lora::LoraConfig;
use tunedesk::model::{Batch, LoadedModel, Sequence};

use crate::tiny_model::{max_diff, write_tiny, LAYERS, VOCAB};

fn tiny(arch: &str) -> (tempfile::TempDir, LoadedModel) {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path(), arch, 7);
    let lm = LoadedModel::load(dir.path(), &Device::Cpu).unwrap();
    (dir, lm)
}

fn ids() -> Tensor {
    Tensor::new(
        &[[3u32, 9, 4, 17, 25, 6], [2, 11, 30, 5, 8, 39]],
        &Device::Cpu,
    )
    .unwrap()
}

/// A fixed random projection of the logits: a scalar loss with gradients everywhere.
fn loss(logits: &Tensor) -> Tensor {
    let n = logits.elem_count();
    let w: Vec<f32> = (0..n)
        .map(|i| ((i * 7919 % 101) as f32 / 101.0) - 0.5)
        .collect();
    let w = Tensor::from_vec(w, logits.shape(), logits.device()).unwrap();
    (logits * w).unwrap().sum_all().unwrap()
}

fn with_lora(lm: &mut LoadedModel, randomize_b: bool) -> VarMap {
    let varmap = VarMap::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let cfg = LoraConfig {
        rank: 4,
        alpha: 8.0,
        dropout: 0.0,
        ..Default::default()
    };
    lm.model.add_lora(&cfg, &varmap, &mut rng).unwrap();
    if randomize_b {
        for (name, var) in lm.model.lora_vars() {
            if name.ends_with("lora_B.weight") {
                let shape = var.shape().clone();
                var.set(&Tensor::randn(0f32, 0.3, shape, &Device::Cpu).unwrap())
                    .unwrap();
            }
        }
    }
    varmap
}

#[test]
fn lora_with_zero_b_leaves_logits_unchanged_and_merge_matches() {
    for arch in ["LlamaForCausalLM", "Qwen2ForCausalLM"] {
        let (_dir, mut lm) = tiny(arch);
        let base = lm.model.forward_train(&ids(), None, None).unwrap();
        assert_eq!(base.dims(), &[2, 6, VOCAB]);
        with_lora(&mut lm, false);
        let zero_b = lm.model.forward_train(&ids(), None, None).unwrap();
        assert_eq!(
            max_diff(&base, &zero_b),
            0.0,
            "{arch}: B = 0 must not change the logits"
        );
        for (name, var) in lm.model.lora_vars() {
            if name.ends_with("lora_B.weight") {
                let shape = var.shape().clone();
                var.set(&Tensor::randn(0f32, 0.3, shape, &Device::Cpu).unwrap())
                    .unwrap();
            }
        }
        let unmerged = lm.model.forward_train(&ids(), None, None).unwrap();
        assert!(
            max_diff(&base, &unmerged) > 1e-3,
            "{arch}: the adapter must change the logits"
        );
        lm.model.merge_lora().unwrap();
        let merged = lm.model.forward_train(&ids(), None, None).unwrap();
        assert!(
            max_diff(&unmerged, &merged) < 1e-4,
            "{arch}: merged {}",
            max_diff(&unmerged, &merged)
        );
        lm.model.unmerge_lora().unwrap();
        let back = lm.model.forward_train(&ids(), None, None).unwrap();
        assert!(max_diff(&unmerged, &back) < 1e-4);
    }
}

#[test]
fn every_lora_parameter_gets_a_gradient_matching_finite_differences() {
    for arch in ["LlamaForCausalLM", "Qwen2ForCausalLM"] {
        let (_dir, mut lm) = tiny(arch);
        with_lora(&mut lm, true);
        let vars = lm.model.lora_vars();
        assert_eq!(
            vars.len(),
            LAYERS * 7 * 2,
            "adapters on all 7 projections of every layer"
        );
        let l = loss(&lm.model.forward_train(&ids(), None, None).unwrap());
        let grads = l.backward().unwrap();
        for (name, var) in &vars {
            let g = grads
                .get(var)
                .unwrap_or_else(|| panic!("{arch}: no gradient for {name}"));
            let norm: f32 = g.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
            assert!(norm > 0.0, "{arch}: zero gradient for {name}");
        }
        // Central differences on a few elements of a few adapters (f32: eps 1e-2, rel. tol 5 %).
        for (name, var) in vars.iter().step_by(5) {
            let analytic: Vec<f32> = grads
                .get(var)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let original = var.as_tensor().copy().unwrap();
            let flat: Vec<f32> = original.flatten_all().unwrap().to_vec1().unwrap();
            let i = analytic
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .unwrap()
                .0;
            let eps = 1e-2f32;
            let eval = |delta: f32| {
                let mut v = flat.clone();
                v[i] += delta;
                var.set(&Tensor::from_vec(v, original.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                let l = loss(&lm.model.forward_train(&ids(), None, None).unwrap());
                l.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
            };
            let numeric = (eval(eps) - eval(-eps)) / (2.0 * eps as f64);
            var.set(&original).unwrap();
            let a = analytic[i] as f64;
            assert!(
                (a - numeric).abs() <= 0.05 * a.abs().max(1e-3),
                "{arch} {name}[{i}]: analytic {a} vs numeric {numeric}"
            );
        }
    }
}

#[test]
fn fused_completion_loss_matches_logits_and_masked_nll() {
    use tunedesk::train::loss::masked_nll;
    let (_dir, mut lm) = tiny("LlamaForCausalLM");
    with_lora(&mut lm, true);
    let targets = Tensor::new(
        &[[9u32, 4, 17, 25, 6, 1], [11, 30, 5, 8, 39, 2]],
        &Device::Cpu,
    )
    .unwrap();
    let mask = Tensor::new(&[[0u8, 0, 1, 1, 1, 0], [0, 1, 1, 1, 1, 1]], &Device::Cpu).unwrap();
    let want = masked_nll(
        &lm.model.forward_train(&ids(), None, None).unwrap(),
        &targets,
        &mask,
    )
    .unwrap();
    let batch = Batch {
        head: None,
        ids: ids(),
        targets,
        mask,
        counted: 8,
    };
    let got = lm.model.completion_loss(&batch, None).unwrap();
    let eval = lm.model.completion_loss_eval(&batch).unwrap();
    let w = want.to_scalar::<f32>().unwrap();
    assert!((w - got.to_scalar::<f32>().unwrap()).abs() < 1e-5);
    assert!((w - eval.to_scalar::<f32>().unwrap()).abs() < 1e-4);
    let (gw, gg) = (want.backward().unwrap(), got.backward().unwrap());
    for (name, var) in lm.model.lora_vars() {
        let d = max_diff(gw.get(&var).unwrap(), gg.get(&var).unwrap());
        assert!(d < 1e-5, "{name}: gradients differ by {d}");
    }
}

#[test]
fn a_shared_head_run_once_gives_the_loss_and_gradients_of_whole_rows() {
    for arch in ["LlamaForCausalLM", "Qwen2ForCausalLM"] {
        let (_dir, mut lm) = tiny(arch);
        with_lora(&mut lm, true);
        // Three rows of different lengths after the same five-token prompt head.
        let rows: [&[u32]; 3] = [
            &[3, 9, 4, 17, 25, 6, 11, 30, 2],
            &[3, 9, 4, 17, 25, 8, 39, 5, 12, 2],
            &[3, 9, 4, 17, 25, 14, 21, 2],
        ];
        let seqs: Vec<Sequence> = rows
            .iter()
            .map(|ids| Sequence {
                ids,
                completion_start: ids.len() - 2,
            })
            .collect();
        let whole = Batch::new(&seqs, 0, false, &Device::Cpu).unwrap();
        let shared = Batch::new(&seqs, 0, true, &Device::Cpu).unwrap();
        assert_eq!(shared.head.as_ref().unwrap().dims(), [1, 5], "{arch}");
        let want = lm.model.completion_loss(&whole, None).unwrap();
        let got = lm.model.completion_loss(&shared, None).unwrap();
        let w = want.to_scalar::<f32>().unwrap();
        assert!((w - got.to_scalar::<f32>().unwrap()).abs() < 1e-5, "{arch}");
        let eval = lm.model.completion_loss_eval(&shared).unwrap();
        assert!(
            (w - eval.to_scalar::<f32>().unwrap()).abs() < 1e-4,
            "{arch}"
        );
        let (gw, gg) = (want.backward().unwrap(), got.backward().unwrap());
        for (name, var) in lm.model.lora_vars() {
            let d = max_diff(gw.get(&var).unwrap(), gg.get(&var).unwrap());
            assert!(d < 1e-5, "{arch} {name}: gradients differ by {d}");
        }
    }
}

#[test]
fn kv_cache_gives_the_same_logits_as_a_full_pass() {
    let (_dir, lm) = tiny("LlamaForCausalLM");
    let row = Tensor::new(&[[3u32, 9, 4, 17, 25, 6]], &Device::Cpu).unwrap();
    let full = lm
        .model
        .forward_train(&row, None, None)
        .unwrap()
        .squeeze(0)
        .unwrap();
    let mut cache = lm.model.new_cache();
    let first = lm
        .model
        .forward_next(&row.narrow(1, 0, 4).unwrap(), None, &mut cache)
        .unwrap();
    assert!(max_diff(&first.squeeze(0).unwrap(), &full.get(3).unwrap()) < 1e-5);
    for pos in 4..6 {
        let step = lm
            .model
            .forward_next(&row.narrow(1, pos, 1).unwrap(), None, &mut cache)
            .unwrap();
        assert!(
            max_diff(&step.squeeze(0).unwrap(), &full.get(pos).unwrap()) < 1e-5,
            "position {pos}"
        );
    }
    assert_eq!(cache.len(), 6);
}

#[test]
fn padded_keys_are_ignored() {
    let (_dir, lm) = tiny("LlamaForCausalLM");
    // Left padding: the padded row must give the same last logits as the unpadded one.
    let plain = Tensor::new(&[[3u32, 9, 4]], &Device::Cpu).unwrap();
    let padded = Tensor::new(&[[1u32, 1, 3, 9, 4]], &Device::Cpu).unwrap();
    let mask = Tensor::new(&[[0u8, 0, 1, 1, 1]], &Device::Cpu).unwrap();
    let a = lm
        .model
        .forward_next(&plain, None, &mut lm.model.new_cache())
        .unwrap();
    let b = lm
        .model
        .forward_next(&padded, Some(&mask), &mut lm.model.new_cache())
        .unwrap();
    assert!(max_diff(&a, &b) < 1e-5, "{}", max_diff(&a, &b));
}

#[test]
fn constrained_generation_only_yields_allowed_sequences() {
    let (_dir, lm) = tiny("LlamaForCausalLM");
    let labels: Vec<Vec<u32>> = vec![vec![5, 6], vec![5, 7, 8], vec![20]];
    let trie = TokenTrie::new(labels.iter().map(Vec::as_slice));
    for seed in 0..8 {
        let opts = GenerateOptions {
            max_tokens: 10,
            temperature: 1.5,
            seed,
            ..Default::default()
        };
        let prompt = [2u32 + seed as u32, 3, 4];
        let g = generate(
            &lm.model,
            &lm.tokenizer,
            &prompt,
            &opts,
            Some(&trie),
            &mut |_| {},
        )
        .unwrap();
        assert!(
            labels.contains(&g.ids),
            "seed {seed}: {:?} is not a label",
            g.ids
        );
    }
    let logits = lm
        .model
        .forward_next(
            &Tensor::new(&[[2u32, 3]], &Device::Cpu).unwrap(),
            None,
            &mut lm.model.new_cache(),
        )
        .unwrap();
    let greedy = generate(
        &lm.model,
        &lm.tokenizer,
        &[2, 3],
        &GenerateOptions {
            max_tokens: 1,
            ..Default::default()
        },
        None,
        &mut |_| {},
    )
    .unwrap();
    let argmax: u32 = logits.argmax(D::Minus1).unwrap().to_vec1::<u32>().unwrap()[0];
    if argmax != 1 {
        assert_eq!(greedy.ids, vec![argmax], "greedy = argmax");
    }
}

#[test]
fn unsupported_architecture_is_refused_with_the_list() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path(), "LlamaForCausalLM", 1);
    let cfg = std::fs::read_to_string(dir.path().join("config.json"))
        .unwrap()
        .replace("LlamaForCausalLM", "MambaForCausalLM");
    std::fs::write(dir.path().join("config.json"), cfg).unwrap();
    let err = LoadedModel::load(dir.path(), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("MambaForCausalLM") && err.contains("Qwen2ForCausalLM"),
        "{err}"
    );
}

#[test]
fn sharded_half_precision_checkpoints_load_to_the_same_model() {
    let (dir, lm) = tiny("LlamaForCausalLM");
    let want = lm.model.forward_train(&ids(), None, None).unwrap();
    // Re-save the same weights as f16, split over two shards with an index.
    let st = unsafe {
        candle_core::safetensors::MmapedSafetensors::new(dir.path().join("model.safetensors"))
            .unwrap()
    };
    let mut names: Vec<String> = st.tensors().into_iter().map(|(n, _)| n).collect();
    names.sort();
    let sharded = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(dir.path().join(f), sharded.path().join(f)).unwrap();
    }
    let mut weight_map = serde_json::Map::new();
    for (i, chunk) in names.chunks(names.len() / 2 + 1).enumerate() {
        let file = format!("model-{:05}-of-00002.safetensors", i + 1);
        let tensors: HashMap<String, Tensor> = chunk
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    st.load(n, &Device::Cpu)
                        .unwrap()
                        .to_dtype(DType::F16)
                        .unwrap(),
                )
            })
            .collect();
        candle_core::safetensors::save(&tensors, sharded.path().join(&file)).unwrap();
        for n in chunk {
            weight_map.insert(n.clone(), file.clone().into());
        }
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
    std::fs::write(
        sharded.path().join("model.safetensors.index.json"),
        index.to_string(),
    )
    .unwrap();
    let half = LoadedModel::load(sharded.path(), &Device::Cpu).unwrap();
    let got = half.model.forward_train(&ids(), None, None).unwrap();
    assert!(
        max_diff(&want, &got) < 5e-2,
        "f16 rounding only: {}",
        max_diff(&want, &got)
    );
}

/// Logits after the last token of `ids`, one sequence at a time (the reference).
fn last_logits(lm: &LoadedModel, ids: &[u32]) -> Tensor {
    let mut cache = lm.model.new_cache();
    let input = Tensor::new(ids, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    lm.model
        .forward_next(&input, None, &mut cache)
        .unwrap()
        .squeeze(0)
        .unwrap()
}

#[test]
fn shared_prefix_batches_match_one_sequence_at_a_time() {
    for arch in ["LlamaForCausalLM", "Qwen2ForCausalLM"] {
        let (_dir, lm) = tiny(arch);
        for head in [vec![1u32, 7, 12, 3], vec![]] {
            let prefix = lm.model.prefix(&head).unwrap();
            let rows: Vec<Vec<u32>> = vec![vec![5, 9, 2], vec![8], vec![20, 21, 22, 23, 24]];
            let mut batch = lm.model.row_batch(&prefix, rows.len());
            let logits = lm.model.forward_rows(&prefix, &mut batch, &rows).unwrap();
            let mut seqs: Vec<Vec<u32>> = rows
                .iter()
                .map(|r| head.iter().chain(r).copied().collect())
                .collect();
            for (i, seq) in seqs.iter().enumerate() {
                let d = max_diff(&logits.get(i).unwrap(), &last_logits(&lm, seq));
                assert!(d < 1e-4, "{arch} prefill row {i}: {d}");
            }
            // Two decoding steps, the second after the middle row left the batch.
            let next: Vec<Vec<u32>> = vec![vec![30], vec![31], vec![32]];
            let logits = lm.model.forward_rows(&prefix, &mut batch, &next).unwrap();
            for (i, seq) in seqs.iter_mut().enumerate() {
                seq.push(next[i][0]);
                let d = max_diff(&logits.get(i).unwrap(), &last_logits(&lm, seq));
                assert!(d < 1e-4, "{arch} step row {i}: {d}");
            }
            batch.retain(&[0, 2]);
            let logits = lm
                .model
                .forward_rows(&prefix, &mut batch, &[vec![33, 34], vec![35]])
                .unwrap();
            seqs[0].extend([33, 34]);
            seqs[2].push(35);
            for (i, seq) in [&seqs[0], &seqs[2]].into_iter().enumerate() {
                let d = max_diff(&logits.get(i).unwrap(), &last_logits(&lm, seq));
                assert!(d < 1e-4, "{arch} after retain row {i}: {d}");
            }
            // A wrong token list is refused before anything is appended.
            for bad in [vec![vec![1u32]], vec![vec![1], vec![]]] {
                let err = lm
                    .model
                    .forward_rows(&prefix, &mut batch, &bad)
                    .unwrap_err();
                assert!(err.to_string().contains("one non-empty token list per row"));
            }
            // A new row joins, then all step on.
            let mut fresh = lm.model.row_batch(&prefix, 1);
            lm.model
                .forward_rows(&prefix, &mut fresh, &[vec![10, 11]])
                .unwrap();
            batch.append(fresh);
            let mut seqs = vec![seqs[0].clone(), seqs[2].clone()];
            seqs.push(head.iter().chain(&[10, 11]).copied().collect());
            for step in 0..3u32 {
                let next: Vec<Vec<u32>> = (0..3).map(|r| vec![25 + step * 3 + r]).collect();
                let logits = lm.model.forward_rows(&prefix, &mut batch, &next).unwrap();
                for (i, seq) in seqs.iter_mut().enumerate() {
                    seq.push(next[i][0]);
                    let d = max_diff(&logits.get(i).unwrap(), &last_logits(&lm, seq));
                    assert!(
                        d < 1e-4,
                        "{arch} after a row joined, step {step} row {i}: {d}"
                    );
                }
            }
        }
    }
}
