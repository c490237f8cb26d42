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
    fn an_atomic_write_that_fails_leaves_the_old_file() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomically(&path, |w| w.write_all(b"first")).unwrap();
        let failed = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            Err::<(), _>(std::io::Error::other("cut"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        let n = write_atomically(&path, |w| w.write_all(b"second").map(|()| 6)).unwrap();
        assert_eq!(
            (n, std::fs::read_to_string(&path).unwrap().as_str()),
            (6, "second")
        );
    }

    #[test]
    fn explicit_dir_wins() {
        let d = DataDir::resolve(Some(Path::new("/x/y")));
        assert_eq!(d.db_path(), PathBuf::from("/x/y/tunedesk.db"));
    }
}

/// The buffered writer [`write_atomically`] hands out.
pub type AtomicWriter<'a> = std::io::BufWriter<&'a mut std::fs::File>;

/// Writes the file `path` whole or not at all: `write` fills a temporary file beside it, which
/// is renamed to `path` only when `write` succeeded; on any error nothing is left at `path`
/// (a file already there stays as it was).
pub fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut AtomicWriter<'_>) -> std::io::Result<T>,
) -> std::io::Result<T> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let value = {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        let value = write(&mut out)?;
        out.flush()?;
        value
    };
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(value)
}

/// Fills the new folder `out` whole or not at all: `fill` writes into a temporary folder beside
/// it (named `prefix…`), which is renamed to `out` only when `fill` succeeded; on any error the
/// temporary folder is removed and nothing is left at `out`. `io` turns a failure of the
/// folder itself (at the path it names) into the caller's error.
pub fn fill_folder<T, E>(
    out: &Path,
    prefix: &str,
    io: impl Fn(&Path, std::io::Error) -> E,
    fill: impl FnOnce(&Path) -> Result<T, E>,
) -> Result<T, E> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .map_err(|e| io(parent, e))?;
    let value = fill(tmp.path())?;
    let staged = tmp.keep();
    std::fs::rename(&staged, out).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        io(out, e)
    })?;
    Ok(value)
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
