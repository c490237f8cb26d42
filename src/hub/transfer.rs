//! Resumable download of one file into the cache. The bytes go to `blobs/<etag>.incomplete`;
//! when the connection breaks, the next request asks for the rest (`Range: bytes=N-`), in this
//! process (up to `retries` times) or in a later one. A complete file is checked against the
//! size and, for LFS/Xet files, the SHA-256 the Hub announced, then renamed to `blobs/<etag>`
//! and linked into the snapshot. Cancelling keeps the partial file for the next attempt.

use super::cache::{is_sha256, RepoCache};
use super::events::{Meter, PullEvent};
use super::http::{backoff, transport_reason, FileMeta, Http, StatusError};
use super::{HubError, RepoId};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What every transfer of a pull shares.
pub(crate) struct Transfers<'a> {
    pub http: &'a Http,
    pub cache: &'a RepoCache,
    pub repo: &'a RepoId,
    /// The commit every file is fetched at.
    pub commit: &'a str,
    /// Resumes after a broken connection before giving up.
    pub retries: usize,
    /// How long to wait for another process writing the same blob.
    pub lock_wait: Duration,
    pub cancel: &'a AtomicBool,
}

/// Why one request ended early.
enum Failure {
    /// The connection broke or the server failed transiently: resume.
    Cut(String),
    /// Give up.
    Fatal(HubError),
}

impl From<HubError> for Failure {
    fn from(e: HubError) -> Failure {
        Failure::Fatal(e)
    }
}

/// Which check a file failed, if any: its size, then (when the ETag is one) its SHA-256.
pub(crate) fn mismatch(path: &Path, meta: &FileMeta) -> Result<Option<&'static str>, HubError> {
    let len = std::fs::metadata(path)
        .map_err(|e| HubError::io(path, e))?
        .len();
    if len != meta.size {
        return Ok(Some("size"));
    }
    if is_sha256(&meta.etag)
        && !sha256_file(path)
            .map_err(|e| HubError::io(path, e))?
            .eq_ignore_ascii_case(&meta.etag)
    {
        return Ok(Some("sha256"));
    }
    Ok(None)
}

/// Verification of a finished download that allows one fresh download: a file that fails
/// its checks is deleted and fetched once more; failing again is an integrity error.
#[derive(Debug, Default)]
pub(crate) struct Verifier {
    refetched: bool,
}

impl Verifier {
    /// Whether the download at `path` matches `meta`. On a mismatch it deletes `bad` (the
    /// bytes to fetch again) and returns `Ok(false)`, with a `Refetch` event, the first time;
    /// an integrity error the second time.
    pub(crate) fn verified(
        &mut self,
        path: &Path,
        bad: &Path,
        file: &str,
        meta: &FileMeta,
        emit: &mut dyn FnMut(PullEvent),
    ) -> Result<bool, HubError> {
        emit(PullEvent::Verifying {
            file: file.to_string(),
        });
        let Some(what) = mismatch(path, meta)? else {
            return Ok(true);
        };
        match std::fs::remove_file(bad) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(HubError::io(bad, e)),
            _ => {}
        }
        if self.refetched {
            return Err(HubError::Integrity {
                file: file.to_string(),
                what: what.to_string(),
            });
        }
        self.refetched = true;
        emit(PullEvent::Refetch {
            file: file.to_string(),
            what: what.to_string(),
        });
        Ok(false)
    }
}

/// The SHA-256 of the file at `path` in lowercase hex (the Hub's ETag of an LFS file), read
/// in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

