//! Where TuneDesk keeps its data: `--data-dir`, else `$TUNEDESK_HOME`, else the platform data dir.

use std::path::{Path, PathBuf};

/// Environment variable that overrides the platform data directory.
pub const HOME_ENV: &str = "TUNEDESK_HOME";
/// File name of the SQLite database inside the data directory.
pub const DB_FILE: &str = "tunedesk.db";

/// The resolved data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir(PathBuf);

impl DataDir {
    /// Resolves the data directory: `explicit`, then `$TUNEDESK_HOME`, then the platform's
    /// per-user data directory (e.g. `~/.local/share/tunedesk` on Linux).
    pub fn resolve(explicit: Option<&Path>) -> DataDir {
        if let Some(dir) = explicit {
            return DataDir(dir.to_path_buf());
        }
        if let Some(dir) = std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
            return DataDir(PathBuf::from(dir));
        }
        let dir = directories::ProjectDirs::from("dev", "TuneDesk", "tunedesk")
            .map(|p| p.data_dir().to_path_buf())
            .unwrap_or_else(|| PathBuf::from(".tunedesk"));
        DataDir(dir)
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The SQLite database file.
    pub fn db_path(&self) -> PathBuf {
        self.0.join(DB_FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_dir_wins() {
        let d = DataDir::resolve(Some(Path::new("/x/y")));
        assert_eq!(d.db_path(), PathBuf::from("/x/y/tunedesk.db"));
    }
}
