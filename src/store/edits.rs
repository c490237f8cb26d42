//! The `example_edits` table: every label a person changed after import (who, when, old,
//! new, why), so a dataset says what was corrected and a change can be traced; and
//! `mislabel_dismissals`: suspected mislabels a person looked at and kept.

use super::{Store, StoreError};
use crate::example::DatasetInfo;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

pub(super) const V1: &str = "
CREATE TABLE example_edits (
    id          INTEGER PRIMARY KEY,
    dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    row         INTEGER NOT NULL,
    old_label   TEXT NOT NULL,
    new_label   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    author      TEXT NOT NULL,
    edited_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX example_edits_by_dataset ON example_edits (dataset_id, row);
CREATE TABLE mislabel_dismissals (
    dataset_id    INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    row           INTEGER NOT NULL,
    label         TEXT NOT NULL,
    author        TEXT NOT NULL,
    dismissed_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (dataset_id, row, label)
);";

/// A label change asked for: row `row` from `old` (what the person saw) to `new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relabel {
    /// 1-based row of the dataset.
    pub row: u64,
    /// The label the change was decided against; the change is refused if the row no
    /// longer has it (someone else changed it meanwhile).
    pub old: String,
    /// The new label.
    pub new: String,
}

/// A label change made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edit {
    /// Row of the dataset.
    pub row: u64,
    /// Label before.
    pub old_label: String,
    /// Label after.
    pub new_label: String,
    /// Why (e.g. "suspected mislabel, evaluation 12").
    pub reason: String,
    /// Who (the user's login name).
    pub author: String,
    /// When, RFC 3339 UTC.
    pub edited_at: String,
}

impl Store {
    /// Changes the labels of `changes` in one transaction and records each change: every
    /// change is made, or none (a missing row or a row whose label is no longer the `old`
    /// one refuses the whole batch).
    pub fn relabel(
        &mut self,
        dataset: &DatasetInfo,
        changes: &[Relabel],
        reason: &str,
        author: &str,
    ) -> Result<Vec<Edit>, StoreError> {
        let tx = self.conn.transaction()?;
        for c in changes {
            let current: Option<String> = tx
                .query_row(
                    "SELECT label FROM examples WHERE dataset_id = ?1 AND row = ?2",
                    params![dataset.id, c.row as i64],
                    |r| r.get(0),
                )
                .optional()?;
            match current {
                None => {
                    return Err(StoreError::Stale(format!(
                        "dataset '{}' has no row {}",
                        dataset.name, c.row
                    )))
                }
                Some(label) if label != c.old => {
                    return Err(StoreError::Stale(format!(
                        "row {} of '{}' is now labelled '{label}', not '{}': nothing was changed",
                        c.row, dataset.name, c.old
                    )))
                }
                Some(_) => {}
            }
            tx.execute(
                "UPDATE examples SET label = ?3 WHERE dataset_id = ?1 AND row = ?2",
                params![dataset.id, c.row as i64, c.new],
            )?;
            tx.execute(
                "INSERT INTO example_edits (dataset_id, row, old_label, new_label, reason, author)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![dataset.id, c.row as i64, c.old, c.new, reason, author],
            )?;
        }
        tx.commit()?;
        let mut edits = self.edits(dataset)?;
        edits.drain(..edits.len() - changes.len());
        Ok(edits)
    }

