//! Export commands: a run's adapter out of the app, as a background job (it reloads what it
//! wrote and predicts to prove it).

use crate::error::CommandResult;
use crate::jobs::{Job, JobKind};
use crate::state::AppState;
use std::path::PathBuf;
use tauri::{AppHandle, State};
use tunedesk::adapter::Checkpoint;
use tunedesk::export::{
    export, formats, ExportFormat, ExportRequest, FormatInfo, Precision, DEFAULT_CHECK_ROWS,
};
use tunedesk::handoff::{self, Trainer, Written};
use tunedesk::store::Store;

/// The export formats with their descriptions and precisions (the engine's list).
#[tauri::command]
pub fn export_formats() -> Vec<FormatInfo> {
    formats()
}

/// Opens the native dialog for the folder to create; `None` when the user cancels.
#[tauri::command]
pub async fn pick_export_folder(
    app: AppHandle,
    suggested: String,
) -> CommandResult<Option<PathBuf>> {
    Ok(super::ask_save_path(
        &app,
        "Export the model to a new folder",
        suggested,
        None,
    ))
}

/// Hands run `name`'s training job to the trainer `target` (axolotl, llama-factory) as the new
/// folder `out`; `base_model`: the Hugging Face repo id the GPU machine loads (default: the
/// run's own).
#[tauri::command]
pub async fn handoff_run(
    state: State<'_, AppState>,
    name: String,
    target: Trainer,
    base_model: Option<String>,
    out: PathBuf,
) -> CommandResult<Written> {
    state
        .with_store(move |s| {
            let job = handoff::Job::from_run(s, &name, base_model)?;
            Ok(handoff::write(s, &job, target, &out)?)
        })
        .await
}

/// Exports run `name`'s `checkpoint` (best, last or a step) in `format` (peft, merged, gguf,
/// ollama) at `precision` (`None`: the format's default) into the new folder `out`.
#[tauri::command]
pub async fn export_run(
    app: AppHandle,
    state: State<'_, AppState>,
    name: String,
    checkpoint: Checkpoint,
    format: String,
    precision: Option<String>,
    out: PathBuf,
) -> CommandResult<Job> {
    let format: ExportFormat = format.parse().map_err(anyhow::Error::msg)?;
    let precision = precision
        .map(|p| p.parse::<Precision>())
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let data_dir = state.data_dir().clone();
    let subject = format!("{name} → {}", out.display());
    let job = state
        .jobs
        .spawn(&app, JobKind::Export, subject, move |ctx| {
            let req = ExportRequest {
                run: name,
                checkpoint,
                format,
                precision,
                out,
                check_rows: DEFAULT_CHECK_ROWS,
            };
            let mut store = Store::open(data_dir.db_path())?;
            let s = export(&mut store, &data_dir, &req, &mut |phase| {
                ctx.update(|job| job.phase = phase.to_string())
            })?;
            let checks: Vec<String> = s
                .checks
                .iter()
                .map(|c| {
                    format!(
                        "{} labels {} of {} tickets as the run does",
                        c.what, c.same_labels, c.checked
                    )
                })
                .collect();
            Ok((
                format!(
                    "exported to {} ({}): reloaded, {}",
                    s.out.display(),
                    s.precision,
                    checks.join("; ")
                ),
                false,
            ))
        })?;
    Ok(job)
}