impl Transfers<'_> {
    /// Downloads `file` (announced as `meta`) into the cache and links it into the snapshot.
    pub(crate) async fn fetch(
        &self,
        file: &str,
        meta: &FileMeta,
        meter: &mut Meter,
        emit: &mut dyn FnMut(PullEvent),
    ) -> Result<(), HubError> {
        let _lock = self.cache.lock(&meta.etag, self.lock_wait)?;
        let blob = self.cache.blob(&meta.etag);
        let part = self.cache.incomplete(&meta.etag);
        let dir = blob.parent().expect("blobs/ folder");
        std::fs::create_dir_all(dir).map_err(|e| HubError::io(dir, e))?;
        if blob.exists() && mismatch(&blob, meta)?.is_some() {
            std::fs::remove_file(&blob).map_err(|e| HubError::io(&blob, e))?;
        }
        if !blob.exists() {
            if file_len(&part) > meta.size {
                std::fs::remove_file(&part).map_err(|e| HubError::io(&part, e))?;
            }
            let resumed_from = file_len(&part);
            emit(PullEvent::FileStarted {
                file: file.to_string(),
                size: meta.size,
                resumed_from,
            });
            meter.add(resumed_from, false);
            self.download(file, meta, &part, meter, emit).await?;
            std::fs::rename(&part, &blob).map_err(|e| HubError::io(&blob, e))?;
        } else {
            meter.add(meta.size, false);
        }
        self.cache.link(self.commit, file, &meta.etag)?;
        if let Some(ev) = meter.progress(file, meta.size, meta.size, true) {
            emit(ev);
        }
        emit(PullEvent::FileDone {
            file: file.to_string(),
            size: meta.size,
        });
        Ok(())
    }

    /// Fills `part` up to `meta.size` bytes, resuming after cuts, and verifies it (one fresh
    /// download when the finished file does not match).
    async fn download(
        &self,
        file: &str,
        meta: &FileMeta,
        part: &Path,
        meter: &mut Meter,
        emit: &mut dyn FnMut(PullEvent),
    ) -> Result<(), HubError> {
        let url = self.http.resolve_url(self.repo, self.commit, file)?;
        let mut attempt = 0;
        let mut verifier = Verifier::default();
        loop {
            if file_len(part) < meta.size {
                match self.request(&url, file, meta, part, meter, emit).await {
                    Ok(()) => {}
                    Err(Failure::Fatal(e)) => return Err(e),
                    Err(Failure::Cut(reason)) => {
                        let done = file_len(part);
                        attempt += 1;
                        if attempt > self.retries {
                            return Err(HubError::Interrupted {
                                file: file.to_string(),
                                done,
                                total: meta.size,
                                reason,
                            });
                        }
                        emit(PullEvent::Resuming {
                            file: file.to_string(),
                            from: done,
                            attempt,
                            reason,
                        });
                        tokio::time::sleep(backoff(attempt)).await;
                        continue;
                    }
                }
            }
            let len = file_len(part);
            if verifier.verified(part, part, file, meta, emit)? {
                return Ok(());
            }
            meter.sub(len);
        }
    }

    /// One GET from the current end of `part`, appended to it.
    async fn request(
        &self,
        url: &reqwest::Url,
        file: &str,
        meta: &FileMeta,
        part: &Path,
        meter: &mut Meter,
        emit: &mut dyn FnMut(PullEvent),
    ) -> Result<(), Failure> {
        let Some((resp, out, have)) = self.open(url, file, part, meter).await? else {
            return Ok(());
        };
        self.receive(resp, out, have, file, meta, part, meter, emit)
            .await
    }

    /// Asks for the bytes of `file` after those `part` holds and opens `part` to append them:
    /// the response, the file, and how many bytes it holds (0 when the server sent the whole
    /// file again). `None` when there is nothing left to send.
    async fn open(
        &self,
        url: &reqwest::Url,
        file: &str,
        part: &Path,
        meter: &mut Meter,
    ) -> Result<Option<(reqwest::Response, std::fs::File, u64)>, Failure> {
        let io = |e| Failure::Fatal(HubError::io(part, e));
        let mut have = file_len(part);
        let resp = self
            .http
            .get(url, have)
            .await
            .map_err(|e| Failure::Cut(transport_reason(&e)))?;
        let status = resp.status();
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(part)
            .map_err(io)?;
        match status.as_u16() {
            206 => {
                let start = resp
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.parse::<u64>().ok());
                if start != Some(have) {
                    return Err(Failure::Fatal(HubError::Protocol {
                        url: url.to_string(),
                        what: format!("asked for bytes {have}- and got range {start:?}"),
                    }));
                }
            }
            200 => {
                // The server ignored the Range header: start over.
                out.set_len(0).map_err(io)?;
                meter.sub(have);
                have = 0;
            }
            // Nothing left to send: let verification judge the file.
            416 => return Ok(None),
            408 | 429 | 500..=599 => return Err(Failure::Cut(format!("HTTP {status}"))),
            _ => {
                return Err(
                    match self
                        .http
                        .status_error(self.repo, self.commit, status, resp.headers())
                    {
                        StatusError::FileMissing => Failure::Fatal(HubError::MissingFile {
                            repo: self.repo.to_string(),
                            file: file.to_string(),
                            why: "it disappeared during the download".into(),
                        }),
                        StatusError::Other(e) => Failure::Fatal(e),
                    },
                )
            }
        }
        Ok(Some((resp, out, have)))
    }

    /// Appends the body of `resp` to `out` (`part`, holding `have` bytes), reporting progress
    /// and noticing a cancel even while the server is silent; a body that ends short is a cut.
    #[allow(clippy::too_many_arguments)]
    async fn receive(
        &self,
        resp: reqwest::Response,
        mut out: std::fs::File,
        mut have: u64,
        file: &str,
        meta: &FileMeta,
        part: &Path,
        meter: &mut Meter,
        emit: &mut dyn FnMut(PullEvent),
    ) -> Result<(), Failure> {
        let io = |e| Failure::Fatal(HubError::io(part, e));
        let mut stream = resp.bytes_stream();
        loop {
            if self.cancel.load(Ordering::Relaxed) {
                out.flush().map_err(io)?;
                return Err(Failure::Fatal(HubError::Cancelled));
            }
            // Wake up regularly to notice a cancel even while the server is silent (the
            // client's read timeout bounds the silence).
            let next = match tokio::time::timeout(Duration::from_millis(200), stream.next()).await {
                Err(_) => {
                    // Keep the speed and ETA current while the server is silent.
                    if let Some(ev) = meter.progress(file, have, meta.size, false) {
                        emit(ev);
                    }
                    continue;
                }
                Ok(next) => next,
            };
            match next {
                None => break,
                Some(Err(e)) => {
                    out.flush().map_err(io)?;
                    return Err(Failure::Cut(transport_reason(&e)));
                }
                Some(Ok(chunk)) => {
                    out.write_all(&chunk).map_err(io)?;
                    have += chunk.len() as u64;
                    meter.add(chunk.len() as u64, true);
                    if let Some(ev) = meter.progress(file, have, meta.size, false) {
                        emit(ev);
                    }
                }
            }
        }
        out.flush().map_err(io)?;
        if have < meta.size {
            return Err(Failure::Cut(format!(
                "the connection closed after {have} of {} bytes",
                meta.size
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta_of(bytes: &[u8]) -> FileMeta {
        let hash = Sha256::digest(bytes);
        FileMeta {
            etag: hash.iter().map(|b| format!("{b:02x}")).collect(),
            commit: "c".repeat(40),
            size: bytes.len() as u64,
        }
    }

    #[test]
    fn mismatch_checks_size_then_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"weights").unwrap();
        assert_eq!(mismatch(&path, &meta_of(b"weights")).unwrap(), None);
        assert_eq!(mismatch(&path, &meta_of(b"weight")).unwrap(), Some("size"));
        assert_eq!(
            mismatch(&path, &meta_of(b"Weights")).unwrap(),
            Some("sha256")
        );
        // A non-SHA-256 ETag (a small git file's) is judged by size alone.
        let git = FileMeta {
            etag: "\"abc\"".into(),
            ..meta_of(b"Weights")
        };
        assert_eq!(mismatch(&path, &git).unwrap(), None);
    }

    #[test]
    fn a_bad_download_is_fetched_once_more_then_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let meta = meta_of(b"good bytes");
        let mut events = Vec::new();
        let mut v = Verifier::default();

        std::fs::write(&path, b"good bytes").unwrap();
        assert!(v
            .verified(&path, &path, "f", &meta, &mut |e| events.push(e))
            .unwrap());
        assert!(path.exists());
        assert!(matches!(&events[..], [PullEvent::Verifying { file }] if file == "f"));
        events.clear();

        std::fs::write(&path, b"bad! bytes").unwrap();
        assert!(!v
            .verified(&path, &path, "f", &meta, &mut |e| events.push(e))
            .unwrap());
        assert!(!path.exists(), "the bad bytes are deleted");
        assert!(matches!(
            &events[..],
            [PullEvent::Verifying { .. }, PullEvent::Refetch { what, .. }] if what == "sha256"
        ));

        std::fs::write(&path, b"bad again").unwrap();
        let err = v
            .verified(&path, &path, "f", &meta, &mut |e| events.push(e))
            .unwrap_err();
        assert!(matches!(err, HubError::Integrity { ref what, .. } if what == "size"));
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, PullEvent::Refetch { .. }))
                .count(),
            1,
            "no second refetch"
        );
    }
}
