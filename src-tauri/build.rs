//! Generates the app's permissions: one `allow-<command>` per command listed here, so the
//! capability file can allow exactly the app's own commands.

const COMMANDS: &[&str] = &[
    "list_datasets",
    "show_dataset",
    "delete_dataset",
    "pick_file",
    "preview_file",
    "import_dataset",
    "import_sample",
    "quality_report",
    "split_dataset",
    "dataset_rows",
    "list_models",
    "pull_model",
    "pick_model",
    "register_model",
    "remove_model",
    "discover_models",
    "save_token",
    "forget_token",
    "train_settings",
    "preflight_run",
    "start_run",
    "resume_run",
    "list_runs",
    "run_detail",
    "compare_runs",
    "delete_run",
    "list_evaluations",
    "evaluation_detail",
    "evaluate_run",
    "compare_evaluation",
    "set_abstain_below",
    "suspected_mislabels",
    "relabel_row",
    "dismiss_mislabel",
    "export_evaluation",
    "try_ticket",
    "pick_predictions_file",
    "predict_file",
    "export_formats",
    "pick_export_folder",
    "export_run",
    "handoff_run",
    "list_jobs",
    "cancel_job",
    "quit_app",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script failed");
}
