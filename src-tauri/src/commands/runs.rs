//! Run commands: the Runs table, one run's charts and records, runs overlaid, delete.

use crate::error::CommandResult;
use crate::state::AppState;
use serde::Serialize;
use tauri::State;
use tunedesk::chart::{loss_svg, loss_title, overlay_svg, training_panels_svg, LossView};
use tunedesk::model::DeviceChoice;
use tunedesk::store::{RunInfo, RunMetrics, RunStatus};
use tunedesk::train::run::stored_device;
use tunedesk::train::summary::{summaries, summary, RunSummary};

/// A row of the Runs table.
#[derive(Serialize)]
pub struct RunRow {
    #[serde(flatten)]
    summary: RunSummary,
    /// A job of this session trains it now.
    active: bool,
    /// Marked running but nothing trains it: the app or machine stopped mid-run.
    interrupted: bool,
}

fn row(summary: RunSummary, active: bool) -> RunRow {
    let interrupted = summary.run.status == RunStatus::Running && !active;
    RunRow {
        summary,
        active,
        interrupted,
    }
}

#[tauri::command]
pub async fn list_runs(state: State<'_, AppState>) -> CommandResult<Vec<RunRow>> {
    let jobs = state.jobs.clone();
    state
        .with_store(move |s| {
            Ok(summaries(s)?
                .into_iter()
                .map(|r| {
                    let active = jobs.is_running(&r.run.name);
                    row(r, active)
                })
                .collect())
        })
        .await
}

/// One run: its row, recorded metrics, and the loss chart and panels drawn as `view` asks.
#[derive(Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    row: RunRow,
    metrics: RunMetrics,
    /// Where overfitting started, when it did.
    overfit_step: Option<i64>,
    /// Checkpoint steps kept besides `best` and `last`.
    kept_steps: Vec<usize>,
    /// Where it trains (None when its stored settings are unreadable).
    device: Option<DeviceChoice>,
    /// The loss chart (None before the first step).
    loss_svg: Option<String>,
    /// Learning rate and gradient norm (None before the first step).
    panels_svg: Option<String>,
}

#[tauri::command]
pub async fn run_detail(
    state: State<'_, AppState>,
    name: String,
    view: LossView,
) -> CommandResult<RunDetail> {
    let jobs = state.jobs.clone();
    let data_dir = state.data_dir().clone();
    state
        .with_store(move |s| {
            let (summary, metrics) = summary(s, &name)?;
            let run = &summary.run;
            let title = loss_title(&run.name, &run.model, &run.dataset);
            let drawn = !metrics.steps.is_empty();
            let loss_svg = drawn
                .then(|| loss_svg(&title, &metrics, run.best_step, &view))
                .transpose()?;
            let panels_svg = drawn
                .then(|| training_panels_svg(&metrics, &view))
                .transpose()?;
            let kept_steps = tunedesk::adapter::RunDir::new(&data_dir, &run.name).kept_steps();
            let active = jobs.is_running(&run.name);
            Ok(RunDetail {
                device: stored_device(&run.config),
                overfit_step: tunedesk::chart::overfit_step(&metrics),
                row: row(summary, active),
                metrics,
                kept_steps,
                loss_svg,
                panels_svg,
            })
        })
        .await
}

/// Runs side by side: their settings and one chart with their loss curves.
#[derive(Serialize)]
pub struct Comparison {
    runs: Vec<RunInfo>,
    svg: String,
}

#[tauri::command]
pub async fn compare_runs(
    state: State<'_, AppState>,
    names: Vec<String>,
    view: LossView,
) -> CommandResult<Comparison> {
    if !(2..=4).contains(&names.len()) {
        return Err(anyhow::anyhow!("choose two to four runs to compare").into());
    }
    state
        .with_store(move |s| {
            let runs: Vec<RunInfo> = names.iter().map(|n| s.run(n)).collect::<Result<_, _>>()?;
            let metrics: Vec<RunMetrics> = runs
                .iter()
                .map(|r| s.run_metrics(r))
                .collect::<Result<_, _>>()?;
            let curves: Vec<(&str, &RunMetrics)> = runs
                .iter()
                .zip(&metrics)
                .map(|(r, m)| (r.name.as_str(), m))
                .collect();
            let svg = overlay_svg(&curves, &view)?;
            Ok(Comparison { runs, svg })
        })
        .await
}

/// Deletes a run and its checkpoints (not while it trains).
#[tauri::command]
pub async fn delete_run(state: State<'_, AppState>, name: String) -> CommandResult<RunInfo> {
    if state.jobs.is_running(&name) {
        return Err(anyhow::anyhow!("run '{name}' is training: cancel it first").into());
    }
    let data_dir = state.data_dir().clone();
    state
        .with_store(move |s| Ok(tunedesk::train::run::delete(s, &data_dir, &name)?))
        .await
}
