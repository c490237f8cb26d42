// Try page: type or paste a ticket and see the fine-tuned run's answer — label with its
// confidence, the three most probable labels, the fields, each value marked where it occurs in
// the ticket — beside its base model prompted with worked examples. The models stay loaded
// between tickets, so only the first answer waits for them.

import { tryTicket } from '../backend.js';
import { chooseRun } from '../runchoice.js';
import { h, setChildren, button, loading, showError, clearError, bar, fmtPct } from '../dom.js';

/** @param {string} id @param {Array<[string, string]>} options */
function select(id, options) {
  return h('select', { id, class: 'input input-small' }, options.map(([value, label]) => h('option', { value }, label)));
}

/**
 * @param {{name?: string}} params
 * @param {PageContext} ctx
 */
export function render(params, ctx) {
  const error = h('div', { class: 'error-box', hidden: true });
  const runSel = h('select', { id: 'try-run', class: 'input input-small' });
  const checkpoint = select('try-checkpoint', [['best', 'Best']]);
  const text = h('textarea', { id: 'try-text', class: 'input try-text', rows: '5', placeholder: 'Paste a ticket…' });
  const withBase = h('input', { id: 'try-base', type: 'checkbox', checked: true });
  const answers = h('div', { id: 'try-answers', class: 'try-answers' });
  let asked = 0; // the newest question wins
  let loaded = ''; // the run and checkpoint whose models are warm
  const ask = async () => {
    const ticket = text.value.trim();
    if (!ticket || go.disabled) return;
    clearError(error);
    const question = ++asked;
    const key = `${runSel.value}@${checkpoint.value}${withBase.checked ? '+base' : ''}`;
    go.disabled = true;
    setChildren(answers, loading(key === loaded ? 'Answering…' : 'Loading the model (the first answer only)…'));
    try {
      const got = await tryTicket(runSel.value, checkpoint.value, ticket, withBase.checked);
      if (!ctx.alive() || question !== asked) return;
      loaded = key;
      setChildren(answers, got.map((a) => answerCard(a, ticket)));
    } catch (e) {
      if (ctx.alive()) {
        setChildren(answers);
        showError(error, e);
      }
    } finally {
      go.disabled = false;
    }
  };
  const go = button('Answer', { id: 'btn-try', variant: 'primary', disabled: true, onClick: ask, title: 'Ctrl+Enter' });
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) ask();
  });

  const section = h(
    'section',
    { id: 'page-try', class: 'page' },
    h('header', { class: 'page-header' }, h('div', { class: 'page-heading' }, h('h1', {}, 'Try a model'), h('span', { class: 'page-subtitle' }, 'One ticket, the fine-tuned answer beside the base model prompted with examples.'))),
    error,
    h(
      'div',
      { class: 'card stack' },
      h('div', { class: 'row' }, h('label', { class: 'field-inline' }, 'Run ', runSel), h('label', { class: 'field-inline' }, 'Checkpoint ', checkpoint), h('label', { class: 'field-inline' }, withBase, ' Base model beside it')),
      text,
      h('div', { class: 'row' }, go, h('span', { class: 'muted small' }, 'Ctrl+Enter answers too.')),
    ),
    answers,
  );

  chooseRun(runSel, checkpoint, params.name, ctx)
    .then((any) => {
      if (!ctx.alive()) return;
      if (any) go.disabled = false;
      else setChildren(answers, h('div', { class: 'card muted', id: 'try-none' }, 'No trained run yet: train one on the Train page first.'));
    })
    .catch((e) => showError(error, e));
  return section;
}

/**
 * One side's answer: label and confidence, the top labels as bars, the fields, and the ticket
 * with each field value marked.
 * @param {TrialAnswer} a @param {string} ticket
 */
function answerCard(a, ticket) {
  const id = `try-answer-${a.side.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
  const ms = Math.round(a.seconds * 1000);
  return h(
    'div',
    { class: 'card try-card', id, dataset: { side: a.side } },
    h('div', { class: 'try-card-head' }, h('h2', { class: 'card-title' }, a.side === 'fine-tuned' ? 'Fine-tuned' : `Base model, ${a.side.replace(' base', '')}`), h('span', { class: 'muted small try-time', title: 'Time to answer, the model already loaded' }, ms < 1 ? 'under 1 ms' : `${ms} ms`)),
    h('div', { class: 'try-label' }, h('span', { class: 'try-label-name' }, a.label ?? '(no label)'), a.confidence !== null ? h('span', { class: 'try-confidence' }, fmtPct(a.confidence)) : null),
    h(
      'div',
      { class: 'try-top' },
      a.top.map((s) =>
        h('div', { class: 'try-top-row' }, h('span', { class: 'try-top-label' }, s.label), bar(s.probability, 'try-top-bar'), h('span', { class: 'try-top-pct' }, fmtPct(s.probability))),
      ),
    ),
    a.fields.length
      ? h('table', { class: 'table try-fields' }, h('tbody', {}, a.fields.map(([n, v], i) => h('tr', {}, h('th', {}, h('span', { class: ['try-swatch', `mark-${i % 6}`] }), n), h('td', {}, v)))))
      : h('p', { class: 'muted small' }, 'No fields.'),
    h('p', { class: 'try-ticket' }, marked(ticket, a.fields)),
  );
}

/**
 * The ticket with each field value marked where it occurs (ignoring case), one colour per
 * field.
 * @param {string} ticket @param {[string, string][]} fields
 * @returns {Array<string | HTMLElement>}
 */
export function marked(ticket, fields) {
  const lower = ticket.toLowerCase();
  /** @type {Array<[number, number, number]>} */
  const spans = [];
  fields.forEach(([, value], i) => {
    const v = value.trim().toLowerCase();
    if (!v) return;
    const at = lower.indexOf(v);
    if (at >= 0 && !spans.some(([s, e]) => at < e && s < at + v.length)) spans.push([at, at + v.length, i]);
  });
  spans.sort((a, b) => a[0] - b[0]);
  /** @type {Array<string | HTMLElement>} */
  const out = [];
  let pos = 0;
  for (const [s, e, i] of spans) {
    out.push(ticket.slice(pos, s), h('mark', { class: ['try-mark', `mark-${i % 6}`], title: fields[i][0] }, ticket.slice(s, e)));
    pos = e;
  }
  out.push(ticket.slice(pos));
  return out;
}
