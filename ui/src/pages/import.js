// Import wizard: step 1 picks and previews a file, step 2 maps its columns and imports.

import { listDatasets, pickFile, previewFile, importDataset } from '../backend.js';
import {
  h,
  setChildren,
  fmtInt,
  plural,
  delimiterWord,
  showError,
  clearError,
  backLink,
  button,
  loading,
} from '../dom.js';

/** What a CSV column is for. @typedef {'text' | 'label' | 'field' | 'ignore'} Role */

/** @type {Role[]} */
const ROLES = ['text', 'label', 'field', 'ignore'];
const ROLE_LABELS = { text: 'Text', label: 'Label', field: 'Field', ignore: 'Ignore' };

/**
 * @typedef {object} ImportState  The wizard's state.
 * @property {Preview | null} preview  the last successful preview
 * @property {string | null} path  the path it was made from
 * @property {Map<string, Role>} roles  column → role (CSV only)
 * @property {Set<string>} existing  names of stored datasets, for the "already exists" hint
 * @property {boolean} busy
 * @property {(() => void) | null} onExisting  refreshes the name hint once the names are known
 */

/**
 * @typedef {object} Page  What the steps share; built once by `buildPage`.
 * @property {PageContext} ctx  the router context (navigate, alive)
 * @property {ImportState} state
 * @property {() => void} back  goes back to the dataset list
 * @property {HTMLInputElement} pathInput
 * @property {HTMLButtonElement} browseBtn
 * @property {HTMLButtonElement} previewBtn
 * @property {HTMLElement} staleNote  "the path changed" hint under the path row
 * @property {HTMLElement} step1Status  "Reading the file…" slot
 * @property {HTMLElement} step1  the step 1 card
 * @property {HTMLElement} errorBox  #import-error; moves into step 2 while it is shown
 * @property {HTMLElement} step2  the slot step 2 is drawn into
 * @property {HTMLElement} section  the whole page
 */

/**
 * The import page. Step 1 (always shown) takes a path and previews the file; each successful
 * preview redraws step 2 (name, column mapping, import).
 * @param {unknown} _params
 * @param {PageContext} ctx
 */
export function render(_params, ctx) {
  const page = buildPage(ctx);
  loadExistingNames(page.state);
  wireStep1(page);
  queueMicrotask(() => page.pathInput.focus());
  return page.section;
}

/**
 * Creates the page state and the fixed elements: header, step 1 card, error box, step 2 slot.
 * @param {PageContext} ctx
 * @returns {Page}
 */
function buildPage(ctx) {
  /** @type {ImportState} */
  const state = {
    preview: null, // the last successful Preview
    path: null, // the path it was made from
    roles: new Map(), // column → role (CSV only)
    existing: new Set(), // names of stored datasets, for the "already exists" hint
    busy: false,
    onExisting: null, // refreshes the name hint once the names are known
  };

  const back = () => ctx.navigate('datasets');

  const step1Parts = step1Card();
  const errorBox = h('div', { id: 'import-error', class: 'error-box', hidden: true });
  const step2 = h('div', { class: 'step2' });

  const section = h(
    'section',
    { id: 'page-import', class: 'page' },
    h(
      'header',
      { class: 'page-header' },
      h(
        'div',
        { class: 'page-heading' },
        backLink('Datasets', back, 'import-cancel'),
        h('h1', {}, 'Import dataset'),
      ),
    ),
    step1Parts.step1,
    errorBox,
    step2,
  );

  return { ctx, state, back, ...step1Parts, errorBox, step2, section };
}

/** The step 1 card: the path row (input, Browse, Preview), the stale-path note and a status slot. */
function step1Card() {
  const pathInput = h('input', {
    id: 'import-path',
    class: 'input input-path',
    type: 'text',
    placeholder: 'Path to a .csv or .jsonl file',
    spellcheck: 'false',
    autocomplete: 'off',
    'aria-label': 'File path',
  });
  const browseBtn = button('Browse…', { id: 'btn-browse' });
  const previewBtn = button('Preview', { id: 'btn-preview', variant: 'primary' });
  const staleNote = h('p', { class: 'hint hint-warning', hidden: true }, 'The path changed: press Preview to load this file.');
  const step1Status = h('div', { class: 'step-status' });

  const step1 = h(
    'div',
    { class: 'card step' },
    h('div', { class: 'step-head' }, h('span', { class: 'step-num' }, '1'), h('h2', {}, 'Choose a file')),
    h(
      'p',
      { class: 'muted step-intro' },
      'CSV (comma, semicolon, tab or pipe separated, with a header row) or JSONL (one JSON object per line). ',
      'Nothing is stored until you press Import.',
    ),
    h('div', { class: 'path-row' }, pathInput, browseBtn, previewBtn),
    staleNote,
    step1Status,
  );

  return { pathInput, browseBtn, previewBtn, staleNote, step1Status, step1 };
}

