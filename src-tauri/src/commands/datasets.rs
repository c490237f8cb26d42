//! Dataset commands: list, show, rows, split, delete.

use crate::error::CommandResult;
use crate::state::AppState;
use tauri::State;
use tunedesk::dataset::split::{self, SplitMethod, SplitPlan};
use tunedesk::dataset::{self, DatasetInfo, DatasetStats, Example, SplitCounts};

/// Rows returned at most by [`dataset_rows`].
const MAX_ROWS: usize = 50;

#[tauri::command]
pub async fn list_datasets(state: State<'_, AppState>) -> CommandResult<Vec<DatasetInfo>> {
    state.with_store(|s| Ok(s.list_datasets()?)).await
}

#[tauri::command]
pub async fn show_dataset(state: State<'_, AppState>, name: String) -> CommandResult<DatasetStats> {
    state
        .with_store(move |s| Ok(dataset::stats(s, &name)?))
        .await
}

#[tauri::command]
pub async fn dataset_rows(
    state: State<'_, AppState>,
    name: String,
    mut rows: Vec<u64>,
) -> CommandResult<Vec<Example>> {
    rows.truncate(MAX_ROWS);
    state
        .with_store(move |s| Ok(dataset::rows(s, &name, &rows)?))
        .await
}

#[tauri::command]
pub async fn split_dataset(
    state: State<'_, AppState>,
    name: String,
    val: f64,
    test: f64,
    seed: u64,
) -> CommandResult<SplitCounts> {
    let method = SplitMethod::Stratified(SplitPlan { val, test, seed });
    state
        .with_store(move |s| Ok(split::apply(s, &name, &method)?))
        .await
}

#[tauri::command]
pub async fn delete_dataset(
    state: State<'_, AppState>,
    name: String,
) -> CommandResult<DatasetInfo> {
    state
        .with_store(move |s| Ok(s.delete_dataset(&name)?))
        .await
}
