// Predict page: a CSV file of tickets through a trained run. Choose the file (native dialog or
// a typed path), see its first rows, pick the text column(s), the checkpoint and the
// confidence under which a ticket needs review; predict as a background job with progress and
// cancel; the output (every input column, then label, confidence, fields, needs review) is
// written where the user says, all at once — what `tunedesk predict --input` writes.

import { pickFile, previewFile, pickPredictionsFile, predictFile } from '../backend.js';
import { h, setChildren, button, showError, clearError, fmtInt, plural } from '../dom.js';
import { chooseRun } from '../runchoice.js';
import * as jobs from '../jobs.js';

/** Rows of the input and output shown. */
const PREVIEW_ROWS = 8;

/**
 * @param {{name?: string}} params
 * @param {PageContext} ctx
 */
export function render(params, ctx) {
  const error = h('div', { class: 'error-box', hidden: true });
  const runSel = h('select', { id: 'predict-run', class: 'input input-small' });
  const checkpoint = h('select', { id: 'predict-checkpoint', class: 'input input-small' });
  const input = h('input', { id: 'predict-input', class: 'input path-input', placeholder: 'tickets.csv' });
  const output = h('input', { id: 'predict-output', class: 'input path-input', placeholder: 'tickets-predictions.csv' });
  const threshold = h('input', { id: 'predict-threshold', class: 'input input-small', type: 'number', min: '0', max: '1', step: '0.01', placeholder: 'never' });
  const columns = h('div', { id: 'predict-columns', class: 'row' });
  const inputPreview = h('div', { id: 'predict-preview', class: 'table-scroll' });
  const status = h('div', { id: 'predict-status', class: 'stack' });
  const result = h('div', { id: 'predict-result', class: 'stack' });
  /** @type {string | null} the job's subject while this page's prediction runs */
  let subject = null;

  const go = button('Predict', { id: 'btn-predict', variant: 'primary', disabled: true, onClick: () => start() });
  const chosenColumns = () => [...columns.querySelectorAll('input:checked')].map((c) => /** @type {HTMLInputElement} */ (c).value);
  const refresh = () => {
    go.disabled = !(runSel.value && input.value.trim() && output.value.trim() && chosenColumns().length) || subject !== null;
  };

  const preview = async () => {
    clearError(error);
    setChildren(columns);
    setChildren(inputPreview);
    const path = input.value.trim();
    if (!path) return refresh();
    try {
      const p = await previewFile(path);
      if (!ctx.alive() || input.value.trim() !== path) return;
      const text = new Set(p.suggestion.text);
      setChildren(columns, h('span', { class: 'muted small' }, 'Ticket text:'), p.columns.map((c) => h('label', { class: 'field-inline' }, h('input', { type: 'checkbox', value: c, checked: text.has(c), onChange: refresh, dataset: { column: c } }), ` ${c}`)));
      setChildren(inputPreview, h('p', { class: 'muted small' }, `${fmtInt(p.total_rows)} rows${p.problem_count ? `, ${plural(p.problem_count, 'row')} that cannot be read (left out, reported by line)` : ''}`), table(p.columns, p.rows.slice(0, PREVIEW_ROWS)));
      if (!output.value.trim()) output.value = path.replace(/(\.[^./\\]*)?$/, '-predictions.csv');
    } catch (e) {
      if (ctx.alive()) showError(error, e);
    }
    refresh();
  };
  input.addEventListener('change', preview);
  output.addEventListener('input', refresh);
  const choose = button('Choose…', {
    id: 'btn-predict-choose',
    onClick: async () => {
      const path = await pickFile();
      if (path && ctx.alive()) {
        input.value = path;
        output.value = '';
        await preview();
      }
    },
  });
  const saveAs = saveAsButton(output, refresh, ctx);

  const start = () => {
    clearError(error);
    setChildren(result);
    const below = threshold.value.trim();
    /** @type {TableJob} */
    const job = { input: input.value.trim(), text_columns: chosenColumns(), output: output.value.trim(), abstain_below: below ? Number(below) : null };
    predictFile(runSel.value, checkpoint.value, job)
      .then((j) => {
        subject = j.subject;
        refresh();
        jobs.put(j);
      })
      .catch((e) => showError(error, e));
  };

  const section = layout({ error, runSel, checkpoint, threshold, input, choose, columns, inputPreview, output, saveAs, go, status, result });

  chooseRun(runSel, checkpoint, params.name, ctx, (run) => {
    threshold.value = run.abstain_below === null ? '' : String(run.abstain_below);
    refresh();
  })
    .then((any) => {
      if (ctx.alive() && !any) setChildren(result, h('div', { class: 'card muted', id: 'predict-none' }, 'No trained run yet: train one on the Train page first.'));
    })
    .catch((e) => showError(error, e));

  ctx.onLeave(
    jobs.subscribe((job) => {
      if (job.kind !== 'predict' || job.subject !== subject || !ctx.alive()) return false;
      setChildren(status, jobs.ticketLine(job, 'predict-job-status', 'btn-cancel-predict'));
      if (job.state !== 'running') {
        subject = null;
        refresh();
        if (job.state === 'done' && job.event) showResult(/** @type {TableSummary} */ (/** @type {unknown} */ (job.event)), result, error, ctx);
      }
      return true;
    }),
  );

  return section;
}

