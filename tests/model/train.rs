//! LoRA training on a tiny random model: the loss falls, only completions count, runs repeat.

use crate::tiny_model::write_tiny;
use candle_core::Device;
use std::sync::atomic::AtomicBool;
use tunedesk::dataset::Example;
use tunedesk::model::lora::LoraConfig;
use tunedesk::model::{DeviceChoice, LoadedModel};
use tunedesk::paths::DataDir;
use tunedesk::store::{RunStatus, Store};
use tunedesk::template::Template;
use tunedesk::train::run::{self as train_run, RunSpec};
use tunedesk::train::{self, Hooks, TrainConfig, TrainEvent};

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

fn config(seed: u64) -> TrainConfig {
    TrainConfig {
        epochs: Some(8),
        patience: None,
        lr: 2e-2,
        batch_size: 4,
        warmup_ratio: 0.1,
        lora: LoraConfig {
            rank: 4,
            alpha: 8.0,
            dropout: 0.1,
            ..Default::default()
        },
        max_len: 64,
        eval_every: Some(6),
        seed,
        ..Default::default()
    }
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
    let cfg = config(seed);
    let mut events = Vec::new();
    let cancel = AtomicBool::new(false);
    let mut hooks = Hooks {
        on_event: &mut |e| events.push(e),
        checkpoint: &mut |_| Ok(()),
        cancel: &cancel,
        score: None,
    };
    train::train(&mut lm, &train_set, &val_set, &cfg, None, &mut hooks).unwrap();
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
                epochs: 8,
                total_steps: 24,
                train_examples: 12,
                val_examples: 4,
                truncated: 0,
                resumed_from: None,
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

/// A store with the tiny dataset, a tiny model, and a run spec over them.
pub(crate) fn setup() -> (tempfile::TempDir, Store, DataDir, RunSpec) {
    setup_with(|model| write_tiny(model, "LlamaForCausalLM", 3))
}

/// [`setup`] with the model `write` writes into the model folder.
pub(crate) fn setup_with(
    write: impl FnOnce(&std::path::Path),
) -> (tempfile::TempDir, Store, DataDir, RunSpec) {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir_all(&model).unwrap();
    write(&model);
    let data_dir = DataDir::resolve(Some(&dir.path().join("home")));
    let mut store = Store::open(data_dir.db_path()).unwrap();
    let mut csv = String::from("text,label,f\n");
    for e in dataset().iter().chain(dataset().iter()) {
        csv.push_str(&format!("{},{},w30\n", e.text, e.label));
    }
    let file = dir.path().join("d.csv");
    std::fs::write(&file, csv).unwrap();
    let mut spec = tunedesk::import::ImportSpec::csv("d", ["text"], "label");
    spec.field_columns = vec!["f".into()];
    tunedesk::import::import_file(&mut store, &file, &spec, &mut |_| {}).unwrap();
    let run_spec = RunSpec {
        dataset: "d".into(),
        model,
        config: config(11),
        train_limit: None,
        val_limit: None,
        device: Default::default(),
    };
    (dir, store, data_dir, run_spec)
}

fn step_losses(store: &Store, name: &str) -> Vec<(i64, f64)> {
    let run = store.run(name).unwrap();
    store
        .run_metrics(&run)
        .unwrap()
        .steps
        .iter()
        .map(|s| (s.step, s.loss))
        .collect()
}

#[test]
fn a_cancelled_or_killed_run_resumes_exactly() {
    let (_dir, mut store, data_dir, spec) = setup();
    let tpl = tunedesk::template::Template::default();
    let never = AtomicBool::new(false);
    let done = train_run::start(
        &mut store,
        &data_dir,
        "whole",
        &spec,
        &tpl,
        &never,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(done.status, RunStatus::Done);
    let whole = step_losses(&store, "whole");
    let metrics = store.run_metrics(&done).unwrap();
    assert_eq!(
        metrics.evals[0].step, 0,
        "the base model is evaluated at step 0"
    );
    assert!(done.best_step.is_some());
    assert!(tunedesk::adapter::RunDir::new(&data_dir, "whole")
        .path()
        .join("best/adapter.safetensors")
        .exists());

    // Cancelled after step 5: a checkpoint is written, the run is resumable and ends the same.
    let cancel = AtomicBool::new(false);
    let stopped = train_run::start(
        &mut store,
        &data_dir,
        "cancelled",
        &spec,
        &tpl,
        &cancel,
        &mut |e| {
            if matches!(e, TrainEvent::Step { step: 5, .. }) {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        },
    )
    .unwrap();
    assert_eq!((stopped.status, stopped.steps), (RunStatus::Cancelled, 5));
    let resumed =
        train_run::resume(&mut store, &data_dir, "cancelled", &never, &mut |_| {}).unwrap();
    assert_eq!(resumed.status, RunStatus::Done);
    assert_close(&step_losses(&store, "cancelled"), &whole);

    // Killed at step 8 (after the checkpoint of the evaluation at step 6): the steps after the
    // checkpoint are dropped from the record and trained again, none twice.
    let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train_run::start(
            &mut store,
            &data_dir,
            "killed",
            &spec,
            &tpl,
            &never,
            &mut |e| {
                if matches!(e, TrainEvent::Step { step: 8, .. }) {
                    panic!("simulated kill");
                }
            },
        )
    }));
    assert!(killed.is_err());
    assert_eq!(
        store.run("killed").unwrap().status,
        RunStatus::Running,
        "a killed run stays 'running'"
    );
    train_run::resume(&mut store, &data_dir, "killed", &never, &mut |_| {}).unwrap();
    assert_close(&step_losses(&store, "killed"), &whole);
    let err = train_run::resume(&mut store, &data_dir, "killed", &never, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("has finished"), "{err}");
}

