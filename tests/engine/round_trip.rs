//! Export and re-import give the same dataset; splits are stored and reproducible.

use crate::util::{csv_spec, jsonl_spec, Env};
use tunedesk::dataset::export::{export, ExportFormat};
use tunedesk::dataset::split::{self, SplitMethod, SplitPlan};
use tunedesk::dataset::{self, Example, Split};
use tunedesk::import::{self, ImportSpec};

const DATA: &str = "text,label,Customer ID,Email\n\
\"Charged twice, \"\"urgent\"\"\",Billing,789012,\n\
App crashes,Technical,,a@b.c\n\
Reset my password,Account Management,42,x@y.z\n\
Refund please,Billing,7,\n";

/// What must survive a round trip: text, label, fields and split (row ids and lines may differ).
#[derive(Debug, PartialEq)]
struct Kept(String, String, Vec<(String, String)>, Option<Split>);

fn strip(ex: Vec<Example>) -> Vec<Kept> {
    ex.into_iter()
        .map(|e| Kept(e.text, e.label, e.fields, e.split))
        .collect()
}

#[test]
fn csv_and_jsonl_exports_round_trip() {
    let mut env = Env::new();
    let mut spec = csv_spec();
    spec.fields_rest = true;
    env.import("t.csv", DATA, &spec).unwrap();
    split::apply(
        &mut env.store,
        "d",
        &SplitMethod::Stratified(SplitPlan {
            val: 0.0,
            test: 0.5,
            seed: 1,
        }),
    )
    .unwrap();
    let info = env.store.dataset("d").unwrap();
    let original = env.store.examples(&info).unwrap();

    let jsonl = env.dir.path().join("out.jsonl");
    export(&info, &original, &jsonl, ExportFormat::Jsonl).unwrap();
    let mut spec = jsonl_spec();
    spec.name = "from_jsonl".into();
    import::import_file(&mut env.store, &jsonl, &spec, &mut |_| {}).unwrap();
    let again = env
        .store
        .examples(&env.store.dataset("from_jsonl").unwrap())
        .unwrap();
    assert_eq!(
        strip(again),
        strip(original.clone()),
        "JSONL keeps text, label, fields and split"
    );

    let csv = env.dir.path().join("out.csv");
    export(&info, &original, &csv, ExportFormat::Csv).unwrap();
    let mut spec = ImportSpec::csv("from_csv", ["text"], "label");
    spec.field_columns = vec!["Customer ID".into(), "Email".into()];
    import::import_file(&mut env.store, &csv, &spec, &mut |_| {}).unwrap();
    split::apply(
        &mut env.store,
        "from_csv",
        &SplitMethod::ByColumn("split".into()),
    )
    .unwrap();
    let again = env
        .store
        .examples(&env.store.dataset("from_csv").unwrap())
        .unwrap();
    assert_eq!(
        strip(again),
        strip(original.clone()),
        "CSV + split column keeps everything"
    );

    let pc = env.dir.path().join("pc.jsonl");
    export(&info, &original, &pc, ExportFormat::PromptCompletion).unwrap();
    let mut spec = jsonl_spec();
    spec.name = "from_pc".into();
    import::import_file(&mut env.store, &pc, &spec, &mut |_| {}).unwrap();
    let again = env
        .store
        .examples(&env.store.dataset("from_pc").unwrap())
        .unwrap();
    assert_eq!(
        strip(again),
        strip(original),
        "prompt/completion layout parses back"
    );
}

#[test]
fn splits_are_stratified_stored_and_reproducible() {
    let mut env = Env::new();
    let mut data = String::from("text,label\n");
    for i in 0..200 {
        data.push_str(&format!(
            "ticket number {i},{}\n",
            ["a", "b", "c", "d"][i % 4]
        ));
    }
    env.import("t.csv", data, &csv_spec()).unwrap();
    let plan = SplitMethod::Stratified(SplitPlan::default());
    let counts = split::apply(&mut env.store, "d", &plan).unwrap();
    assert_eq!(
        (counts.train, counts.val, counts.test, counts.unassigned),
        (160, 20, 20, 0)
    );
    let first = env
        .store
        .examples(&env.store.dataset("d").unwrap())
        .unwrap();
    for label in ["a", "b", "c", "d"] {
        let test = first
            .iter()
            .filter(|e| e.label == label && e.split == Some(Split::Test))
            .count();
        assert_eq!(test, 5, "label {label}");
    }
    split::apply(&mut env.store, "d", &plan).unwrap();
    let second = env
        .store
        .examples(&env.store.dataset("d").unwrap())
        .unwrap();
    assert_eq!(first, second);
    let stats = dataset::stats(&env.store, "d").unwrap();
    assert_eq!(stats.split_counts, counts);
}
