//! LoRA training on a tiny random model: the loss falls, only completions count, runs repeat.

use crate::tiny::write_tiny;
use candle_core::Device;
use std::sync::atomic::AtomicBool;
use tunedesk::dataset::Example;
use tunedesk::model::lora::LoraConfig;
use tunedesk::model::LoadedModel;
use tunedesk::template::Template;
use tunedesk::train::{self, TrainConfig, TrainEvent};

fn example(row: u64, text: &str, label: &str) -> Example {
    Example {
        row,
        line: row + 1,
        text: text.into(),
        label: label.into(),
        fields: vec![("f".into(), "w30".into())],
        split: None,
        extra: Default::default(),
    }
}

/// The label is decided by the first word of the ticket.
fn dataset() -> Vec<Example> {
    (0..16)
        .map(|i| {
            let (word, label) = if i % 2 == 0 {
                ("w10", "w20")
            } else {
                ("w11", "w21")
            };
            example(i, &format!("{word} w{}", 3 + i % 5), label)
        })
        .collect()
}

fn run(seed: u64) -> (Vec<f64>, Vec<TrainEvent>) {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path(), "LlamaForCausalLM", 3);
    let mut lm = LoadedModel::load(dir.path(), &Device::Cpu).unwrap();
    let data = dataset();
    let (train_set, truncated) =
        train::encode_all(&lm, &Template::default(), &data[..12], 64).unwrap();
    assert_eq!(truncated, 0);
    let (val_set, _) = train::encode_all(&lm, &Template::default(), &data[12..], 64).unwrap();
    let cfg = TrainConfig {
        epochs: 8,
        lr: 2e-2,
        batch_size: 4,
        warmup_ratio: 0.1,
        lora: LoraConfig {
            rank: 4,
            alpha: 8.0,
            dropout: 0.0,
            ..Default::default()
        },
        max_len: 64,
        eval_every: Some(6),
        seed,
        ..Default::default()
    };
    let mut events = Vec::new();
    train::train(
        &mut lm,
        &train_set,
        &val_set,
        &cfg,
        &AtomicBool::new(false),
        &mut |e| events.push(e),
    )
    .unwrap();
    let losses = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step { loss, .. } => Some(*loss),
            _ => None,
        })
        .collect();
    (losses, events)
}

#[test]
fn training_lowers_the_loss_and_is_reproducible() {
    let (losses, events) = run(42);
    assert!(
        matches!(
            events[0],
            TrainEvent::Started {
                total_steps: 24,
                train_examples: 12,
                val_examples: 4,
                truncated: 0
            }
        ),
        "{:?}",
        events[0]
    );
    let first = losses[0];
    let last = losses.iter().rev().take(3).sum::<f64>() / 3.0;
    assert!(last < 0.5 * first, "loss {first} → {last}");
    let vals: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Eval { val_loss, .. } => Some(*val_loss),
            _ => None,
        })
        .collect();
    assert!(
        vals.len() >= 4,
        "evaluations every 6 steps and at epoch ends: {vals:?}"
    );
    assert!(
        vals.last().unwrap() < &vals[0],
        "validation loss falls: {vals:?}"
    );
    assert!(matches!(
        events.last(),
        Some(TrainEvent::Finished { steps: 24, .. })
    ));
    let (again, _) = run(42);
    assert_eq!(losses, again, "same seed, same run");
    let (other, _) = run(7);
    assert_ne!(losses, other, "another seed, another run");
}
