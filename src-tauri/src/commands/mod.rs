//! Tauri commands, one module per engine stage. Each command is a thin adapter.

pub mod datasets;
pub mod import;
pub mod quality;
