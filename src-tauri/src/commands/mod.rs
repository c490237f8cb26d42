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