fn assert_close(got: &[(i64, f64)], want: &[(i64, f64)]) {
    assert_eq!(got.len(), want.len(), "same steps recorded");
    for ((gs, gl), (ws, wl)) in got.iter().zip(want) {
        assert_eq!(gs, ws);
        assert!((gl - wl).abs() < 1e-5, "step {gs}: {gl} vs {wl}");
    }
}

/// The desktop app imports while a run trains: each has its own store connection, and the
/// import (one transaction) neither waits for the run nor stops it.
#[test]
fn an_import_does_not_wait_for_a_training_run() {
    let (dir, store, data_dir, mut spec) = setup();
    drop(store);
    spec.config.epochs = Some(10_000); // far longer than the import: the run is cancelled below
    spec.config.eval_every = None;
    let cancel = std::sync::Arc::new(AtomicBool::new(false));
    let (started, on_started) = std::sync::mpsc::channel();
    let trainer = {
        let (cancel, data_dir) = (std::sync::Arc::clone(&cancel), data_dir.clone());
        std::thread::spawn(move || {
            let mut store = Store::open(data_dir.db_path()).unwrap();
            let mut sent = false;
            train_run::start(
                &mut store,
                &data_dir,
                "long",
                &spec,
                &Template::default(),
                &cancel,
                &mut |e| {
                    if matches!(e, TrainEvent::Step { step: 2, .. }) && !sent {
                        sent = true;
                        started.send(()).unwrap();
                    }
                },
            )
            .unwrap()
        })
    };
    on_started.recv().unwrap();
    let mut csv = String::from("text,label\n");
    for i in 0..2_000 {
        csv.push_str(&format!("ticket number {i},label{}\n", i % 7));
    }
    let file = dir.path().join("more.csv");
    std::fs::write(&file, csv).unwrap();
    let mut store = Store::open(data_dir.db_path()).unwrap();
    let spec = tunedesk::import::ImportSpec::csv("more", ["text"], "label");
    let summary = tunedesk::import::import_file(&mut store, &file, &spec, &mut |_| {}).unwrap();
    assert_eq!(summary.rows, 2_000);
    assert!(
        !trainer.is_finished(),
        "the import finished while the run was still training"
    );
    assert_eq!(store.run("long").unwrap().status, RunStatus::Running);
    let steps_before = store.run("long").unwrap().steps;
    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    let run = trainer.join().unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
    assert!(run.steps >= steps_before, "the run kept recording steps");
}

/// The pre-flight plan: steps as the run takes them, cut tickets at a short max length, and a
/// duration only once this model has a measured speed here.
#[test]
fn preflight_plans_what_the_run_does() {
    use tunedesk::train::preflight::preflight;
    let (_dir, mut store, data_dir, mut spec) = setup();
    let tpl = Template::default();
    let plan = preflight(&mut store, &spec, &tpl).unwrap();
    assert_eq!(
        plan.estimate.unwrap().basis,
        tunedesk::train::preflight::Basis::Bench,
        "no measured speed yet"
    );
    assert_eq!(plan.truncated, 0);
    assert!(plan.ram_bytes > 0 && plan.checkpoint_bytes > 0);
    assert_eq!(plan.gpu_memory_bytes, None, "it trains on the CPU");
    let never = AtomicBool::new(false);
    let mut started = None;
    let run = train_run::start(&mut store, &data_dir, "p", &spec, &tpl, &never, &mut |e| {
        if let TrainEvent::Started {
            total_steps,
            train_examples,
            val_examples,
            ..
        } = e
        {
            started = Some((*total_steps, *train_examples, *val_examples));
        }
    })
    .unwrap();
    assert_eq!(
        started,
        Some((plan.total_steps, plan.train_examples, plan.val_examples)),
        "the plan matches the run"
    );
    let again = preflight(&mut store, &spec, &tpl).unwrap();
    let est = again.estimate.unwrap();
    assert_eq!(
        est.basis,
        tunedesk::train::preflight::Basis::Run { name: run.name },
        "the speed run 'p' measured"
    );
    assert!(est.seconds > 0.0 && est.tokens_per_s > 0.0);
    let on_gpu = RunSpec {
        device: DeviceChoice::Cuda(0),
        ..spec.clone()
    };
    assert_eq!(
        preflight(&mut store, &on_gpu, &tpl).unwrap().estimate,
        None,
        "a CPU run's speed says nothing of a GPU's"
    );
    spec.config.max_len = 6;
    let short = preflight(&mut store, &spec, &tpl).unwrap();
    assert_eq!(short.truncated, short.train_examples + short.val_examples);
    assert!(short.longest_tokens > 6);
}

