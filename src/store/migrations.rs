//! Versioned schema migrations, applied in order on open (tracked in `user_version`).
//! Never edit a migration that has shipped: append a new one.

use super::StoreError;
use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};
use std::path::Path;

const MIGRATIONS: &[&str] = &[
    super::datasets::V1,
    super::examples::V1,
    super::runs::V1,
    super::evals::V1,
    super::models::V1,
    super::evals::V2,
    super::runs::V2,
    super::edits::V1,
    super::runs::V3,
];

/// The migration list.
pub(super) fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

/// Whether the database's schema is older than this build's.
pub(super) fn behind(conn: &Connection) -> Result<bool, StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(version < MIGRATIONS.len() as i64)
}

/// An exclusive lock, held while migrating, on `<db>-migrate.lock` beside the database:
/// `rusqlite_migration` reads the schema version before its transaction begins, so two
/// processes migrating one new file at once would both apply the first migration.
pub(super) fn lock(db: &Path) -> Result<std::fs::File, StoreError> {
    let mut name = db.as_os_str().to_owned();
    name.push("-migrate.lock");
    let path = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .and_then(|f| f.lock().map(|()| f))
        .map_err(|source| StoreError::Lock { path, source })?;
    Ok(file)
}

#[cfg(test)]
pub(super) fn migrations_len() -> i64 {
    MIGRATIONS.len() as i64
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
