// Quality report: findings grouped by check, with the affected rows shown on demand.

import { qualityReport, datasetRows } from '../backend.js';
import { h, setChildren, fmtInt, plural, showError, backLink, button, loading } from '../dom.js';

const FIRST_SHOWN = 20; // findings shown per group before "show all"
const ROWS_FETCHED = 50; // dataset_rows limit

const CHECKS = {
  exact_duplicate: ['Exact duplicates', 'Rows with identical text.'],
  near_duplicate: ['Near duplicates', 'Rows whose text is identical once case, spaces and punctuation are ignored.'],
  conflicting_labels: ['Conflicting labels', 'The same text with different labels: the model learns a contradiction.'],
  label_variants: ['Label variants', 'Labels that differ only in case, spacing or punctuation.'],
  class_imbalance: ['Class imbalance', 'The largest class is much bigger than the smallest.'],
  small_class: ['Small classes', 'Classes with too few rows to learn from.'],
  missing_field: ['Missing fields', 'A field present in most rows of a label is missing in some.'],
  field_name_variants: ['Field name variants', 'Field names that differ only in case, spacing or punctuation.'],
  value_not_in_text: ['Values not in text', 'A field value that does not occur in the ticket text.'],
  over_long: ['Over-long texts', 'Texts longer than the training length; they will be cut.'],
  split_leakage: ['Split leakage', 'The same text in two splits: evaluation would look better than it is.'],
};
const CHECK_ORDER = Object.keys(CHECKS);
const SEVERITY_RANK = { error: 0, warning: 1, info: 2 };
const SEVERITY_WORD = { error: 'Error', warning: 'Warning', info: 'Info' };

