//! Try and Predict page commands: one ticket through a run kept warm (and its base model
//! beside it), and a CSV file of tickets predicted as a background job.

use super::ask_save_path;
use super::evaluate::tickets;
use crate::error::CommandResult;
use crate::jobs::{Job, JobKind};
use crate::state::{blocking, AppState};
use std::path::PathBuf;
use tauri::{AppHandle, State};
use tunedesk::adapter::Checkpoint;
use tunedesk::evaluate::trial::Answer;
use tunedesk::predict::table::{predict_with_run, TableError, TableJob};
use tunedesk::predict::PredictOptions;
use tunedesk::store::Store;

/// Run `run`'s answer at `checkpoint` to `text` (and, with `base`, its base model's); the
/// models stay loaded for the next ticket.
#[tauri::command]
pub async fn try_ticket(
    state: State<'_, AppState>,
    run: String,
    checkpoint: Checkpoint,
    text: String,
    base: bool,
) -> CommandResult<Vec<Answer>> {
    let (data_dir, playground) = (state.data_dir().clone(), state.playground());
    blocking(move || {
        let mut store = Store::open(data_dir.db_path())?;
        let mut playground = playground.lock().unwrap_or_else(|e| e.into_inner());
        Ok(playground.ask(&mut store, &data_dir, &run, checkpoint, &text, base)?)
    })
    .await
}

/// Asks where to save the predictions (native dialog, `suggested` file name); `None` when the
/// user cancels.
#[tauri::command]
pub async fn pick_predictions_file(
    app: AppHandle,
    suggested: String,
) -> CommandResult<Option<PathBuf>> {
    let filter: (&str, &[&str]) = ("CSV", &["csv"]);
    Ok(ask_save_path(
        &app,
        "Save the predictions",
        suggested,
        Some(filter),
    ))
}

/// Predicts every row of `job.input` with run `run` at `checkpoint` into `job.output`, as a
/// background job (its event: the summary, with the rows left out).
#[tauri::command]
pub async fn predict_file(
    app: AppHandle,
    state: State<'_, AppState>,
    run: String,
    checkpoint: Checkpoint,
    job: TableJob,
) -> CommandResult<Job> {
    let data_dir = state.data_dir().clone();
    let subject = format!("predict {}", job.input.display());
    Ok(state
        .jobs
        .spawn(&app, JobKind::Predict, subject, move |ctx| {
            let mut store = Store::open(data_dir.db_path())?;
            let mut progress = tickets(ctx, "answering");
            let opts = PredictOptions::default();
            match predict_with_run(
                &mut store,
                &data_dir,
                &run,
                checkpoint,
                opts,
                &job,
                &mut progress,
                &ctx.cancel,
            ) {
                Ok(s) => {
                    ctx.update(|j| j.event = serde_json::to_value(&s).ok());
                    Ok((s.describe(), false))
                }
                Err(TableError::Cancelled) => Ok(("cancelled: nothing was written".into(), true)),
                Err(e) => Err(e.into()),
            }
        })?)
}
