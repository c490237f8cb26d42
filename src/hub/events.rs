//! What a pull reports while it runs (the CLI draws bars from these or prints them as JSON
//! lines; the desktop app forwards them over an ipc channel), and the speed meter behind them.

use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One file of a pull's plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilePlan {
    /// Path in the repo.
    pub file: String,
    /// Size announced by the Hub.
    pub size: u64,
    /// Already complete in the cache.
    pub cached: bool,
}

/// Progress of a pull.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PullEvent {
    /// The files are known (after config.json passed the architecture check, before any weights).
    Plan {
        /// Repo id.
        repo: String,
        /// Revision asked for.
        revision: String,
        /// The commit it resolved to.
        commit: String,
        /// `architectures[0]` of config.json.
        architecture: String,
        /// Parameter count.
        params: u64,
        /// Estimated peak RAM of LoRA training at the default settings.
        train_ram_bytes: u64,
        /// Every file, cached or not.
        files: Vec<FilePlan>,
        /// Size of all files.
        total_bytes: u64,
        /// What remains to download (partial files count in full).
        download_bytes: u64,
    },
    /// A file starts downloading.
    FileStarted {
        /// Path in the repo.
        file: String,
        /// Its size.
        size: u64,
        /// Bytes already there from an earlier, interrupted attempt.
        resumed_from: u64,
    },
    /// Bytes arrived (at most ~10 events a second per file).
    Progress {
        /// Path in the repo.
        file: String,
        /// Bytes of this file on disk.
        bytes: u64,
        /// Its size.
        size: u64,
        /// Bytes of the whole pull on disk (cached files included).
        total_done: u64,
        /// Size of the whole pull.
        total: u64,
        /// Download speed over this pull so far.
        bytes_per_s: f64,
        /// Seconds left for the whole pull at that speed.
        eta_s: Option<f64>,
    },
    /// The connection broke; the download continues from `from`.
    Resuming {
        /// Path in the repo.
        file: String,
        /// Byte offset asked for.
        from: u64,
        /// Attempt number (1-based).
        attempt: usize,
        /// The transport error.
        reason: String,
    },
    /// A downloaded file is being checked (size, then SHA-256 when the Hub gave one).
    Verifying {
        /// Path in the repo.
        file: String,
    },
    /// A cached file did not match the Hub's size or hash and is fetched again.
    Refetch {
        /// Path in the repo.
        file: String,
        /// `size` or `sha256`.
        what: String,
    },
    /// A file is complete and verified.
    FileDone {
        /// Path in the repo.
        file: String,
        /// Its size.
        size: u64,
    },
    /// The Hub could not be reached; the cached snapshot is used.
    UsingCache {
        /// Why the network was not used.
        reason: String,
    },
    /// Everything is in place.
    Done {
        /// The snapshot folder.
        path: PathBuf,
        /// The commit.
        commit: String,
        /// Bytes fetched over the network.
        downloaded_bytes: u64,
    },
}

/// Tracks bytes of the whole pull and paces progress events.
#[derive(Debug)]
pub(crate) struct Meter {
    start: Instant,
    total: u64,
    done: u64,
    fetched: u64,
    last_emit: Option<Instant>,
}

impl Meter {
    pub(crate) fn new(total: u64, already: u64) -> Meter {
        Meter {
            start: Instant::now(),
            total,
            done: already,
            fetched: 0,
            last_emit: None,
        }
    }

    /// Counts `n` bytes that arrived (`fetched`) or were found on disk.
    pub(crate) fn add(&mut self, n: u64, fetched: bool) {
        self.done += n;
        if fetched {
            self.fetched += n;
        }
    }

    /// Forgets `n` bytes that were on disk but are being fetched again.
    pub(crate) fn sub(&mut self, n: u64) {
        self.done = self.done.saturating_sub(n);
    }

    /// Bytes fetched over the network so far.
    pub(crate) fn fetched(&self) -> u64 {
        self.fetched
    }

    /// A progress event for `file`, unless one was sent less than 100 ms ago (`force` sends
    /// anyway).
    pub(crate) fn progress(
        &mut self,
        file: &str,
        bytes: u64,
        size: u64,
        force: bool,
    ) -> Option<PullEvent> {
        let now = Instant::now();
        if !force
            && self
                .last_emit
                .is_some_and(|t| now - t < Duration::from_millis(100))
        {
            return None;
        }
        self.last_emit = Some(now);
        let secs = (now - self.start).as_secs_f64();
        let bytes_per_s = if secs > 0.0 {
            self.fetched as f64 / secs
        } else {
            0.0
        };
        let left = self.total.saturating_sub(self.done) as f64;
        Some(PullEvent::Progress {
            file: file.to_string(),
            bytes,
            size,
            total_done: self.done,
            total: self.total,
            bytes_per_s,
            eta_s: (bytes_per_s > 0.0).then(|| left / bytes_per_s),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_paces_and_counts() {
        let mut m = Meter::new(100, 40);
        m.add(10, true);
        let Some(PullEvent::Progress {
            total_done, total, ..
        }) = m.progress("f", 10, 60, false)
        else {
            panic!("first event is sent");
        };
        assert_eq!((total_done, total), (50, 100));
        assert!(m.progress("f", 11, 60, false).is_none(), "paced");
        assert!(m.progress("f", 60, 60, true).is_some(), "forced");
        assert_eq!(m.fetched(), 10);
    }
}
