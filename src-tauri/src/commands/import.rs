//! Import commands: choose a file, preview it, import it with progress.

use crate::error::CommandResult;
use crate::state::AppState;
use std::path::PathBuf;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tunedesk::import::{self, ImportEvent, ImportSpec, ImportSummary, Preview};

/// Opens the native file dialog; `None` when the user cancels.
#[tauri::command]
pub async fn pick_file(app: AppHandle) -> CommandResult<Option<PathBuf>> {
    let picked = app
        .dialog()
        .file()
        .set_title("Import tickets")
        .add_filter(
            "Tickets (CSV, JSONL)",
            &["csv", "tsv", "txt", "jsonl", "ndjson", "json"],
        )
        .blocking_pick_file();
    Ok(picked.and_then(|p| p.into_path().ok()))
}

#[tauri::command]
pub async fn preview_file(path: PathBuf) -> CommandResult<Preview> {
    let preview =
        tauri::async_runtime::spawn_blocking(move || import::preview(&path, None, None)).await??;
    Ok(preview)
}

#[tauri::command]
pub async fn import_dataset(
    state: State<'_, AppState>,
    path: PathBuf,
    spec: ImportSpec,
    on_event: Channel<ImportEvent>,
) -> CommandResult<ImportSummary> {
    state
        .with_store(move |s| {
            let summary = import::import_file(s, &path, &spec, &mut |e| {
                // A closed channel (window gone) must not fail the import.
                let _ = on_event.send(e);
            })?;
            Ok(summary)
        })
        .await
}

/// Imports the sample dataset of support tickets (for a first run without data of one's own).
#[tauri::command]
pub async fn import_sample(state: State<'_, AppState>) -> CommandResult<ImportSummary> {
    state
        .with_store(|s| {
            Ok(import::sample::import_sample(
                s,
                import::sample::SAMPLE_NAME,
            )?)
        })
        .await
}
