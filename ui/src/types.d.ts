// Types for the JSDoc of ui/src (checked by `tsc -p ui/jsconfig.json`; nothing is emitted):
// the Tauri global and the JSON the Rust side sends. Field names are the serde names of the
// structs named in each comment (engine in src/, app in src-tauri/src/).

// ---- Tauri (window.__TAURI__, withGlobalTauri) ----

interface TauriChannel<T> {
  onmessage: (message: T) => void;
}

interface TauriEvent<T> {
  event: string;
  id: number;
  payload: T;
}

interface Window {
  __TAURI__: {
    core: {
      invoke<T>(command: string, args?: Record<string, unknown>): Promise<T>;
      Channel: new <T>() => TauriChannel<T>;
    };
    event: {
      listen<T>(event: string, handler: (event: TauriEvent<T>) => void): Promise<() => void>;
    };
  };
}

// ---- dom.js ----

/** A child of `h` and `setChildren`: a node, a string or number (as text), an array of
 * children, or null/undefined/false (skipped). */
type DomChild = Node | string | number | boolean | null | undefined | DomChild[];

// ---- the router (main.js) ----

/** What `navigate` gives a page's `render(params, ctx)`. */
interface PageContext {
  navigate(name: string, params?: Record<string, unknown>): void;
  /** Whether the page is still the one shown. */
  alive(): boolean;
  /** Registers clean-up (timers, subscriptions) for when the page is left. */
  onLeave(fn: () => void): void;
}

// ---- datasets (src/example.rs, src/dataset/mod.rs) ----

interface DatasetInfo {
  id: number;
  name: string;
  source: string;
  /** `csv` or `jsonl`. */
  format: string;
  text_columns: string[];
  label_column: string;
  fields: string[];
  rows: number;
  /** Labels changed since import. */
  edits: number;
  /** RFC 3339 UTC. */
  created_at: string;
}

interface SplitCounts {
  train: number;
  val: number;
  test: number;
  unassigned: number;
}

interface FieldFill {
  name: string;
  present: number;
  rate: number;
}

interface DatasetStats extends DatasetInfo {
  /** [label, rows], most frequent first. */
  label_counts: [string, number][];
  field_fill: FieldFill[];
  split_counts: SplitCounts;
}

type Split = 'train' | 'val' | 'test';

/** One stored row (`Example`). */
interface Example {
  row: number;
  line: number;
  text: string;
  label: string;
  fields: [string, string][];
  split: Split | null;
  extra?: Record<string, string>;
}

// ---- import (src/import/mod.rs, src/import/preview.rs) ----

type Format = 'csv' | 'jsonl';

interface Suggestion {
  text: string[];
  label: string | null;
  fields: string[];
}

interface Preview {
  format: Format;
  delimiter: string | null;
  columns: string[];
  /** The first rows, one cell per column. */
  rows: string[][];
  total_rows: number;
  suggestion: Suggestion;
  suggested_name: string;
  problem_count: number;
  /** The first problems, as `file:line: message`. */
  problems: string[];
}

interface ImportSpec {
  name: string;
  format: Format | null;
  delimiter: number | null;
  text_columns: string[];
  label_column: string | null;
  field_columns: string[];
  fields_rest: boolean;
  replace: boolean;
}

type ImportEvent = { event: 'parsed'; rows: number } | { event: 'storing'; done: number; total: number };

interface ImportSummary {
  dataset: DatasetInfo;
  rows: number;
  format: Format;
  delimiter: string | null;
  unmapped_columns: string[];
}

// ---- quality (src/quality/mod.rs) ----

type Severity = 'error' | 'warning' | 'info';

type Check =
  | 'exact_duplicate'
  | 'near_duplicate'
  | 'conflicting_labels'
  | 'label_variants'
  | 'class_imbalance'
  | 'small_class'
  | 'missing_field'
  | 'field_name_variants'
  | 'value_not_in_text'
  | 'over_long'
  | 'split_leakage';

interface Finding {
  check: Check;
  severity: Severity;
  message: string;
  /** Row ids (1-based). */
  rows: number[];
}

interface QualityOptions {
  max_tokens: number;
  min_class_rows: number;
  layout_majority: number;
  layout_min_rows: number;
  imbalance_ratio: number;
}

interface Report {
  dataset: string;
  rows: number;
  options: QualityOptions;
  token_estimate: string;
  summary: [Check, number][];
  /** Most severe first. */
  findings: Finding[];
}

// ---- models (src/store/models.rs, src/hub/catalog.rs, src/registry/discover.rs,
// src-tauri/src/commands/models.rs) ----

interface ModelInfo {
  id: number;
  name: string;
  kind: 'hub' | 'folder' | 'gguf';
  source: string;
  revision: string | null;
  path: string;
  architecture: string;
  params: number;
  size_bytes: number;
  created_at: string;
}

/** `Registered`: a model and whether its files are still there. */
interface RegisteredModel extends ModelInfo {
  present: boolean;
}

