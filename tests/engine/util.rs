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

    /// A store that already holds a one-row dataset `keep`, to check that failed imports
    /// leave what was there untouched.
    pub fn with_kept_dataset() -> Env {
        let mut env = Env::new();
        env.import(
            "keep.csv",
            "text,label\nhello,greeting\n",
            &ImportSpec::csv("keep", ["text"], "label"),
        )
        .unwrap();
        env
    }

    /// Rows of dataset `keep` (see [`Env::with_kept_dataset`]).
    pub fn kept_rows(&self) -> usize {
        let keep = self.store.dataset("keep").unwrap();
        self.store.examples(&keep).unwrap().len()
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
