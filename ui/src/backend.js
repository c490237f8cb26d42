// The only module that talks to the Rust side. One async function per Tauri command.
// Rejections carry the engine's message as a string (possibly several lines).

const { invoke, Channel } = window.__TAURI__.core;

/** @returns {Promise<DatasetInfo[]>} */
export async function listDatasets() {
  return invoke('list_datasets');
}

/**
 * @param {string} name
 * @returns {Promise<DatasetStats>} DatasetInfo keys plus label_counts, field_fill, split_counts.
 */
export async function showDataset(name) {
  return invoke('show_dataset', { name });
}

/**
 * @param {string} name
 * @returns {Promise<DatasetInfo>} the deleted dataset.
 */
export async function deleteDataset(name) {
  return invoke('delete_dataset', { name });
}

/** Opens the native file dialog. @returns {Promise<string|null>} the chosen path, or null. */
export async function pickFile() {
  return invoke('pick_file');
}

/**
 * @param {string} path
 * @returns {Promise<Preview>}
 */
export async function previewFile(path) {
  return invoke('preview_file', { path });
}

/**
 * Imports `path` with `spec` (snake_case keys: name, format, delimiter, text_columns,
 * label_column, field_columns, fields_rest, replace). `onProgress` receives
 * {event: "parsed", rows} then {event: "storing", done, total}.
 * @param {string} path
 * @param {ImportSpec} spec
 * @param {(event: ImportEvent) => void} [onProgress]
 * @returns {Promise<ImportSummary>}
 */
export async function importDataset(path, spec, onProgress) {
  /** @type {TauriChannel<ImportEvent>} */
  const onEvent = new Channel();
  onEvent.onmessage = (message) => {
    if (onProgress) onProgress(message);
  };
  return invoke('import_dataset', { path, spec, onEvent });
}

/** Imports the sample dataset of support tickets. @returns {Promise<ImportSummary>} */
export async function importSample() {
  return invoke('import_sample');
}

/**
 * @param {string} name
 * @returns {Promise<Report>}
 */
export async function qualityReport(name) {
  return invoke('quality_report', { name });
}

/**
 * Rows by id (1-based; at most 50 per call).
 * @param {string} name
 * @param {number[]} rows
 * @returns {Promise<Example[]>}
 */
export async function datasetRows(name, rows) {
  return invoke('dataset_rows', { name, rows: rows.slice(0, 50) });
}

/**
 * Assigns train/val/test splits.
 * @param {string} name
 * @param {number} val  fraction for validation
 * @param {number} test  fraction for test
 * @param {number} seed
 * @returns {Promise<SplitCounts>}
 */
export async function splitDataset(name, val, test, seed) {
  return invoke('split_dataset', { name, val, test, seed });
}

// ---- models ----

/**
 * The catalog (training RAM at batch × maxLen, rank), registered models, free RAM and whether
 * a token is saved.
 * @param {number} batch
 * @param {number} maxLen
 * @param {number} rank
 * @returns {Promise<ModelsPage>}
 */
export async function listModels(batch, maxLen, rank) {
  return invoke('list_models', { batch, maxLen, rank });
}

/**
 * Starts downloading `repo` as a background job.
 * @param {string} repo
 * @returns {Promise<Job>}
 */
export async function pullModel(repo) {
  return invoke('pull_model', { repo });
}

/**
 * Native dialog for a .gguf file or (folder) a model folder.
 * @param {boolean} folder
 * @returns {Promise<string|null>}
 */
export async function pickModel(folder) {
  return invoke('pick_model', { folder });
}

/**
 * Registers a local model.
 * @param {string} path
 * @param {string | null} name  default: the model's own name
 * @returns {Promise<ModelInfo>}
 */
export async function registerModel(path, name) {
  return invoke('register_model', { path, name: name || null });
}

/**
 * Unregisters a model (its files stay).
 * @param {string} name
 * @returns {Promise<ModelInfo>}
 */
export async function removeModel(name) {
  return invoke('remove_model', { name });
}

/** GGUF models of Ollama and LM Studio on this machine. @returns {Promise<Found[]>} */
export async function discoverModels() {
  return invoke('discover_models');
}

