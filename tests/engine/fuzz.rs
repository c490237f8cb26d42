//! Property tests: random bytes and mutations of valid CSV / JSONL files fed to the importer
//! never panic, never hang (each import must end within a bound), and an import that fails
//! leaves the store exactly as it was.

use crate::util::{within, Env};
use proptest::prelude::*;
use tunedesk::import::{self, Format, ImportSpec};

const CSV: &[u8] = b"text,label,Customer ID,Email\n\
\"Charged twice, \"\"urgent\"\"\",Billing,789012,\n\
App crashes,Technical Issue,,a@b.c\n\
Reset my password,Account Management,42,x@y.z\n";

const JSONL: &[u8] = b"{\"text\":\"Charged twice\",\"label\":\"Billing\",\"fields\":{\"Customer ID\":789012}}\n\
{\"prompt\":\"Classify:\\n\\nTicket: \\\"App crashes\\\"\\n\\nClassification:\",\"completion\":\" Technical Issue\\n\\nEmail: a@b.c\"}\n\
{\"text\":\"Reset\",\"label\":\"Account\",\"split\":\"val\",\"n\":2.50}\n";

/// One edit of a file: overwrite, insert or delete at a position (taken modulo the length).
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to the parsers, and any byte.
    let byte = prop_oneof![
        prop::sample::select(b",;\t|\"\n\r{}[]:\\\0 ".to_vec()),
        any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), prop::collection::vec(byte, 1..8)).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
    ]
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match e {
            Edit::Set(i, b) if !data.is_empty() => {
                let i = at(*i, data.len());
                data[i] = *b;
            }
            Edit::Set(..) => {}
            Edit::Insert(i, bytes) => {
                let i = at(*i, data.len() + 1);
                data.splice(i..i, bytes.iter().copied());
            }
            Edit::Delete(i, n) => {
                let i = at(*i, data.len() + 1);
                let end = (i + n).min(data.len());
                data.drain(i..end);
            }
        }
    }
    data
}

/// Imports `data` as `format` next to an existing dataset, on another thread with a time
/// bound; checks that a failure changed nothing and a success stored the dataset.
fn import_is_safe(data: Vec<u8>, format: Format) -> Result<(), TestCaseError> {
    let (result, before, after, kept_rows) = within(20, move || {
        let mut env = Env::with_kept_dataset();
        let before = env.store.list_datasets().unwrap();
        let spec = ImportSpec {
            name: "fuzzed".into(),
            format: Some(format),
            text_columns: vec!["text".into()],
            label_column: Some("label".into()),
            fields_rest: true,
            ..ImportSpec::default()
        };
        let path = env.file("in.dat", &data);
        let result = import::import_file(&mut env.store, &path, &spec, &mut |_| {});
        let after = env.store.list_datasets().unwrap();
        let kept_rows = env.kept_rows();
        (result.map(|s| s.rows), before, after, kept_rows)
    });
    prop_assert_eq!(kept_rows, 1);
    match result {
        Ok(rows) => {
            prop_assert_eq!(after.len(), before.len() + 1);
            let stored = after.iter().find(|d| d.name == "fuzzed").unwrap();
            prop_assert_eq!(stored.rows, rows);
        }
        Err(e) => {
            prop_assert_eq!(&after, &before, "failed import changed the store: {}", e);
            prop_assert!(e.to_string().len() < 8192, "message too long");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_csv_never_panics_hangs_or_half_stores(edits in prop::collection::vec(edit(), 1..12)) {
        import_is_safe(apply(CSV.to_vec(), &edits), Format::Csv)?;
    }

    #[test]
    fn mutated_jsonl_never_panics_hangs_or_half_stores(edits in prop::collection::vec(edit(), 1..12)) {
        import_is_safe(apply(JSONL.to_vec(), &edits), Format::Jsonl)?;
    }

    #[test]
    fn random_bytes_never_panic_hang_or_store(data in prop::collection::vec(any::<u8>(), 0..2048), jsonl in any::<bool>()) {
        import_is_safe(data, if jsonl { Format::Jsonl } else { Format::Csv })?;
    }
}
