//! The SQLite store: one file (`tunedesk.db`), WAL mode, foreign keys on, versioned
//! migrations applied on open. This is the only module that writes SQL.
//!
//! Input: validated values from the other stages. Output: the same values read back.
//! Must not touch: file formats, the task layout, model files (only their registered names).

mod datasets;
mod edits;
mod evals;
mod examples;
mod migrations;
mod models;
mod runs;

pub use datasets::NewDataset;
pub use edits::{Edit, Relabel};
pub use evals::{EvalInfo, EvalRecord, EvalSpec};
pub use models::{ModelInfo, ModelKind, NewModel};
pub use runs::{EvalPoint, RunInfo, RunMetrics, RunStatus, StepRecord};

use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a writer waits for another one (another process's import, a training run's
/// metrics) before giving up with "database is locked". Every write transaction begins
/// IMMEDIATE, so a writer either gets the lock or waits here; it never fails at once.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the store failed or refused an operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    CreateDir {
        /// Directory that could not be created.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The lock file that serializes migrations could not be taken.
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// An SQLite error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Migrating the schema failed.
    #[error("cannot migrate the database schema: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A dataset of that name already exists.
    #[error("a dataset named '{0}' already exists (use --replace to overwrite it)")]
    DatasetExists(String),
    /// No dataset of that name.
    #[error("no dataset named '{name}'; datasets are: {}", if .available.is_empty() { "none yet".to_string() } else { .available.join(", ") })]
    DatasetNotFound {
        /// Name asked for.
        name: String,
        /// Names that exist.
        available: Vec<String>,
    },
    /// A run of that name already exists.
    #[error("a run named '{0}' already exists (choose another --name, or --resume it)")]
    RunExists(String),
    /// No run of that name.
    #[error("no run named '{name}'; runs are: {}", if .available.is_empty() { "none yet".to_string() } else { .available.join(", ") })]
    RunNotFound {
        /// Name asked for.
        name: String,
        /// Names that exist.
        available: Vec<String>,
    },
    /// No evaluation with that id.
    #[error("no evaluation with id {0}")]
    EvalNotFound(i64),
    /// A model of that name is already registered.
    #[error(
        "a model named '{0}' is already registered (choose another --name, or remove it first)"
    )]
    ModelExists(String),
    /// No model of that name.
    #[error("no model named '{name}'; registered models are: {}", if .available.is_empty() { "none yet".to_string() } else { .available.join(", ") })]
    ModelNotFound {
        /// Name asked for.
        name: String,
        /// Names that exist.
        available: Vec<String>,
    },
    /// Stored JSON that does not parse (the file was edited by hand).
    #[error("corrupt value in the database: {0}")]
    Corrupt(String),
    /// A label change names a row that is missing or no longer has the label it was
    /// decided against.
    #[error("{0}")]
    Stale(String),
}

/// Column `i` of `row`, stored as JSON text, parsed into `T`.
fn json_column<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row,
    i: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(i)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// An open TuneDesk database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut conn = Self::configure(Connection::open(path)?)?;
        let wal = |c: &Connection| -> Result<bool, StoreError> {
            let mode: String = c.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
            Ok(mode.eq_ignore_ascii_case("wal"))
        };
        if !wal(&conn)? || migrations::behind(&conn)? {
            // First open or an upgrade: one process at a time switches the file to WAL and
            // migrates; the others wait here, then find the work done.
            let _lock = migrations::lock(path)?;
            if !wal(&conn)? {
                conn.pragma_update(None, "journal_mode", "WAL")?;
            }
            migrations::migrations().to_latest(&mut conn)?;
        }
        Ok(Store {
            conn,
            path: Some(path.to_path_buf()),
        })
    }

    /// An in-memory database (tests, previews).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let mut conn = Self::configure(Connection::open_in_memory()?)?;
        migrations::migrations().to_latest(&mut conn)?;
        Ok(Store { conn, path: None })
    }

    fn configure(mut conn: Connection) -> Result<Connection, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_transaction_behavior(TransactionBehavior::Immediate);
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(conn)
    }

    /// The database file, or `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version (SQLite `user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_file_in_wal_mode_with_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("sub/tunedesk.db")).unwrap();
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = store
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        assert_eq!(
            store.schema_version().unwrap(),
            migrations::migrations_len()
        );
        drop(store);
        // Reopening an up-to-date database is a no-op.
        Store::open(dir.path().join("sub/tunedesk.db")).unwrap();
    }

    #[test]
    fn first_opens_at_once_all_succeed() {
        // Eight connections opening one new file at the same moment: one migrates, the others
        // wait and find the schema in place ("table datasets already exists" before).
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("new/tunedesk.db");
            let start = std::sync::Barrier::new(8);
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            Store::open(&path).map(|s| s.schema_version().unwrap())
                        })
                    })
                    .collect();
                for h in handles {
                    assert_eq!(h.join().unwrap().unwrap(), migrations::migrations_len());
                }
            });
        }
    }

    #[test]
    fn a_writer_waits_for_another_instead_of_failing() {
        use crate::example::Example;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tunedesk.db");
        let rows: Vec<Example> = (1..=20_000)
            .map(|row| Example {
                row,
                line: row + 1,
                text: format!("ticket {row}"),
                label: format!("l{}", row % 7),
                fields: vec![("Customer ID".into(), row.to_string())],
                split: None,
                extra: Default::default(),
            })
            .collect();
        let new = |name: &str| NewDataset {
            name: name.into(),
            source: "t.csv".into(),
            format: "csv".into(),
            text_columns: vec!["text".into()],
            label_column: "label".into(),
            fields: vec!["Customer ID".into()],
        };
        Store::open(&path).unwrap();
        let start = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            let handles: Vec<_> = ["a", "b", "c", "a"]
                .into_iter()
                .map(|name| {
                    let (start, path, rows, new) = (&start, &path, &rows, &new);
                    s.spawn(move || {
                        let mut store = Store::open(path).unwrap();
                        start.wait();
                        store
                            .create_dataset(&new(name), rows, false, &mut |_| {})
                            .map(|d| d.rows)
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let ok = results.iter().filter(|r| matches!(r, Ok(20_000))).count();
            assert_eq!(ok, 3, "{results:?}");
            // The second import of 'a' waited, then saw the name taken (not "locked").
            assert!(
                results
                    .iter()
                    .any(|r| matches!(r, Err(StoreError::DatasetExists(n)) if n == "a")),
                "{results:?}"
            );
        });
    }
}
