// Train page: choose a dataset (its quality summary; errors acknowledged) and a model, a
// preset or hand-set hyperparameters with one line of guidance each, then Start → run page.

import { listDatasets, listModels, qualityReport, startRun, importSample, preflightRun } from '../backend.js';
import { h, setChildren, button, loading, showError, clearError, plural, fmtBytes, fmtDuration } from '../dom.js';
import * as jobs from '../jobs.js';
import * as settings from '../settings.js';

/**
 * A number field of the settings form.
 * @typedef {object} Field
 * @property {string} id  the input's id
 * @property {string} label
 * @property {string} hint  one line of guidance
 * @property {(c: TrainConfig) => number | string} read  the value shown for `c`
 * @property {(c: TrainConfig, v: number) => void} write  stores `v` (NaN when empty) in `c`
 * @property {string} [empty]  what an empty field means
 */

/** The form's number fields. @type {Field[]} */
const FIELDS = [
  { id: 'set-lr', label: 'Learning rate', hint: 'How big each update is. The usual range is 1e-5 to 2e-4; on our ticket data small models learned best at 5e-4.', read: (c) => c.lr, write: (c, v) => (c.lr = v) },
  { id: 'set-epochs', label: 'Epochs', hint: 'Passes over the training tickets. Empty: automatic, from how many tickets and labels the data has (see “Before you start”).', read: (c) => c.epochs ?? '', write: (c, v) => (c.epochs = Number.isFinite(v) && v > 0 ? Math.round(v) : null), empty: 'automatic' },
  { id: 'set-batch', label: 'Batch size', hint: 'Tickets per step. 4–8 on a laptop; larger needs more memory.', read: (c) => c.batch_size, write: (c, v) => (c.batch_size = Math.round(v)) },
  { id: 'set-wd', label: 'Weight decay', hint: 'Keeps the adapter’s weights small. 0.01 is the usual value.', read: (c) => c.weight_decay, write: (c, v) => (c.weight_decay = v) },
  { id: 'set-rank', label: 'LoRA rank', hint: 'Size of the adapter. 8–16; more can learn more and needs more memory.', read: (c) => c.lora.rank, write: (c, v) => (c.lora.rank = Math.round(v)) },
  { id: 'set-alpha', label: 'LoRA alpha', hint: 'Scale of the adapter’s updates; usually twice the rank.', read: (c) => c.lora.alpha, write: (c, v) => (c.lora.alpha = v) },
  { id: 'set-maxlen', label: 'Max length', hint: 'Longest ticket plus answer, in tokens. Longer tickets are cut.', read: (c) => c.max_len, write: (c, v) => (c.max_len = Math.round(v)) },
  { id: 'set-patience', label: 'Early stopping', hint: 'Stop after this many validations without improvement (empty: never).', read: (c) => c.patience ?? '', write: (c, v) => (c.patience = Number.isFinite(v) && v > 0 ? Math.round(v) : null), empty: 'never' },
  { id: 'set-score-rows', label: 'Tickets answered per validation', hint: 'The model answers this many validation tickets at each validation, to chart its accuracy and field F1 (0: the loss only).', read: (c) => c.score_rows, write: (c, v) => (c.score_rows = Number.isFinite(v) && v > 0 ? Math.round(v) : 0) },
];

/**
 * The new-run form, opened on `params.dataset` / `params.model` when given.
 * @param {{dataset?: string, model?: string}} params
 * @param {PageContext} ctx
 */
export function render(params, ctx) {
  const error = h('div', { class: 'error-box', hidden: true });
  const body = h('div', { class: 'stack' }, loading('Loading…'));
  const section = h(
    'section',
    { id: 'page-train', class: 'page' },
    h('header', { class: 'page-header' }, h('div', { class: 'page-heading' }, h('h1', {}, 'Train a model'), h('span', { class: 'page-subtitle' }, 'A new fine-tuning run'))),
    error,
    body,
  );
  Promise.all([listDatasets(), settings.current(), settings.engineSettings()])
    .then(async ([datasets, current, engine]) => {
      const s = current.config;
      const models = await listModels(s.batch_size, s.max_len, s.lora.rank);
      if (ctx.alive()) setChildren(body, form(datasets, models.registered, current, engine, params, ctx, error));
    })
    .catch((e) => ctx.alive() && showError(error, e));
  return section;
}

