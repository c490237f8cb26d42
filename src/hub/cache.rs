//! The Hugging Face cache layout, as `huggingface_hub` and hf-hub write it:
//!
//! ```text
//! <cache>/models--<owner>--<name>/blobs/<etag>                 file contents
//! <cache>/models--<owner>--<name>/blobs/<etag>.incomplete      a download in progress
//! <cache>/models--<owner>--<name>/snapshots/<commit>/<file>    symlink → ../../blobs/<etag>
//! <cache>/models--<owner>--<name>/refs/<revision>              the commit a branch points to
//! <cache>/.locks/models--<owner>--<name>/<etag>.lock           held while a blob is written
//! ```
//!
//! A snapshot entry exists only once its blob is complete and verified, so an interrupted or
//! cancelled download never leaves a snapshot that looks usable.

use super::{HubError, RepoId};
use std::path::{Path, PathBuf};

/// One model repo's folder in the cache.
#[derive(Debug, Clone)]
pub struct RepoCache {
    root: PathBuf,
    locks: PathBuf,
}

impl RepoCache {
    /// The folder of `repo` in `cache_dir`.
    pub fn new(cache_dir: &Path, repo: &RepoId) -> RepoCache {
        let folder = format!("models--{}--{}", repo.owner(), repo.name());
        RepoCache {
            root: cache_dir.join(&folder),
            locks: cache_dir.join(".locks").join(folder),
        }
    }

    /// `models--owner--name`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the contents with this ETag live.
    pub fn blob(&self, etag: &str) -> PathBuf {
        self.root.join("blobs").join(etag)
    }

    /// The partial download of a blob.
    pub fn incomplete(&self, etag: &str) -> PathBuf {
        self.root.join("blobs").join(format!("{etag}.incomplete"))
    }

    /// A commit's snapshot folder.
    pub fn snapshot_dir(&self, commit: &str) -> PathBuf {
        self.root.join("snapshots").join(commit)
    }

    /// The commit `revision` points to, if recorded (a 40-hex revision is its own commit).
    pub fn commit_of(&self, revision: &str) -> Option<String> {
        if is_commit_hash(revision) {
            return Some(revision.to_string());
        }
        std::fs::read_to_string(self.root.join("refs").join(revision))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// Records that `revision` points to `commit`.
    pub fn write_ref(&self, revision: &str, commit: &str) -> Result<(), HubError> {
        if is_commit_hash(revision) {
            return Ok(());
        }
        let path = self.root.join("refs").join(revision);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| HubError::io(dir, e))?;
        }
        std::fs::write(&path, commit).map_err(|e| HubError::io(&path, e))
    }

    /// Points `snapshots/<commit>/<file>` at the blob `etag` (a relative symlink; a copy where
    /// symlinks are not available).
    pub fn link(&self, commit: &str, file: &str, etag: &str) -> Result<PathBuf, HubError> {
        let pointer = self.snapshot_dir(commit).join(file);
        let dir = pointer.parent().expect("a snapshot file has a parent");
        std::fs::create_dir_all(dir).map_err(|e| HubError::io(dir, e))?;
        let blob = self.blob(etag);
        let _ = std::fs::remove_file(&pointer);
        #[cfg(unix)]
        {
            // snapshots/<commit>/<a>/<b>/file → ../../(../..)blobs/<etag>
            let depth = file.split('/').count() + 1;
            let relative = PathBuf::from("../".repeat(depth)).join("blobs").join(etag);
            std::os::unix::fs::symlink(&relative, &pointer)
                .map_err(|e| HubError::io(&pointer, e))?;
        }
        #[cfg(not(unix))]
        std::fs::copy(&blob, &pointer).map_err(|e| HubError::io(&pointer, e))?;
        debug_assert!(
            pointer.exists(),
            "{} → {}",
            pointer.display(),
            blob.display()
        );
        Ok(pointer)
    }

    /// Takes the cross-process lock for writing blob `etag` (the lock file hf-hub and
    /// `huggingface_hub` use), waiting up to `wait` for another writer to finish.
    pub fn lock(&self, etag: &str, wait: std::time::Duration) -> Result<BlobLock, HubError> {
        std::fs::create_dir_all(&self.locks).map_err(|e| HubError::io(&self.locks, e))?;
        let path = self.locks.join(format!("{etag}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| HubError::io(&path, e))?;
        let start = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(BlobLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let busy = std::io::Error::other(
                        "another process is downloading this file; try again when it is done",
                    );
                    return Err(HubError::io(&path, busy));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(HubError::io(&path, e)),
            }
        }
    }
}

/// Held while a blob is written; released on drop.
#[derive(Debug)]
pub struct BlobLock {
    _file: std::fs::File,
}

/// A full 40-hex-digit commit id.
pub fn is_commit_hash(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An ETag that is the SHA-256 of the contents (LFS and Xet files).
pub fn is_sha256(etag: &str) -> bool {
    etag.len() == 64 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let repo = RepoId::parse("org/tiny").unwrap();
        let c = RepoCache::new(dir.path(), &repo);
        assert!(c.root().ends_with("models--org--tiny"));
        std::fs::create_dir_all(c.blob("e1").parent().unwrap()).unwrap();
        std::fs::write(c.blob("e1"), b"hello").unwrap();
        let commit = "a".repeat(40);
        let p = c.link(&commit, "sub/file.txt", "e1").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"hello");
        c.write_ref("main", &commit).unwrap();
        assert_eq!(c.commit_of("main").unwrap(), commit);
        assert_eq!(c.commit_of(&"b".repeat(40)).unwrap(), "b".repeat(40));
        assert!(c.commit_of("dev").is_none());
        let _lock = c.lock("e1", std::time::Duration::ZERO).unwrap();
        assert!(c.lock("e1", std::time::Duration::ZERO).is_err());
    }
}
