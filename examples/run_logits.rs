//! The next-token logits of a run (its checkpoint's adapter merged into the base) at the end
//! of the prompts of its held-out tickets (validation, then test split), and its labels: the TuneDesk side of the PEFT
//! round-trip figures in docs/RESULTS.md (`scripts/check-peft-export.py` is the Python side).
//!
//! usage: cargo run --release --example run_logits -- RUN N OUT_DIR   (data dir: $TUNEDESK_HOME)
//! writes OUT_DIR/prompts.json ({"prompts", "ids", "labels": the run's predicted labels, "label_set"})
//! and OUT_DIR/logits.f32 (N × vocab, LE f32).

use candle_core::{Device, IndexOp, Tensor};
use std::io::Write;
use tunedesk::adapter::Checkpoint;
use tunedesk::dataset::split;
use tunedesk::example::Split;
use tunedesk::paths::DataDir;
use tunedesk::predict::from_run::load_run;
use tunedesk::predict::{PredictOptions, Predictor};
use tunedesk::store::Store;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, run, n, out] = &args[..] else {
        anyhow::bail!("usage: run_logits RUN N OUT_DIR");
    };
    let data_dir = DataDir::resolve(None);
    let mut store = Store::open(data_dir.db_path())?;
    let mut rm = load_run(&mut store, &data_dir, run, Checkpoint::Best)?;
    // Held-out tickets: the validation split, then the test split, up to N.
    let (_, mut val) = split::run_examples(&mut store, &rm.run.dataset, None, None, 42)?;
    let (_, all) = tunedesk::dataset::load(&store, &rm.run.dataset)?;
    val.extend(all.into_iter().filter(|e| e.split == Some(Split::Test)));
    val.truncate(n.parse()?);
    std::fs::create_dir_all(out)?;
    let mut file = std::fs::File::create(std::path::Path::new(out).join("logits.f32"))?;
    let (mut prompts, mut all_ids) = (Vec::new(), Vec::new());
    for e in &val {
        let prompt = rm.template.prompt(&e.text);
        let ids = rm.lm.tokenizer.encode(&prompt)?;
        let input = Tensor::new(&ids[..], &Device::Cpu)?.unsqueeze(0)?;
        let logits = rm.lm.model.forward_train(&input, None, None)?;
        let last: Vec<f32> = logits.i((0, ids.len() - 1))?.to_vec1()?;
        for v in last {
            file.write_all(&v.to_le_bytes())?;
        }
        prompts.push(prompt);
        all_ids.push(ids);
    }
    let opts = PredictOptions {
        int8: false,
        ..PredictOptions::default()
    };
    let tails: Vec<String> = val
        .iter()
        .map(|e| rm.template.prompt_tail(&e.text))
        .collect();
    let head = rm.template.prompt_head();
    let predicted = Predictor::new(&mut rm.lm, &head, &rm.labels, &rm.fields, opts)?
        .predict(&tails, &mut |_, _| {})?;
    let labels: Vec<Option<String>> = predicted.into_iter().map(|p| p.label).collect();
    let meta = serde_json::json!({"prompts": prompts, "ids": all_ids, "labels": labels, "label_set": rm.labels});
    std::fs::write(
        std::path::Path::new(out).join("prompts.json"),
        meta.to_string(),
    )?;
    Ok(())
}