/// The loop keeps the best checkpoint by the chosen score and stops early on it: with a task
/// score that only falls while the loss falls, the task's best is the first scored validation,
/// the loss's the last.
#[test]
fn the_best_checkpoint_and_early_stopping_follow_the_chosen_score() {
    use tunedesk::metrics::TaskScores;
    use tunedesk::train::select::Selection;
    use tunedesk::train::StopReason;
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path(), "LlamaForCausalLM", 3);
    let data = dataset();
    let outcome = |select_by: Selection, patience: Option<usize>| {
        let mut lm = LoadedModel::load(dir.path(), &Device::Cpu).unwrap();
        let tpl = Template::default();
        let (train_set, _) = train::encode_all(&lm, &tpl, &data[..12], 64).unwrap();
        let (val_set, _) = train::encode_all(&lm, &tpl, &data[12..], 64).unwrap();
        let cfg = TrainConfig {
            select_by,
            patience,
            ..config(42)
        };
        let (mut events, mut best_saved) = (Vec::new(), Vec::new());
        let mut calls = 0usize;
        let mut score = |_: &mut LoadedModel| {
            calls += 1;
            let falling = 1.0 / calls as f64;
            Ok(TaskScores {
                examples: 4,
                accuracy: falling,
                macro_f1: falling,
                field_f1: None,
            })
        };
        let cancel = AtomicBool::new(false);
        let mut hooks = Hooks {
            on_event: &mut |e| events.push(e),
            checkpoint: &mut |ck| {
                if ck.is_best {
                    best_saved.push(ck.state.step);
                }
                Ok(())
            },
            cancel: &cancel,
            score: Some(&mut score),
        };
        train::train(&mut lm, &train_set, &val_set, &cfg, None, &mut hooks).unwrap();
        let evals: Vec<(usize, f64, bool)> = events
            .iter()
            .filter_map(|e| match e {
                TrainEvent::Eval {
                    step,
                    val_loss,
                    best,
                    ..
                } => Some((*step, *val_loss, *best)),
                _ => None,
            })
            .collect();
        let Some(TrainEvent::Finished {
            best_step, reason, ..
        }) = events.last()
        else {
            panic!("finished")
        };
        (evals, *best_step, *reason, best_saved)
    };

    let (evals, best, reason, saved) = outcome(Selection::Accuracy, None);
    assert_eq!(reason, StopReason::Completed);
    assert_eq!(
        best,
        Some(evals[1].0),
        "the first scored validation: {evals:?}"
    );
    assert_eq!(
        saved,
        vec![0, evals[1].0],
        "best/ written when the best changed"
    );
    let (evals, best, _, _) = outcome(Selection::Loss, None);
    let lowest = evals.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert_eq!(best, Some(lowest.0), "the lowest loss: {evals:?}");
    assert_ne!(lowest.0, evals[1].0, "the choices differ on this run");
    let (evals, best, reason, _) = outcome(Selection::Task, Some(2));
    assert_eq!(reason, StopReason::EarlyStopped, "{evals:?}");
    assert_eq!(best, Some(evals[1].0));
    assert_eq!(
        evals.len(),
        4,
        "step 0, the best, then two without improvement"
    );
}