function select(id, options, chosen) {
  return h('select', { id, class: 'input' }, options.map(([value, label]) => h('option', { value, selected: value === chosen }, label)));
}

function form(datasets, models, current, engine, params, ctx, error) {
  if (!datasets.length || !models.length) return missing(datasets, models, ctx);
  const dataset = select('train-dataset', datasets.map((d) => [d.name, `${d.name} (${plural(d.rows, 'row')})`]), params.dataset);
  const model = select('train-model', models.filter((m) => m.present).map((m) => [m.name, `${m.name} (${m.architecture})`]), params.model);
  const name = h('input', { id: 'run-name', class: 'input', type: 'text', value: defaultName(dataset.value), spellcheck: 'false' });
  let named = false;
  name.addEventListener('input', () => (named = true));
  const quality = h('div', { id: 'train-quality', class: 'quality-summary' });
  const onDataset = () => {
    if (!named) name.value = defaultName(dataset.value);
    showQuality(quality, dataset.value, ctx);
  };
  const knobs = settingsCard(current, engine);
  const device = deviceChoice(engine.devices, current.device);
  const plan = preflightCard(() => [dataset.value, model.value, knobs.read(), device.value()], ctx);
  dataset.addEventListener('change', () => (onDataset(), plan.update()));
  model.addEventListener('change', plan.update);
  device.el.addEventListener('change', () => (settings.save({ ...knobs.read(), device: device.value() }), plan.update()));
  knobs.card.addEventListener('input', plan.update);
  knobs.card.addEventListener('click', plan.update);
  onDataset();
  plan.update();
  const start = () => {
    clearError(error);
    const ack = /** @type {HTMLInputElement | null} */ (document.getElementById('ack-quality'));
    if (ack && !ack.checked) return showError(error, 'The dataset has errors: fix them on the Datasets page, or tick the box to train anyway.');
    const chosen = knobs.read();
    startRun(name.value.trim(), dataset.value, model.value, chosen.config, chosen.val_limit, device.value())
      .then((job) => {
        jobs.put(job);
        ctx.navigate('run', { name: job.subject });
      })
      .catch((e) => showError(error, e));
  };
  return [
    h(
      'div',
      { class: 'card' },
      h('h2', { class: 'card-title' }, 'Data and model'),
      h('div', { class: 'form-grid' }, labelled('Dataset', dataset), labelled('Base model', model), labelled('Run name', name), labelled('Device', device.el, device.hint, 'field-wide')),
      quality,
    ),
    knobs.card,
    plan.card,
    h('div', { class: 'page-actions end' }, button('Start training', { id: 'btn-start-run', variant: 'primary', onClick: start })),
  ];
}

function missing(datasets, models, ctx) {
  const need = [];
  const sample = () => importSample().then(() => ctx.navigate('train'));
  if (!datasets.length) {
    need.push(h('li', {}, 'a dataset: ', button('Import one', { cls: 'btn-small', onClick: () => ctx.navigate('import') }), ' or ', button('use the sample tickets', { cls: 'btn-small', onClick: sample })));
  }
  if (!models.length) need.push(h('li', {}, 'a base model: ', button('Choose one', { cls: 'btn-small', onClick: () => ctx.navigate('models') })));
  return h('div', { class: 'card empty-state', id: 'train-missing' }, h('h2', {}, 'Training needs'), h('ul', {}, need));
}

/**
 * Where the run trains: a choice when this build finds more than one device, else the one.
 * @param {DeviceInfo[]} devices  the default first
 * @param {string | undefined} saved  the device chosen last time
 */
