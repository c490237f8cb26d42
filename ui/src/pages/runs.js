// Runs page: every run (model, dataset, status, duration, best validation loss, the scores of
// its latest evaluation); select 2–4 to overlay their loss curves and compare settings.

import { listRuns, compareRuns, deleteRun } from '../backend.js';
import { h, setChildren, button, loading, showError, clearError, fmtDate, fmtDuration, fmtLoss, fmtPct, svgImage, plural } from '../dom.js';
import * as jobs from '../jobs.js';
import { statusWord } from './run.js';

/**
 * The runs table, and the comparison of the selected runs.
 * @param {unknown} params
 * @param {PageContext} ctx
 */
export function render(params, ctx) {
  const error = h('div', { class: 'error-box', hidden: true });
  const body = h('div', { class: 'stack' }, loading('Loading runs…'));
  const compare = h('div', { class: 'stack', id: 'compare-box' });
  const count = h('span', { class: 'page-subtitle' });
  const selected = new Set();
  const compareBtn = button('Compare selected', { id: 'btn-compare', disabled: true, onClick: () => showComparison(compare, [...selected], error) });
  const section = h(
    'section',
    { id: 'page-runs', class: 'page' },
    h(
      'header',
      { class: 'page-header' },
      h('div', { class: 'page-heading' }, h('h1', {}, 'Runs'), count),
      h('div', { class: 'page-actions' }, compareBtn, button('New run…', { id: 'btn-new-run', variant: 'primary', onClick: () => ctx.navigate('train') })),
    ),
    error,
    body,
    compare,
  );
  const onSelect = (name, on) => {
    if (on) selected.add(name);
    else selected.delete(name);
    compareBtn.disabled = selected.size < 2 || selected.size > 4;
    compareBtn.title = compareBtn.disabled ? 'Select two to four runs' : '';
  };
  const load = () =>
    listRuns()
      .then((runs) => {
        if (!ctx.alive()) return;
        clearError(error);
        count.textContent = runs.length ? plural(runs.length, 'run') : '';
        setChildren(body, runs.length ? table(runs, ctx, onSelect, selected, remove) : empty(ctx));
      })
      .catch((e) => ctx.alive() && showError(error, e));
  const remove = (name) => {
    if (!window.confirm(`Delete run ${name} and its checkpoints?`)) return;
    deleteRun(name)
      .then(() => (selected.delete(name), load()))
      .catch((e) => showError(error, e));
  };
  load();
  ctx.onLeave(
    jobs.subscribe((job) => {
      if (job.kind === 'train' && job.state !== 'running' && ctx.alive()) load();
    }),
  );
  return section;
}

function empty(ctx) {
  return h(
    'div',
    { class: 'card empty-state', id: 'runs-empty' },
    h('h2', {}, 'No runs yet'),
    h('p', {}, 'Train a model on one of your datasets: the chart shows training and validation loss as it learns.'),
    button('Train a model…', { variant: 'primary', onClick: () => ctx.navigate('train') }),
  );
}

function table(runs, ctx, onSelect, selected, remove) {
  return h(
    'div',
    { class: 'card table-card' },
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { id: 'runs-table', class: 'table' },
        h('thead', {}, h('tr', {}, ['', 'Run', 'Model', 'Dataset', 'Status', 'Duration', 'Best checkpoint: val. loss', 'Latest evaluation', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, runs.map((r) => row(r, ctx, onSelect, selected, remove))),
      ),
    ),
  );
}

function row(r, ctx, onSelect, selected, remove) {
  const open = () => ctx.navigate('run', { name: r.name });
  const box = h('input', { type: 'checkbox', class: 'run-select', checked: selected.has(r.name), title: 'Select to compare', onChange: () => onSelect(r.name, box.checked) });
  const ev = r.latest_eval;
  const word = statusWord(r);
  return h(
    'tr',
    { dataset: { run: r.name } },
    h('td', {}, box),
    h('td', {}, h('a', { href: '#', class: 'run-link', onClick: (e) => (e.preventDefault(), open()) }, r.name), h('div', { class: 'muted small' }, fmtDate(r.created_at))),
    h('td', { class: 'small', title: r.model }, r.model_label),
    h('td', {}, r.dataset),
    h('td', {}, h('span', { class: ['badge', `status-${word}`] }, word), r.status === 'failed' && r.error ? h('div', { class: 'small error-text run-error' }, r.error) : null),
    h('td', { class: 'num' }, r.active ? 'training…' : fmtDuration((Date.parse(r.updated_at) - Date.parse(r.created_at)) / 1000)),
    h('td', { class: 'num' }, h('span', { class: 'run-best-loss' }, fmtLoss(r.best_val_loss)), r.best_scores ? h('div', { class: 'muted small run-best-scores' }, `accuracy ${fmtPct(r.best_scores.accuracy)}`) : null),
    h('td', { class: 'small run-eval', title: ev ? `${ev.dataset} ${ev.split}, ${ev.examples} tickets` : '' }, ev ? scores(ev) : h('span', { class: 'muted' }, 'not evaluated yet')),
    h('td', {}, button('Delete', { cls: 'btn-small', variant: 'ghost', disabled: r.active, onClick: () => remove(r.name) })),
  );
}

function scores(ev) {
  const parts = [`accuracy ${fmtPct(ev.accuracy)}`, `macro-F1 ${fmtPct(ev.macro_f1)}`];
  if (ev.field_f1 !== null && ev.field_f1 !== undefined) parts.push(`fields ${fmtPct(ev.field_f1)}`);
  return parts.join(' · ');
}

function showComparison(box, names, error) {
  setChildren(box, loading('Drawing…'));
  compareRuns(names, { x: 'step', log: false })
    .then((c) => {
      setChildren(
        box,
        h('div', { class: 'card' }, h('h2', { class: 'card-title' }, 'Loss curves'), svgImage(c.svg, { id: 'compare-chart', class: 'chart', alt: 'Loss of the selected runs' })),
        settingsTable(c.runs),
      );
    })
    .catch((e) => (box.replaceChildren(), showError(error, e)));
}

/** The settings compared: [label, value of a run's config]. @type {Array<[string, (c: Partial<TrainConfig>) => unknown]>} */
const SETTINGS = [
  ['Learning rate', (c) => c.lr],
  ['Epochs', (c) => c.epochs],
  ['Batch size', (c) => c.batch_size],
  ['Weight decay', (c) => c.weight_decay],
  ['LoRA rank', (c) => c.lora.rank],
  ['LoRA alpha', (c) => c.lora.alpha],
  ['Max length', (c) => c.max_len],
  ['Early stopping', (c) => (c.patience ? `patience ${c.patience}` : 'off')],
  ['Seed', (c) => c.seed],
];

function settingsTable(runs) {
  const configs = runs.map((r) => (r.config && r.config.config) || {});
  return h(
    'div',
    { class: 'card' },
    h('h2', { class: 'card-title' }, 'Settings side by side'),
    h(
      'table',
      { id: 'compare-settings', class: 'table' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), runs.map((r) => h('th', { scope: 'col' }, r.name)))),
      h(
        'tbody',
        {},
        SETTINGS.map(([label, get]) => {
          const values = configs.map((c) => String(safe(() => get(c))));
          const differs = new Set(values).size > 1;
          return h('tr', { class: differs ? 'differs' : null }, h('th', { scope: 'row' }, label), values.map((v) => h('td', {}, v)));
        }),
      ),
    ),
  );
}

function safe(f) {
  try {
    return f() ?? '—';
  } catch {
    return '—';
  }
}
