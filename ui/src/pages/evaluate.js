// Evaluate page: how good a run is and where it fails. Run an evaluation (checkpoint, dataset,
// split) as a background job; the verdict against zero- and few-shot prompting of the same base
// model with bootstrap intervals; the scores, per-class and per-field tables (sortable); the
// confusion matrix, whose cells list their tickets with the differences marked; the confidence
// threshold under which Predict abstains; suspected mislabels to relabel or keep.

import {
  runDetail,
  listDatasets,
  listEvaluations,
  evaluationDetail,
  evaluateRun,
  compareEvaluation,
  setAbstainBelow,
  suspectedMislabels,
  relabelRow,
  dismissMislabel,
  exportEvaluation,
} from '../backend.js';
import { h, setChildren, button, loading, showError, clearError, backLink, figure, fmtPct, plural } from '../dom.js';
import * as jobs from '../jobs.js';

/** Training rows answered to look for mislabels. */
const LABEL_CHECK_ROWS = 1000;

/** @param {string} id @param {Array<[string, string]>} options */
function select(id, options) {
  return h('select', { id, class: 'input input-small' }, options.map(([value, label]) => h('option', { value }, label)));
}

/**
 * @param {{name: string, eval?: number}} params
 * @param {PageContext} ctx
 */
export function render(params, ctx) {
  const name = params.name;
  const error = h('div', { class: 'error-box', hidden: true });
  const checkpoint = select('eval-checkpoint', [['best', 'Best'], ['last', 'Last']]);
  const dataset = select('eval-dataset', []);
  const split = select('eval-split', [['test', 'Test split'], ['val', 'Validation split'], ['train', 'Training split'], ['all', 'All rows']]);
  const limit = h('input', { id: 'eval-limit', class: 'input input-small', type: 'number', min: '1', placeholder: 'all' });
  const status = h('div', { id: 'eval-status', class: 'stack' });
  const chooser = h('select', { id: 'eval-select', class: 'input' });
  const detail = h('div', { class: 'stack', id: 'eval-detail' });
  /** @type {number | null} */
  let shown = null;

  // Enabled once the checkpoints and datasets are known.
  const go = button('Evaluate', { id: 'btn-evaluate', variant: 'primary', disabled: true, onClick: () => start() });
  const start = () => {
    clearError(error);
    const n = limit.value.trim() ? Number(limit.value) : null;
    evaluateRun(name, checkpoint.value, dataset.value, split.value, n)
      .then(jobs.put)
      .catch((e) => showError(error, e));
  };
  const refreshList = async (/** @type {number | null} */ pick) => {
    const list = await listEvaluations(name);
    if (!ctx.alive()) return;
    setChildren(
      chooser,
      list.map((e) => h('option', { value: String(e.id) }, `#${e.id} · ${e.dataset} (${e.split}${e.limit ? `, ${e.limit} rows` : ''}) · checkpoint ${e.checkpoint} · accuracy ${fmtPct(e.metrics.accuracy)}`)),
    );
    const id = pick ?? (list.length ? list[0].id : null);
    if (id === null) {
      setChildren(detail, h('div', { class: 'card muted', id: 'eval-none' }, 'No evaluation yet: choose what to answer above and press Evaluate.'));
      return;
    }
    chooser.value = String(id);
    await showEval(id);
  };
  const showEval = async (/** @type {number} */ id) => {
    shown = id;
    setChildren(detail, loading('Loading the evaluation…'));
    try {
      const d = await evaluationDetail(id);
      if (!ctx.alive() || shown !== id) return;
      setChildren(detail, ...cards(d, { name, error, ctx, reload: () => showEval(id) }));
    } catch (e) {
      if (ctx.alive()) showError(error, e);
    }
  };
  chooser.addEventListener('change', () => showEval(Number(chooser.value)));

  const section = h(
    'section',
    { id: 'page-evaluate', class: 'page', dataset: { run: name } },
    backLink(name, () => ctx.navigate('run', { name }), 'back-run'),
    h('header', { class: 'page-header' }, h('div', { class: 'page-heading' }, h('h1', {}, `Evaluate ${name}`), h('span', { class: 'page-subtitle' }, 'Is it good, was fine-tuning worth it, and where does it fail?'))),
    error,
    h(
      'div',
      { class: 'card' },
      h('h2', { class: 'card-title' }, 'New evaluation'),
      h('div', { class: 'row' }, h('label', { class: 'field-inline' }, 'Checkpoint ', checkpoint), h('label', { class: 'field-inline' }, 'Dataset ', dataset), h('label', { class: 'field-inline' }, 'Rows ', split), h('label', { class: 'field-inline' }, 'At most ', limit), go),
      status,
    ),
    h('div', { class: 'card' }, h('label', { class: 'field-inline' }, 'Evaluation ', chooser)),
    detail,
  );

  Promise.all([runDetail(name, { x: 'step', log: false }), listDatasets()])
    .then(([r, ds]) => {
      if (!ctx.alive()) return;
      setChildren(checkpoint, h('option', { value: 'best' }, 'Best'), h('option', { value: 'last' }, 'Last'), ...r.kept_steps.map((s) => h('option', { value: String(s) }, `Step ${s}`)));
      setChildren(dataset, ds.map((d) => h('option', { value: d.name, selected: d.name === r.dataset }, d.name)));
      go.disabled = false;
      return refreshList(params.eval ?? null);
    })
    .catch((e) => showError(error, e));

  ctx.onLeave(
    jobs.subscribe((job) => {
      if (job.kind !== 'evaluate' || !ctx.alive()) return false;
      const mine = job.subject === `evaluate ${name}` || (shown !== null && job.subject === `baselines of evaluation ${shown}`);
      if (!mine) return false;
      setChildren(status, jobs.ticketLine(job, 'eval-job-status', 'btn-cancel-eval'));
      if (job.state === 'done') {
        // The run's newest evaluation is the one this job stored.
        if (job.subject.startsWith('evaluate')) refreshList(null);
        else if (shown !== null) showEval(shown);
      }
      return true;
    }),
  );
  return section;
}

