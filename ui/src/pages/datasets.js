// Datasets page: the list of imported datasets.

import { listDatasets, importSample } from '../backend.js';
import { h, setChildren, fmtInt, fmtDate, plural, showError, button, loading } from '../dom.js';

/**
 * The datasets page: the stored datasets, or the empty state with Import and the sample.
 * @param {{notice?: string}} params  notice: a line shown on top (e.g. after a delete)
 * @param {PageContext} ctx
 */
export function render(params, ctx) {
  const openImport = () => ctx.navigate('import');
  const error = h('div', { class: 'error-box', hidden: true });
  const tbody = h('tbody');
  const tableCard = h('div', { class: 'card table-card', hidden: true }, h('div', { class: 'table-scroll' }, datasetsTable(tbody)));
  const empty = emptyState(ctx, openImport, error);
  const status = h('div', { class: 'page-status' }, loading('Loading datasets…'));
  const count = h('span', { class: 'page-subtitle' });

  const section = h(
    'section',
    { id: 'page-datasets', class: 'page' },
    h(
      'header',
      { class: 'page-header' },
      h('div', { class: 'page-heading' }, h('h1', {}, 'Datasets'), count),
      h(
        'div',
        { class: 'page-actions' },
        button('Import dataset…', { id: 'btn-import', variant: 'primary', onClick: openImport }),
      ),
    ),
    params && params.notice ? h('div', { class: 'notice', role: 'status' }, params.notice) : null,
    error,
    status,
    empty,
    tableCard,
  );

  listDatasets()
    .then((list) => {
      if (!ctx.alive()) return;
      status.remove();
      list = Array.isArray(list) ? list : [];
      count.textContent = list.length ? plural(list.length, 'dataset') : '';
      if (list.length === 0) {
        empty.hidden = false;
        return;
      }
      setChildren(tbody, list.map((ds) => row(ds, ctx)));
      tableCard.hidden = false;
    })
    .catch((err) => {
      if (!ctx.alive()) return;
      status.remove();
      showError(error, err);
    });

  return section;
}

/**
 * The datasets table: its header over `tbody` (filled once the list arrives).
 * @param {HTMLTableSectionElement} tbody
 */
function datasetsTable(tbody) {
  return h(
    'table',
    { id: 'datasets-table', class: 'table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Name'),
        h('th', { scope: 'col', class: 'num' }, 'Rows'),
        h('th', { scope: 'col' }, 'Label column'),
        h('th', { scope: 'col', class: 'num' }, 'Fields'),
        h('th', { scope: 'col' }, 'Format'),
        h('th', { scope: 'col' }, 'Source'),
        h('th', { scope: 'col' }, 'Created'),
      ),
    ),
    tbody,
  );
}

/**
 * The (hidden) "No datasets yet" card: Import, or try the sample tickets.
 * @param {PageContext} ctx
 * @param {() => void} openImport
 * @param {HTMLElement} error  where a failed sample import is shown
 */
function emptyState(ctx, openImport, error) {
  return h(
    'div',
    { id: 'datasets-empty', class: 'card empty-state', hidden: true },
    h('div', { class: 'empty-icon', 'aria-hidden': 'true' }),
    h('h2', {}, 'No datasets yet'),
    h(
      'p',
      {},
      'Import a CSV or JSONL file of support tickets to get started. ',
      'You choose which columns hold the ticket text, the label and the fields to extract.',
    ),
    h(
      'div',
      { class: 'row' },
      button('Import dataset…', { id: 'btn-import-empty', variant: 'primary', onClick: openImport }),
      button('Try the sample tickets', {
        id: 'btn-sample',
        title: '360 support tickets written for TuneDesk: category + Customer ID, Account Number, Email',
        onClick: () =>
          importSample()
            .then((s) => ctx.navigate('detail', { name: s.dataset.name }))
            .catch((e) => showError(error, e)),
      }),
    ),
  );
}

/**
 * One dataset's row; a click (or Enter/Space) opens it.
 * @param {DatasetInfo} ds
 * @param {PageContext} ctx
 */
function row(ds, ctx) {
  const open = () => ctx.navigate('detail', { name: ds.name });
  const fields = Array.isArray(ds.fields) ? ds.fields : [];
  return h(
    'tr',
    {
      class: 'clickable',
      dataset: { dataset: ds.name },
      tabindex: '0',
      title: `Open ${ds.name}`,
      onClick: open,
      onKeydown: (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          open();
        }
      },
    },
    h('td', { class: 'ds-name' }, ds.name),
    h('td', { class: 'ds-rows num' }, fmtInt(ds.rows), ds.edits ? h('div', { class: 'figure-note ds-edits', title: 'Labels changed since import' }, `${ds.edits} relabelled`) : null),
    h('td', { class: 'ds-label-column' }, ds.label_column ? h('code', { class: 'chip' }, ds.label_column) : '—'),
    h('td', { class: 'ds-fields num', title: fields.join(', ') }, String(fields.length)),
    h('td', { class: 'ds-format' }, String(ds.format || '')),
    h('td', { class: 'ds-source muted', title: ds.source }, basename(ds.source)),
    h('td', { class: 'ds-created', title: ds.created_at }, fmtDate(ds.created_at)),
  );
}

/** @param {string} path */
function basename(path) {
  if (!path) return '';
  const parts = String(path).split(/[\\/]/);
  return parts[parts.length - 1];
}
