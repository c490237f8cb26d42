//! The sample dataset a new user can start from: support tickets written for the project
//! (`samples/support-tickets.csv`, made by `scripts/make-sample-tickets.py`), with a category
//! and the Customer ID / Account Number / Email each ticket mentions.

use super::{import_file, ImportError, ImportSpec, ImportSummary};
use crate::store::Store;

/// The name the sample dataset gets unless told otherwise.
pub const SAMPLE_NAME: &str = "sample-tickets";

/// The file name it is imported from (what the dataset's source shows).
const SAMPLE_FILE: &str = "support-tickets.csv";

const SAMPLE_CSV: &str = include_str!("../../samples/support-tickets.csv");

/// How the sample's columns map: the ticket text, its category, three fields.
fn spec(name: &str) -> ImportSpec {
    ImportSpec {
        field_columns: vec![
            "Customer ID".into(),
            "Account Number".into(),
            "Email".into(),
        ],
        ..ImportSpec::csv(name, ["ticket"], "category")
    }
}

/// Imports the sample dataset as `name`.
pub fn import_sample(store: &mut Store, name: &str) -> Result<ImportSummary, ImportError> {
    let io = |source| ImportError::Io {
        file: SAMPLE_FILE.into(),
        source,
    };
    let dir = tempfile::tempdir().map_err(io)?;
    let path = dir.path().join(SAMPLE_FILE);
    std::fs::write(&path, SAMPLE_CSV).map_err(io)?;
    import_file(store, &path, &spec(name), &mut |_| {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_imports_with_three_labels_and_three_fields() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("t.db")).unwrap();
        let s = import_sample(&mut store, SAMPLE_NAME).unwrap();
        assert!(
            (300..=500).contains(&s.rows),
            "a few hundred rows: {}",
            s.rows
        );
        assert_eq!(s.dataset.fields, ["Customer ID", "Account Number", "Email"]);
        let mut labels: Vec<String> = csv::Reader::from_reader(SAMPLE_CSV.as_bytes())
            .records()
            .map(|r| r.unwrap()[1].to_string())
            .collect();
        labels.sort();
        labels.dedup();
        assert_eq!(labels, ["Account Management", "Billing", "Technical Issue"]);
    }
}
