//! Versioned schema migrations, applied in order on open (tracked in `user_version`).
//! Never edit a migration that has shipped: append a new one.

use rusqlite_migration::{Migrations, M};

const MIGRATIONS: &[&str] = &[
    super::datasets::V1,
    super::examples::V1,
    super::runs::V1,
    super::evals::V1,
    super::models::V1,
    super::evals::V2,
];

/// The migration list.
pub(super) fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
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