interface CatalogModel {
  repo: string;
  family: 'llama' | 'qwen2';
  params: number;
  download_bytes: number;
  license: string;
  gated: boolean;
  /** At the training shape asked for. */
  train_ram_bytes: number;
  cached: boolean;
}

/** `ModelsPage`. */
interface ModelsPage {
  catalog: CatalogModel[];
  registered: RegisteredModel[];
  free_ram_bytes: number | null;
  has_token: boolean;
}

/** A GGUF file of Ollama or LM Studio. */
interface Found {
  app: 'ollama' | 'lm-studio';
  name: string;
  path: string;
  size_bytes: number;
  architecture: string | null;
  supported: boolean;
}

// ---- training (src/train/mod.rs, src/model/lora.rs, presets.rs, preflight.rs,
// src-tauri/src/commands/train.rs) ----

interface LoraConfig {
  rank: number;
  alpha: number;
  dropout: number;
  target_modules: string[];
}

interface TrainConfig {
  /** null: automatic (a run stores the number it chose). */
  epochs: number | null;
  lr: number;
  batch_size: number;
  grad_accum: number;
  weight_decay: number;
  warmup_ratio: number;
  scheduler: 'cosine' | 'linear' | 'constant';
  lora: LoraConfig;
  max_len: number;
  eval_every: number | null;
  patience: number | null;
  /** What the best checkpoint and early stopping follow. */
  select_by: SelectBy;
  /** Validation tickets decoded at each validation (0: the loss only). */
  score_rows: number;
  max_steps: number | null;
  seed: number;
  /** The prompt head a micro-batch shares runs once for all its rows. */
  shared_head: boolean;
}

type SelectBy = 'loss' | 'accuracy' | 'macro_f1' | 'field_f1' | 'task';

/** The task's scores on a run's decoded validation sample (`metrics::TaskScores`). */
interface TaskScores {
  examples: number;
  accuracy: number;
  macro_f1: number;
  field_f1: number | null;
}

interface Preset {
  id: string;
  name: string;
  description: string;
  config: TrainConfig;
  val_limit: number;
}

/** `Settings` of `train_settings`: what the Train page's form starts from. */
interface TrainSettings {
  defaults: TrainConfig;
  val_limit: number;
  presets: Preset[];
  /** [id, label, description] of what the best checkpoint can follow. */
  selections: [SelectBy, string, string][];
  /** Where runs can train here, the default first (the CPU always, last). */
  devices: DeviceInfo[];
}

/** A device this build can use (src/model/device.rs). */
interface DeviceInfo {
  /** `cpu`, `cuda:N` or `metal:N`. */
  id: string;
  name: string;
  memory_bytes: number | null;
}

/** The settings the user works with (settings.js, kept in localStorage). */
interface ChosenSettings {
  config: TrainConfig;
  val_limit: number;
  /** The preset last applied, if any. */
  preset: string | null;
  /** The device last chosen (the engine's first when absent or gone). */
  device?: string;
}

interface Estimate {
  seconds: number;
  tokens_per_s: number;
  basis: { from: 'run'; name: string } | { from: 'bench' };
}

interface Preflight {
  train_examples: number;
  val_examples: number;
  /** Passes over the training tickets (the automatic number when none was set). */
  epochs: number;
  total_steps: number;
  truncated: number;
  longest_tokens: number;
  epoch_tokens: number;
  ram_bytes: number;
  free_ram_bytes: number | null;
  /** The memory of the GPU it trains on, when it trains on one. */
  gpu_memory_bytes: number | null;
  checkpoint_bytes: number;
  /** None on a GPU no run of this model has trained on yet. */
  estimate: Estimate | null;
}

// ---- runs (src/store/runs.rs, src/train/run.rs, src/train/summary.rs, src/chart/loss.rs,
// src-tauri/src/commands/runs.rs) ----

type RunStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** What a run trains (stored as the run's `config`). */
interface RunSpec {
  dataset: string;
  model: string;
  config: TrainConfig;
  train_limit: number | null;
  val_limit: number | null;
}

interface RunInfo {
  id: number;
  name: string;
  dataset: string;
  model: string;
  config: RunSpec;
  template: unknown;
  status: RunStatus;
  best_step: number | null;
  error: string | null;
  created_at: string;
  updated_at: string;
  steps: number;
  /** Confidence under which predict leaves the label empty. */
  abstain_below: number | null;
}

/** The headline scores of an evaluation. */
interface Scores {
  dataset: string;
  split: string;
  examples: number;
  accuracy: number;
  macro_f1: number;
  field_f1: number | null;
}

/** A row of the Runs table (`RunSummary` + `active`, `interrupted`). */
interface RunRow extends RunInfo {
  model_label: string;
  best_val_loss: number | null;
  /** The task scores of the best checkpoint's validation, when measured. */
  best_scores: TaskScores | null;
  evals: number;
  latest_eval: Scores | null;
  /** A job of this session trains it now. */
  active: boolean;
  /** Marked running but nothing trains it. */
  interrupted: boolean;
}

interface StepRecord {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_s: number;
}

interface RunMetrics {
  steps: StepRecord[];
  evals: { step: number; val_loss: number; scores: TaskScores | null }[];
  /** [step, message]. */
  warnings: [number, string][];
}

interface RunDetail extends RunRow {
  metrics: RunMetrics;
  overfit_step: number | null;
  kept_steps: number[];
  /** Where it trains (`cpu` for runs stored before devices were recorded). */
  device: string | null;
  loss_svg: string | null;
  panels_svg: string | null;
}

/** How a loss chart is drawn. */
interface LossView {
  x: 'step' | 'epoch';
  log: boolean;
}

interface Comparison {
  runs: RunInfo[];
  svg: string;
}

/** An export format (`tunedesk::export::FormatInfo`). */
interface FormatInfo {
  format: 'peft' | 'merged' | 'gguf' | 'ollama';
  label: string;
  description: string;
  precisions: Array<'f32' | 'bf16' | 'f16' | 'q8_0'>;
  default_precision: 'f32' | 'bf16' | 'f16' | 'q8_0';
}

// ---- jobs (src-tauri/src/jobs.rs) ----

interface Job {
  id: number;
  kind: 'pull' | 'train' | 'export' | 'evaluate' | 'predict';
  /** The repo id of a pull, the name of a run. */
  subject: string;
  state: 'running' | 'done' | 'cancelled' | 'failed';
  phase: string;
  done: number;
  total: number;
  unit: 'bytes' | 'steps' | 'files' | 'tickets';
  rate: number | null;
  eta_s: number | null;
  elapsed_s: number;
  message: string | null;
  /** The latest `TrainEvent` or `PullEvent` (tagged by `event`). */
  event: { event: string; [key: string]: unknown } | null;
  /** Counts the job's changes (the newest wins). */
  revision: number;
}

// ---- evaluation (src/metrics.rs, src/store/evals.rs, src/evaluate/) ----

/** A training job handed to another trainer (src/handoff/). */
interface HandoffWritten {
  dir: string;
  files: string[];
  train_rows: number;
  val_rows: number;
  epochs: number;
}

/** One side's answer on the Try page (src/evaluate/trial.rs). */
interface TrialAnswer {
  /** `fine-tuned`, `5-shot base`, … */
  side: string;
  label: string | null;
  fields: [string, string][];
  confidence: number | null;
  output: string;
  /** The most probable labels, most probable first. */
  top: { label: string; probability: number }[];
  seconds: number;
}

/** A CSV file to predict (src/predict/table.rs). */
interface TableJob {
  input: string;
  text_columns: string[];
  output: string;
  /** Needs review (label left empty) below this confidence; null: the run's saved threshold. */
  abstain_below: number | null;
}

interface TableSummary {
  predicted: number;
  abstained: number;
  bad_rows: string[];
  bad_total: number;
  output: string;
}

interface Answer {
  label: string | null;
  fields: [string, string][];
  confidence?: number | null;
}

interface ClassScore {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

interface FieldScore {
  name: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

interface Metrics {
  examples: number;
  correct: number;
  accuracy: number;
  macro_f1: number;
  weighted_f1: number;
  per_class: ClassScore[];
  confusion: { labels: string[]; counts: number[][]; unparseable: number[] };
  fields: { per_field: FieldScore[]; micro_precision: number; micro_recall: number; micro_f1: number; exact_match: number } | null;
  sentence_accuracy: number;
  unparseable: number;
  unparseable_rate: number;
  mean_confidence: number | null;
}

interface EvalInfo {
  id: number;
  run_id: number | null;
  run: string | null;
  checkpoint: string | null;
  model: string;
  dataset: string;
  split: string;
  shots: number | null;
  constrained: boolean;
  limit: number | null;
  int8: boolean;
  metrics: Metrics;
  seconds: number;
  created_at: string;
}

interface EvalRecord {
  example_id: number | null;
  input: string;
  gold: Answer;
  predicted: Answer;
  output: string;
}

interface CoveragePoint {
  threshold: number;
  kept: number;
  coverage: number;
  accuracy: number | null;
}

interface Difference {
  metric: 'accuracy' | 'macro_f1' | 'field_f1';
  value: number;
  low: number;
  high: number;
}

interface EvalComparison {
  columns: { name: string; eval: EvalInfo }[];
  verdict: { against: string; differences: Difference[]; verdict: 'worth_it' | 'marginal' | 'baseline_enough'; sentence: string } | null;
  /** Baselines left out, and why. */
  skipped: string[];
}

interface EvalDetail {
  eval: EvalInfo;
  records: EvalRecord[];
  coverage: CoveragePoint[];
  comparison: EvalComparison;
  run: RunInfo | null;
}

interface Suspect {
  row: number;
  text: string;
  gold: string;
  predicted: string;
  confidence: number;
  confirmed: boolean | null;
}

interface Edit {
  row: number;
  old_label: string;
  new_label: string;
  reason: string;
  author: string;
  edited_at: string;
}
