//! The `tunedesk` binary end to end: arguments, output (text and `--json`), exit codes, and
//! the data directory rules.

#[path = "../common/tiny_model.rs"]
mod tiny_model;

mod concurrency;
mod hostile;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use std::path::Path;

fn tunedesk(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("tunedesk").unwrap();
    cmd.env("TUNEDESK_HOME", home).env_remove("TUNEDESK_LOG");
    cmd
}

fn json(cmd: &mut Command) -> Value {
    let out = cmd.arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// 60 tickets, three labels, two fields; one duplicate and one label variant planted.
fn tickets(dir: &Path) -> std::path::PathBuf {
    let mut csv = String::from("subject,body,queue,Customer ID,Email\n");
    for i in 0..60 {
        let (queue, id) = match i % 3 {
            0 => ("Billing", format!("{}", 100000 + i)),
            1 => ("Technical Issue", String::new()),
            _ => ("Account Management", format!("{}", 200000 + i)),
        };
        let email = if i % 2 == 0 {
            format!("user{i}@example.com")
        } else {
            String::new()
        };
        csv.push_str(&format!(
            "Ticket {i},\"Customer {id} writes from {email}: problem number {i}, please help\",{queue},{id},{email}\n"
        ));
    }
    csv.push_str("Ticket 0,\"Customer 100000 writes from user0@example.com: problem number 0, please help\",Billing,100000,user0@example.com\n");
    csv.push_str("Late,my invoice is late,billing ,,\n");
    let path = dir.join("tickets.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn import_list_show_split_quality_export_delete() {
    let home = tempfile::tempdir().unwrap();
    let file = tickets(home.path());

    let out = json(
        tunedesk(home.path())
            .args(["dataset", "import"])
            .arg(&file)
            .args([
                "--name",
                "tickets",
                "--text",
                "subject",
                "--text",
                "body",
                "--label",
                "queue",
                "--fields-rest",
            ]),
    );
    assert_eq!(out["rows"], 62);
    assert_eq!(
        out["dataset"]["fields"],
        serde_json::json!(["Customer ID", "Email"])
    );
    assert!(
        home.path().join("tunedesk.db").exists(),
        "TUNEDESK_HOME holds the database"
    );

    let list = json(tunedesk(home.path()).args(["dataset", "list"]));
    assert_eq!(list[0]["name"], "tickets");
    assert_eq!(list[0]["rows"], 62);
    tunedesk(home.path())
        .args(["dataset", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("tickets").and(predicate::str::contains("62")));

    let split = json(tunedesk(home.path()).args(["dataset", "split", "tickets", "--seed", "7"]));
    assert_eq!(split["unassigned"], 0);
    assert_eq!(
        split["train"].as_u64().unwrap()
            + split["val"].as_u64().unwrap()
            + split["test"].as_u64().unwrap(),
        62
    );

    let show = json(tunedesk(home.path()).args(["dataset", "show", "tickets"]));
    assert_eq!(show["rows"], 62);
    assert_eq!(show["label_counts"][0], serde_json::json!(["Billing", 21]));
    assert_eq!(show["field_fill"][1]["name"], "Email");
    assert_eq!(show["split_counts"], split);

    let q = json(tunedesk(home.path()).args(["dataset", "quality", "tickets"]));
    let checks: Vec<&str> = q["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert!(checks.contains(&"exact_duplicate"), "{checks:?}");
    assert!(checks.contains(&"label_variants"), "{checks:?}");
    assert!(checks.contains(&"small_class"), "{checks:?}");
    let variants = q["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "label_variants")
        .unwrap();
    assert_eq!(variants["rows"], serde_json::json!([62]));
    assert_eq!(variants["severity"], "error");
    tunedesk(home.path())
        .args(["dataset", "quality", "tickets"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "[error] labels 'Billing' (21 rows), 'billing ' (1 row) differ only in case",
        ));

    let out = home.path().join("out.jsonl");
    tunedesk(home.path())
        .args(["dataset", "export", "tickets", "--out"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 62);

    tunedesk(home.path())
        .args(["dataset", "delete", "tickets"])
        .assert()
        .success();
    assert_eq!(
        json(tunedesk(home.path()).args(["dataset", "list"])),
        serde_json::json!([])
    );
}

#[test]
fn errors_exit_non_zero_with_a_precise_message() {
    let home = tempfile::tempdir().unwrap();
    let bad = home.path().join("bad.csv");
    std::fs::write(&bad, "text,label\na,b\nc,d,e\n").unwrap();
    tunedesk(home.path())
        .args(["dataset", "import"])
        .arg(&bad)
        .args(["--name", "bad", "--text", "text", "--label", "label"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "bad.csv:3: record has 3 fields, header has 2; nothing was imported",
        ));

    let out = tunedesk(home.path())
        .args(["dataset", "import"])
        .arg(&bad)
        .args([
            "--name", "bad", "--text", "text", "--label", "nope", "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("column 'nope' not found; columns are: text, label"),
        "{v}"
    );

    tunedesk(home.path())
        .args(["dataset", "show", "missing"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no dataset named 'missing'"));
    tunedesk(home.path())
        .args(["dataset", "frobnicate"])
        .assert()
        .code(2);
}

#[test]
fn data_dir_flag_wins_over_env() {
    let home = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let file = tickets(home.path());
    tunedesk(home.path())
        .arg("--data-dir")
        .arg(other.path())
        .args(["dataset", "import"])
        .arg(&file)
        .args(["--name", "t", "--text", "body", "--label", "queue"])
        .assert()
        .success();
    assert!(other.path().join("tunedesk.db").exists());
    assert!(!home.path().join("tunedesk.db").exists());
}

#[test]
fn database_is_plain_sqlite() {
    let home = tempfile::tempdir().unwrap();
    let file = tickets(home.path());
    tunedesk(home.path())
        .args(["dataset", "import"])
        .arg(&file)
        .args([
            "--name", "t", "--text", "body", "--label", "queue", "--field", "Email",
        ])
        .assert()
        .success();
    let conn = rusqlite::Connection::open(home.path().join("tunedesk.db")).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM example_fields f JOIN examples e ON e.id = f.example_id WHERE f.name = 'Email'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 31);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// A tiny model in `home/model` and a 40-row two-label dataset `d`; returns the model path.
fn tiny_model_and_dataset(home: &Path) -> std::path::PathBuf {
    let model = home.join("model");
    std::fs::create_dir_all(&model).unwrap();
    tiny_model::write_tiny(&model, "LlamaForCausalLM", 5);
    let mut csv = String::from("text,label\n");
    for i in 0..40 {
        let (w, l) = if i % 2 == 0 {
            ("w10", "w20")
        } else {
            ("w11", "w21")
        };
        csv.push_str(&format!("{w} w{},{l}\n", 3 + i % 7));
    }
    let file = home.join("d.csv");
    std::fs::write(&file, csv).unwrap();
    tunedesk(home)
        .args(["dataset", "import"])
        .arg(&file)
        .args(["--name", "d", "--text", "text", "--label", "label"])
        .assert()
        .success();
    model
}

#[test]
fn flipped_labels_rank_first_among_suspected_mislabels() {
    let home = tempfile::tempdir().unwrap();
    let model = tiny_model_and_dataset(home.path());
    // A second dataset where the first word decides the label, except on three rows whose
    // labels were flipped.
    let flipped = [5u64, 17, 30];
    let mut csv = String::from("text,label\n");
    for row in 1..=60u64 {
        let rule = row % 2 == 0;
        let label = if rule != flipped.contains(&row) {
            "w20"
        } else {
            "w21"
        };
        let word = if rule { "w10" } else { "w11" };
        csv.push_str(&format!("{word} w{},{label}\n", 3 + row % 7));
    }
    let file = home.path().join("flipped.csv");
    std::fs::write(&file, csv).unwrap();
    tunedesk(home.path())
        .args(["dataset", "import"])
        .arg(&file)
        .args(["--name", "f", "--text", "text", "--label", "label"])
        .assert()
        .success();
    tunedesk(home.path())
        .args(["train", "--dataset", "f", "--model"])
        .arg(&model)
        .args([
            "--name",
            "rf",
            "--epochs",
            "6",
            "--batch-size",
            "4",
            "--lr",
            "0.02",
        ])
        .args([
            "--max-len",
            "64",
            "--score-rows",
            "0",
            "--select-by",
            "loss",
            "--json",
        ])
        .assert()
        .success();
    let eval = json(tunedesk(home.path()).args([
        "eval",
        "--run",
        "rf",
        "--dataset",
        "f",
        "--split",
        "all",
        "--batch-size",
        "8",
    ]));
    let id = eval["eval"]["id"].as_i64().unwrap().to_string();
    let mislabels = || {
        json(tunedesk(home.path()).args([
            "dataset",
            "mislabels",
            "f",
            "--eval",
            &id,
            "--min-confidence",
            "0",
        ]))
    };
    let suspects = mislabels();
    let mut top: Vec<u64> = suspects.as_array().unwrap()[..3]
        .iter()
        .map(|s| s["row"].as_u64().unwrap())
        .collect();
    top.sort();
    assert_eq!(top, flipped, "{suspects}");
    // Relabelled to the model's answer, a row is no longer suspected (without re-evaluating).
    let first = &suspects[0];
    let row = first["row"].as_u64().unwrap().to_string();
    let (gold, predicted) = (
        first["gold"].as_str().unwrap(),
        first["predicted"].as_str().unwrap(),
    );
    tunedesk(home.path())
        .args([
            "dataset", "relabel", "f", "--row", &row, "--from", gold, "--to", predicted,
        ])
        .assert()
        .success();
    let after = mislabels();
    let rows: Vec<String> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["row"].to_string())
        .collect();
    assert!(
        !rows.contains(&row),
        "row {row} is still suspected: {after}"
    );
    assert_eq!(rows.len() + 1, suspects.as_array().unwrap().len());
    // An evaluation of another dataset has other rows: refused, nothing listed.
    tunedesk(home.path())
        .args(["dataset", "mislabels", "d", "--eval", &id])
        .assert()
        .failure()
        .stderr(predicate::str::contains("answered dataset 'f', not 'd'"));
}

#[test]
fn train_show_chart_and_delete_a_run() {
    let home = tempfile::tempdir().unwrap();
    let model = tiny_model_and_dataset(home.path());

    let out = tunedesk(home.path())
        .args(["train", "--dataset", "d", "--model"])
        .arg(&model)
        .args([
            "--name",
            "r1",
            "--epochs",
            "2",
            "--batch-size",
            "4",
            "--lr",
            "0.02",
            "--max-len",
            "64",
            "--device",
            "cpu",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "started");
    assert!(events.iter().any(|e| e["event"] == "step"));
    assert!(events
        .iter()
        .any(|e| e["event"] == "eval" && e["step"] == 0));
    let finished = events.iter().find(|e| e["event"] == "finished").unwrap();
    assert_eq!(finished["reason"], "completed");
    assert_eq!(events.last().unwrap()["status"], "done");

    let list = json(tunedesk(home.path()).args(["run", "list"]));
    assert_eq!(list[0]["name"], "r1");
    let show = json(tunedesk(home.path()).args(["run", "show", "r1"]));
    let steps = show["metrics"]["steps"].as_array().unwrap().len();
    assert_eq!(steps as u64, finished["steps"].as_u64().unwrap());
    assert_eq!(show["run"]["config"]["config"]["lr"], 0.02);
    assert_eq!(show["run"]["config"]["device"], "cpu", "where it trained");
    let devices = json(tunedesk(home.path()).arg("devices"));
    let last = devices.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["id"], "cpu", "the CPU is always there, after any GPU");
    tunedesk(home.path())
        .args(["train", "--dataset", "d", "--model"])
        .arg(&model)
        .args(["--name", "r2", "--device", "tpu:1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("'tpu:1' is not a device"));
    assert!(show["run"]["template"]["instruction"]
        .as_str()
        .unwrap()
        .starts_with("Classify"));

    let chart = home.path().join("loss.svg");
    tunedesk(home.path())
        .args(["chart", "r1", "--out"])
        .arg(&chart)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&chart)
        .unwrap()
        .contains("validation loss"));

    tunedesk(home.path())
        .args(["train", "--resume", "r1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "run 'r1' cannot be resumed: it has finished",
        ));
    tunedesk(home.path())
        .args(["train", "--dataset", "d", "--model"])
        .arg(&model)
        .args(["--name", "r1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("a run named 'r1' already exists"));
    tunedesk(home.path())
        .args(["run", "delete", "r1"])
        .assert()
        .success();
    assert!(
        !home.path().join("runs/r1").exists(),
        "checkpoints are deleted with the run"
    );
}

/// Arguments of a 100-step run on the tiny dataset with a checkpoint every 4 steps.
fn slow_run_args(model: &Path, name: &str) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = ["train", "--dataset", "d", "--model"]
        .iter()
        .map(Into::into)
        .collect();
    args.push(model.into());
    for a in [
        "--name",
        name,
        "--epochs",
        "10",
        "--batch-size",
        "4",
        "--lr",
        "0.01",
        "--max-len",
        "64",
        "--eval-every",
        "4",
        "--json",
    ] {
        args.push(a.into());
    }
    args
}

type EventLines = std::io::Lines<std::io::BufReader<std::process::ChildStdout>>;

/// Starts `tunedesk` with `args` and returns it, with the rest of its output, once a JSON event
/// matching `until` was printed.
fn spawn_until(
    home: &Path,
    args: &[std::ffi::OsString],
    until: impl Fn(&Value) -> bool,
) -> (std::process::Child, EventLines) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("tunedesk"))
        .env("TUNEDESK_HOME", home)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["event"] == "finished" {
            break;
        }
        if until(&event) {
            return (child, lines);
        }
    }
    child.kill().ok();
    child.wait().ok();
    panic!("the run ended before the signal");
}

/// `(step, loss)` of every recorded step of `run`.
fn recorded_steps(home: &Path, run: &str) -> Vec<(u64, f64)> {
    let show = json(tunedesk(home).args(["run", "show", run]));
    show["metrics"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_u64().unwrap(), s["loss"].as_f64().unwrap()))
        .collect()
}

fn assert_same_run(home: &Path, a: &str, b: &str) {
    let (sa, sb) = (recorded_steps(home, a), recorded_steps(home, b));
    let steps: Vec<u64> = sb.iter().map(|s| s.0).collect();
    assert_eq!(
        steps,
        (1..=sa.len() as u64).collect::<Vec<_>>(),
        "each step recorded exactly once"
    );
    for ((_, la), (_, lb)) in sa.iter().zip(&sb) {
        assert!((la - lb).abs() < 1e-5, "loss {la} vs {lb}");
    }
    let adapter = |run: &str| {
        candle_core::safetensors::load(
            home.join("runs").join(run).join("last/adapter.safetensors"),
            &candle_core::Device::Cpu,
        )
        .unwrap()
    };
    let (wa, wb) = (adapter(a), adapter(b));
    assert_eq!(wa.len(), wb.len());
    for (name, ta) in &wa {
        let diff = (ta - &wb[name])
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-5, "{name} differs by {diff}");
    }
}

/// The tiny model and dataset, and run "whole" of [`slow_run_args`] trained without a break;
/// returns the model path.
fn uninterrupted_run(home: &Path) -> std::path::PathBuf {
    let model = tiny_model_and_dataset(home);
    tunedesk(home)
        .args(slow_run_args(&model, "whole"))
        .assert()
        .success();
    model
}

/// Resumes the interrupted run `name` to its end and checks it matches run "whole".
fn resumes_like_the_uninterrupted_run(home: &Path, name: &str) {
    tunedesk(home)
        .args(["train", "--resume", name, "--json"])
        .assert()
        .success();
    let show = json(tunedesk(home).args(["run", "show", name]));
    assert_eq!(show["run"]["status"], "done");
    assert_same_run(home, "whole", name);
}

#[test]
fn a_kill_9_mid_run_resumes_to_the_same_adapter() {
    let home = tempfile::tempdir().unwrap();
    let model = uninterrupted_run(home.path());

    let (mut child, _output) = spawn_until(home.path(), &slow_run_args(&model, "killed"), |e| {
        e["event"] == "step" && e["step"] == 6
    });
    child.kill().unwrap(); // SIGKILL: no handler runs, no checkpoint is written.
    child.wait().unwrap();
    let show = json(tunedesk(home.path()).args(["run", "show", "killed"]));
    assert_eq!(show["run"]["status"], "running");
    assert!(recorded_steps(home.path(), "killed").len() >= 6);

    resumes_like_the_uninterrupted_run(home.path(), "killed");
}

#[test]
fn ctrl_c_saves_a_checkpoint_and_the_run_resumes() {
    let home = tempfile::tempdir().unwrap();
    let model = uninterrupted_run(home.path());

    let (mut child, output) = spawn_until(home.path(), &slow_run_args(&model, "stopped"), |e| {
        e["event"] == "step" && e["step"] == 2
    });
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let rest: Vec<Value> = output
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    let finished = rest.iter().find(|e| e["event"] == "finished").unwrap();
    assert_eq!(finished["reason"], "cancelled");
    assert!(child.wait().unwrap().success());
    let show = json(tunedesk(home.path()).args(["run", "show", "stopped"]));
    assert_eq!(show["run"]["status"], "cancelled");
    let done = recorded_steps(home.path(), "stopped").len();
    assert!((2..100).contains(&done), "stopped after {done} steps");
    assert!(home
        .path()
        .join("runs/stopped/last/adapter.safetensors")
        .exists());

    resumes_like_the_uninterrupted_run(home.path(), "stopped");
}

#[test]
fn a_crash_between_the_checkpoint_renames_resumes_to_the_same_adapter() {
    let home = tempfile::tempdir().unwrap();
    let model = uninterrupted_run(home.path());

    // Abort at the first replacement of `last`: moved aside, the new one not yet in place.
    let status = std::process::Command::new(assert_cmd::cargo::cargo_bin("tunedesk"))
        .env("TUNEDESK_HOME", home.path())
        .env("TUNEDESK_FAULT", "checkpoint-swap:1")
        .args(slow_run_args(&model, "cut"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success());
    let run = home.path().join("runs/cut");
    assert!(
        !run.join("last").exists(),
        "the crash fell between the renames"
    );
    assert!(run.join(".last.old").exists() && run.join(".last.tmp").exists());

    // The resume continues from the checkpoint the crash was putting in place, not from
    // scratch.
    let state = std::fs::read(run.join(".last.tmp/state.json")).unwrap();
    let new_step = serde_json::from_slice::<Value>(&state).unwrap()["step"].clone();
    assert!(new_step.as_u64().unwrap() > 0);
    let out = tunedesk(home.path())
        .args(["train", "--resume", "cut", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let started: Value = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["event"] == "started")
        .unwrap();
    assert_eq!(started["resumed_from"], new_step);
    assert_same_run(home.path(), "whole", "cut");
    assert!(!run.join(".last.old").exists() && !run.join(".last.tmp").exists());
}

#[test]
fn resumed_runs_say_where_their_events_restart() {
    let home = tempfile::tempdir().unwrap();
    let model = tiny_model_and_dataset(home.path());
    let (mut child, _output) = spawn_until(home.path(), &slow_run_args(&model, "k"), |e| {
        e["event"] == "step" && e["step"] == 10
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, _output) = spawn_until(
        home.path(),
        &[
            "train".into(),
            "--resume".into(),
            "k".into(),
            "--json".into(),
        ],
        |e| {
            e["event"] == "started"
                && e["resumed_from"]
                    .as_u64()
                    .is_some_and(|s| s > 0 && s % 4 == 0)
        },
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn eval_compare_predict_and_confusion_chart() {
    let home = tempfile::tempdir().unwrap();
    let model = tiny_model_and_dataset(home.path());
    tunedesk(home.path())
        .args(["train", "--dataset", "d", "--model"])
        .arg(&model)
        .args([
            "--name",
            "r",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--lr",
            "0.02",
        ])
        .args(["--max-len", "64", "--json"])
        .assert()
        .success();

    let out = json(tunedesk(home.path()).args([
        "eval",
        "--run",
        "r",
        "--dataset",
        "d",
        "--split",
        "all",
        "--batch-size",
        "3",
    ]));
    let m = &out["eval"]["metrics"];
    assert_eq!(m["examples"], 40);
    let records = out["records"].as_array().unwrap();
    assert_eq!(records.len(), 40);
    for r in records {
        let label = r["predicted"]["label"].as_str().unwrap();
        assert!(["w20", "w21"].contains(&label), "constrained label {label}");
        let c = r["predicted"]["confidence"].as_f64().unwrap();
        assert!(c > 0.0 && c <= 1.0 + 1e-9);
    }
    let correct = records
        .iter()
        .filter(|r| r["predicted"]["label"] == r["gold"]["label"])
        .count();
    assert!((m["accuracy"].as_f64().unwrap() - correct as f64 / 40.0).abs() < 1e-12);

    let cmp = json(tunedesk(home.path()).args(["compare", "r", "--baseline-shots", "0,2"]));
    let cols = cmp["columns"].as_array().unwrap();
    assert_eq!(cols.len(), 3);
    assert_eq!(cols[2]["eval"]["shots"], 2);
    let verdict = &cmp["verdict"];
    assert!(
        ["worth_it", "marginal", "baseline_enough"].contains(&verdict["verdict"].as_str().unwrap())
    );
    assert!(verdict["sentence"].as_str().unwrap().contains("-shot base"));
    let accuracy = &verdict["differences"][0];
    assert_eq!(accuracy["metric"], "accuracy");
    let at = |k: &str| accuracy[k].as_f64().unwrap();
    assert!(
        at("low") <= at("value") && at("value") <= at("high"),
        "{accuracy}"
    );
    // The baselines are reused the second time.
    let again = json(tunedesk(home.path()).args(["compare", "r", "--baseline-shots", "0,2"]));
    assert_eq!(again["columns"][1]["eval"]["id"], cols[1]["eval"]["id"]);

    // The evaluation as a report, its answers as CSV, its confusion chart.
    let eval_id = out["eval"]["id"].as_i64().unwrap().to_string();
    for name in ["report.md", "answers.csv", "confusion-1.svg"] {
        let file = home.path().join(name);
        tunedesk(home.path())
            .args(["report", &eval_id, "--out"])
            .arg(&file)
            .assert()
            .success();
        assert!(file.exists(), "{name}");
    }
    let md = std::fs::read_to_string(home.path().join("report.md")).unwrap();
    assert!(
        md.contains("## Fine-tuning against prompting") && md.contains("### Per label"),
        "{md}"
    );
    let answers = std::fs::read_to_string(home.path().join("answers.csv")).unwrap();
    assert_eq!(answers.lines().count(), 41, "a header and 40 answers");
    assert!(answers.starts_with("row,ticket,gold_label,answer_label,confidence,label_right"));
    tunedesk(home.path())
        .args(["report", &eval_id, "--out"])
        .arg(home.path().join("report.txt"))
        .assert()
        .failure();

    // Suspected mislabels come from that evaluation of the dataset's own rows; relabelling
    // one changes the row and records the change.
    let suspects = json(tunedesk(home.path()).args([
        "dataset",
        "mislabels",
        "d",
        "--eval",
        &eval_id,
        "--min-confidence",
        "0",
    ]));
    for s in suspects.as_array().unwrap() {
        assert_ne!(s["gold"], s["predicted"], "{s}");
    }
    let first = &records[0];
    let (row, gold) = (
        first["example_id"].as_i64().unwrap().to_string(),
        first["gold"]["label"].as_str().unwrap(),
    );
    let other = if gold == "w20" { "w21" } else { "w20" };
    let edits = json(tunedesk(home.path()).args([
        "dataset", "relabel", "d", "--row", &row, "--from", gold, "--to", other,
    ]));
    assert_eq!(edits[0]["new_label"], other);
    // The same change again is refused: the row no longer has the old label.
    tunedesk(home.path())
        .args([
            "dataset", "relabel", "d", "--row", &row, "--from", gold, "--to", other,
        ])
        .assert()
        .failure();
    let listed = json(tunedesk(home.path()).args(["dataset", "edits", "d"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["old_label"], gold);

    let chart = home.path().join("confusion.svg");
    tunedesk(home.path())
        .args(["chart", "r", "--confusion", "--out"])
        .arg(&chart)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&chart).unwrap().contains("w21"));

    let input = home.path().join("new.csv");
    std::fs::write(
        &input,
        "id,body,note\n1,w10 w3,first\n2,\"w11 w4\",second\n3,,empty\n4,w10,\"x\",extra\n5,w11 w5,last\n",
    )
    .unwrap();
    let output = home.path().join("out.csv");
    let summary = json(
        tunedesk(home.path())
            .args(["predict", "--run", "r", "--input"])
            .arg(&input)
            .args(["--text-col", "body", "--output"])
            .arg(&output)
            .args(["--abstain-below", "0.0"]),
    );
    assert_eq!(summary["predicted"], 3);
    assert_eq!(summary["bad_total"], 2);
    let bad = summary["bad_rows"].as_array().unwrap();
    assert!(bad[0].as_str().unwrap().starts_with("4:"), "{bad:?}");
    assert!(bad[1].as_str().unwrap().starts_with("5:"), "{bad:?}");
    let mut rows = csv::Reader::from_path(&output).unwrap();
    let header: Vec<String> = rows.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "id",
            "body",
            "note",
            "predicted_label",
            "confidence",
            "needs_review"
        ]
    );
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.iter().map(|r| r[0].to_string()).collect::<Vec<_>>(),
        ["1", "2", "5"]
    );
    for r in &rows {
        assert!(["w20", "w21"].contains(&&r[3]));
        assert_eq!(&r[5], "false");
    }

    tunedesk(home.path())
        .args(["predict", "--run", "r", "--input"])
        .arg(&input)
        .args(["--text-col", "text", "--output"])
        .arg(home.path().join("never.csv"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no column named 'text' (columns: id, body, note)",
        ));
    assert!(!home.path().join("never.csv").exists());

    // A threshold saved with the run is what predict abstains below by default.
    let saved = json(tunedesk(home.path()).args(["run", "abstain", "r", "--below", "1"]));
    assert_eq!(saved["abstain_below"], 1.0);
    let curve = saved["coverage"].as_array().unwrap();
    assert_eq!(curve.len(), 21);
    assert_eq!(curve[0]["kept"], 40, "at 0 every ticket keeps its answer");
    let abstaining = json(
        tunedesk(home.path())
            .args(["predict", "--run", "r", "--input"])
            .arg(&input)
            .args(["--text-col", "body", "--output"])
            .arg(home.path().join("abstained.csv")),
    );
    assert_eq!(abstaining["abstained"], 3, "{abstaining}");
    tunedesk(home.path())
        .args(["run", "abstain", "r", "--below", "1.5"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("between 0 and 1"));
    let kept = json(tunedesk(home.path()).args(["run", "abstain", "r"]));
    assert_eq!(
        kept["abstain_below"], 1.0,
        "a refused threshold changes nothing"
    );
    let never = json(tunedesk(home.path()).args(["run", "abstain", "r", "--never"]));
    assert!(never["abstain_below"].is_null());

    // A hand-off of a run whose base model is a local folder needs the Hub id to name.
    tunedesk(home.path())
        .args([
            "job",
            "export",
            "--from-run",
            "r",
            "--target",
            "axolotl",
            "--out",
        ])
        .arg(home.path().join("never-job"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a Hugging Face model"));
    assert!(!home.path().join("never-job").exists());

    let one = json(tunedesk(home.path()).args(["predict", "--run", "r", "--text", "w11 w6"]));
    assert!(["w20", "w21"].contains(&one["label"].as_str().unwrap()));
    // The most probable labels, most probable first; the base model's answer after it.
    let top = one["top"].as_array().unwrap();
    assert!((1..=3).contains(&top.len()), "{one}");
    let p = |i: usize| top[i]["probability"].as_f64().unwrap();
    assert!((1..top.len()).all(|i| p(i - 1) >= p(i)), "{one}");
    let out = tunedesk(home.path())
        .args([
            "predict", "--run", "r", "--text", "w11 w6", "--base", "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let sides: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(sides.len(), 2);
    assert_eq!(sides[0]["side"], "fine-tuned");
    assert_eq!(sides[0]["label"], one["label"]);
    assert!(sides[1]["side"].as_str().unwrap().ends_with("-shot base"));

    // An empty split and a missing checkpoint are plain errors.
    let other = home.path().join("e.csv");
    std::fs::write(&other, "text,label\nw10 w3,w20\nw11 w4,w21\n").unwrap();
    tunedesk(home.path())
        .args(["dataset", "import"])
        .arg(&other)
        .args(["--name", "e", "--text", "text", "--label", "label"])
        .assert()
        .success();
    tunedesk(home.path())
        .args(["eval", "--run", "r", "--dataset", "e", "--split", "val"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("dataset 'e' has no val rows"));

    // Every evaluation step keeps its adapter: `--checkpoint STEP` uses it, and names the
    // kept ones when the step is not among them.
    let show = json(tunedesk(home.path()).args(["run", "show", "r"]));
    let steps: Vec<u64> = show["checkpoint_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    let last = show["run"]["steps"].as_u64().unwrap();
    assert_eq!(steps.last(), Some(&last), "{steps:?}");
    let at_step = json(tunedesk(home.path()).args([
        "eval",
        "--run",
        "r",
        "--checkpoint",
        &steps[0].to_string(),
        "--dataset",
        "d",
        "--split",
        "all",
        "--limit",
        "4",
    ]));
    assert_eq!(at_step["eval"]["checkpoint"], steps[0].to_string());
    tunedesk(home.path())
        .args([
            "predict",
            "--run",
            "r",
            "--checkpoint",
            "999",
            "--text",
            "w11",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "run 'r' has no '999' checkpoint yet (kept: best; last; steps {})",
            steps
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    tunedesk(home.path())
        .args([
            "predict",
            "--run",
            "r",
            "--checkpoint",
            "first",
            "--text",
            "w11",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "'first' is not best, last or a step number",
        ));
    std::fs::remove_dir_all(home.path().join("runs").join("r").join("best")).unwrap();
    tunedesk(home.path())
        .args(["predict", "--run", "r", "--text", "w11 w6"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "run 'r' has no 'best' checkpoint yet",
        ));
}

/// A hand-off's YAML: every line `key: value`, the value in JSON's flow style (valid YAML).
fn flow_yaml(yml: &str) -> serde_json::Map<String, Value> {
    yml.lines()
        .map(|l| {
            let (k, v) = l.split_once(": ").expect("key: value");
            (
                k.to_string(),
                serde_json::from_str(v).expect("a flow value"),
            )
        })
        .collect()
}

/// `job export --target axolotl`: the hand-off folder has Axolotl's config with the keys and
/// types its documentation gives, and JSONL rows whose prompts and completions are exactly
/// the text TuneDesk trains on, row for row.
#[test]
fn a_job_handed_to_axolotl_keeps_the_rows_and_settings() {
    use tunedesk::handoff::Record;
    let home = tempfile::tempdir().unwrap();
    let file = tickets(home.path());
    tunedesk(home.path())
        .args(["dataset", "import"])
        .arg(&file)
        .args([
            "--name",
            "t",
            "--text",
            "body",
            "--label",
            "queue",
            "--fields-rest",
        ])
        .assert()
        .success();
    let out = home.path().join("handoff");
    let written = json(
        tunedesk(home.path())
            .args(["job", "export", "--dataset", "t", "--model"])
            .args([
                "HuggingFaceTB/SmolLM2-135M-Instruct",
                "--target",
                "axolotl",
                "--out",
            ])
            .arg(&out),
    );
    assert!(written["train_rows"].as_u64().unwrap() > 40, "{written}");
    for f in [
        "data/train.jsonl",
        "data/val.jsonl",
        "axolotl.yml",
        "deepspeed_zero2.json",
        "run.sh",
        "README.md",
        "tunedesk.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "run.sh is executable");
    }
    let yml = std::fs::read_to_string(out.join("axolotl.yml")).unwrap();
    let config = flow_yaml(&yml);
    let string = |k: &str| {
        config[k]
            .as_str()
            .unwrap_or_else(|| panic!("{k} is a string"))
    };
    let int = |k: &str| {
        config[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} is an integer"))
    };
    let number = |k: &str| {
        config[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} is a number"))
    };
    assert_eq!(string("base_model"), "HuggingFaceTB/SmolLM2-135M-Instruct");
    assert_eq!(string("adapter"), "lora");
    assert_eq!(string("bf16"), "auto");
    assert!(!string("output_dir").is_empty());
    assert_eq!(config["train_on_inputs"], false);
    assert_eq!(int("val_set_size"), 0);
    for k in [
        "lora_r",
        "num_epochs",
        "micro_batch_size",
        "gradient_accumulation_steps",
        "sequence_len",
    ] {
        assert!(int(k) > 0, "{k}");
    }
    for k in [
        "lora_alpha",
        "lora_dropout",
        "learning_rate",
        "weight_decay",
    ] {
        assert!(number(k) >= 0.0, "{k}");
    }
    assert!(config["lora_target_modules"]
        .as_array()
        .unwrap()
        .iter()
        .all(Value::is_string));
    for (key, path) in [
        ("datasets", "data/train.jsonl"),
        ("test_datasets", "data/val.jsonl"),
    ] {
        let d = &config[key][0];
        assert_eq!(d["path"], path);
        assert_eq!(d["ds_type"], "json");
        let t = &d["type"];
        assert_eq!(
            (&t["field_instruction"], &t["field_output"]),
            (&Value::from("prompt"), &Value::from("completion"))
        );
        assert_eq!(t["format"], "{instruction}");
        assert_eq!(t["no_input_format"], "{instruction}");
    }
    let zero: Value =
        serde_json::from_slice(&std::fs::read(out.join("deepspeed_zero2.json")).unwrap()).unwrap();
    assert_eq!(zero["zero_optimization"]["stage"], 2);

    // The rows: exactly the text TuneDesk trains on (the run's split, rendered by the template).
    let mut store = tunedesk::store::Store::open(home.path().join("tunedesk.db")).unwrap();
    let seed = tunedesk::train::TrainConfig::default().seed;
    let (train, val) =
        tunedesk::dataset::split::run_examples(&mut store, "t", None, None, seed).unwrap();
    let template = tunedesk::template::Template::default();
    for (rows, file) in [(train, "data/train.jsonl"), (val, "data/val.jsonl")] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        let got: Vec<Record> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(got.len(), rows.len(), "{file}");
        for (g, e) in got.iter().zip(&rows) {
            assert_eq!(g.prompt, template.prompt(&e.text));
            assert_eq!(
                g.completion,
                template.completion(&e.text, &e.label, &e.fields)
            );
        }
    }
    assert!(std::fs::read_to_string(out.join("README.md"))
        .unwrap()
        .contains("## Not carried over"));

    // LLaMA-Factory: its `empty` template adds no end token, so the completions carry it.
    tunedesk(home.path())
        .args([
            "job",
            "export",
            "--dataset",
            "t",
            "--model",
            "m/m",
            "--target",
            "llama-factory",
        ])
        .arg("--out")
        .arg(home.path().join("lf-refused"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("end-of-sequence token"));
    let job = tunedesk::handoff::Job {
        dataset: "t".into(),
        base_model: "HuggingFaceTB/SmolLM2-135M-Instruct".into(),
        config: tunedesk::train::TrainConfig::default(),
        template: template.clone(),
        train_limit: None,
        val_limit: None,
        eos_text: Some("<|im_end|>".into()),
    };
    let lf = home.path().join("lf");
    let trainer = tunedesk::handoff::Trainer::LlamaFactory;
    tunedesk::handoff::write(&mut store, &job, trainer, &lf).unwrap();
    let (train, _) =
        tunedesk::dataset::split::run_examples(&mut store, "t", None, None, seed).unwrap();
    let text = std::fs::read_to_string(lf.join("data/train.jsonl")).unwrap();
    for (line, e) in text.lines().zip(&train) {
        let r: Record = serde_json::from_str(line).unwrap();
        assert_eq!(r.prompt, template.prompt(&e.text));
        let want = template.completion(&e.text, &e.label, &e.fields) + "<|im_end|>";
        assert_eq!(r.completion, want);
    }
    let info: Value =
        serde_json::from_slice(&std::fs::read(lf.join("data/dataset_info.json")).unwrap()).unwrap();
    assert_eq!(info["tunedesk_train"]["file_name"], "train.jsonl");
    assert_eq!(info["tunedesk_train"]["columns"]["response"], "completion");
    let lf_yml = std::fs::read_to_string(lf.join("llamafactory.yaml")).unwrap();
    let lf_config = flow_yaml(&lf_yml);
    for (k, want) in [
        ("stage", "sft"),
        ("finetuning_type", "lora"),
        ("template", "empty"),
        ("dataset", "tunedesk_train"),
        ("eval_dataset", "tunedesk_val"),
        ("dataset_dir", "data"),
    ] {
        assert_eq!(lf_config[k], want, "{k}");
    }
    for k in [
        "lora_rank",
        "cutoff_len",
        "num_train_epochs",
        "per_device_train_batch_size",
    ] {
        assert!(lf_config[k].as_u64().is_some_and(|v| v > 0), "{k}");
    }
    assert!(lf_config["lora_target"]
        .as_str()
        .unwrap()
        .contains("q_proj"));

    // A second export to the same folder is refused and changes nothing.
    tunedesk(home.path())
        .args([
            "job",
            "export",
            "--dataset",
            "t",
            "--model",
            "m/m",
            "--target",
            "axolotl",
            "--out",
        ])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(out.join("axolotl.yml")).unwrap(),
        yml
    );
}
