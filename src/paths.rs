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

/// Who is using TuneDesk, for the records of what they changed: the login name
/// (`USER`, `USERNAME` on Windows), else "unknown".
pub fn current_user() -> String {
    ["USER", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// How a base model's path is shown: `owner/name` for a Hugging Face cache snapshot
/// (`…/models--owner--name/snapshots/<commit>`), else the file or folder name.
pub fn model_label(model: &str) -> String {
    let parts: Vec<&str> = model
        .trim_end_matches(['/', '\\'])
        .split(['/', '\\'])
        .collect();
    let n = parts.len();
    if n >= 3 && parts[n - 2] == "snapshots" {
        if let Some(repo) = parts[n - 3].strip_prefix("models--") {
            return repo.replacen("--", "/", 1);
        }
    }
    parts.last().map_or(model, |p| p).to_string()
}

#[cfg(test)]
mod label_tests {
    use super::model_label;

    #[test]
    fn cache_snapshots_show_their_repo() {
        assert_eq!(
            model_label("/h/hub/models--HuggingFaceTB--SmolLM2-135M/snapshots/6f8e27/"),
            "HuggingFaceTB/SmolLM2-135M"
        );
        assert_eq!(model_label("/models/smol.Q4_1.gguf"), "smol.Q4_1.gguf");
        assert_eq!(model_label("C:\\models\\qwen"), "qwen");
        assert_eq!(model_label("tiny"), "tiny");
    }
}
