//! The TuneDesk desktop app: a Tauri shell over the `tunedesk` engine.
//!
//! Architecture invariant: this crate holds no logic of its own. Commands in [`commands`] are
//! a few lines each: take the managed [`state::AppState`], call the engine, map the error.

mod commands;
mod error;
mod jobs;
mod state;

use state::AppState;
use tauri::{Emitter, Manager, WindowEvent};

/// Builds and runs the app. The data directory comes from `--data-dir DIR`, else
/// `$TUNEDESK_HOME`, else the platform data directory (as for the CLI).
pub fn run() {
    tunedesk::model::configure_cpu_threads();
    let data_dir = tunedesk::paths::DataDir::resolve(data_dir_arg().as_deref());
    let state = match AppState::open(&data_dir) {
        Ok(state) => state,
        Err(err) => {
            eprintln!("TuneDesk cannot open its database: {err:#}");
            std::process::exit(1);
        }
    };
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::datasets::list_datasets,
            commands::datasets::show_dataset,
            commands::datasets::delete_dataset,
            commands::datasets::dataset_rows,
            commands::datasets::split_dataset,
            commands::import::pick_file,
            commands::import::preview_file,
            commands::import::import_dataset,
            commands::import::import_sample,
            commands::quality::quality_report,
            commands::models::list_models,
            commands::models::pull_model,
            commands::models::pick_model,
            commands::models::register_model,
            commands::models::remove_model,
            commands::models::discover_models,
            commands::models::save_token,
            commands::models::forget_token,
            commands::train::train_settings,
            commands::train::preflight_run,
            commands::train::start_run,
            commands::train::resume_run,
            commands::runs::list_runs,
            commands::runs::run_detail,
            commands::runs::compare_runs,
            commands::runs::delete_run,
            commands::evaluate::list_evaluations,
            commands::evaluate::evaluation_detail,
            commands::evaluate::evaluate_run,
            commands::evaluate::compare_evaluation,
            commands::evaluate::set_abstain_below,
            commands::evaluate::suspected_mislabels,
            commands::evaluate::relabel_row,
            commands::evaluate::dismiss_mislabel,
            commands::evaluate::export_evaluation,
            commands::predict::try_ticket,
            commands::predict::pick_predictions_file,
            commands::predict::predict_file,
            commands::export::export_formats,
            commands::export::pick_export_folder,
            commands::export::export_run,
            commands::export::handoff_run,
            commands::jobs::list_jobs,
            commands::jobs::cancel_job,
            commands::jobs::quit_app,
        ])
        .on_window_event(ask_before_closing_during_a_run)
        .run(tauri::generate_context!())
        .expect("error while running TuneDesk");
}

/// Closing the window while a run trains asks first (the window shows the question); quitting
/// then goes through `quit_app`, which lets the runs save a checkpoint.
fn ask_before_closing_during_a_run(window: &tauri::Window, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event {
        let state = window.state::<AppState>();
        if state.jobs.running(jobs::JobKind::Train) > 0 {
            api.prevent_close();
            let _ = window.emit("close-requested", ());
        }
    }
}

fn data_dir_arg() -> Option<std::path::PathBuf> {
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--data-dir" {
            return args.next().map(Into::into);
        }
        if let Some(v) = arg.to_str().and_then(|a| a.strip_prefix("--data-dir=")) {
            return Some(v.into());
        }
    }
    None
}