/**
 * Fetches the stored dataset names (for the "already exists" hint); failures are ignored.
 * @param {ImportState} state
 */
function loadExistingNames(state) {
  listDatasets()
    .then((list) => {
      for (const d of list || []) state.existing.add(d.name);
      if (state.onExisting) state.onExisting();
    })
    .catch(() => {});
}

/**
 * Step 1 behaviour: Preview (button or Enter), the stale-path check while typing, Browse.
 * @param {Page} page
 */
function wireStep1(page) {
  const { state, pathInput, browseBtn, previewBtn, staleNote, section } = page;

  previewBtn.addEventListener('click', () => doPreview(page));
  pathInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      doPreview(page);
    }
  });
  pathInput.addEventListener('input', () => {
    const stale = state.preview !== null && pathInput.value.trim() !== state.path;
    staleNote.hidden = !stale;
    const importBtn = /** @type {HTMLButtonElement | null} */ (section.querySelector('#btn-do-import'));
    if (importBtn && !state.busy) importBtn.disabled = stale;
  });
  browseBtn.addEventListener('click', () => doBrowse(page));
}

/**
 * Previews the typed path; on success draws step 2, on failure clears it and shows the error.
 * @param {Page} page
 */
async function doPreview(page) {
  const { ctx, state, pathInput, browseBtn, previewBtn, staleNote, errorBox, step1Status, step1, step2 } = page;
  if (state.busy) return;
  const path = pathInput.value.trim();
  if (!path) {
    showError(errorBox, 'Enter the path of a .csv or .jsonl file, or press Browse….');
    pathInput.focus();
    return;
  }
  state.busy = true;
  previewBtn.disabled = true;
  browseBtn.disabled = true;
  clearError(errorBox);
  setChildren(step1Status, loading('Reading the file…'));
  try {
    const preview = await previewFile(path);
    if (!ctx.alive()) return;
    state.preview = preview;
    state.path = path;
    staleNote.hidden = true;
    renderStep2(page);
  } catch (err) {
    if (!ctx.alive()) return;
    state.preview = null;
    state.path = null;
    step2.replaceChildren();
    step1.after(errorBox);
    showError(errorBox, err);
  } finally {
    state.busy = false;
    previewBtn.disabled = false;
    browseBtn.disabled = false;
    step1Status.replaceChildren();
  }
}

/**
 * Opens the native file dialog and previews the chosen file.
 * @param {Page} page
 */
async function doBrowse(page) {
  const { ctx, state, pathInput, errorBox } = page;
  if (state.busy) return;
  try {
    const picked = await pickFile();
    if (!ctx.alive()) return;
    if (picked) {
      pathInput.value = picked;
      doPreview(page);
    }
  } catch (err) {
    if (!ctx.alive()) return;
    showError(errorBox, err);
  }
}

/**
 * @typedef {object} Step2Form  The step 2 controls of one preview; built by `renderStep2`.
 * @property {Preview} p  the Preview they were built from
 * @property {boolean} isJsonl
 * @property {string[]} columns
 * @property {string[][]} rows  the sample rows
 * @property {HTMLElement} summary  format · rows · columns line
 * @property {HTMLElement|null} problemNote  rows the import will refuse
 * @property {HTMLInputElement} nameInput
 * @property {HTMLInputElement} replaceBox
 * @property {HTMLElement} nameHint
 * @property {HTMLElement} nameBlock
 * @property {HTMLTableElement} table  the preview table with the role selects
 * @property {HTMLElement} mappingSummary
 * @property {HTMLButtonElement|null} fieldsRestBtn  CSV only
 * @property {() => void} syncMapping  selects, cell colours and summary from state.roles
 * @property {() => void} readRoles  state.roles from the selects
 * @property {HTMLButtonElement} importBtn
 * @property {HTMLProgressElement} progress
 * @property {HTMLElement} progressText
 * @property {HTMLElement} progressWrap
 */

