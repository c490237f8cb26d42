// Dataset detail: what was imported, splits, label distribution and field fill rates.

import { showDataset, splitDataset, deleteDataset } from '../backend.js';
import {
  h,
  setChildren,
  fmtInt,
  fmtPct,
  fmtDate,
  plural,
  showError,
  clearError,
  backLink,
  button,
  loading,
  bar,
} from '../dom.js';

const LABELS_SHOWN = 30;

/**
 * One dataset: overview, splits, field fill rates, label distribution; split and delete.
 * @param {{name: string, imported?: {rows?: number, unmapped?: string[]}}} params
 *   imported: what the import that just finished reported (shown as a notice)
 * @param {PageContext} ctx
 */
export function render(params, ctx) {
  const name = params.name;
  const back = () => ctx.navigate('datasets');

  const container = h('div', { id: 'dataset-detail' });
  const section = h('section', { id: 'page-detail', class: 'page' }, container);

  let firstNotice = importedNotice(params.imported);

  async function load(notice) {
    try {
      const stats = await showDataset(name);
      if (!ctx.alive()) return;
      draw(stats, notice);
    } catch (err) {
      if (!ctx.alive()) return;
      const box = h('div', { class: 'error-box' });
      setChildren(
        container,
        header(name, null),
        box,
      );
      showError(box, err);
    }
  }

  function header(title, stats, actions) {
    return h(
      'header',
      { class: 'page-header' },
      h(
        'div',
        { class: 'page-heading' },
        backLink('Datasets', back, 'detail-back'),
        h('h1', { class: 'detail-title' }, title),
        stats
          ? h(
            'p',
            { class: 'page-subtitle' },
            `${plural(stats.rows, 'row')} · ${String(stats.format || '').toUpperCase()} · imported ${fmtDate(stats.created_at)}`,
          )
          : null,
      ),
      actions ? h('div', { class: 'page-actions' }, actions) : null,
    );
  }

  function draw(stats, notice) {
    const panel = h('div', { class: 'panel-slot' });
    const actions = [
      button('Quality report', {
        id: 'btn-quality',
        variant: 'primary',
        onClick: () => ctx.navigate('quality', { name: stats.name }),
      }),
      button('Split train/val/test', {
        id: 'btn-split',
        onClick: () => togglePanel(panel, 'split', () => splitPanel(stats, panel, load)),
      }),
      button('Delete…', {
        id: 'btn-delete',
        variant: 'danger-ghost',
        onClick: () => togglePanel(panel, 'delete', () => deletePanel(stats, panel, ctx)),
      }),
    ];

    setChildren(
      container,
      header(stats.name, stats, actions),
      notice ? h('div', { class: 'notice', role: 'status' }, notice) : null,
      panel,
      overview(stats),
      h('div', { class: 'grid-2' }, splitsCard(stats), fieldsCard(stats)),
      labelsCard(stats),
    );
  }

  setChildren(container, header(name, null), loading('Loading dataset…'));
  load(firstNotice);
  firstNotice = null;
  return section;
}

function importedNotice(imported) {
  if (!imported) return null;
  const parts = [];
  parts.push(imported.rows !== undefined ? `Imported ${plural(imported.rows, 'row')}.` : 'Imported.');
  const unmapped = imported.unmapped || [];
  if (unmapped.length) {
    const shown = unmapped.slice(0, 8).join(', ');
    const more = unmapped.length > 8 ? ` and ${unmapped.length - 8} more` : '';
    parts.push(`Unmapped columns kept as extra values: ${shown}${more}.`);
  }
  return parts.join(' ');
}

function togglePanel(slot, kind, make) {
  if (slot.dataset.kind === kind) {
    slot.replaceChildren();
    delete slot.dataset.kind;
    return;
  }
  slot.dataset.kind = kind;
  setChildren(slot, make());
  const first = slot.querySelector('input, button.btn-danger');
  if (first) first.focus();
}

function closePanel(slot) {
  slot.replaceChildren();
  delete slot.dataset.kind;
}

// ---- split ----