function deviceChoice(devices, saved) {
  const label = (/** @type {DeviceInfo} */ d) => `${d.name}${d.memory_bytes ? `, ${fmtBytes(d.memory_bytes)}` : ''}`;
  if (devices.length === 1) {
    const only = devices[0];
    const el = h('div', { id: 'train-device', class: 'static-value', dataset: { device: only.id } }, label(only));
    return { el, value: () => only.id, hint: 'The only device this build of TuneDesk finds here; a CUDA or Metal build trains on a GPU.' };
  }
  const chosen = devices.some((d) => d.id === saved) ? saved : devices[0].id;
  const el = select('train-device', devices.map((d) => [d.id, `${d.id} — ${label(d)}`]), chosen);
  return { el, value: () => el.value, hint: 'A GPU trains many times faster than the CPU; the run stays on this device when resumed.' };
}

function labelled(label, input, hint, cls) {
  return h('label', { class: ['field', cls] }, h('span', { class: 'field-label' }, label), input, hint ? h('span', { class: 'field-hint' }, hint) : null);
}

function defaultName(dataset) {
  const d = new Date();
  const p = (x) => String(x).padStart(2, '0');
  return `${dataset}-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}`;
}

function showQuality(box, name, ctx) {
  setChildren(box, loading('Checking the data…'));
  qualityReport(name)
    .then((report) => {
      if (!ctx.alive()) return;
      const count = { error: 0, warning: 0, info: 0 };
      for (const f of report.findings || []) count[f.severity] = (count[f.severity] || 0) + 1;
      const line = `Data check: ${plural(count.error, 'error')}, ${plural(count.warning, 'warning')} in ${plural(report.rows, 'row')}.`;
      const open = button('See the report', { cls: 'btn-small', variant: 'ghost', onClick: () => ctx.navigate('quality', { name }) });
      if (!count.error) return setChildren(box, h('p', { class: 'muted' }, line, ' ', open));
      setChildren(
        box,
        h('p', { class: 'warn-text' }, line, ' Errors teach the model contradictions. ', open),
        h('label', { class: 'check' }, h('input', { type: 'checkbox', id: 'ack-quality' }), ' I have seen the errors and want to train anyway'),
      );
    })
    .catch((e) => ctx.alive() && showError(box, e));
}

function settingsCard(current, engine) {
  const state = structuredClone(current);
  const inputs = FIELDS.map((field) => ({ field, input: h('input', { id: field.id, class: 'input', type: 'number', step: 'any', value: field.read(state.config), placeholder: field.empty ?? '' }) }));
  const valLimit = h('input', { id: 'val-limit', class: 'input', type: 'number', value: state.val_limit });
  const selectBy = select('set-select-by', engine.selections.map(([id, label]) => [id, label]), state.config.select_by);
  const selectHint = h('span', {});
  const describeSelection = () => (selectHint.textContent = `Keeps the checkpoint with the ${(engine.selections.find(([id]) => id === selectBy.value) || ['', '', ''])[2]}; early stopping follows it too.`);
  describeSelection();
  selectBy.addEventListener('change', describeSelection);
  const presetButtons = engine.presets.map((p) =>
    h('button', { type: 'button', id: `preset-${p.id}`, class: ['preset', state.preset === p.id ? 'active' : null], onClick: () => apply(p) }, h('strong', {}, p.name), h('span', { class: 'small muted' }, p.description)),
  );
  const apply = (p) => {
    state.config = structuredClone(p.config);
    state.val_limit = p.val_limit;
    state.preset = p.id;
    for (const { field, input } of inputs) input.value = String(field.read(state.config));
    valLimit.value = String(state.val_limit);
    selectBy.value = state.config.select_by;
    describeSelection();
    presetButtons.forEach((b) => b.classList.toggle('active', b.id === `preset-${p.id}`));
    settings.save(state);
  };
  const read = () => {
    inputs.forEach(({ field, input }) => field.write(state.config, input.value === '' ? NaN : Number(input.value)));
    state.val_limit = Math.max(1, Math.round(Number(valLimit.value) || engine.val_limit));
    state.config.select_by = /** @type {SelectBy} */ (selectBy.value);
    settings.save(state);
    return state;
  };
  const card = h(
    'div',
    { class: 'card' },
    h('h2', { class: 'card-title' }, 'Settings'),
    h('div', { class: 'presets' }, presetButtons),
    h(
      'div',
      { class: 'form-grid settings-grid' },
      inputs.map(({ field, input }) => labelled(field.label, input, field.hint)),
      labelled('Validation tickets', valLimit, 'Checked at each validation pass (a stratified sample of the validation split).'),
      labelled('Best checkpoint by', selectBy, selectHint),
    ),
  );
  return { card, read };
}

