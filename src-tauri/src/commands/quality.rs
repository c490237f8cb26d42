//! The data-quality report.

use crate::error::CommandResult;
use crate::state::AppState;
use tauri::State;
use tunedesk::dataset;
use tunedesk::quality::{self, QualityOptions, Report};

#[tauri::command]
pub async fn quality_report(state: State<'_, AppState>, name: String) -> CommandResult<Report> {
    state
        .with_store(move |s| {
            let (info, examples) = dataset::load(s, &name)?;
            Ok(quality::check(&info, &examples, &QualityOptions::default()))
        })
        .await
}
