//! State managed by Tauri: where the data lives and the background jobs. There is no shared
//! store connection: each command and each job opens its own (SQLite in WAL mode lets readers
//! and one writer work side by side), so browsing never waits for an import or a run.

use crate::error::CommandResult;
use crate::jobs::Jobs;
use std::sync::{Arc, Mutex};
use tunedesk::evaluate::trial::Playground;
use tunedesk::hub::{HubConfig, Token};
use tunedesk::predict::PredictOptions;
use tunedesk::{paths::DataDir, store::Store};

/// The app's state.
pub struct AppState {
    data_dir: DataDir,
    /// Pulls and training runs in the background.
    pub jobs: Jobs,
    /// The Try page's models, kept loaded between tickets.
    playground: Arc<Mutex<Playground>>,
}

impl AppState {
    /// Opens (creating and migrating) the store in `data_dir` once, to fail early.
    pub fn open(data_dir: &DataDir) -> anyhow::Result<AppState> {
        Store::open(data_dir.db_path())?;
        Ok(AppState {
            data_dir: data_dir.clone(),
            jobs: Jobs::default(),
            playground: Arc::new(Mutex::new(Playground::new(PredictOptions::default()))),
        })
    }

    /// The Try page's warm models (one ticket at a time).
    pub fn playground(&self) -> Arc<Mutex<Playground>> {
        Arc::clone(&self.playground)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    /// Hub settings: the environment's, with the token saved from the app first.
    pub fn hub(&self) -> HubConfig {
        HubConfig::from_env(Token::load(self.data_dir.path()))
    }

    /// Runs `f` with a store connection of its own on a blocking thread, so the UI never
    /// waits on SQLite or files.
    pub async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> anyhow::Result<T> + Send + 'static,
    ) -> CommandResult<T> {
        let db = self.data_dir.db_path();
        blocking(move || f(&mut Store::open(db)?)).await
    }
}

/// Runs `f` on a blocking thread.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> CommandResult<T> {
    Ok(tauri::async_runtime::spawn_blocking(f).await??)
}