function checkTitle(check) {
  if (CHECKS[check]) return CHECKS[check][0];
  const s = String(check).replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function rank(sev) {
  return SEVERITY_RANK[sev] ?? 3;
}

/**
 * The quality report of dataset `params.name`, checked when the page opens and on "Run again".
 * @param {{name: string}} params
 * @param {PageContext} ctx
 */
export function render(params, ctx) {
  const name = params.name;
  const container = h('div', { id: 'quality-report' });
  const section = h('section', { id: 'page-quality', class: 'page' }, container);
  const toDataset = () => ctx.navigate('detail', { name });
  /** @type {(report: Report | null, rerunBtn?: HTMLButtonElement) => HTMLElement} */
  const header = (report, rerunBtn) => pageHeader(name, toDataset, report, rerunBtn);

  async function load() {
    setChildren(container, header(null), loading('Checking the data…'));
    try {
      const report = await qualityReport(name);
      if (!ctx.alive()) return;
      setChildren(
        container,
        header(report, button('Run again', { id: 'btn-quality-rerun', onClick: load })),
        reportBody(report, name),
      );
    } catch (err) {
      if (!ctx.alive()) return;
      const box = h('div', { class: 'error-box' });
      setChildren(container, header(null, button('Try again', { onClick: load })), box);
      showError(box, err);
    }
  }

  load();
  return section;
}

/**
 * The page header: back link, title, the counts of `report` (once there is one), `rerunBtn`.
 * @param {string} name
 * @param {() => void} toDataset
 * @param {Report | null} report
 * @param {HTMLButtonElement} [rerunBtn]
 */
function pageHeader(name, toDataset, report, rerunBtn) {
  return h(
    'header',
    { class: 'page-header' },
    h(
      'div',
      { class: 'page-heading' },
      backLink(name, toDataset, 'quality-back'),
      h('h1', {}, 'Quality report ', h('span', { class: 'title-name' }, name)),
      report ? severityLine(report) : null,
    ),
    rerunBtn ? h('div', { class: 'page-actions' }, rerunBtn) : null,
  );
}

/**
 * "N rows checked · 2 errors · 1 warning · 3 info".
 * @param {Report} report
 */
function severityLine(report) {
  const sev = { error: 0, warning: 0, info: 0 };
  for (const f of report.findings || []) if (f.severity in sev) sev[f.severity] += 1;
  const bits = [`${plural(report.rows, 'row')} checked`];
  if (sev.error) bits.push(plural(sev.error, 'error'));
  if (sev.warning) bits.push(plural(sev.warning, 'warning'));
  if (sev.info) bits.push(`${fmtInt(sev.info)} info`);
  return h('p', { class: 'page-subtitle', id: 'quality-rows' }, bits.join(' · '));
}

/**
 * What the page shows under its header: the summary cards, the all-clear card (no findings),
 * one group per check and the fine print.
 * @param {Report} report
 * @param {string} name  the dataset
 * @returns {DomChild[]}
 */
function reportBody(report, name) {
  const findings = Array.isArray(report.findings) ? report.findings : [];
  const groups = groupFindings(findings);
  /** @type {Map<string, HTMLDetailsElement>} */
  const groupEls = new Map();
  const groupList = h('div', { class: 'groups' });
  for (const g of groups) {
    const el = groupElement(g, name);
    groupEls.set(g.check, el);
    groupList.appendChild(el);
  }
  const fine = finePrint(report);
  return [
    groups.length ? summaryGrid(groups, groupEls) : null,
    findings.length === 0 ? cleanState(report) : null,
    groupList,
    fine.length ? h('p', { class: 'fine-print', id: 'quality-token-estimate' }, fine.join(' ')) : null,
  ];
}

/**
 * One card per check (count, title, worst severity); a click opens and scrolls to its group.
 * @param {Group[]} groups
 * @param {Map<string, HTMLDetailsElement>} groupEls
 */
function summaryGrid(groups, groupEls) {
  const summary = h('div', { id: 'quality-summary', class: 'summary-grid' });
  for (const g of groups) {
    summary.appendChild(
      h(
        'button',
        {
          type: 'button',
          class: ['summary-card', `sev-${g.worst}`],
          dataset: { summaryCheck: g.check, severity: g.worst },
          title: CHECKS[g.check] ? CHECKS[g.check][1] : null,
          onClick: () => {
            const el = groupEls.get(g.check);
            if (!el) return;
            el.open = true;
            el.scrollIntoView({ behavior: 'smooth', block: 'start' });
          },
        },
        h('span', { class: 'summary-count num' }, fmtInt(g.findings.length)),
        h('span', { class: 'summary-title' }, checkTitle(g.check)),
        h('span', { class: ['summary-sev', `text-${g.worst}`] }, SEVERITY_WORD[g.worst] || g.worst),
      ),
    );
  }
  return summary;
}

/**
 * The "All clear" card of a report without findings.
 * @param {Report} report
 */
function cleanState(report) {
  return h(
    'div',
    { id: 'quality-clean', class: 'card clean-state' },
    h('div', { class: 'clean-icon', 'aria-hidden': 'true' }),
    h('h2', {}, 'All clear'),
    h('p', { class: 'muted' }, `No problems found in ${plural(report.rows, 'row')}. This dataset is ready for training.`),
  );
}

/**
 * The sentences under the report: how token lengths were estimated and the thresholds used.
 * @param {Report} report
 * @returns {string[]}
 */
function finePrint(report) {
  const opts = report.options || /** @type {Partial<QualityOptions>} */ ({});
  const fine = [];
  if (report.token_estimate) {
    const est = String(report.token_estimate).trim();
    fine.push(`Token lengths: ${est}${/[.!?]$/.test(est) ? '' : '.'}`);
  }
  const thresholds = [];
  if (opts.max_tokens !== undefined) thresholds.push(`texts over ${fmtInt(opts.max_tokens)} tokens`);
  if (opts.min_class_rows !== undefined) thresholds.push(`classes under ${fmtInt(opts.min_class_rows)} rows`);
  if (opts.imbalance_ratio !== undefined) thresholds.push(`class imbalance from ${opts.imbalance_ratio}×`);
  if (thresholds.length) fine.push(`Reported: ${thresholds.join(', ')}.`);
  return fine;
}

/**
 * The findings of one check, with the most severe of them.
 * @typedef {object} Group
 * @property {Check} check
 * @property {Severity} worst
 * @property {Finding[]} findings
 */

/**
 * Findings grouped by check: most severe groups first, then in check order.
 * @param {Finding[]} findings
 * @returns {Group[]}
 */
function groupFindings(findings) {
  /** @type {Map<Check, Group>} */
  const map = new Map();
  for (const f of findings) {
    let g = map.get(f.check);
    if (!g) {
      g = { check: f.check, worst: f.severity, findings: [] };
      map.set(f.check, g);
    }
    g.findings.push(f);
    if (rank(f.severity) < rank(g.worst)) g.worst = f.severity;
  }
  const order = (c) => {
    const i = CHECK_ORDER.indexOf(c);
    return i < 0 ? CHECK_ORDER.length : i;
  };
  return [...map.values()].sort((a, b) => rank(a.worst) - rank(b.worst) || order(a.check) - order(b.check));
}

/**
 * A check's group: a collapsible list of its findings, the first `FIRST_SHOWN` at once.
 * @param {Group} g
 * @param {string} name  the dataset
 */
function groupElement(g, name) {
  const list = h('div', { class: 'finding-list' });
  let shown = 0;
  const more = button('', { variant: 'ghost', cls: 'btn-small btn-show-all' });

  function showUpTo(n) {
    const upto = Math.min(n, g.findings.length);
    for (let i = shown; i < upto; i++) list.appendChild(findingElement(g.findings[i], name));
    shown = upto;
    if (shown >= g.findings.length) {
      more.remove();
    } else {
      more.textContent = `Show all ${fmtInt(g.findings.length)}`;
    }
  }
  more.addEventListener('click', () => showUpTo(g.findings.length));
  showUpTo(FIRST_SHOWN);

  const desc = CHECKS[g.check] ? CHECKS[g.check][1] : '';
  const details = h(
    'details',
    { class: ['finding-group', `sev-${g.worst}`], dataset: { group: g.check }, open: true },
    h(
      'summary',
      { class: 'group-head' },
      h('span', { class: 'chevron', 'aria-hidden': 'true' }),
      h('span', { class: 'group-title' }, checkTitle(g.check)),
      h('span', { class: ['count-pill', `sev-${g.worst}`] }, fmtInt(g.findings.length)),
      h('span', { class: 'group-desc muted' }, desc),
    ),
    list,
    shown < g.findings.length
      ? h('div', { class: 'group-foot' }, h('span', { class: 'muted small' }, `Showing the first ${FIRST_SHOWN}.`), more)
      : null,
  );
  more.addEventListener('click', () => {
    const foot = details.querySelector('.group-foot');
    if (foot) foot.remove();
  });
  return details;
}

/**
 * One finding: severity, message, and its rows (fetched on "Show rows").
 * @param {Finding} f
 * @param {string} name  the dataset
 */
function findingElement(f, name) {
  const rows = Array.isArray(f.rows) ? f.rows : [];
  const rowsBox = h('div', { class: 'finding-rows', hidden: true });
  let loaded = false;
  let open = false;
  const toggle = rows.length
    ? button('Show rows', { variant: 'ghost', cls: 'btn-small btn-rows' })
    : null;

  if (toggle) {
    toggle.addEventListener('click', async () => {
      open = !open;
      toggle.textContent = open ? 'Hide rows' : 'Show rows';
      toggle.setAttribute('aria-expanded', String(open));
      rowsBox.hidden = !open;
      if (!open || loaded) return;
      loaded = true;
      setChildren(rowsBox, loading('Loading rows…'));
      try {
        const ids = rows.slice(0, ROWS_FETCHED);
        const data = await datasetRows(name, ids);
        setChildren(rowsBox, rowsTable(data, rows.length, f));
      } catch (err) {
        loaded = false;
        const box = h('div', { class: 'error-box' });
        setChildren(rowsBox, box);
        showError(box, err);
      }
    });
  }

  return h(
    'div',
    { class: ['finding', `sev-${f.severity}`], dataset: { check: f.check, severity: f.severity } },
    h(
      'div',
      { class: 'finding-head' },
      h('span', { class: ['badge', `sev-${f.severity}`] }, SEVERITY_WORD[f.severity] || f.severity),
      h('span', { class: 'finding-message' }, f.message),
      rows.length ? h('span', { class: 'finding-meta muted small num' }, plural(rows.length, 'row')) : null,
      toggle,
    ),
    rowsBox,
  );
}

/**
 * The rows of a finding as a table (at most `ROWS_FETCHED` of `total`).
 * @param {Example[]} data
 * @param {number} total
 * @param {Finding} finding
 */
function rowsTable(data, total, finding) {
  const list = Array.isArray(data) ? data : [];
  const note = total > list.length
    ? h('p', { class: 'muted small rows-note' }, `Showing ${fmtInt(list.length)} of ${plural(total, 'row')}.`)
    : null;
  const labels = new Set(list.map((r) => r.label));
  const conflicting = finding.check === 'conflicting_labels' || finding.check === 'label_variants' || labels.size > 1;
  const table = h(
    'table',
    { class: 'table rows-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { class: 'num' }, 'Row'),
        h('th', { class: 'num' }, 'Line'),
        h('th', {}, 'Split'),
        h('th', {}, 'Label'),
        h('th', {}, 'Text'),
        h('th', {}, 'Fields'),
      ),
    ),
    h(
      'tbody',
      {},
      list.map((r) =>
        h(
          'tr',
          { dataset: { row: r.row } },
          h('td', { class: 'num' }, fmtInt(r.row)),
          h('td', { class: 'num muted' }, r.line !== undefined && r.line !== null ? fmtInt(r.line) : '—'),
          h('td', {}, r.split ? h('span', { class: ['split-tag', `seg-${r.split}`] }, r.split) : h('span', { class: 'muted' }, '—')),
          h('td', { class: 'cell-label' }, h('span', { class: ['label-tag', conflicting ? 'label-tag-strong' : null] }, r.label ?? '')),
          h('td', { class: 'cell-text' }, h('div', { class: 'text-clamp' }, r.text ?? '')),
          h(
            'td',
            { class: 'cell-fields' },
            Array.isArray(r.fields) && r.fields.length
              ? r.fields.map(([k, v]) => h('div', { class: 'field-pair' }, h('span', { class: 'field-key' }, k), h('span', { class: 'field-val' }, v)))
              : h('span', { class: 'muted' }, '—'),
          ),
        ),
      ),
    ),
  );
  return [note, h('div', { class: 'table-scroll rows-scroll' }, table)];
}
