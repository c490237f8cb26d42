//! State managed by Tauri: the engine's store, shared by the commands.

use crate::error::CommandResult;
use std::sync::{Arc, Mutex};
use tunedesk::{paths::DataDir, store::Store};

/// The app's state.
pub struct AppState {
    store: Arc<Mutex<Store>>,
}

impl AppState {
    /// Opens the store in `data_dir`.
    pub fn open(data_dir: &DataDir) -> anyhow::Result<AppState> {
        let store = Store::open(data_dir.db_path())?;
        Ok(AppState {
            store: Arc::new(Mutex::new(store)),
        })
    }

    /// Runs `f` with the store on a blocking thread, so the UI never waits on SQLite or files.
    pub async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> anyhow::Result<T> + Send + 'static,
    ) -> CommandResult<T> {
        let store = Arc::clone(&self.store);
        let out = tauri::async_runtime::spawn_blocking(move || {
            let mut store = store
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut store)
        })
        .await??;
        Ok(out)
    }
}
