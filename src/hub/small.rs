//! Small files (configuration, tokenizer) through hf-hub's `download_file`, which writes them
//! into the same cache layout. A cached copy whose size does not match the Hub's is deleted
//! first, so that hf-hub fetches it again; hf-hub's progress events are forwarded; a silent
//! request is abandoned after the idle timeout (hf-hub's own HEAD client has none).

use super::cache::RepoCache;
use super::events::{Meter, PullEvent};
use super::http::{FileMeta, Http};
use super::transfer::{mismatch, Verifier};
use super::{HubConfig, HubError, RepoId};
use hf_hub::progress::{DownloadEvent, ProgressEvent, ProgressHandler};
use hf_hub::{HFClient, HFError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// hf-hub, configured like the rest of the pull.
pub(crate) struct Small {
    client: HFClient,
    idle: Duration,
}

/// Sends each byte count hf-hub reports to the pull's loop.
struct Forward(mpsc::Sender<u64>);

impl ProgressHandler for Forward {
    fn on_progress(&self, event: &ProgressEvent) {
        if let ProgressEvent::Download(DownloadEvent::Progress { files }) = event {
            for f in files {
                let _ = self.0.send(f.bytes_completed);
            }
        }
    }
}

fn client_error(e: HFError) -> HubError {
    HubError::Client(e.to_string())
}

impl Small {
    /// An hf-hub client on `cfg`'s endpoint, cache and token, over `http`'s reqwest client
    /// (which has the timeouts).
    pub(crate) fn new(cfg: &HubConfig, http: &Http) -> Result<Small, HubError> {
        let mut builder = HFClient::builder()
            .endpoint(cfg.endpoint.clone())
            .cache_dir(cfg.cache_dir.clone())
            .client(http.client().clone())
            .retry_max_attempts(2);
        if let Some(t) = &cfg.token {
            builder = builder.token(t.secret());
        }
        Ok(Small {
            client: builder.build().map_err(client_error)?,
            idle: cfg.timeout,
        })
    }

    /// The cached copy of `file` at `revision`, without any network request.
    pub(crate) async fn cached(
        &self,
        repo: &RepoId,
        revision: &str,
        file: &str,
    ) -> Option<PathBuf> {
        self.client
            .model(repo.owner(), repo.name())
            .download_file()
            .filename(file)
            .revision(revision.to_string())
            .local_files_only(true)
            .send()
            .await
            .ok()
    }

    /// Downloads `file` at `commit` into the cache (or finds it there) and checks its size.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn fetch(
        &self,
        cache: &RepoCache,
        repo: &RepoId,
        commit: &str,
        file: &str,
        meta: &FileMeta,
        meter: &mut Meter,
        cancel: &AtomicBool,
        emit: &mut dyn FnMut(PullEvent),
    ) -> Result<PathBuf, HubError> {
        let blob = cache.blob(&meta.etag);
        let mut verifier = Verifier::default();
        loop {
            let cached = blob.exists();
            if cached && mismatch(&blob, meta)?.is_some() {
                std::fs::remove_file(&blob).map_err(|e| HubError::io(&blob, e))?;
                continue;
            }
            if !cached {
                emit(PullEvent::FileStarted {
                    file: file.to_string(),
                    size: meta.size,
                    resumed_from: 0,
                });
            }
            let path = self
                .download(repo, commit, file, meta, meter, cancel, emit)
                .await?;
            if verifier.verified(&path, &blob, file, meta, emit)? {
                meter.add(meta.size, !cached);
                if let Some(ev) = meter.progress(file, meta.size, meta.size, true) {
                    emit(ev);
                }
                emit(PullEvent::FileDone {
                    file: file.to_string(),
                    size: meta.size,
                });
                return Ok(path);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn download(
        &self,
        repo: &RepoId,
        commit: &str,
        file: &str,
        meta: &FileMeta,
        meter: &mut Meter,
        cancel: &AtomicBool,
        emit: &mut dyn FnMut(PullEvent),
    ) -> Result<PathBuf, HubError> {
        let (tx, rx) = mpsc::channel();
        let handle = self.client.model(repo.owner(), repo.name());
        let download = handle
            .download_file()
            .filename(file)
            .revision(commit.to_string())
            .progress(Forward(tx))
            .send();
        let mut download = std::pin::pin!(download);
        let mut last_activity = Instant::now();
        loop {
            tokio::select! {
                result = &mut download => {
                    return result.map_err(|e| match e {
                        HFError::AuthRequired { .. } => HubError::Denied { repo: repo.to_string(), status: 401, had_token: false },
                        HFError::Forbidden { .. } => HubError::Denied { repo: repo.to_string(), status: 403, had_token: true },
                        HFError::EntryNotFound { .. } => HubError::MissingFile {
                            repo: repo.to_string(),
                            file: file.to_string(),
                            why: "it disappeared during the download".into(),
                        },
                        e @ HFError::Request { .. } => HubError::Interrupted {
                            file: file.to_string(),
                            done: 0,
                            total: meta.size,
                            reason: e.to_string(),
                        },
                        e => client_error(e),
                    });
                }
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            while let Ok(bytes) = rx.try_recv() {
                last_activity = Instant::now();
                if let Some(ev) = meter.progress(file, bytes, meta.size, false) {
                    emit(ev);
                }
            }
            if cancel.load(Ordering::Relaxed) {
                return Err(HubError::Cancelled);
            }
            if last_activity.elapsed() > self.idle {
                return Err(HubError::Interrupted {
                    file: file.to_string(),
                    done: 0,
                    total: meta.size,
                    reason: format!("no answer for {} s", self.idle.as_secs()),
                });
            }
        }
    }
}