    /// Every label change of a dataset, oldest first.
    pub fn edits(&self, dataset: &DatasetInfo) -> Result<Vec<Edit>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT row, old_label, new_label, reason, author, edited_at FROM example_edits
             WHERE dataset_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([dataset.id], |r| {
            Ok(Edit {
                row: r.get::<_, i64>(0)? as u64,
                old_label: r.get(1)?,
                new_label: r.get(2)?,
                reason: r.get(3)?,
                author: r.get(4)?,
                edited_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records that row `row`'s label `label` was looked at and kept: it is no longer offered
    /// as a suspected mislabel (until its label changes).
    pub fn dismiss_mislabel(
        &mut self,
        dataset: &DatasetInfo,
        row: u64,
        label: &str,
        author: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO mislabel_dismissals (dataset_id, row, label, author)
             VALUES (?1, ?2, ?3, ?4)",
            params![dataset.id, row as i64, label, author],
        )?;
        Ok(())
    }

    /// The `(row, label)` pairs of a dataset dismissed as suspected mislabels.
    pub fn dismissed_mislabels(
        &self,
        dataset: &DatasetInfo,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT row, label FROM mislabel_dismissals WHERE dataset_id = ?1 ORDER BY row",
        )?;
        let rows = stmt.query_map([dataset.id], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::example::Example;
    use crate::store::NewDataset;

    fn dataset(s: &mut Store) -> DatasetInfo {
        let new = NewDataset {
            name: "d".into(),
            source: "t.csv".into(),
            format: "csv".into(),
            text_columns: vec!["text".into()],
            label_column: "label".into(),
            fields: vec![],
        };
        let rows: Vec<Example> = (1..=3)
            .map(|row| Example {
                row,
                line: row + 1,
                text: format!("ticket {row}"),
                label: if row == 2 { "Billing" } else { "Technical" }.into(),
                fields: vec![],
                split: None,
                extra: Default::default(),
            })
            .collect();
        s.create_dataset(&new, &rows, false, &mut |_| {}).unwrap()
    }

    fn labels(s: &Store, d: &DatasetInfo) -> Vec<String> {
        s.examples(d)
            .unwrap()
            .into_iter()
            .map(|e| e.label)
            .collect()
    }

    fn change(row: u64, old: &str, new: &str) -> Relabel {
        Relabel {
            row,
            old: old.into(),
            new: new.into(),
        }
    }

    #[test]
    fn relabel_changes_the_rows_and_records_who_when_old_and_new() {
        let mut s = Store::open_in_memory().unwrap();
        let d = dataset(&mut s);
        let edits = s
            .relabel(&d, &[change(2, "Billing", "Technical")], "eval 1", "ana")
            .unwrap();
        assert_eq!(labels(&s, &d), ["Technical"; 3]);
        assert_eq!(edits.len(), 1);
        let e = &edits[0];
        assert_eq!(
            (e.row, e.old_label.as_str(), e.new_label.as_str()),
            (2, "Billing", "Technical")
        );
        assert_eq!((e.reason.as_str(), e.author.as_str()), ("eval 1", "ana"));
        assert!(e.edited_at.ends_with('Z'));
        assert_eq!(s.edits(&d).unwrap(), edits);
        assert_eq!(
            s.dataset("d").unwrap().edits,
            1,
            "the dataset counts its edits"
        );
    }

    #[test]
    fn a_change_that_fails_midway_changes_nothing() {
        let mut s = Store::open_in_memory().unwrap();
        let d = dataset(&mut s);
        let before = labels(&s, &d);
        // The first change is fine; the second names a label the row no longer has.
        let err = s
            .relabel(
                &d,
                &[change(1, "Technical", "Billing"), change(2, "Account", "X")],
                "eval 1",
                "ana",
            )
            .unwrap_err();
        assert!(err.to_string().contains("nothing was changed"), "{err}");
        assert_eq!(labels(&s, &d), before);
        assert!(s.edits(&d).unwrap().is_empty());
        // A missing row refuses the batch too.
        assert!(s
            .relabel(
                &d,
                &[change(1, "Technical", "Billing"), change(9, "a", "b")],
                "",
                "ana"
            )
            .is_err());
        assert_eq!(labels(&s, &d), before);
    }

    #[test]
    fn dismissals_are_kept_per_row_and_label() {
        let mut s = Store::open_in_memory().unwrap();
        let d = dataset(&mut s);
        s.dismiss_mislabel(&d, 3, "Technical", "ana").unwrap();
        s.dismiss_mislabel(&d, 3, "Technical", "ana").unwrap();
        assert_eq!(
            s.dismissed_mislabels(&d).unwrap(),
            [(3, "Technical".to_string())]
        );
        s.delete_dataset("d").unwrap();
        let left: i64 = s
            .conn
            .query_row("SELECT COUNT(*) FROM mislabel_dismissals", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0, "deleted with their dataset");
    }
}