/**
 * Save as…: the native save dialog fills `output`.
 * @param {HTMLInputElement} output @param {() => void} refresh @param {PageContext} ctx
 */
function saveAsButton(output, refresh, ctx) {
  return button('Save as…', {
    id: 'btn-predict-save-as',
    onClick: async () => {
      const name = (output.value.trim() || 'predictions.csv').split(/[/\\]/).pop() ?? 'predictions.csv';
      const path = await pickPredictionsFile(name);
      if (path && ctx.alive()) output.value = path;
      refresh();
    },
  });
}

/**
 * The page's layout.
 * @param {Record<'error' | 'runSel' | 'checkpoint' | 'threshold' | 'input' | 'choose' | 'columns' | 'inputPreview' | 'output' | 'saveAs' | 'go' | 'status' | 'result', HTMLElement>} parts
 */
function layout({ error, runSel, checkpoint, threshold, input, choose, columns, inputPreview, output, saveAs, go, status, result }) {
  return h(
    'section',
    { id: 'page-predict', class: 'page' },
    h('header', { class: 'page-header' }, h('div', { class: 'page-heading' }, h('h1', {}, 'Predict a file'), h('span', { class: 'page-subtitle' }, 'Label a CSV of tickets and extract their fields; unsure answers are marked for review.'))),
    error,
    h(
      'div',
      { class: 'card stack' },
      h('div', { class: 'row' }, h('label', { class: 'field-inline' }, 'Run ', runSel), h('label', { class: 'field-inline' }, 'Checkpoint ', checkpoint), h('label', { class: 'field-inline', title: 'The label is left empty and the row marked for review below this confidence (the Evaluate page helps choose it).' }, 'Needs review below ', threshold)),
      h('div', { class: 'row' }, h('label', { class: 'field-inline grow' }, 'Tickets ', input), choose),
      columns,
      inputPreview,
      h('div', { class: 'row' }, h('label', { class: 'field-inline grow' }, 'Save to ', output), saveAs),
      h('div', { class: 'row' }, go),
      status,
    ),
    result,
  );
}

/**
 * The summary, the rows left out and the output's first rows, into `result`.
 * @param {TableSummary} s @param {HTMLElement} result @param {HTMLElement} error @param {PageContext} ctx
 */
async function showResult(s, result, error, ctx) {
  const card = h(
    'div',
    { class: 'card stack', id: 'predict-summary' },
    h('h2', { class: 'card-title' }, `${plural(s.predicted, 'ticket')} predicted`),
    h('p', {}, `${plural(s.abstained, 'ticket')} marked for review. Saved to `, h('code', {}, s.output), '.'),
    s.bad_total ? h('div', { class: 'stack' }, h('p', { class: 'muted' }, `${plural(s.bad_total, 'row')} left out:`), h('ul', { class: 'small', id: 'predict-bad-rows' }, s.bad_rows.map((b) => h('li', {}, b)))) : null,
  );
  setChildren(result, card);
  try {
    const p = await previewFile(s.output);
    if (ctx.alive()) card.append(h('div', { class: 'table-scroll' }, table(p.columns, p.rows.slice(0, PREVIEW_ROWS))));
  } catch (e) {
    if (ctx.alive()) showError(error, e);
  }
}

/** @param {string[]} head @param {string[][]} rows */
function table(head, rows) {
  return h('table', { class: 'table table-compact' }, h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, c)))), h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', { title: c }, c))))));
}
