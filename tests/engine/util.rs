//! Shared helpers: a temp data dir with a store, and files written into it.

use std::path::PathBuf;
use tunedesk::import::{self, ImportError, ImportSpec, ImportSummary};
use tunedesk::store::Store;

pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("tunedesk.db")).unwrap();
        Env { dir, store }
    }

    /// Writes `content` to `name` in the temp dir.
    pub fn file(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    pub fn import(
        &mut self,
        name: &str,
        content: impl AsRef<[u8]>,
        spec: &ImportSpec,
    ) -> Result<ImportSummary, ImportError> {
        let path = self.file(name, content);
        import::import_file(&mut self.store, &path, spec, &mut |_| {})
    }
}

/// The usual CSV spec: text column `text`, label column `label`, named `d`.
pub fn csv_spec() -> ImportSpec {
    ImportSpec::csv("d", ["text"], "label")
}

/// The default JSONL spec, named `d`.
pub fn jsonl_spec() -> ImportSpec {
    ImportSpec {
        name: "d".into(),
        ..ImportSpec::default()
    }
}
