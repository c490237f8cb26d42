//! Model commands: the catalog and the registry, pulls as background jobs, local models, the
//! Hugging Face token.

use crate::error::CommandResult;
use crate::jobs::{Job, JobCtx, JobKind};
use crate::state::{blocking, AppState};
use serde::Serialize;
use std::path::PathBuf;
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tunedesk::hub::catalog::{catalog, CatalogModel};
use tunedesk::hub::{self, PullEvent, RepoId, Token};
use tunedesk::model::estimate::{available_ram_bytes, TrainShape};
use tunedesk::registry::{self, discover::Found};
use tunedesk::store::ModelInfo;

/// A registered model and whether its files are still there.
#[derive(Serialize)]
pub struct Registered {
    #[serde(flatten)]
    model: ModelInfo,
    present: bool,
}

/// What the Models page shows.
#[derive(Serialize)]
pub struct ModelsPage {
    catalog: Vec<CatalogModel>,
    registered: Vec<Registered>,
    free_ram_bytes: Option<u64>,
    has_token: bool,
}

/// The catalog with training RAM at `batch` × `max_len`, rank `rank`; the registry; free RAM.
#[tauri::command]
pub async fn list_models(
    state: State<'_, AppState>,
    batch: usize,
    max_len: usize,
    rank: usize,
) -> CommandResult<ModelsPage> {
    let hub_cfg = state.hub();
    let has_token = Token::load(state.data_dir().path()).is_some();
    let shape = TrainShape {
        batch,
        seq: max_len,
        rank,
    };
    state
        .with_store(move |s| {
            let registered = s
                .list_models()?
                .into_iter()
                .map(|model| Registered {
                    present: std::path::Path::new(&model.path).exists(),
                    model,
                })
                .collect();
            Ok(ModelsPage {
                catalog: catalog(&hub_cfg, shape)?,
                registered,
                free_ram_bytes: available_ram_bytes(),
                has_token,
            })
        })
        .await
}

/// Starts pulling `repo` (resuming what an earlier pull left) as a background job.
#[tauri::command]
pub async fn pull_model(
    app: AppHandle,
    state: State<'_, AppState>,
    repo: String,
) -> CommandResult<Job> {
    let repo_id = RepoId::parse(repo.trim())?;
    let hub_cfg = state.hub();
    let db = state.data_dir().db_path();
    let job = state
        .jobs
        .spawn(&app, JobKind::Pull, repo_id.to_string(), move |ctx| {
            let pulled = hub::pull(&hub_cfg, &repo_id, "main", &ctx.cancel, &mut |e| {
                pull_progress(ctx, e)
            });
            match pulled {
                Ok(p) => {
                    let entry = registry::record_pull(&mut tunedesk::store::Store::open(db)?, &p)?;
                    Ok((format!("{} is ready to train", entry.name), false))
                }
                Err(hub::HubError::Cancelled) => Ok((
                    "download paused: pull again to continue where it stopped".into(),
                    true,
                )),
                Err(e) => Err(e.into()),
            }
        })?;
    Ok(job)
}

/// A pull event as job progress.
fn pull_progress(ctx: &JobCtx, e: &PullEvent) {
    ctx.update(|job| {
        match e {
            PullEvent::Plan {
                download_bytes,
                total_bytes,
                ..
            } => {
                job.phase = if *download_bytes == 0 {
                    "checking the cache"
                } else {
                    "downloading"
                }
                .into();
                job.total = *total_bytes as f64;
            }
            PullEvent::Progress {
                total_done,
                total,
                bytes_per_s,
                eta_s,
                ..
            } => {
                job.phase = "downloading".into();
                job.done = *total_done as f64;
                job.total = *total as f64;
                job.rate = Some(*bytes_per_s);
                job.eta_s = *eta_s;
            }
            PullEvent::Resuming { .. } => job.phase = "reconnecting".into(),
            PullEvent::Verifying { .. } => job.phase = "verifying".into(),
            PullEvent::FileDone { .. } => job.phase = "downloading".into(),
            PullEvent::Done { .. } => {
                job.phase = "verifying".into();
                job.done = job.total;
            }
            _ => {}
        }
        job.event = serde_json::to_value(e).ok();
    });
}

/// Opens the native dialog for a local model: a `.gguf` file, or (`folder`) a Hugging Face
/// model folder. `None` when the user cancels.
#[tauri::command]
pub async fn pick_model(app: AppHandle, folder: bool) -> CommandResult<Option<PathBuf>> {
    let dialog = app.dialog().file().set_title("Add a local model");
    let picked = if folder {
        dialog.blocking_pick_folder()
    } else {
        dialog
            .add_filter("GGUF model", &["gguf"])
            .blocking_pick_file()
    };
    Ok(picked.and_then(|p| p.into_path().ok()))
}

/// Registers the model at `path` (checked by the engine) under `name` (default: its name).
#[tauri::command]
pub async fn register_model(
    state: State<'_, AppState>,
    path: PathBuf,
    name: Option<String>,
) -> CommandResult<ModelInfo> {
    let name = name.filter(|n| !n.trim().is_empty());
    state
        .with_store(move |s| Ok(registry::add(s, &path, name.as_deref())?))
        .await
}

/// Unregisters `name` (its files stay).
#[tauri::command]
pub async fn remove_model(state: State<'_, AppState>, name: String) -> CommandResult<ModelInfo> {
    state.with_store(move |s| Ok(s.remove_model(&name)?)).await
}

/// GGUF models that Ollama and LM Studio keep on this machine.
#[tauri::command]
pub async fn discover_models() -> CommandResult<Vec<Found>> {
    blocking(|| Ok(registry::discover::discover())).await
}

/// Keeps a Hugging Face token (0600 file in the data folder; never sent back to the window).
#[tauri::command]
pub async fn save_token(state: State<'_, AppState>, token: String) -> CommandResult<()> {
    let Some(token) = Token::new(token) else {
        return Err(anyhow::anyhow!("the token is empty").into());
    };
    let dir = state.data_dir().path().to_path_buf();
    blocking(move || Ok(token.save(&dir)?)).await
}

/// Forgets the saved token.
#[tauri::command]
pub async fn forget_token(state: State<'_, AppState>) -> CommandResult<()> {
    let dir = state.data_dir().path().to_path_buf();
    blocking(move || Ok(Token::forget(&dir)?)).await
}