/**
 * Saves a Hugging Face token (it is never sent back).
 * @param {string} token
 * @returns {Promise<void>}
 */
export async function saveToken(token) {
  return invoke('save_token', { token });
}

/**
 * Forgets the saved token.
 * @returns {Promise<void>}
 */
export async function forgetToken() {
  return invoke('forget_token');
}

// ---- training ----

/** @returns {Promise<TrainSettings>} */
export async function trainSettings() {
  return invoke('train_settings');
}

/**
 * What a run would take (steps, cut tickets, RAM, disk, duration).
 * @param {string} dataset
 * @param {string} model
 * @param {TrainConfig} config
 * @param {number} valLimit
 * @param {string} device  `cpu`, `cuda:N` or `metal:N`
 * @returns {Promise<Preflight>}
 */
export async function preflightRun(dataset, model, config, valLimit, device) {
  return invoke('preflight_run', { plan: { dataset, model, config, valLimit, device } });
}

/**
 * Starts a run as a background job.
 * @param {string} name
 * @param {string} dataset
 * @param {string} model
 * @param {TrainConfig} config
 * @param {number} valLimit
 * @param {string} device  `cpu`, `cuda:N` or `metal:N`
 * @returns {Promise<Job>}
 */
export async function startRun(name, dataset, model, config, valLimit, device) {
  return invoke('start_run', { name, plan: { dataset, model, config, valLimit, device } });
}

/**
 * Continues a stopped run from its last checkpoint.
 * @param {string} name
 * @returns {Promise<Job>}
 */
export async function resumeRun(name) {
  return invoke('resume_run', { name });
}

// ---- runs ----

/** @returns {Promise<RunRow[]>} newest first. */
export async function listRuns() {
  return invoke('list_runs');
}

/**
 * One run with its metrics and charts drawn as `view` ({x: 'step'|'epoch', log}) asks.
 * @param {string} name
 * @param {LossView} view
 * @returns {Promise<RunDetail>}
 */
export async function runDetail(name, view) {
  return invoke('run_detail', { name, view });
}

/**
 * 2–4 runs: their records and an overlay chart.
 * @param {string[]} names
 * @param {LossView} view
 * @returns {Promise<Comparison>}
 */
export async function compareRuns(names, view) {
  return invoke('compare_runs', { names, view });
}

/**
 * Deletes a run and its checkpoints.
 * @param {string} name
 * @returns {Promise<RunInfo>} the deleted run.
 */
export async function deleteRun(name) {
  return invoke('delete_run', { name });
}

// ---- export ----

/**
 * Native dialog for the folder an export creates. @param {string} suggested
 * @returns {Promise<string|null>}
 */
export async function pickExportFolder(suggested) {
  return invoke('pick_export_folder', { suggested });
}

/** The export formats with their descriptions and precisions. @returns {Promise<FormatInfo[]>} */
export async function exportFormats() {
  return invoke('export_formats');
}

/**
 * Exports a run's checkpoint ('best', 'last' or a step) in `format` at `precision` (null: the
 * format's default) into the new folder `out`, as a job.
 * @param {string} name @param {string} checkpoint @param {string} format
 * @param {string | null} precision @param {string} out @returns {Promise<Job>}
 */
export async function exportRun(name, checkpoint, format, precision, out) {
  return invoke('export_run', { name, checkpoint, format, precision, out });
}

/**
 * Hands run `name`'s training job to `target` ('axolotl' | 'llama-factory') as the new
 * folder `out` (`baseModel`: the repo id the GPU machine loads; null: the run's).
 * @param {string} name @param {string} target @param {string | null} baseModel @param {string} out
 * @returns {Promise<HandoffWritten>}
 */
export async function handoffRun(name, target, baseModel, out) {
  return invoke('handoff_run', { name, target, baseModel, out });
}

// ---- jobs ----

/** Every job of this session. @returns {Promise<Job[]>} */
export async function listJobs() {
  return invoke('list_jobs');
}

/**
 * Asks a job to stop.
 * @param {number} id
 * @returns {Promise<boolean>}
 */
export async function cancelJob(id) {
  return invoke('cancel_job', { id });
}