/// Cancelling an evaluation or a file's prediction stores and writes nothing; the playground
/// answers a ticket with the run and its base model, reusing the loaded models.
#[test]
fn cancelled_answers_leave_nothing_and_the_playground_answers() {
    use tunedesk::adapter::Checkpoint;
    use tunedesk::evaluate::run::{evaluate_until, EvalError, EvalRequest, SplitChoice, Target};
    use tunedesk::evaluate::trial::Playground;
    use tunedesk::predict::table::{predict_with_run, TableError, TableJob};
    use tunedesk::predict::PredictOptions;
    let (dir, mut store, data_dir, spec) = setup();
    let never = AtomicBool::new(false);
    let tpl = Template::default();
    train_run::start(&mut store, &data_dir, "r", &spec, &tpl, &never, &mut |_| {}).unwrap();
    let cancelled = AtomicBool::new(true);
    let req = EvalRequest {
        target: Target::Run {
            name: "r".into(),
            checkpoint: Checkpoint::Best,
        },
        dataset: "d".into(),
        split: SplitChoice::All,
        limit: None,
        options: PredictOptions::default(),
        seed: 1,
    };
    let err = evaluate_until(&mut store, &data_dir, &req, &mut |_, _| {}, &cancelled);
    assert!(matches!(err, Err(EvalError::Cancelled)), "{err:?}");
    assert!(store.list_evals(Some("r")).unwrap().is_empty());

    let input = dir.path().join("new.csv");
    std::fs::write(&input, "text\nw1 w2\nw3 w4\n").unwrap();
    let job = TableJob {
        input,
        text_columns: vec!["text".into()],
        output: dir.path().join("out.csv"),
        abstain_below: None,
    };
    let opts = PredictOptions::default();
    let predict = |store: &mut Store, cancel: &AtomicBool| {
        let best = Checkpoint::Best;
        predict_with_run(
            store,
            &data_dir,
            "r",
            best,
            opts.clone(),
            &job,
            &mut |_, _| {},
            cancel,
        )
    };
    let err = predict(&mut store, &cancelled);
    assert!(matches!(err, Err(TableError::Cancelled)), "{err:?}");
    assert!(!job.output.exists());
    let done = predict(&mut store, &never).unwrap();
    assert_eq!(done.predicted, 2);
    assert!(job.output.exists());

    let mut playground = Playground::new(opts);
    let ask = |p: &mut Playground, store: &mut Store, base| {
        p.ask(store, &data_dir, "r", Checkpoint::Best, "w1 w2", base)
            .unwrap()
    };
    let tuned = ask(&mut playground, &mut store, false);
    assert_eq!(tuned.len(), 1);
    assert_eq!(tuned[0].side, "fine-tuned");
    let a = &tuned[0];
    assert!(!a.top.is_empty() && a.top.len() <= 3, "{a:?}");
    let sum: f64 = a.top.iter().map(|s| s.probability).sum();
    assert!(sum <= 1.0 + 1e-6, "{a:?}");
    if a.top[0].label.as_str() == a.prediction.label.as_deref().unwrap_or_default() {
        assert!((a.top[0].probability - a.prediction.confidence.unwrap()).abs() < 1e-4);
    }
    // The tiny model reads 64 positions: five worked examples do not fit, zero do.
    let both = ask(&mut playground, &mut store, true);
    let sides: Vec<&str> = both.iter().map(|a| a.side.as_str()).collect();
    assert_eq!(sides, ["fine-tuned", "0-shot base"]);
    assert_eq!(
        both[0].prediction, tuned[0].prediction,
        "same warm model, same answer"
    );
}

/// A run asked to train on a GPU this build cannot use is refused, naming the device and the
/// reason, before anything is stored.
#[test]
#[cfg(not(feature = "cuda"))]
fn a_run_on_a_device_this_build_lacks_is_refused_and_stores_nothing() {
    let (_dir, mut store, data_dir, spec) = setup();
    let spec = RunSpec {
        device: DeviceChoice::Cuda(0),
        ..spec
    };
    let never = AtomicBool::new(false);
    let err = train_run::start(
        &mut store,
        &data_dir,
        "gpu",
        &spec,
        &Template::default(),
        &never,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("cuda:0 is not available"), "{err}");
    assert!(err.contains("--features cuda"), "{err}");
    assert!(store.run("gpu").is_err(), "no run was stored");
}

/// A run stored as training on a GPU this build cannot use is not resumed elsewhere: the
/// refusal names the run, the device and the reason, and the run is left as it was.
#[test]
#[cfg(not(feature = "cuda"))]
fn a_run_on_a_device_this_build_lacks_is_not_resumed() {
    let (_dir, mut store, data_dir, spec) = setup();
    let spec = RunSpec {
        device: DeviceChoice::Cuda(0),
        ..spec
    };
    let template = serde_json::to_value(Template::default()).unwrap();
    let config = serde_json::to_value(&spec).unwrap();
    let model = spec.model.display().to_string();
    let before = store
        .create_run("gpu", &spec.dataset, &model, &config, &template)
        .unwrap();
    let never = AtomicBool::new(false);
    let err = train_run::resume(&mut store, &data_dir, "gpu", &never, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("run 'gpu' cannot be resumed: cuda:0 is not available"),
        "{err}"
    );
    let after = store.run("gpu").unwrap();
    assert_eq!(after.status, before.status, "the run is left as it was");
    assert!(
        !data_dir.path().join("runs/gpu").exists(),
        "nothing written"
    );
}
