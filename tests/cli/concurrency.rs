//! Many writers of one data directory at once — import processes, a training run's metric
//! rows, evaluations — starting on a directory that does not exist yet: every one completes
//! (waiting its turn, never "database is locked"), and the data is whole.

use crate::tunedesk;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Barrier;
use tunedesk::evaluate::metrics::{compute, Gold, Predicted};
use tunedesk::store::{EvalRecord, EvalSpec, StepRecord, Store};

const ROWS: usize = 3000;

fn big_csv(path: &Path) {
    let mut csv = String::from("text,label,Customer ID\n");
    for i in 0..ROWS {
        csv.push_str(&format!(
            "\"ticket {i}: my card was charged twice\",label{},{}\n",
            i % 5,
            100_000 + i
        ));
    }
    std::fs::write(path, csv).unwrap();
}

fn import(home: &Path, file: &Path, name: &str) -> std::process::Child {
    Command::new(assert_cmd::cargo::cargo_bin("tunedesk"))
        .env("TUNEDESK_HOME", home)
        .args(["dataset", "import"])
        .arg(file)
        .args(["--name", name, "--text", "text", "--label", "label"])
        .args(["--field", "Customer ID"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn steps(store: &mut Store, run: &str, n: i64) {
    let v = serde_json::json!({});
    let run = store.create_run(run, "d0", "m.gguf", &v, &v).unwrap();
    for step in 1..=n {
        let s = StepRecord {
            step,
            epoch: 0,
            loss: 1.0 / step as f64,
            lr: 1e-4,
            grad_norm: 1.0,
            tokens_per_s: 100.0,
        };
        store.record_step(&run, &s).unwrap();
    }
}

fn evals(store: &mut Store, n: usize) {
    let gold = Gold {
        label: "Billing".into(),
        fields: vec![("Customer ID".into(), "1".into())],
    };
    let records: Vec<EvalRecord> = (0..200)
        .map(|i| EvalRecord {
            example_id: Some(i),
            input: format!("ticket {i}"),
            gold: gold.clone(),
            predicted: Predicted::unparseable(),
            output: String::new(),
        })
        .collect();
    let pairs: Vec<(Gold, Predicted)> = records
        .iter()
        .map(|r| (r.gold.clone(), r.predicted.clone()))
        .collect();
    let metrics = compute(&pairs);
    for _ in 0..n {
        let spec = EvalSpec {
            run: None,
            checkpoint: None,
            model: "m.gguf".into(),
            dataset: "d0".into(),
            split: "test".into(),
            shots: Some(0),
            constrained: true,
            limit: None,
            int8: false,
        };
        store.save_eval(&spec, &metrics, 1.0, &records).unwrap();
    }
}

#[test]
fn ten_writers_of_three_kinds_at_once_all_complete() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("new-home");
    let file = root.path().join("big.csv");
    big_csv(&file);

    // Six import processes, two of them with the same name, all on a data dir that does not
    // exist yet (so they race to create and migrate the database too) ...
    let names = ["d0", "d1", "d2", "d3", "d4", "d0"];
    let children: Vec<_> = names.iter().map(|n| import(&home, &file, n)).collect();
    // ... while two threads record a run's steps and two save evaluations.
    let start = Barrier::new(4);
    std::thread::scope(|s| {
        for w in 0..4 {
            let (home, start) = (&home, &start);
            s.spawn(move || {
                let mut store = Store::open(home.join("tunedesk.db")).unwrap();
                start.wait();
                if w < 2 {
                    steps(&mut store, &format!("run{w}"), 300);
                } else {
                    evals(&mut store, 10);
                }
            });
        }
    });
    let mut failed = Vec::new();
    for (child, name) in children.into_iter().zip(names) {
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            failed.push((name, String::from_utf8_lossy(&out.stderr).into_owned()));
        }
    }
    // Exactly one of the two 'd0' imports lost, and it says why.
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, "d0");
    assert!(
        failed[0].1.contains("a dataset named 'd0' already exists"),
        "{failed:?}"
    );

    let store = Store::open(home.join("tunedesk.db")).unwrap();
    let datasets = store.list_datasets().unwrap();
    assert_eq!(datasets.len(), 5);
    assert!(datasets.iter().all(|d| d.rows == ROWS as u64));
    for d in &datasets {
        assert_eq!(store.examples(d).unwrap().len(), ROWS);
    }
    for w in 0..2 {
        let run = store.run(&format!("run{w}")).unwrap();
        assert_eq!(store.run_metrics(&run).unwrap().steps.len(), 300);
    }
    let saved = store.list_evals(None).unwrap();
    assert_eq!(saved.len(), 20);
    for e in saved {
        assert_eq!(store.eval_records(e.id).unwrap().len(), 200);
    }
    // And the CLI reads the result.
    tunedesk(&home).args(["dataset", "list"]).assert().success();
}
