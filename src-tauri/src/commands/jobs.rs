//! Job commands: the list (for a page opened after a job started), cancel, and quitting while
//! runs train (after the window asked).

use crate::jobs::Job;
use crate::state::AppState;
use std::time::Duration;
use tauri::{AppHandle, State};

#[tauri::command]
pub fn list_jobs(state: State<'_, AppState>) -> Vec<Job> {
    state.jobs.list()
}

/// Asks job `id` to stop (a run saves a checkpoint first); false when it is not running.
#[tauri::command]
pub fn cancel_job(state: State<'_, AppState>, id: u64) -> bool {
    state.jobs.cancel(id)
}

/// Cancels every job, waits for runs to save their checkpoints, and exits.
#[tauri::command]
pub async fn quit_app(app: AppHandle, state: State<'_, AppState>) -> Result<(), ()> {
    state.jobs.cancel_all();
    let jobs = state.jobs.clone();
    let _ =
        tauri::async_runtime::spawn_blocking(move || jobs.wait_idle(Duration::from_secs(60))).await;
    app.exit(0);
    Ok(())
}
