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

/// Runs `f` on another thread and fails the test (a panic) if it has not answered within
/// `secs` seconds — a hang — or if it panicked.
pub fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()).ok());
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .unwrap_or_else(|e| panic!("no answer in {secs} s (hang or panic): {e}"))
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