function splitPanel(stats, slot, reload) {
  const num = (id, value, attrs) =>
    h('input', { id, class: 'input input-num', type: 'number', value, ...attrs });
  const val = num('split-val', '0.1', { min: '0', max: '0.9', step: '0.05' });
  const test = num('split-test', '0.1', { min: '0', max: '0.9', step: '0.05' });
  const seed = num('split-seed', '42', { min: '0', step: '1' });
  const error = h('div', { class: 'error-box', hidden: true });
  const run = button('Split', { id: 'btn-split-run', variant: 'primary' });
  const cancel = button('Cancel', { variant: 'ghost', onClick: () => closePanel(slot) });
  const sc = stats.split_counts || {};
  const already = (sc.train || 0) + (sc.val || 0) + (sc.test || 0) > 0;

  async function go() {
    const v = Number(val.value);
    const t = Number(test.value);
    const s = Number(seed.value);
    let problem = null;
    if (val.value.trim() === '' || !Number.isFinite(v) || v < 0 || v >= 1) problem = 'The validation fraction must be a number from 0 to below 1, e.g. 0.1.';
    else if (test.value.trim() === '' || !Number.isFinite(t) || t < 0 || t >= 1) problem = 'The test fraction must be a number from 0 to below 1, e.g. 0.1.';
    else if (v + t >= 1) problem = 'Validation and test together must leave rows for training (their sum must be below 1).';
    else if (seed.value.trim() === '' || !Number.isInteger(s) || s < 0 || s > Number.MAX_SAFE_INTEGER) problem = 'The seed must be a whole number, 0 or more.';
    if (problem) {
      showError(error, problem);
      return;
    }
    clearError(error);
    run.disabled = true;
    run.classList.add('is-busy');
    try {
      const c = await splitDataset(stats.name, v, t, s);
      closePanel(slot);
      await reload(
        `Split done: ${fmtInt(c.train)} train · ${fmtInt(c.val)} val · ${fmtInt(c.test)} test` +
          (c.unassigned ? ` · ${fmtInt(c.unassigned)} unassigned` : '') + '.',
      );
    } catch (err) {
      showError(error, err);
      run.disabled = false;
      run.classList.remove('is-busy');
    }
  }

  run.addEventListener('click', go);
  for (const input of [val, test, seed]) {
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        go();
      }
    });
  }

  return h(
    'div',
    { id: 'split-panel', class: 'card panel' },
    h('h2', { class: 'card-title' }, 'Split into train / validation / test'),
    h(
      'p',
      { class: 'muted' },
      'Stratified by label: within each label the rows are shuffled with the seed and cut by these fractions; every label keeps at least one training row. The same seed gives the same split.',
      already ? ' This replaces the current split.' : '',
    ),
    h(
      'div',
      { class: 'form-row' },
      h('div', { class: 'field-group' }, h('label', { for: 'split-val', class: 'field-label' }, 'Validation'), val),
      h('div', { class: 'field-group' }, h('label', { for: 'split-test', class: 'field-label' }, 'Test'), test),
      h('div', { class: 'field-group' }, h('label', { for: 'split-seed', class: 'field-label' }, 'Seed'), seed),
      h('span', { class: 'spacer' }),
      cancel,
      run,
    ),
    error,
  );
}

// ---- delete ----

function deletePanel(stats, slot, ctx) {
  const error = h('div', { class: 'error-box', hidden: true });
  const confirm = button(`Delete “${stats.name}”`, { id: 'btn-delete-confirm', variant: 'danger' });
  const cancel = button('Cancel', { id: 'btn-delete-cancel', variant: 'ghost', onClick: () => closePanel(slot) });
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    cancel.disabled = true;
    confirm.classList.add('is-busy');
    try {
      await deleteDataset(stats.name);
      if (!ctx.alive()) return;
      ctx.navigate('datasets', { notice: `Deleted “${stats.name}”.` });
    } catch (err) {
      if (!ctx.alive()) return;
      showError(error, err);
      confirm.disabled = false;
      cancel.disabled = false;
      confirm.classList.remove('is-busy');
    }
  });
  return h(
    'div',
    { id: 'delete-panel', class: 'card panel panel-danger' },
    h('h2', { class: 'card-title' }, 'Delete this dataset?'),
    h(
      'p',
      {},
      `“${stats.name}” and its ${plural(stats.rows, 'row')} (with splits) will be removed from TuneDesk. `,
      'The source file is not touched; you can import it again.',
    ),
    h('div', { class: 'form-row' }, h('span', { class: 'spacer' }), cancel, confirm),
    error,
  );
}

// ---- cards ----

function overview(stats) {
  const labels = stats.label_counts || [];
  const fields = stats.fields || [];
  const textCols = stats.text_columns || [];
  return h(
    'div',
    { class: 'card overview' },
    h(
      'dl',
      { class: 'kv' },
      kv('Source', h('span', { class: 'mono break', title: stats.source }, stats.source || '—')),
      kv('Rows', h('span', { class: 'num-strong', id: 'detail-rows' }, fmtInt(stats.rows))),
      kv('Text columns', textCols.length ? chips(textCols) : '—'),
      kv('Label column', stats.label_column ? chips([stats.label_column]) : '—'),
      kv('Labels', fmtInt(labels.length)),
      kv('Fields', fields.length ? chips(fields, 12) : 'none (classification only)'),
    ),
  );
}

function kv(key, value) {
  return h('div', { class: 'kv-item' }, h('dt', {}, key), h('dd', {}, value));
}