/** How long to wait after the last change before planning again. */
const PLAN_DELAY_MS = 400;

/** The pre-flight card: what the run will take, recomputed as the choices change. */
function preflightCard(choices, ctx) {
  const body = h('div', { class: 'preflight-body' }, loading('Planning…'));
  const card = h('div', { class: 'card', id: 'preflight' }, h('h2', { class: 'card-title' }, 'Before you start'), body);
  let timer = null;
  let asked = 0;
  const update = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const [dataset, model, chosen, device] = choices();
      const mine = ++asked;
      preflightRun(dataset, model, chosen.config, chosen.val_limit, device)
        .then((p) => ctx.alive() && mine === asked && setChildren(body, preflightRows(p, chosen.config)))
        .catch((e) => ctx.alive() && mine === asked && setChildren(body, h('p', { class: 'error-text' }, String(e))));
    }, PLAN_DELAY_MS);
  };
  ctx.onLeave(() => clearTimeout(timer));
  return { card, update };
}

function preflightRows(p, config) {
  const room = p.gpu_memory_bytes ?? p.free_ram_bytes;
  const fits = room ? p.ram_bytes <= room : null;
  const item = (label, value, note, id) => h('div', { class: 'plan-item', id }, h('div', { class: 'figure-label' }, label), h('div', { class: 'plan-value' }, value), note ? h('div', { class: 'field-hint' }, note) : null);
  return h(
    'div',
    { class: 'plan-grid' },
    item('Training', `${plural(p.total_steps, 'step')}`, `${plural(p.train_examples, 'ticket')} × ${plural(p.epochs, 'epoch')}${config.epochs === null ? ' (automatic)' : ''}; ${plural(p.val_examples, 'validation ticket')}`, 'plan-steps'),
    item(
      'Peak memory',
      [`≈ ${fmtBytes(p.ram_bytes)} `, fits === null ? null : h('span', { class: ['badge', fits ? 'badge-ok' : 'badge-warn'] }, fits ? 'fits' : 'too big')],
      p.gpu_memory_bytes ? `the GPU has ${fmtBytes(p.gpu_memory_bytes)}` : p.free_ram_bytes ? `${fmtBytes(p.free_ram_bytes)} free now` : null,
      'plan-ram',
    ),
    p.estimate
      ? item('Duration (estimate)', `≈ ${fmtDuration(p.estimate.seconds)}`, durationBasis(p.estimate), 'plan-duration')
      : item('Duration (estimate)', 'not known yet', 'no run of this model has trained on this GPU yet: the run page shows the time left once the first steps are measured', 'plan-duration'),
    item('Checkpoints', `≈ ${fmtBytes(p.checkpoint_bytes)}`, 'on disk: best, last and one adapter per validation', 'plan-disk'),
    item(
      'Cut tickets',
      p.truncated ? plural(p.truncated, 'ticket') : 'none',
      p.truncated ? `longer than ${config.max_len} tokens (the longest has ${p.longest_tokens}): raise Max length to keep them whole` : `the longest has ${p.longest_tokens} tokens`,
      'plan-cut',
    ),
  );
}

/** Where a duration estimate comes from, in words. @param {Estimate} e */
function durationBasis(e) {
  const speed = `${Math.round(e.tokens_per_s)} tokens/s`;
  if (e.basis.from === 'run') return `at ${speed}, measured by run ${e.basis.name} on this computer`;
  return `at about ${speed}: the training benchmark scaled to this model and computer (it has not trained here yet; the run page shows the time left once it starts)`;
}
