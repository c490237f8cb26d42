//! Validations that measure the task: after step 0 each one decodes a sample of validation
//! tickets, its scores are stored, and the best checkpoint follows the chosen score.

use crate::train::setup;
use std::sync::atomic::AtomicBool;
use tunedesk::adapter::Checkpoint;
use tunedesk::evaluate::run::{evaluate, EvalRequest, SplitChoice, Target};
use tunedesk::example::Split;
use tunedesk::predict::PredictOptions;
use tunedesk::template::Template;
use tunedesk::train::run as train_run;
use tunedesk::train::select::Selection;
use tunedesk::train::TrainEvent;

#[test]
fn validations_measure_the_task_and_the_best_checkpoint_follows_the_choice() {
    let (_dir, mut store, data_dir, mut spec) = setup();
    spec.config.score_rows = 4;
    let never = AtomicBool::new(false);
    for (name, sel) in [("by-task", Selection::Task), ("by-loss", Selection::Loss)] {
        spec.config.select_by = sel;
        let mut events = Vec::new();
        let run = train_run::start(
            &mut store,
            &data_dir,
            name,
            &spec,
            &Template::default(),
            &never,
            &mut |e| events.push(e.clone()),
        )
        .unwrap();
        let m = store.run_metrics(&run).unwrap();
        assert!(m.evals.len() >= 3, "{name}: {:?}", m.evals);
        assert!(m.evals[0].scores.is_none(), "step 0 is not decoded");
        for e in &m.evals[1..] {
            let s = e.scores.expect("every later validation is scored");
            assert!(s.examples > 0 && s.examples <= 4, "{s:?}");
            assert!((0.0..=1.0).contains(&s.accuracy) && s.field_f1.is_some());
        }
        let evented: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                TrainEvent::Eval { step, scores, .. } => Some((*step as i64, *scores)),
                _ => None,
            })
            .collect();
        let stored: Vec<_> = m.evals.iter().map(|e| (e.step, e.scores)).collect();
        assert_eq!(
            evented, stored,
            "what the events said is what the store kept"
        );
        // The best checkpoint is the best validation by the choice (ties by the loss).
        let mut best = &m.evals[0];
        for e in &m.evals[1..] {
            if sel.better(
                (e.val_loss, e.scores.as_ref()),
                (best.val_loss, best.scores.as_ref()),
            ) {
                best = e;
            }
        }
        assert_eq!(run.best_step, Some(best.step), "{name}: {:?}", m.evals);

        // The scores are those an evaluation of the last checkpoint gives on the same tickets.
        let last = m.evals.last().unwrap();
        let eval = evaluate(
            &mut store,
            &data_dir,
            &EvalRequest {
                target: Target::Run {
                    name: name.into(),
                    checkpoint: Checkpoint::Last,
                },
                dataset: "d".into(),
                split: SplitChoice::Only(Split::Val),
                limit: Some(4),
                options: PredictOptions {
                    int8: false,
                    ..PredictOptions::default()
                },
                seed: spec.config.seed,
            },
            &mut |_, _| {},
        )
        .unwrap();
        let s = last.scores.unwrap();
        assert_eq!(eval.metrics.examples, s.examples);
        assert_eq!(eval.metrics.accuracy, s.accuracy, "{name}");
        assert_eq!(
            eval.metrics.fields.as_ref().map(|f| f.micro_f1),
            s.field_f1,
            "{name}"
        );
    }

    // A task score needs tickets to decode.
    spec.config.select_by = Selection::Accuracy;
    spec.config.score_rows = 0;
    let err = train_run::start(
        &mut store,
        &data_dir,
        "no-sample",
        &spec,
        &Template::default(),
        &never,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("score rows"), "{err}");
    assert!(store.run("no-sample").is_err(), "nothing registered");
}
