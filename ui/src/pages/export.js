// The export dialog of a run page: format, precision, checkpoint, a new folder (native dialog),
// then a background job whose phases and verification result show here as it goes.

import { exportFormats, exportRun, pickExportFolder, handoffRun } from '../backend.js';
import { h, button, showError, clearError, setChildren } from '../dom.js';
import * as jobs from '../jobs.js';

/** @param {string} id @param {Array<[string, string]>} options */
function select(id, options) {
  return h('select', { id, class: 'input input-small' }, options.map(([value, label]) => h('option', { value }, label)));
}

/**
 * The export card, built once per page so what the user chose stays across refreshes;
 * `update(detail)` refreshes the checkpoints offered and whether the card shows.
 * @param {string} name @param {PageContext} ctx
 * @returns {{ card: HTMLElement, update: (d: RunDetail) => void }}
 */
export function exportCard(name, ctx) {
  const format = select('export-format', []);
  const precision = select('export-precision', []);
  const checkpoint = select('export-checkpoint', [['best', 'Best'], ['last', 'Last']]);
  const about = h('p', { class: 'muted', id: 'export-about' });
  const out = h('input', { id: 'export-out', class: 'input input-path', type: 'text', placeholder: '/path/to/a new folder', spellcheck: 'false' });
  const status = h('p', { id: 'export-status', class: 'muted small' });
  const error = h('div', { class: 'error-box', hidden: true });
  /** @type {FormatInfo[]} */
  let formats = [];
  const chosen = () => formats.find((f) => f.format === format.value);
  const showFormat = () => {
    const f = chosen();
    if (!f) return;
    about.textContent = `${f.description} TuneDesk reloads what it wrote and checks that it labels validation tickets as the run does${f.precisions.includes('q8_0') ? ' (at Q8_0, at least 90 % of them)' : ''}.`;
    setChildren(precision, ...f.precisions.map((p) => h('option', { value: p, selected: p === f.default_precision }, p.toUpperCase())));
    precision.disabled = f.precisions.length < 2;
  };
  format.addEventListener('change', showFormat);
  exportFormats()
    .then((list) => {
      formats = list;
      setChildren(format, ...list.map((f) => h('option', { value: f.format }, f.label)));
      showFormat();
    })
    .catch((e) => showError(error, e));
  const suggested = () => `${name}-${format.value}`;
  const choose = () => pickExportFolder(suggested()).then((path) => path && (out.value = path));
  const go = () => {
    clearError(error);
    exportRun(name, checkpoint.value, format.value, precision.value || null, out.value.trim())
      .then(jobs.put)
      .catch((e) => showError(error, e));
  };
  ctx.onLeave(
    jobs.subscribe((job) => {
      if (job.kind !== 'export' || !job.subject.startsWith(`${name} → `) || !ctx.alive()) return false;
      status.textContent = job.state === 'running' ? `Exporting: ${job.phase}…` : job.message || job.state;
      status.dataset.state = job.state;
      return true;
    }),
  );
  const card = h(
    'div',
    { class: 'card', id: 'export-card', hidden: true },
    h('h2', { class: 'card-title' }, 'Export'),
    h('div', { class: 'row' }, h('label', { class: 'field-inline' }, 'Format ', format), h('label', { class: 'field-inline' }, 'Precision ', precision), h('label', { class: 'field-inline' }, 'Checkpoint ', checkpoint)),
    about,
    h('div', { class: 'row' }, out, button('Choose…', { id: 'btn-export-choose', onClick: choose }), button('Export', { id: 'btn-export', variant: 'primary', onClick: go })),
    status,
    error,
    handoffSection(name),
  );
  /** @param {RunDetail} d */
  const update = (d) => {
    card.hidden = d.best_step === null && d.status !== 'done';
    const steps = d.kept_steps.map(String);
    const offered = Array.from(checkpoint.options).slice(2).map((o) => o.value);
    if (steps.join() !== offered.join()) {
      const keep = checkpoint.value;
      setChildren(checkpoint, h('option', { value: 'best' }, 'Best'), h('option', { value: 'last' }, 'Last'), ...steps.map((s) => h('option', { value: s }, `Step ${s}`)));
      checkpoint.value = keep;
    }
  };
  return { card, update };
}

/**
 * Train elsewhere: the same job (rows, prompt and completion text, settings) as a folder for
 * Axolotl or LLaMA-Factory on GPU machines.
 * @param {string} name
 */
function handoffSection(name) {
  const target = select('handoff-target', [['axolotl', 'Axolotl'], ['llama-factory', 'LLaMA-Factory']]);
  const base = h('input', { id: 'handoff-base', class: 'input', type: 'text', placeholder: "the run's base model", spellcheck: 'false' });
  const out = h('input', { id: 'handoff-out', class: 'input input-path', type: 'text', placeholder: '/path/to/a new folder', spellcheck: 'false' });
  const status = h('p', { id: 'handoff-status', class: 'muted small' });
  const error = h('div', { class: 'error-box', hidden: true });
  const choose = () => pickExportFolder(`${name}-${target.value}`).then((path) => path && (out.value = path));
  const go = () => {
    clearError(error);
    handoffRun(name, target.value, base.value.trim() || null, out.value.trim())
      .then((w) => (status.textContent = `Wrote ${w.dir}: ${w.train_rows} training and ${w.val_rows} validation rows, ${w.epochs} epochs, ${w.files.length} files. Copy it to the GPU machine and follow its README.md.`))
      .catch((e) => showError(error, e));
  };
  return h(
    'div',
    { class: 'stack', id: 'handoff' },
    h('h3', { class: 'card-subtitle' }, 'Train elsewhere (GPUs)'),
    h('p', { class: 'muted' }, "The same job for a multi-GPU trainer: the rows as TuneDesk renders them, the trainer's config with these settings, run.sh for one or N GPUs, and a README naming what it cannot carry over."),
    h('div', { class: 'row' }, h('label', { class: 'field-inline' }, 'Trainer ', target), h('label', { class: 'field-inline' }, 'Base model ', base)),
    h('div', { class: 'row' }, out, button('Choose…', { id: 'btn-handoff-choose', onClick: choose }), button('Write the job', { id: 'btn-handoff', onClick: go })),
    status,
    error,
  );
}