/** Milliseconds per ticket of an evaluation. @param {EvalInfo} e */
function perTicket(e) {
  const ms = (1000 * e.seconds) / Math.max(1, e.metrics.examples);
  return `${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
}

/**
 * The cards of one evaluation.
 * @param {EvalDetail} d
 * @param {{name: string, error: HTMLElement, ctx: PageContext, reload: () => void}} env
 */
function cards(d, env) {
  const m = d.eval.metrics;
  const f = m.fields;
  const scores = h(
    'div',
    { class: 'card', id: 'eval-scores' },
    h('h2', { class: 'card-title' }, `${plural(m.examples, 'ticket')} of ${d.eval.dataset} (${d.eval.split})`),
    h(
      'div',
      { class: 'figures' },
      figure('Accuracy', fmtPct(m.accuracy), 'eval-accuracy'),
      figure('Macro-F1', fmtPct(m.macro_f1), 'eval-macro-f1'),
      f ? figure('Field micro-F1', fmtPct(f.micro_f1), 'eval-field-f1') : null,
      f ? figure('Field exact match', fmtPct(f.exact_match)) : null,
      f ? figure('Sentence accuracy', fmtPct(m.sentence_accuracy)) : null,
      figure('Unparseable', fmtPct(m.unparseable_rate)),
      figure('Time per ticket', perTicket(d.eval)),
    ),
    exportRow(d, env),
  );
  return [
    verdictCard(d, env),
    scores,
    sortable('class-table', 'Per class', ['Label', 'Precision', 'Recall', 'F1', 'Support'], m.per_class.map((c) => [c.label, c.precision, c.recall, c.f1, c.support])),
    f ? sortable('field-table', 'Per field', ['Field', 'Precision', 'Recall', 'F1', 'Support'], f.per_field.map((x) => [x.name, x.precision, x.recall, x.f1, x.support])) : null,
    confusionCard(d),
    thresholdCard(d, env),
    mislabelCard(d, env),
  ];
}

/** Save the report, the answers or the confusion chart. @param {EvalDetail} d @param {{error: HTMLElement}} env */
function exportRow(d, env) {
  const saved = h('span', { class: 'muted small', id: 'eval-export-saved' });
  const save = (/** @type {string} */ ext) => () =>
    exportEvaluation(d.eval.id, `evaluation-${d.eval.id}.${ext}`)
      .then((path) => path && (saved.textContent = `Saved ${path}`))
      .catch((e) => showError(env.error, e));
  return h('div', { class: 'row' }, button('Report (.md)', { id: 'btn-export-md', onClick: save('md') }), button('Answers (.csv)', { id: 'btn-export-csv', onClick: save('csv') }), button('Confusion chart (.png)', { id: 'btn-export-png', onClick: save('png') }), saved);
}

/** The verdict against prompting. @param {EvalDetail} d @param {{error: HTMLElement}} env */
function verdictCard(d, env) {
  const c = d.comparison;
  const card = h('div', { class: 'card', id: 'verdict-card' }, h('h2', { class: 'card-title' }, 'Was fine-tuning worth it?'));
  if (c.columns.length < 2) {
    card.append(
      h('p', { class: 'muted' }, 'Compare with the base model prompted zero-shot and with five worked examples, on the same tickets (computed once, then reused).'),
      button('Compare with prompting', { id: 'btn-compare', variant: 'primary', onClick: () => compareEvaluation(d.eval.id).then(jobs.put).catch((e) => showError(env.error, e)) }),
    );
    return card;
  }
  const rows = [
    ['Accuracy', (/** @type {EvalInfo} */ e) => fmtPct(e.metrics.accuracy)],
    ['Macro-F1', (/** @type {EvalInfo} */ e) => fmtPct(e.metrics.macro_f1)],
    ['Field micro-F1', (/** @type {EvalInfo} */ e) => (e.metrics.fields ? fmtPct(e.metrics.fields.micro_f1) : '—')],
    ['Time per ticket', perTicket],
  ];
  card.append(
    h('table', { class: 'table', id: 'verdict-table' }, h('thead', {}, h('tr', {}, h('th', {}, ''), c.columns.map((col) => h('th', {}, col.name)))), h('tbody', {}, rows.map(([label, value]) => h('tr', {}, h('td', {}, String(label)), c.columns.map((col) => h('td', { class: 'num' }, /** @type {(e: EvalInfo) => string} */ (value)(col.eval))))))),
  );
  if (c.verdict) {
    const v = c.verdict;
    const names = { accuracy: 'Accuracy', macro_f1: 'Macro-F1', field_f1: 'Field F1' };
    const pts = (/** @type {number} */ x) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
    card.append(
      h('p', { class: ['verdict', `verdict-${v.verdict}`], id: 'verdict-sentence' }, v.sentence),
      h('ul', { class: 'muted small', id: 'verdict-differences' }, v.differences.map((x) => h('li', {}, `${names[x.metric]}: ${pts(x.value)} points over the ${v.against} (95 % interval ${pts(x.low)} to ${pts(x.high)})`))),
    );
  }
  return card;
}

/**
 * A table whose columns sort on a click of their header (numbers shown as percentages except
 * the last column, a count).
 * @param {string} id @param {string} title @param {string[]} head @param {Array<Array<string | number>>} data
 */
function sortable(id, title, head, data) {
  const rows = data.slice();
  let by = head.length - 1;
  let desc = true;
  const body = h('tbody');
  const cell = (/** @type {string | number} */ v, /** @type {number} */ i) => h('td', { class: i ? 'num' : null }, typeof v === 'number' && i < head.length - 1 ? fmtPct(v) : String(v));
  const draw = () => {
    rows.sort((a, b) => {
      const x = a[by];
      const y = b[by];
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return desc ? -c : c;
    });
    setChildren(body, rows.map((r) => h('tr', {}, r.map(cell))));
  };
  const ths = head.map((label, i) =>
    h('th', { class: 'sortable', title: 'Sort', onClick: () => ((desc = by === i ? !desc : i > 0), (by = i), draw()) }, label),
  );
  draw();
  return h('div', { class: 'card' }, h('h2', { class: 'card-title' }, title), h('div', { class: 'table-scroll' }, h('table', { class: 'table', id }, h('thead', {}, h('tr', {}, ths)), body)));
}

/** The confusion matrix: rows gold, columns predicted; a cell lists its tickets. @param {EvalDetail} d */
function confusionCard(d) {
  const c = d.eval.metrics.confusion;
  const list = h('div', { id: 'cell-tickets', class: 'stack' });
  const max = Math.max(1, ...c.counts.flat(), ...c.unparseable);
  /** @param {string} gold @param {string | null} predicted */
  const showCell = (gold, predicted) => {
    const picked = d.records.filter((r) => r.gold.label.trim() === gold && (predicted === null ? !r.predicted.label : (r.predicted.label || '').trim() === predicted));
    setChildren(
      list,
      h('h3', { class: 'card-subtitle' }, `${plural(picked.length, 'ticket')} labelled ${gold}, answered ${predicted ?? '(unparseable)'}`),
      picked.map((r) => ticketView(r)),
    );
  };
  /** @param {number} n @param {boolean} diagonal @param {() => void} onClick */
  const td = (n, diagonal, onClick) => {
    const el = h('td', { class: ['cm-cell', diagonal ? 'cm-diag' : null, n ? 'cm-hit' : null], title: `${n}`, onClick: n ? onClick : null, dataset: { count: n } }, n ? String(n) : '');
    if (n) el.style.setProperty('--cm-alpha', String(0.15 + (0.85 * n) / max));
    return el;
  };
  const table = h(
    'table',
    { class: 'cm', id: 'confusion' },
    h('thead', {}, h('tr', {}, h('th', { class: 'cm-corner' }, 'gold ↓ / answered →'), c.labels.map((l) => h('th', { class: 'cm-col', title: l }, l)), h('th', { class: 'cm-col' }, 'unparseable'))),
    h(
      'tbody',
      {},
      c.labels.map((gold, i) =>
        h('tr', {}, h('th', { class: 'cm-row', title: gold }, gold), c.counts[i].map((n, j) => td(n, i === j, () => showCell(gold, c.labels[j]))), td(c.unparseable[i], false, () => showCell(gold, null))),
      ),
    ),
  );
  return h('div', { class: 'card' }, h('h2', { class: 'card-title' }, 'Confusion matrix'), h('p', { class: 'muted small' }, 'Rows: the gold label; columns: the answer. Click a cell to see its tickets.'), h('div', { class: 'table-scroll' }, table), list);
}

/** One answered ticket, the answer's differences from the gold marked. @param {EvalRecord} r */
function ticketView(r) {
  const gold = new Map(r.gold.fields);
  const got = new Map(r.predicted.fields);
  const names = [...new Set([...gold.keys(), ...got.keys()])];
  const labelWrong = (r.predicted.label || '').trim() !== r.gold.label.trim();
  return h(
    'div',
    { class: 'ticket', dataset: { row: r.example_id } },
    h('p', { class: 'ticket-text' }, r.input),
    h(
      'table',
      { class: 'table table-compact' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'Gold'), h('th', {}, 'Answer'))),
      h(
        'tbody',
        {},
        h('tr', {}, h('td', {}, 'Label'), h('td', {}, r.gold.label), h('td', { class: labelWrong ? 'diff' : null }, r.predicted.label ?? '(unparseable)')),
        names.map((n) => h('tr', {}, h('td', {}, n), h('td', {}, gold.get(n) ?? '—'), h('td', { class: gold.get(n) === got.get(n) ? null : 'diff' }, got.get(n) ?? '—'))),
        h('tr', {}, h('td', {}, 'Confidence'), h('td', {}, ''), h('td', {}, r.predicted.confidence === null || r.predicted.confidence === undefined ? '—' : fmtPct(r.predicted.confidence))),
      ),
    ),
  );
}

/** The abstain threshold: coverage against accuracy, saved for Predict. @param {EvalDetail} d @param {{error: HTMLElement}} env */
function thresholdCard(d, env) {
  const runName = d.eval.run;
  const saved = d.run ? d.run.abstain_below : null;
  const slider = h('input', { type: 'range', id: 'threshold', min: '0', max: '1', step: '0.05', value: String(saved ?? 0) });
  const text = h('p', { id: 'threshold-text' });
  const note = h('p', { class: 'muted small', id: 'threshold-saved' }, saved === null ? 'Predict answers every ticket now.' : `Predict leaves the label empty below ${saved.toFixed(2)}.`);
  const show = () => {
    const t = Number(slider.value);
    const p = d.coverage.reduce((best, x) => (Math.abs(x.threshold - t) < Math.abs(best.threshold - t) ? x : best), d.coverage[0]);
    text.textContent = `At confidence ≥ ${t.toFixed(2)}: ${fmtPct(p.coverage)} of the tickets answered (${p.kept}), ${p.accuracy === null ? 'none kept' : `${fmtPct(p.accuracy)} of them right`}; the rest go to a person.`;
  };
  slider.addEventListener('input', show);
  show();
  const save = () =>
    runName &&
    setAbstainBelow(runName, Number(slider.value) > 0 ? Number(slider.value) : null)
      .then((r) => (note.textContent = r.abstain_below === null ? 'Saved: Predict answers every ticket.' : `Saved: Predict leaves the label empty below ${r.abstain_below.toFixed(2)}.`))
      .catch((e) => showError(env.error, e));
  return h('div', { class: 'card', id: 'threshold-card' }, h('h2', { class: 'card-title' }, 'Confidence threshold'), h('div', { class: 'row' }, slider, button('Use for Predict', { id: 'btn-save-threshold', onClick: save, disabled: !runName })), text, note);
}

/**
 * The newest evaluation of another checkpoint of the run on the same rows, if any.
 * @param {EvalDetail} d @param {string} run
 * @returns {Promise<EvalInfo | null>}
 */
async function secondOpinion(d, run) {
  const all = await listEvaluations(run);
  const e = d.eval;
  return all.find((o) => o.id !== e.id && o.checkpoint !== e.checkpoint && o.shots === null && o.dataset === e.dataset && o.split === e.split && o.limit === e.limit) ?? null;
}

/**
 * Suspected mislabels of the run's dataset: from an evaluation of its own rows, else a button
 * that answers its training rows.
 * @param {EvalDetail} d @param {{name: string, error: HTMLElement, reload: () => void}} env
 */
function mislabelCard(d, env) {
  const card = h('div', { class: 'card', id: 'mislabel-card' }, h('h2', { class: 'card-title' }, 'Suspected mislabels'));
  const own = d.run && d.eval.dataset === d.run.dataset && d.eval.split !== 'test';
  if (!own || !d.run) {
    const check = () => evaluateRun(env.name, 'best', d.run ? d.run.dataset : d.eval.dataset, 'train', LABEL_CHECK_ROWS).then(jobs.put).catch((e) => showError(env.error, e));
    card.append(h('p', { class: 'muted' }, `Tickets whose label the model contradicts with high confidence are often labelled wrong. Answer up to ${LABEL_CHECK_ROWS} training tickets to find them.`), button('Check the training labels', { id: 'btn-check-labels', onClick: check }));
    return card;
  }
  const datasetName = d.run.dataset;
  const list = h('div', { class: 'stack', id: 'mislabels' }, loading('Looking for mislabels…'));
  const cross = h('p', { class: 'muted small', id: 'mislabel-cross' });
  card.append(h('p', { class: 'muted small' }, 'Most suspicious first. Relabel changes the dataset row (recorded with who, when, the old and the new label); Keep hides it.'), cross, list);
  secondOpinion(d, env.name)
    .then((second) => {
      cross.textContent = second
        ? `Cross-checked with evaluation #${second.id} (checkpoint ${second.checkpoint}): tickets both checkpoints contradict come first, marked “confirmed”.`
        : 'Evaluate another checkpoint on the same rows to cross-check these with it.';
      return suspectedMislabels(datasetName, d.eval.id, second ? second.id : null);
    })
    .then((found) => {
      if (!found.length) return setChildren(list, h('p', { class: 'muted', id: 'mislabels-none' }, 'None: the model agrees with the labels it is sure about.'));
      const labels = d.eval.metrics.confusion.labels;
      setChildren(
        list,
        found.slice(0, 50).map((s) => {
          const to = h('select', { class: 'input input-small' }, labels.map((l) => h('option', { value: l, selected: l === s.predicted }, l)));
          const relabel = () => relabelRow(datasetName, s.row, s.gold, to.value, `suspected mislabel, evaluation ${d.eval.id}`).then(env.reload).catch((e) => showError(env.error, e));
          const keep = () => dismissMislabel(datasetName, s.row, s.gold).then(env.reload).catch((e) => showError(env.error, e));
          return h(
            'div',
            { class: 'ticket suspect', dataset: { row: s.row } },
            h('p', { class: 'ticket-text' }, s.text),
            h('p', { class: 'small' }, `Row ${s.row}: labelled `, h('strong', {}, s.gold), `; the model says `, h('strong', {}, s.predicted), ` (${fmtPct(s.confidence)} sure)`, s.confirmed === null ? '' : s.confirmed ? ' · confirmed by the other checkpoint' : ' · the other checkpoint disagrees'),
            h('div', { class: 'row' }, h('label', { class: 'field-inline' }, 'New label ', to), button('Relabel', { cls: 'btn-relabel', variant: 'primary', onClick: relabel }), button('Keep', { cls: 'btn-keep', variant: 'ghost', onClick: keep })),
          );
        }),
      );
    })
    .catch((e) => showError(env.error, e));
  return card;
}
