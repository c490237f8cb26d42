//! Training commands: the settings form's defaults and presets, starting and resuming a run as
//! a background job.

use crate::error::CommandResult;
use crate::jobs::{Job, JobCtx, JobKind};
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use tauri::{AppHandle, State};
use tunedesk::model::{device, DeviceChoice, DeviceInfo};
use tunedesk::paths::DataDir;
use tunedesk::registry;
use tunedesk::store::{RunStatus, Store};
use tunedesk::template::Template;
use tunedesk::train::preflight::{preflight, Preflight};
use tunedesk::train::presets::{presets, Preset};
use tunedesk::train::run::{self as train_run, RunSpec, DEFAULT_VAL_LIMIT};
use tunedesk::train::select::Selection;
use tunedesk::train::{StopReason, TrainConfig, TrainEvent};

/// What the Train page's form starts from.
#[derive(Serialize)]
pub struct Settings {
    defaults: TrainConfig,
    val_limit: usize,
    presets: Vec<Preset>,
    /// What the best checkpoint can follow: (id, label, description).
    selections: Vec<(Selection, &'static str, &'static str)>,
    /// Where runs can train, the default first.
    devices: Vec<DeviceInfo>,
}

#[tauri::command]
pub fn train_settings() -> Settings {
    Settings {
        defaults: TrainConfig::default(),
        val_limit: DEFAULT_VAL_LIMIT,
        presets: presets(),
        selections: Selection::ALL
            .iter()
            .map(|s| (*s, s.label(), s.describe()))
            .collect(),
        devices: device::available(),
    }
}

/// A run the Train page asks for: `dataset` on `model` (a registered name, a path or a cached
/// repo id; never pulled here) with `config` on `device`, validating on at most `val_limit`
/// rows.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunPlan {
    dataset: String,
    model: String,
    config: TrainConfig,
    val_limit: usize,
    device: DeviceChoice,
}

impl RunPlan {
    fn spec(self, s: &mut Store, hub_cfg: &tunedesk::hub::HubConfig) -> anyhow::Result<RunSpec> {
        s.dataset(&self.dataset)?;
        let no_cancel = AtomicBool::new(false);
        let resolved = registry::resolve(s, hub_cfg, &self.model, false, &no_cancel, &mut |_| {})?;
        Ok(RunSpec {
            dataset: self.dataset,
            model: resolved.path,
            config: self.config,
            train_limit: None,
            val_limit: Some(self.val_limit),
            device: self.device,
        })
    }
}

/// Starts run `name` as `plan` says.
#[tauri::command]
pub async fn start_run(
    app: AppHandle,
    state: State<'_, AppState>,
    name: String,
    plan: RunPlan,
) -> CommandResult<Job> {
    let run_name = name.clone();
    let hub_cfg = state.hub();
    let spec = state
        .with_store(move |s| {
            tunedesk::name::check("run", &run_name)?;
            if s.run(&run_name).is_ok() {
                anyhow::bail!("a run named '{run_name}' exists: choose another name");
            }
            plan.spec(s, &hub_cfg)
        })
        .await?;
    let data_dir = state.data_dir().clone();
    let job = state
        .jobs
        .spawn(&app, JobKind::Train, name.clone(), move |ctx| {
            let mut progress = Progress::new(ctx);
            let (mut store, cancel) = (Store::open(data_dir.db_path())?, &ctx.cancel);
            let run = train_run::start(
                &mut store,
                &data_dir,
                &name,
                &spec,
                &Template::default(),
                cancel,
                &mut |e| progress.event(e),
            )?;
            Ok(outcome(&run.name, run.status, &progress))
        })?;
    Ok(job)
}

/// What run `plan` would take (the pre-flight card).
#[tauri::command]
pub async fn preflight_run(state: State<'_, AppState>, plan: RunPlan) -> CommandResult<Preflight> {
    let hub_cfg = state.hub();
    state
        .with_store(move |s| {
            let spec = plan.spec(s, &hub_cfg)?;
            Ok(preflight(s, &spec, &Template::default())?)
        })
        .await
}

/// Continues run `name` from its last checkpoint.
#[tauri::command]
pub async fn resume_run(
    app: AppHandle,
    state: State<'_, AppState>,
    name: String,
) -> CommandResult<Job> {
    let data_dir: DataDir = state.data_dir().clone();
    let job = state
        .jobs
        .spawn(&app, JobKind::Train, name.clone(), move |ctx| {
            let mut progress = Progress::new(ctx);
            let mut store = Store::open(data_dir.db_path())?;
            let run = train_run::resume(&mut store, &data_dir, &name, &ctx.cancel, &mut |e| {
                progress.event(e)
            })?;
            Ok(outcome(&run.name, run.status, &progress))
        })?;
    Ok(job)
}

/// The job's closing message and whether it was cancelled.
fn outcome(name: &str, status: RunStatus, p: &Progress) -> (String, bool) {
    let cancelled = status == RunStatus::Cancelled;
    let how = match p.reason {
        _ if cancelled => "stopped; its last checkpoint is kept — Resume continues it".to_string(),
        Some(StopReason::EarlyStopped) => {
            "finished early: validation loss stopped improving".into()
        }
        _ => "finished".into(),
    };
    (format!("run '{name}' {how}"), cancelled)
}

/// Turns training events into job progress, with a rate and ETA over this job's steps.
struct Progress<'a> {
    ctx: &'a JobCtx,
    first: Option<(Instant, usize)>,
    reason: Option<StopReason>,
}

impl<'a> Progress<'a> {
    fn new(ctx: &'a JobCtx) -> Progress<'a> {
        Progress {
            ctx,
            first: None,
            reason: None,
        }
    }

    fn event(&mut self, e: &TrainEvent) {
        let mut rate = None;
        match e {
            TrainEvent::Step { step, .. } => {
                let (t0, s0) = *self.first.get_or_insert((Instant::now(), *step));
                let secs = t0.elapsed().as_secs_f64();
                if *step > s0 && secs > 0.0 {
                    rate = Some((step - s0) as f64 / secs);
                }
            }
            TrainEvent::Finished { reason, .. } => self.reason = Some(*reason),
            _ => {}
        }
        self.ctx.update(|job| {
            match e {
                TrainEvent::Started {
                    total_steps,
                    resumed_from,
                    ..
                } => {
                    job.phase = "training".into();
                    job.total = *total_steps as f64;
                    job.done = resumed_from.unwrap_or(0) as f64;
                }
                TrainEvent::Step { step, .. } => {
                    job.done = *step as f64;
                    if rate.is_some() {
                        job.rate = rate;
                        job.eta_s = rate.map(|r| (job.total - job.done).max(0.0) / r);
                    }
                }
                TrainEvent::Finished { .. } => job.phase = "saving".into(),
                _ => {}
            }
            job.event = serde_json::to_value(e).ok();
        });
    }
}
