//! `tunedesk.json`, written beside every export: what another program needs to use the model
//! the way TuneDesk does — the prompt template (and the exact prompt it renders), the labels,
//! the field names in their order, the base model, and the SHA-256 of every file written.

use super::{io, ExportError, ExportFormat};
use crate::adapter::{AdapterInfo, Checkpoint};
use crate::hub::sha256_file;
use crate::store::RunInfo;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

pub use crate::adapter::BUNDLE_FILE;

/// The bundle's layout version (raised when a key changes meaning).
const BUNDLE_VERSION: u32 = 1;

#[derive(Serialize)]
struct Bundle<'a> {
    tunedesk_bundle: u32,
    format: ExportFormat,
    run: &'a str,
    checkpoint: String,
    base_model: String,
    template: &'a crate::template::Template,
    /// The prompt for a ticket, `{ticket}` standing for its text.
    prompt: String,
    labels: &'a [String],
    fields: &'a [String],
    /// Predictions below this confidence are left unlabelled (`None`: never).
    abstain_below: Option<f64>,
    files: BTreeMap<String, String>,
}

/// Writes the bundle into `dir`, hashing the `files` already there.
pub(super) fn write(
    dir: &Path,
    format: ExportFormat,
    run: &RunInfo,
    checkpoint: Checkpoint,
    info: &AdapterInfo,
    base_model: &str,
    files: &[String],
) -> Result<(), ExportError> {
    let mut hashes = BTreeMap::new();
    for f in files {
        let path = dir.join(f);
        hashes.insert(f.clone(), sha256_file(&path).map_err(io(&path))?);
    }
    let bundle = Bundle {
        tunedesk_bundle: BUNDLE_VERSION,
        format,
        run: &run.name,
        checkpoint: checkpoint.to_string(),
        base_model: base_model.to_string(),
        template: &info.template,
        prompt: info.template.prompt("{ticket}"),
        labels: &info.labels,
        fields: &info.fields,
        abstain_below: None,
        files: hashes,
    };
    let path = dir.join(BUNDLE_FILE);
    let text = serde_json::to_string_pretty(&bundle).expect("the bundle serializes") + "\n";
    std::fs::write(&path, text).map_err(io(&path))
}