/**
 * Step 2 for `state.preview`: the summary, name, column mapping and Import button.
 * @param {Page} page
 */
function renderStep2(page) {
  const { state, step2 } = page;
  const p = state.preview;
  const isJsonl = p.format === 'jsonl';
  const columns = Array.isArray(p.columns) ? p.columns : [];
  const rows = Array.isArray(p.rows) ? p.rows : [];
  const sugg = p.suggestion || { text: [], label: null, fields: [] };

  suggestRoles(state, columns, sugg);
  const summary = previewSummary(p, columns, isJsonl);
  const problemNote = previewProblems(p);
  const nameParts = nameForm(p, state);
  const mappingParts = mappingControls(state, columns, rows, isJsonl);
  const importBtn = button(`Import ${plural(p.total_rows, 'row')}`, { id: 'btn-do-import', variant: 'primary' });
  const progressParts = importProgress();

  /** @type {Step2Form} */
  const form = {
    p, isJsonl, columns, rows, summary, problemNote,
    ...nameParts, ...mappingParts, importBtn, ...progressParts,
  };
  wireImport(page, form);

  setChildren(step2, step2Card(page, form));
  form.syncMapping();
  form.nameInput.focus();
  form.nameInput.select();
}

/**
 * Sets `state.roles` to the backend's suggestion: each column text, label, field or ignore.
 * @param {ImportState} state
 * @param {string[]} columns
 * @param {Suggestion} sugg
 */
function suggestRoles(state, columns, sugg) {
  state.roles = new Map();
  for (const c of columns) {
    /** @type {Role} */
    let role = 'ignore';
    if ((sugg.text || []).includes(c)) role = 'text';
    else if (sugg.label === c) role = 'label';
    else if ((sugg.fields || []).includes(c)) role = 'field';
    state.roles.set(c, role);
  }
}

/**
 * The "CSV · comma-separated · N rows · M columns" line.
 * @param {Preview} p
 * @param {string[]} columns
 * @param {boolean} isJsonl
 */
function previewSummary(p, columns, isJsonl) {
  const parts = [String(p.format || '').toUpperCase()];
  const dw = delimiterWord(p.delimiter);
  if (!isJsonl && dw) parts.push(`${dw}-separated`);
  parts.push(plural(p.total_rows, 'row'));
  parts.push(plural(columns.length, isJsonl ? 'key' : 'column'));
  return h('p', { id: 'import-summary', class: 'import-summary' }, parts.join(' · '));
}

/**
 * Rows the import will refuse: say so now, before the user maps columns. Null when none.
 * @param {Preview} p
 */
function previewProblems(p) {
  return p.problem_count
    ? h(
        'div',
        { id: 'preview-problems', class: 'note note-warning', role: 'status' },
        h(
          'p',
          {},
          `${plural(p.problem_count, 'row')} cannot be imported as ${p.problem_count === 1 ? 'it is' : 'they are'}; fix the file first (nothing is stored while any row has a problem):`,
        ),
        h('ul', { class: 'problem-list' }, ...(p.problems || []).map((line) => h('li', { class: 'mono small' }, line))),
      )
    : null;
}

/**
 * The dataset name input and the Replace checkbox, with the hint that warns about (or
 * confirms replacing) a stored dataset of that name. The hint is refreshed on every change
 * and, through `state.onExisting`, once the stored names arrive.
 * @param {Preview} p
 * @param {ImportState} state
 */
function nameForm(p, state) {
  const nameInput = h('input', {
    id: 'import-name',
    class: 'input',
    type: 'text',
    value: p.suggested_name || '',
    maxlength: '100',
    spellcheck: 'false',
    autocomplete: 'off',
  });
  const replaceBox = h('input', { id: 'import-replace', type: 'checkbox' });
  const nameHint = h('p', { class: 'hint hint-warning', hidden: true });
  const updateNameHint = () => {
    const name = nameInput.value.trim();
    const exists = state.existing.has(name);
    if (exists && !replaceBox.checked) {
      nameHint.textContent = `A dataset named “${name}” already exists. Choose another name or tick “Replace”.`;
      nameHint.hidden = false;
    } else if (exists) {
      nameHint.textContent = `The stored dataset “${name}” will be replaced (with its splits).`;
      nameHint.hidden = false;
    } else {
      nameHint.hidden = true;
    }
  };
  nameInput.addEventListener('input', updateNameHint);
  replaceBox.addEventListener('change', updateNameHint);
  updateNameHint();
  state.onExisting = updateNameHint;

  const nameBlock = h(
    'div',
    { class: 'form-row' },
    h(
      'div',
      { class: 'field-group' },
      h('label', { for: 'import-name', class: 'field-label' }, 'Dataset name'),
      nameInput,
    ),
    h(
      'label',
      { class: 'checkbox', for: 'import-replace' },
      replaceBox,
      h('span', {}, 'Replace a dataset with this name'),
    ),
  );

  return { nameInput, replaceBox, nameHint, nameBlock };
}

