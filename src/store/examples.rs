//! The `examples` and `example_fields` tables: the rows of a dataset and their fields.

use super::StoreError;
use crate::example::{Example, Split};
use rusqlite::{params, Connection, Transaction};
use std::collections::BTreeMap;

pub(super) const V1: &str = "
CREATE TABLE examples (
    id          INTEGER PRIMARY KEY,
    dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    row         INTEGER NOT NULL,           -- 1-based row id within the dataset
    line        INTEGER NOT NULL,           -- physical line in the source file
    text        TEXT NOT NULL,
    label       TEXT NOT NULL,
    split       TEXT CHECK (split IN ('train', 'val', 'test')),
    extra       TEXT NOT NULL DEFAULT '{}', -- JSON object of unmapped source columns
    UNIQUE (dataset_id, row)
);
CREATE TABLE example_fields (
    example_id  INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (example_id, position),
    UNIQUE (example_id, name)
);
CREATE INDEX examples_by_dataset_label ON examples (dataset_id, label);";

/// Inserts examples of dataset `dataset_id` inside `tx`, calling `progress` every 1 000 rows.
pub(super) fn insert(
    tx: &Transaction,
    dataset_id: i64,
    examples: &[Example],
    progress: &mut dyn FnMut(u64),
) -> Result<(), StoreError> {
    let mut ex_stmt = tx.prepare(
        "INSERT INTO examples (dataset_id, row, line, text, label, split, extra)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut field_stmt = tx.prepare(
        "INSERT INTO example_fields (example_id, position, name, value) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, e) in examples.iter().enumerate() {
        let extra = serde_json::to_string(&e.extra).expect("strings serialize");
        ex_stmt.execute(params![
            dataset_id,
            e.row as i64,
            e.line as i64,
            e.text,
            e.label,
            e.split.map(Split::as_str),
            extra
        ])?;
        let example_id = tx.last_insert_rowid();
        for (pos, (name, value)) in e.fields.iter().enumerate() {
            field_stmt.execute(params![example_id, pos as i64, name, value])?;
        }
        if (i + 1) % 1000 == 0 {
            progress(i as u64 + 1);
        }
    }
    progress(examples.len() as u64);
    Ok(())
}

/// Loads every example of a dataset in row order.
pub(super) fn load(conn: &Connection, dataset_id: i64) -> Result<Vec<Example>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, row, line, text, label, split, extra FROM examples
         WHERE dataset_id = ?1 ORDER BY row",
    )?;
    let mut ids = Vec::new();
    let mut examples = Vec::new();
    let mut rows = stmt.query([dataset_id])?;
    while let Some(r) = rows.next()? {
        ids.push(r.get::<_, i64>(0)?);
        let split: Option<String> = r.get(5)?;
        let extra: String = r.get(6)?;
        examples.push(Example {
            row: r.get::<_, i64>(1)? as u64,
            line: r.get::<_, i64>(2)? as u64,
            text: r.get(3)?,
            label: r.get(4)?,
            fields: Vec::new(),
            split: split.as_deref().and_then(Split::parse),
            extra: serde_json::from_str::<BTreeMap<String, String>>(&extra)
                .map_err(|e| StoreError::Corrupt(format!("examples.extra: {e}")))?,
        });
    }
    let index: std::collections::HashMap<i64, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut stmt = conn.prepare(
        "SELECT f.example_id, f.name, f.value FROM example_fields f
         JOIN examples e ON e.id = f.example_id
         WHERE e.dataset_id = ?1 ORDER BY f.example_id, f.position",
    )?;
    let mut rows = stmt.query([dataset_id])?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        if let Some(&i) = index.get(&id) {
            examples[i].fields.push((r.get(1)?, r.get(2)?));
        }
    }
    Ok(examples)
}

/// Sets the split of the listed rows.
pub(super) fn set_splits(
    tx: &Transaction,
    dataset_id: i64,
    splits: &[(u64, Split)],
) -> Result<(), StoreError> {
    let mut stmt =
        tx.prepare("UPDATE examples SET split = ?3 WHERE dataset_id = ?1 AND row = ?2")?;
    for (row, split) in splits {
        stmt.execute(params![dataset_id, *row as i64, split.as_str()])?;
    }
    Ok(())
}
