//! Generates the app's permissions: one `allow-<command>` per command listed here, so the
//! capability file can allow exactly the app's own commands.

const COMMANDS: &[&str] = &[
    "list_datasets",
    "show_dataset",
    "delete_dataset",
    "pick_file",
    "preview_file",
    "import_dataset",
    "quality_report",
    "split_dataset",
    "dataset_rows",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script failed");
}
