//! The SQLite store: one file (`tunedesk.db`), WAL mode, foreign keys on, versioned
//! migrations applied on open. This is the only module that writes SQL.
//!
//! Input: validated values from the other stages. Output: the same values read back.
//! Must not touch: file formats, the task layout, model files (only their registered names).

mod datasets;
mod evals;
mod examples;
mod migrations;
mod models;
mod runs;

pub use datasets::NewDataset;
pub use evals::{EvalInfo, EvalRecord, EvalSpec};
pub use models::{ModelInfo, ModelKind, NewModel};
pub use runs::{RunInfo, RunMetrics, RunStatus, StepRecord};

use rusqlite::Connection;
use std::path::{Path, PathBuf};

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
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Self::init(conn, Some(path.to_path_buf()))
    }

    /// An in-memory database (tests, previews).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Self::init(Connection::open_in_memory()?, None)
    }

    fn init(mut conn: Connection, path: Option<PathBuf>) -> Result<Store, StoreError> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrations().to_latest(&mut conn)?;
        Ok(Store { conn, path })
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
}
