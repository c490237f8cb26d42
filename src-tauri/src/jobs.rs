//! Background jobs: model pulls, training runs, evaluations and exports (later predictions)
//! run on their own threads with an id, a phase, progress and a cancel flag. Every change is
//! emitted to the window as a `job` event, so any page (and the job dock) shows it; the list
//! is kept here, so a page opened later still finds the job.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tauri::{AppHandle, Emitter};

/// The window event that carries a [`Job`].
pub const JOB_EVENT: &str = "job";

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A model download.
    Pull,
    /// A training run (new or resumed).
    Train,
    /// An adapter export (with its check).
    Export,
    /// An evaluation, or the baselines of one.
    Evaluate,
    /// A file of tickets predicted.
    Predict,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Working.
    Running,
    /// Finished.
    Done,
    /// Stopped by the user.
    Cancelled,
    /// Stopped by an error (see `message`).
    Failed,
}

/// A job as the window sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Unique for the app's lifetime.
    pub id: u64,
    /// What it does.
    pub kind: JobKind,
    /// What it works on: the repo id of a pull, the name of a run.
    pub subject: String,
    /// Where it is.
    pub state: JobState,
    /// The current phase in words ("downloading", "training", "verifying", …).
    pub phase: String,
    /// Work done, in `unit`s.
    pub done: f64,
    /// Work planned, in `unit`s (0 while unknown).
    pub total: f64,
    /// `bytes`, `steps` or `files`.
    pub unit: &'static str,
    /// `unit`s per second, when measured.
    pub rate: Option<f64>,
    /// Seconds left, when known.
    pub eta_s: Option<f64>,
    /// Seconds since it started.
    pub elapsed_s: f64,
    /// The outcome or error in words, once it ended.
    pub message: Option<String>,
    /// The latest engine event (a `TrainEvent` or `PullEvent`), for pages that draw details.
    pub event: Option<serde_json::Value>,
    /// Counts the job's changes, so the window keeps the newest when a command's reply and
    /// the job's events arrive out of order.
    pub revision: u64,
}

/// A second job on a subject that already has one running.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is already busy in another job: wait for it or cancel it first")]
pub struct AlreadyRunning(pub String);

struct Entry {
    job: Job,
    cancel: Arc<AtomicBool>,
    started: Instant,
    last_emit: Option<Instant>,
}

/// The registry, shared by the commands and the job threads.
#[derive(Clone, Default)]
pub struct Jobs {
    inner: Arc<Mutex<BTreeMap<u64, Entry>>>,
    next: Arc<AtomicU64>,
}

/// What a job's work gets: its cancel flag and a way to report progress.
pub struct JobCtx {
    id: u64,
    jobs: Jobs,
    app: AppHandle,
    /// Set when the user cancels.
    pub cancel: Arc<AtomicBool>,
}

/// Progress events faster than this are merged (phase changes always go through).
const MIN_EMIT: Duration = Duration::from_millis(100);

impl JobCtx {
    /// Changes the job with `f` and tells the window (at most every [`MIN_EMIT`] unless the
    /// phase changed).
    pub fn update(&self, f: impl FnOnce(&mut Job)) {
        let job = {
            let mut map = self.jobs.lock();
            let Some(e) = map.get_mut(&self.id) else {
                return;
            };
            let phase = e.job.phase.clone();
            f(&mut e.job);
            e.job.revision += 1;
            e.job.elapsed_s = e.started.elapsed().as_secs_f64();
            let due = e.last_emit.is_none_or(|t| t.elapsed() >= MIN_EMIT);
            if !due && e.job.phase == phase && e.job.state == JobState::Running {
                return;
            }
            e.last_emit = Some(Instant::now());
            e.job.clone()
        };
        let _ = self.app.emit(JOB_EVENT, job);
    }
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Entry>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts `work` on its own thread as a new job on `subject`. `work` returns the message
    /// shown when it ends and whether it was cancelled.
    pub fn spawn(
        &self,
        app: &AppHandle,
        kind: JobKind,
        subject: String,
        work: impl FnOnce(&JobCtx) -> anyhow::Result<(String, bool)> + Send + 'static,
    ) -> Result<Job, AlreadyRunning> {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let cancel = Arc::new(AtomicBool::new(false));
        let job = Job {
            id,
            kind,
            subject: subject.clone(),
            state: JobState::Running,
            phase: "starting".into(),
            done: 0.0,
            total: 0.0,
            unit: match kind {
                JobKind::Pull => "bytes",
                JobKind::Train => "steps",
                JobKind::Export => "files",
                JobKind::Evaluate | JobKind::Predict => "tickets",
            },
            rate: None,
            eta_s: None,
            elapsed_s: 0.0,
            message: None,
            event: None,
            revision: 0,
        };
        {
            let mut map = self.lock();
            if busy(&map, &subject) {
                return Err(AlreadyRunning(subject));
            }
            map.insert(
                id,
                Entry {
                    job: job.clone(),
                    cancel: Arc::clone(&cancel),
                    started: Instant::now(),
                    last_emit: None,
                },
            );
        }
        let ctx = JobCtx {
            id,
            jobs: self.clone(),
            app: app.clone(),
            cancel,
        };
        let _ = app.emit(JOB_EVENT, job.clone());
        std::thread::spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&ctx)))
                .unwrap_or_else(|_| {
                    Err(anyhow::anyhow!("the job crashed (a bug: please report it)"))
                });
            ctx.update(|job| {
                let (state, message) = match outcome {
                    Ok((msg, false)) => (JobState::Done, msg),
                    Ok((msg, true)) => (JobState::Cancelled, msg),
                    Err(err) => (JobState::Failed, tunedesk::report(err.as_ref())),
                };
                job.state = state;
                job.phase = match state {
                    JobState::Done => "done",
                    JobState::Cancelled => "cancelled",
                    _ => "failed",
                }
                .into();
                job.eta_s = None;
                job.message = Some(message);
            });
        });
        Ok(job)
    }

    /// Every job of this session, oldest first.
    pub fn list(&self) -> Vec<Job> {
        self.lock()
            .values()
            .map(|e| {
                let mut job = e.job.clone();
                if job.state == JobState::Running {
                    job.elapsed_s = e.started.elapsed().as_secs_f64();
                }
                job
            })
            .collect()
    }

    /// Asks job `id` to stop; false when there is no such running job.
    pub fn cancel(&self, id: u64) -> bool {
        self.lock()
            .get(&id)
            .filter(|e| e.job.state == JobState::Running)
            .map(|e| e.cancel.store(true, Ordering::Relaxed))
            .is_some()
    }

    /// Asks every running job to stop.
    pub fn cancel_all(&self) {
        for e in self.lock().values() {
            e.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Running jobs of `kind`.
    pub fn running(&self, kind: JobKind) -> usize {
        self.lock()
            .values()
            .filter(|e| e.job.kind == kind && e.job.state == JobState::Running)
            .count()
    }

    /// Whether a job is running on `subject`.
    pub fn is_running(&self, subject: &str) -> bool {
        busy(&self.lock(), subject)
    }

    /// Waits (at most `limit`) until no job runs; true when none does.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self
                .lock()
                .values()
                .all(|e| e.job.state != JobState::Running)
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

/// Whether a job in `map` is running on `subject`.
fn busy(map: &BTreeMap<u64, Entry>, subject: &str) -> bool {
    map.values()
        .any(|e| e.job.subject == subject && e.job.state == JobState::Running)
}
