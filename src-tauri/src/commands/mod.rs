//! Tauri commands, one module per engine stage. Each command is a thin adapter.

pub mod datasets;
pub mod evaluate;
pub mod export;
pub mod import;
pub mod jobs;
pub mod models;
pub mod predict;
pub mod quality;
pub mod runs;
pub mod train;

use std::path::PathBuf;
use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt;

/// The native save dialog titled `title`, proposing `suggested`, listing only `filter`'s
/// extensions when given; `None` when the user cancels.
pub(crate) fn ask_save_path(
    app: &AppHandle,
    title: &str,
    suggested: String,
    filter: Option<(&str, &[&str])>,
) -> Option<PathBuf> {
    let mut dialog = app
        .dialog()
        .file()
        .set_title(title)
        .set_file_name(suggested);
    if let Some((name, extensions)) = filter {
        dialog = dialog.add_filter(name, extensions);
    }
    dialog.blocking_save_file().and_then(|p| p.into_path().ok())
}