/**
 * The preview table with a role select per column (CSV), the mapping summary and the
 * "Map all other columns as fields" button; `state.roles` and the selects are kept in step.
 * @param {ImportState} state
 * @param {string[]} columns
 * @param {string[][]} rows
 * @param {boolean} isJsonl
 */
function mappingControls(state, columns, rows, isJsonl) {
  const table = previewTable(columns, rows, isJsonl);
  const mappingSummary = h('p', { class: 'mapping-summary', 'aria-live': 'polite' });

  const fieldsRestBtn = isJsonl
    ? null
    : button('Map all other columns as fields', { id: 'btn-fields-rest', onClick: () => {
      readRoles();
      for (const [c, role] of state.roles) {
        if (role === 'ignore') state.roles.set(c, 'field');
      }
      syncMapping();
    } });

  function syncMapping() {
    for (const sel of roleSelects(table)) {
      sel.value = state.roles.get(sel.dataset.column) || 'ignore';
    }
    paintRoles(table, columns, state.roles);
    if (isJsonl) {
      mappingSummary.textContent = '';
      return;
    }
    const count = { text: 0, label: 0, field: 0, ignore: 0 };
    for (const r of state.roles.values()) count[r] += 1;
    const bits = [
      plural(count.text, 'text column'),
      plural(count.label, 'label column'),
      plural(count.field, 'field'),
      `${fmtInt(count.ignore)} ignored`,
    ];
    mappingSummary.textContent = bits.join(' · ');
    mappingSummary.classList.toggle('hint-warning', count.text === 0 || count.label !== 1);
  }

  // The selects are the source of truth (WebDriver or the keyboard may change them without
  // a change event reaching us first): read them back before using the mapping.
  function readRoles() {
    for (const sel of roleSelects(table)) {
      state.roles.set(sel.dataset.column, asRole(sel.value));
    }
  }
  const onSelect = (e) => {
    const sel = e.target;
    if (!(sel instanceof HTMLSelectElement) || !sel.dataset.column) return;
    readRoles();
    syncMapping();
  };
  table.addEventListener('change', onSelect);
  table.addEventListener('input', onSelect);

  return { table, mappingSummary, fieldsRestBtn, syncMapping, readRoles };
}

/**
 * The role selects of the preview table (CSV), one per column.
 * @param {HTMLTableElement} table
 */
function roleSelects(table) {
  return /** @type {NodeListOf<HTMLSelectElement>} */ (table.querySelectorAll('select[data-column]'));
}

/**
 * `value` as a role; anything else is 'ignore'.
 * @param {string} value
 * @returns {Role}
 */
function asRole(value) {
  return ROLES.find((r) => r === value) || 'ignore';
}

/** The import progress bar and its text, hidden until an import starts. */
function importProgress() {
  const progress = h('progress', { id: 'import-progress', class: 'progress', max: '1', hidden: true });
  const progressText = h('span', { class: 'progress-text muted', 'aria-live': 'polite' });
  const progressWrap = h('div', { class: 'progress-wrap', hidden: true }, progress, progressText);
  return { progress, progressText, progressWrap };
}

/**
 * Import on the Import button or on Enter in the name input.
 * @param {Page} page
 * @param {Step2Form} form
 */
function wireImport(page, form) {
  form.importBtn.addEventListener('click', () => doImport(page, form));
  form.nameInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      doImport(page, form);
    }
  });
}

/**
 * Lays out the step 2 card.
 * @param {Page} page
 * @param {Step2Form} form
 */