function chips(list, max = Infinity) {
  const shown = list.slice(0, max);
  const more = list.length - shown.length;
  return h(
    'span',
    { class: 'chips' },
    shown.map((c) => h('code', { class: 'chip' }, c)),
    more > 0 ? h('span', { class: 'muted small', title: list.slice(max).join(', ') }, `+${more} more`) : null,
  );
}

function splitsCard(stats) {
  const sc = stats.split_counts || { train: 0, val: 0, test: 0, unassigned: 0 };
  const parts = [
    ['train', 'Train', sc.train || 0],
    ['val', 'Validation', sc.val || 0],
    ['test', 'Test', sc.test || 0],
    ['unassigned', 'Unassigned', sc.unassigned || 0],
  ];
  const total = parts.reduce((a, p) => a + p[2], 0) || 1;
  const stack = h('div', { class: 'stack-bar', 'aria-hidden': 'true' });
  for (const [key, , n] of parts) {
    if (!n) continue;
    const seg = h('span', { class: `seg seg-${key}` });
    seg.style.width = `${((n / total) * 100).toFixed(3)}%`;
    stack.appendChild(seg);
  }
  const notSplit = !sc.train && !sc.val && !sc.test;
  return h(
    'div',
    { class: 'card', id: 'detail-splits' },
    h('h2', { class: 'card-title' }, 'Splits'),
    stack,
    h(
      'ul',
      { class: 'legend' },
      parts.map(([key, label, n]) =>
        h(
          'li',
          { dataset: { split: key } },
          h('span', { class: `dot seg-${key}`, 'aria-hidden': 'true' }),
          h('span', { class: 'legend-label' }, label),
          h('span', { class: 'num' }, fmtInt(n)),
          h('span', { class: 'muted num small' }, fmtPct(n / total)),
        ),
      ),
    ),
    notSplit ? h('p', { class: 'hint' }, 'Not split yet. Use “Split train/val/test” before training.') : null,
  );
}

function fieldsCard(stats) {
  const fill = stats.field_fill || [];
  const body = fill.length
    ? h(
      'div',
      { class: 'bars' },
      fill.map((f) =>
        h(
          'div',
          { class: 'bar-row', dataset: { field: f.name } },
          h('span', { class: 'bar-label', title: f.name }, f.name),
          bar(f.rate, f.rate < 0.5 ? 'bar-low' : null),
          h('span', { class: 'num bar-value' }, fmtPct(f.rate)),
          h('span', { class: 'num muted small bar-extra' }, fmtInt(f.present)),
        ),
      ),
    )
    : h('p', { class: 'muted' }, 'No fields to extract: this dataset is for classification only.');
  return h(
    'div',
    { class: 'card', id: 'detail-fields' },
    h('h2', { class: 'card-title' }, 'Field fill rate', h('span', { class: 'card-title-aside' }, 'rows with a value')),
    body,
  );
}

function labelsCard(stats) {
  const counts = stats.label_counts || [];
  const rows = Number(stats.rows) || counts.reduce((a, [, n]) => a + n, 0) || 1;
  const max = counts.length ? Math.max(...counts.map(([, n]) => n)) : 1;
  const list = h('div', { class: 'bars bars-labels' });
  let all = false;
  const toggle = counts.length > LABELS_SHOWN
    ? button(`Show all ${counts.length} labels`, { id: 'btn-labels-all', variant: 'ghost', cls: 'btn-small' })
    : null;

  function fill() {
    const shown = all ? counts : counts.slice(0, LABELS_SHOWN);
    setChildren(
      list,
      shown.map(([label, n]) =>
        h(
          'div',
          { class: 'bar-row', dataset: { label } },
          h('span', { class: 'bar-label', title: label }, label),
          bar(n / max),
          h('span', { class: 'num bar-value' }, fmtInt(n)),
          h('span', { class: 'num muted small bar-extra' }, fmtPct(n / rows)),
        ),
      ),
    );
    if (toggle) toggle.textContent = all ? `Show top ${LABELS_SHOWN}` : `Show all ${counts.length} labels`;
  }
  if (toggle) {
    toggle.addEventListener('click', () => {
      all = !all;
      fill();
    });
  }
  fill();

  return h(
    'div',
    { class: 'card', id: 'detail-labels' },
    h(
      'h2',
      { class: 'card-title' },
      'Label distribution',
      h('span', { class: 'card-title-aside' }, counts.length > LABELS_SHOWN ? `top ${LABELS_SHOWN} of ${counts.length}` : plural(counts.length, 'label')),
    ),
    counts.length ? list : h('p', { class: 'muted' }, 'No labels.'),
    toggle ? h('div', { class: 'card-foot' }, toggle) : null,
  );
}
