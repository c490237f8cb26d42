// The only module that talks to the Rust side. One async function per Tauri command.
// Rejections carry the engine's message as a string (possibly several lines).

const { invoke, Channel } = window.__TAURI__.core;

/** @returns {Promise<DatasetInfo[]>} */
export async function listDatasets() {
  return invoke('list_datasets');
}

/** @returns {Promise<DatasetStats>} DatasetInfo keys plus label_counts, field_fill, split_counts. */
export async function showDataset(name) {
  return invoke('show_dataset', { name });
}

/** @returns {Promise<DatasetInfo>} the deleted dataset. */
export async function deleteDataset(name) {
  return invoke('delete_dataset', { name });
}

/** Opens the native file dialog. @returns {Promise<string|null>} the chosen path, or null. */
export async function pickFile() {
  return invoke('pick_file');
}

/** @returns {Promise<Preview>} */
export async function previewFile(path) {
  return invoke('preview_file', { path });
}

/**
 * Imports `path` with `spec` (snake_case keys: name, format, delimiter, text_columns,
 * label_column, field_columns, fields_rest, replace). `onProgress` receives
 * {event: "parsed", rows} then {event: "storing", done, total}.
 * @returns {Promise<ImportSummary>}
 */
export async function importDataset(path, spec, onProgress) {
  const onEvent = new Channel();
  onEvent.onmessage = (message) => {
    if (onProgress) onProgress(message);
  };
  return invoke('import_dataset', { path, spec, onEvent });
}

/** @returns {Promise<Report>} */
export async function qualityReport(name) {
  return invoke('quality_report', { name });
}

/**
 * Rows by id (1-based; at most 50 per call).
 * @returns {Promise<Array<{row, line, text, label, fields: [string, string][], split}>>}
 */
export async function datasetRows(name, rows) {
  return invoke('dataset_rows', { name, rows: rows.slice(0, 50) });
}

/** Assigns train/val/test splits. @returns {Promise<{train, val, test, unassigned}>} */
export async function splitDataset(name, val, test, seed) {
  return invoke('split_dataset', { name, val, test, seed });
}