function step2Card(page, form) {
  const { p, rows } = form;
  const shown = Math.min(rows.length, Number(p.total_rows) || rows.length);
  const mappingHead = mappingIntro(form.isJsonl);

  return h(
    'div',
    { class: 'card step' },
    h('div', { class: 'step-head' }, h('span', { class: 'step-num' }, '2'), h('h2', {}, 'Name and map columns')),
    form.summary,
    form.problemNote,
    form.nameBlock,
    form.nameHint,
    mappingHead,
    h(
      'div',
      { class: 'toolbar' },
      form.mappingSummary,
      h('span', { class: 'spacer' }),
      h('span', { class: 'muted small' }, `First ${fmtInt(shown)} of ${plural(p.total_rows, 'row')}`),
      form.fieldsRestBtn,
    ),
    h('div', { class: 'table-scroll preview-scroll' }, form.table),
    page.errorBox,
    h(
      'div',
      { class: 'step-foot' },
      form.progressWrap,
      h('span', { class: 'spacer' }),
      backLink('Cancel', page.back),
      form.importBtn,
    ),
  );
}

/**
 * The text above the table: how to map columns (CSV), or why there is nothing to map (JSONL).
 * @param {boolean} isJsonl
 */
function mappingIntro(isJsonl) {
  return isJsonl
    ? h(
      'p',
      { class: 'note' },
      'This is a JSONL file: the ticket text, label and fields are read from each record ',
      '(keys ',
      h('code', {}, 'text'), ', ', h('code', {}, 'label'), ' and ', h('code', {}, 'fields'),
      ', or ', h('code', {}, 'prompt'), ' and ', h('code', {}, 'completion'),
      '), so there is nothing to map.',
    )
    : h(
      'p',
      { class: 'muted step-intro' },
      'Choose what each column is: ',
      h('strong', {}, 'text'), ' (joined into the ticket the model reads), ',
      h('strong', {}, 'label'), ' (exactly one: the category to predict), ',
      h('strong', {}, 'field'), ' (a value to extract) or ',
      h('strong', {}, 'ignore'), '.',
    );
}

/**
 * Why the form cannot be imported as it is, or null when it can.
 * @param {Step2Form} form
 * @param {ImportState} state
 * @returns {string | null}
 */
function validateImport(form, state) {
  const { nameInput, isJsonl, columns } = form;
  const name = nameInput.value.trim();
  if (!name) return 'Give the dataset a name.';
  if (name.length > 100) return 'The dataset name is too long (100 characters at most).';
  if (isJsonl) return null;
  form.readRoles();
  const text = columns.filter((c) => state.roles.get(c) === 'text');
  const label = columns.filter((c) => state.roles.get(c) === 'label');
  if (text.length === 0) return 'Choose at least one text column (the ticket text the model reads).';
  if (label.length === 0) return 'Choose the label column (the category the model learns to predict).';
  if (label.length > 1) return `Only one column can be the label; now ${label.length} are: ${label.join(', ')}.`;
  return null;
}

/**
 * The import spec (backend.js `importDataset`) for the form's name, mapping and Replace box.
 * @param {Step2Form} form
 * @param {ImportState} state
 * @returns {ImportSpec}
 */
function importSpec(form, state) {
  const { p, isJsonl, columns, nameInput, replaceBox } = form;
  return {
    name: nameInput.value.trim(),
    format: p.format === 'jsonl' || p.format === 'csv' ? p.format : null,
    delimiter: null,
    text_columns: isJsonl ? [] : columns.filter((c) => state.roles.get(c) === 'text'),
    label_column: isJsonl ? null : columns.find((c) => state.roles.get(c) === 'label') || null,
    field_columns: isJsonl ? [] : columns.filter((c) => state.roles.get(c) === 'field'),
    fields_rest: false,
    replace: replaceBox.checked,
  };
}

/**
 * Validates and imports, showing progress; on success opens the new dataset, on failure
 * shows the error and unlocks the form.
 * @param {Page} page
 * @param {Step2Form} form
 */