/**
 * Stops every job (runs keep a checkpoint) and quits.
 * @returns {Promise<void>}
 */
export async function quitApp() {
  return invoke('quit_app');
}

/**
 * @param {string} run
 * @returns {Promise<EvalInfo[]>} newest first.
 */
export async function listEvaluations(run) {
  return invoke('list_evaluations', { run });
}

/**
 * @param {number} id
 * @returns {Promise<EvalDetail>}
 */
export async function evaluationDetail(id) {
  return invoke('evaluation_detail', { id });
}

/**
 * Evaluates a run as a background job.
 * @param {string} name @param {string} checkpoint best, last or a step
 * @param {string} dataset @param {string} split test, val, train or all
 * @param {number | null} limit
 * @returns {Promise<Job>}
 */
export async function evaluateRun(name, checkpoint, dataset, split, limit) {
  return invoke('evaluate_run', { name, checkpoint, dataset, split, limit });
}

/**
 * Evaluates the missing zero- and few-shot baselines of evaluation `id` as a background job.
 * @param {number} id
 * @returns {Promise<Job>}
 */
export async function compareEvaluation(id) {
  return invoke('compare_evaluation', { id });
}

/**
 * @param {string} name @param {number | null} below
 * @returns {Promise<RunInfo>}
 */
export async function setAbstainBelow(name, below) {
  return invoke('set_abstain_below', { name, below });
}

/**
 * @param {string} dataset @param {number} evalId @param {number | null} second
 * @returns {Promise<Suspect[]>}
 */
export async function suspectedMislabels(dataset, evalId, second) {
  return invoke('suspected_mislabels', { dataset, eval: evalId, second });
}

/**
 * @param {string} dataset @param {number} row @param {string} from @param {string} to @param {string} reason
 * @returns {Promise<Edit[]>}
 */
export async function relabelRow(dataset, row, from, to, reason) {
  return invoke('relabel_row', { dataset, row, from, to, reason });
}

/**
 * @param {string} dataset @param {number} row @param {string} label
 * @returns {Promise<void>}
 */
export async function dismissMislabel(dataset, row, label) {
  return invoke('dismiss_mislabel', { dataset, row, label });
}

/**
 * Asks where to save evaluation `id` (native dialog), then writes it: .md report, .csv
 * answers, .svg/.png confusion chart.
 * @param {number} id @param {string} suggested file name
 * @returns {Promise<string | null>} the path written, or null when cancelled.
 */
export async function exportEvaluation(id, suggested) {
  return invoke('export_evaluation', { id, suggested });
}

// ---- try and predict ----

/**
 * Run `run`'s answer at `checkpoint` to one ticket (and its base model's, with `base`); the
 * models stay loaded for the next ticket.
 * @param {string} run @param {string} checkpoint @param {string} text @param {boolean} base
 * @returns {Promise<TrialAnswer[]>} the fine-tuned side first.
 */
export async function tryTicket(run, checkpoint, text, base) {
  return invoke('try_ticket', { run, checkpoint, text, base });
}

/** Asks where to save predictions (native dialog). @param {string} suggested @returns {Promise<string|null>} */
export async function pickPredictionsFile(suggested) {
  return invoke('pick_predictions_file', { suggested });
}

/**
 * Predicts a CSV file of tickets as a background job (its event: the `TableSummary`).
 * @param {string} run @param {string} checkpoint @param {TableJob} job
 * @returns {Promise<Job>}
 */
export async function predictFile(run, checkpoint, job) {
  return invoke('predict_file', { run, checkpoint, job });
}

const { listen } = window.__TAURI__.event;

/**
 * Calls `handler(job)` on every job change.
 * @param {(job: Job) => void} handler
 * @returns {Promise<() => void>} unlisten
 */
export async function onJob(handler) {
  return listen('job', (/** @type {TauriEvent<Job>} */ e) => handler(e.payload));
}

/**
 * Calls `handler()` when the user closes the window while a run trains.
 * @param {() => void} handler
 * @returns {Promise<() => void>} unlisten
 */
export async function onCloseRequested(handler) {
  return listen('close-requested', () => handler());
}
