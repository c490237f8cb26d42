//! The `datasets` table: one row per imported dataset.

use super::{json_column, Store, StoreError};
use crate::example::{DatasetInfo, Example, Split};
use rusqlite::{params, OptionalExtension, Row};

pub(super) const V1: &str = "
CREATE TABLE datasets (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    source        TEXT NOT NULL,
    format        TEXT NOT NULL,
    text_columns  TEXT NOT NULL,  -- JSON array of column names
    label_column  TEXT NOT NULL,
    fields        TEXT NOT NULL,  -- JSON array of field names, in completion order
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);";

/// What the importer knows about a dataset before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDataset {
    /// Unique name.
    pub name: String,
    /// Source file.
    pub source: String,
    /// `csv` or `jsonl`.
    pub format: String,
    /// Columns joined into the text.
    pub text_columns: Vec<String>,
    /// Label column.
    pub label_column: String,
    /// Field names in order.
    pub fields: Vec<String>,
}

const SELECT: &str = "SELECT d.id, d.name, d.source, d.format, d.text_columns, d.label_column,
    d.fields, (SELECT COUNT(*) FROM examples e WHERE e.dataset_id = d.id), d.created_at,
    (SELECT COUNT(*) FROM example_edits x WHERE x.dataset_id = d.id)
    FROM datasets d";

fn info_from_row(r: &Row) -> rusqlite::Result<DatasetInfo> {
    Ok(DatasetInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        source: r.get(2)?,
        format: r.get(3)?,
        text_columns: json_column(r, 4)?,
        label_column: r.get(5)?,
        fields: json_column(r, 6)?,
        rows: r.get::<_, i64>(7)? as u64,
        created_at: r.get(8)?,
        edits: r.get::<_, i64>(9)? as u64,
    })
}

impl Store {
    /// Stores a dataset and all its examples in one transaction: either everything is stored
    /// or nothing is. With `replace`, an existing dataset of the same name is removed in the
    /// same transaction; without it, an existing name is refused.
    pub fn create_dataset(
        &mut self,
        new: &NewDataset,
        examples: &[Example],
        replace: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<DatasetInfo, StoreError> {
        let tx = self.conn.transaction()?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM datasets WHERE name = ?1",
                [&new.name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = existing {
            if !replace {
                return Err(StoreError::DatasetExists(new.name.clone()));
            }
            tx.execute("DELETE FROM datasets WHERE id = ?1", [id])?;
        }
        tx.execute(
            "INSERT INTO datasets (name, source, format, text_columns, label_column, fields)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                new.name,
                new.source,
                new.format,
                serde_json::to_string(&new.text_columns).expect("strings serialize"),
                new.label_column,
                serde_json::to_string(&new.fields).expect("strings serialize"),
            ],
        )?;
        let id = tx.last_insert_rowid();
        super::examples::insert(&tx, id, examples, progress)?;
        tx.commit()?;
        self.dataset(&new.name)
    }

    /// All datasets, by name.
    pub fn list_datasets(&self) -> Result<Vec<DatasetInfo>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("{SELECT} ORDER BY d.name"))?;
        let rows = stmt.query_map([], info_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The dataset called `name`.
    pub fn dataset(&self, name: &str) -> Result<DatasetInfo, StoreError> {
        let found = self
            .conn
            .query_row(
                &format!("{SELECT} WHERE d.name = ?1"),
                [name],
                info_from_row,
            )
            .optional()?;
        match found {
            Some(info) => Ok(info),
            None => Err(StoreError::DatasetNotFound {
                name: name.to_string(),
                available: self.list_datasets()?.into_iter().map(|d| d.name).collect(),
            }),
        }
    }

    /// Deletes a dataset and its examples; returns what was deleted.
    pub fn delete_dataset(&mut self, name: &str) -> Result<DatasetInfo, StoreError> {
        let info = self.dataset(name)?;
        self.conn
            .execute("DELETE FROM datasets WHERE id = ?1", [info.id])?;
        Ok(info)
    }

    /// Every example of a dataset, in row order, with its fields and split.
    pub fn examples(&self, dataset: &DatasetInfo) -> Result<Vec<Example>, StoreError> {
        super::examples::load(&self.conn, dataset.id)
    }

    /// Records the split of each listed row (in one transaction).
    pub fn set_splits(
        &mut self,
        dataset: &DatasetInfo,
        splits: &[(u64, Split)],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        super::examples::set_splits(&tx, dataset.id, splits)?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str) -> NewDataset {
        NewDataset {
            name: name.into(),
            source: "t.csv".into(),
            format: "csv".into(),
            text_columns: vec!["text".into()],
            label_column: "label".into(),
            fields: vec!["Customer ID".into(), "Email".into()],
        }
    }

    fn ex(row: u64, label: &str, fields: &[(&str, &str)]) -> Example {
        Example {
            row,
            line: row + 1,
            text: format!("ticket {row}"),
            label: label.into(),
            fields: fields
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            split: None,
            extra: [("note".to_string(), format!("n{row}"))].into(),
        }
    }

    #[test]
    fn dataset_round_trip_replace_and_delete() {
        let mut s = Store::open_in_memory().unwrap();
        let rows = vec![
            ex(1, "Billing", &[("Customer ID", "42")]),
            ex(2, "Technical", &[("Email", "a@b.c"), ("Customer ID", "7")]),
        ];
        let info = s
            .create_dataset(&new("d"), &rows, false, &mut |_| {})
            .unwrap();
        assert_eq!(info.rows, 2);
        assert_eq!(s.examples(&info).unwrap(), rows);

        let err = s
            .create_dataset(&new("d"), &rows, false, &mut |_| {})
            .unwrap_err();
        assert!(matches!(err, StoreError::DatasetExists(_)));
        let info = s
            .create_dataset(&new("d"), &rows[..1], true, &mut |_| {})
            .unwrap();
        assert_eq!(info.rows, 1);

        s.set_splits(&info, &[(1, Split::Test)]).unwrap();
        assert_eq!(s.examples(&info).unwrap()[0].split, Some(Split::Test));

        s.delete_dataset("d").unwrap();
        let err = s.dataset("d").unwrap_err().to_string();
        assert_eq!(err, "no dataset named 'd'; datasets are: none yet");
        let orphans: i64 = s
            .conn
            .query_row("SELECT COUNT(*) FROM example_fields", [], |r| r.get(0))
            .unwrap();
        assert_eq!(orphans, 0, "fields are deleted with their dataset");
    }

    #[test]
    fn failed_insert_stores_nothing() {
        let mut s = Store::open_in_memory().unwrap();
        // Two examples with the same row id violate UNIQUE(dataset_id, row).
        let rows = vec![ex(1, "a", &[]), ex(1, "b", &[])];
        assert!(s
            .create_dataset(&new("d"), &rows, false, &mut |_| {})
            .is_err());
        assert!(s.list_datasets().unwrap().is_empty());
    }
}