async function doImport(page, form) {
  const { ctx, state, errorBox } = page;
  const { progress, progressText, progressWrap } = form;
  if (state.busy) return;
  const problem = validateImport(form, state);
  if (problem) {
    showError(errorBox, problem);
    return;
  }
  clearError(errorBox);
  const spec = importSpec(form, state);
  setBusy(page, form, true);
  progress.removeAttribute('value'); // indeterminate until the first event
  progressText.textContent = 'Reading and checking the file…';
  progressWrap.hidden = false;
  progress.hidden = false;
  try {
    const result = await importDataset(state.path, spec, (ev) => showImportProgress(ctx, form, ev));
    if (!ctx.alive()) return;
    const ds = (result && result.dataset) || { name: spec.name };
    ctx.navigate('detail', {
      name: ds.name,
      imported: {
        rows: result ? result.rows : undefined,
        unmapped: (result && result.unmapped_columns) || [],
      },
    });
  } catch (err) {
    if (!ctx.alive()) return;
    progressWrap.hidden = true;
    progress.hidden = true;
    progressText.textContent = '';
    showError(errorBox, err);
    setBusy(page, form, false);
  }
}

/**
 * Shows one import progress event: {event: "parsed", rows} or {event: "storing", done, total}.
 * @param {PageContext} ctx
 * @param {Step2Form} form
 * @param {ImportEvent} ev
 */
function showImportProgress(ctx, form, ev) {
  const { progress, progressText } = form;
  if (!ctx.alive() || !ev) return;
  if (ev.event === 'parsed') {
    progress.max = Math.max(1, Number(ev.rows) || 1);
    progress.value = 0;
    progressText.textContent = `${plural(ev.rows, 'row')} checked; storing…`;
  } else if (ev.event === 'storing') {
    const total = Math.max(1, Number(ev.total) || 1);
    progress.max = total;
    progress.value = Math.min(total, Number(ev.done) || 0);
    progressText.textContent = `Stored ${fmtInt(ev.done)} of ${fmtInt(ev.total)} rows…`;
  }
}

/**
 * Locks (or unlocks) both steps' controls while an import runs.
 * @param {Page} page
 * @param {Step2Form} form
 * @param {boolean} busy
 */
function setBusy(page, form, busy) {
  const { state, previewBtn, browseBtn, pathInput } = page;
  const { importBtn, nameInput, replaceBox, fieldsRestBtn, table } = form;
  state.busy = busy;
  importBtn.disabled = busy;
  previewBtn.disabled = busy;
  browseBtn.disabled = busy;
  pathInput.disabled = busy;
  nameInput.disabled = busy;
  replaceBox.disabled = busy;
  if (fieldsRestBtn) fieldsRestBtn.disabled = busy;
  for (const sel of table.querySelectorAll('select')) sel.disabled = busy;
  importBtn.classList.toggle('is-busy', busy);
}

/**
 * The preview table: the column names (with a role select each, CSV) over the sample rows.
 * @param {string[]} columns
 * @param {string[][]} rows
 * @param {boolean} isJsonl
 */
function previewTable(columns, rows, isJsonl) {
  const headCells = columns.map((c, i) => {
    const label = h('div', { class: 'col-name', title: c }, c);
    if (isJsonl) return h('th', { scope: 'col', dataset: { index: i } }, label);
    const select = h(
      'select',
      { class: 'role-select', dataset: { column: c }, 'aria-label': `Role of column ${c}` },
      ROLES.map((r) => h('option', { value: r }, ROLE_LABELS[r].toLowerCase())),
    );
    return h('th', { scope: 'col', dataset: { index: i } }, select, label);
  });
  const body = rows.map((r) =>
    h(
      'tr',
      {},
      columns.map((_, i) => {
        const v = r && r[i] !== undefined && r[i] !== null ? String(r[i]) : '';
        return h('td', { class: v ? null : 'empty-cell', title: v.length > 40 ? v : null }, v);
      }),
    ),
  );
  return h(
    'table',
    { id: 'preview-table', class: ['table', 'preview-table', isJsonl ? 'is-jsonl' : null] },
    h('thead', {}, h('tr', {}, headCells)),
    h('tbody', {}, body),
  );
}

/**
 * Colours each column's cells by its role.
 * @param {HTMLTableElement} table
 * @param {string[]} columns
 * @param {Map<string, Role>} roles
 */
function paintRoles(table, columns, roles) {
  const classes = ROLES.map((r) => `role-${r}`);
  const rowsEls = table.querySelectorAll('tr');
  for (const tr of rowsEls) {
    const cells = tr.children;
    for (let i = 0; i < cells.length && i < columns.length; i++) {
      const role = roles.get(columns[i]) || 'ignore';
      cells[i].classList.remove(...classes);
      cells[i].classList.add(`role-${role}`);
    }
  }
}
