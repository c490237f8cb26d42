// Models page: the recommended models (size, training RAM against free RAM, licence, cached)
// with downloads as background jobs, the registered models, local models, the HF token.

import {
  listModels,
  pullModel,
  pickModel,
  registerModel,
  removeModel,
  discoverModels,
  saveToken,
  forgetToken,
  cancelJob,
} from '../backend.js';
import { h, setChildren, button, loading, showError, clearError, bar, fmtBytes, errorText } from '../dom.js';
import * as jobs from '../jobs.js';
import * as settings from '../settings.js';

/**
 * The models page: catalog with downloads, other pulls, registered models, local models, token.
 * @param {unknown} params
 * @param {PageContext} ctx
 */
export function render(params, ctx) {
  const error = h('div', { class: 'error-box', hidden: true });
  const body = h('div', { class: 'stack' }, loading('Loading models…'));
  const section = h(
    'section',
    { id: 'page-models', class: 'page' },
    h(
      'header',
      { class: 'page-header' },
      h('div', { class: 'page-heading' }, h('h1', {}, 'Models'), h('span', { class: 'page-subtitle' }, 'Base models to fine-tune')),
    ),
    error,
    body,
  );
  const refresh = () => load(body, error, ctx, refresh);
  refresh();
  ctx.onLeave(
    jobs.subscribe((job) => {
      if (job.kind === 'pull' && job.state !== 'running' && ctx.alive()) refresh();
    }),
  );
  return section;
}

async function load(body, error, ctx, refresh) {
  try {
    const s = await settings.current();
    const page = await listModels(s.config.batch_size, s.config.max_len, s.config.lora.rank);
    if (!ctx.alive()) return;
    clearError(error);
    setChildren(
      body,
      catalogCard(page, s, ctx),
      pullCard(error, page.catalog, ctx),
      registeredCard(page.registered, error, refresh),
      localCard(error, refresh),
      tokenCard(page.has_token, error, refresh),
    );
  } catch (err) {
    if (ctx.alive()) showError(error, err);
  }
}

function catalogCard(page, s, ctx) {
  const rows = page.catalog.map((m) => catalogRow(m, page.free_ram_bytes, ctx));
  const shape = `batch ${s.config.batch_size} × ${s.config.max_len} tokens, LoRA rank ${s.config.lora.rank}`;
  return h(
    'div',
    { class: 'card' },
    h('h2', { class: 'card-title' }, 'Recommended models'),
    h(
      'p',
      { class: 'muted' },
      `Training RAM is estimated for your current settings (${shape})`,
      page.free_ram_bytes ? ` against ${fmtBytes(page.free_ram_bytes)} free on this machine.` : '.',
    ),
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { id: 'catalog-table', class: 'table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Model', 'Parameters', 'Download', 'Training RAM', 'Licence', ''].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        h('tbody', {}, rows),
      ),
    ),
  );
}

function params(n) {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : `${Math.round(n / 1e6)} M`;
}

function catalogRow(m, free, ctx) {
  const fits = free ? m.train_ram_bytes <= free : null;
  const status = h('td', { class: 'pull-cell' });
  const drawStatus = () => setChildren(status, pullStatus(m.repo, m.cached, m.gated));
  drawStatus();
  ctx.onLeave(
    jobs.subscribe((job) => {
      if (job.subject === m.repo && ctx.alive()) drawStatus();
    }),
  );
  return h(
    'tr',
    { dataset: { repo: m.repo } },
    h('td', { title: m.repo }, h('div', { class: 'model-name' }, m.repo.split('/').pop()), h('div', { class: 'muted small' }, `${m.repo.split('/')[0]} · ${m.family}`)),
    h('td', { class: 'num' }, params(m.params)),
    h('td', { class: 'num' }, `≈ ${fmtBytes(m.download_bytes)}`),
    h(
      'td',
      {},
      `≈ ${fmtBytes(m.train_ram_bytes)} `,
      fits === null ? null : h('span', { class: ['badge', fits ? 'badge-ok' : 'badge-warn'] }, fits ? 'fits this machine' : 'too big'),
    ),
    h('td', {}, m.license, m.gated ? h('div', { class: 'muted small' }, 'gated: accept the licence on huggingface.co and save a token below') : null),
    status,
  );
}

/** The download cell of `repo`: its job's progress, or Downloaded, or a Download button. */
function pullStatus(repo, cached, gated) {
  const job = jobs.latest(repo);
  const error = h('div', { class: 'error-box small', hidden: true });
  const start = () =>
    pullModel(repo).then(jobs.put).catch((e) => showError(error, e));
  if (job && job.state === 'running') {
    return h(
      'div',
      { class: 'pull-progress', dataset: { pull: repo } },
      h('div', { class: 'pull-phase' }, job.phase),
      bar(jobs.fraction(job), 'pull-bar'),
      h('div', { class: 'muted small' }, jobs.progressText(job)),
      button('Cancel', { cls: 'btn-small', variant: 'ghost', onClick: () => cancelJob(job.id) }),
    );
  }
  if (cached || (job && job.state === 'done')) return h('span', { class: 'badge badge-ok', dataset: { pulled: repo } }, 'Downloaded');
  const again = job && job.state !== 'done';
  return h(
    'div',
    {},
    button(again ? 'Resume download' : 'Download', { cls: 'btn-small btn-pull', onClick: start }),
    again && job.message ? h('div', { class: 'muted small' }, job.message) : null,
    error,
  );
}

/** Pulls of repos outside the catalog (typed in by the user), live. */
function otherPulls(catalog, ctx) {
  const known = new Set(catalog.map((m) => m.repo));
  const box = h('div', { class: 'stack', id: 'other-pulls' });
  const draw = () =>
    setChildren(
      box,
      jobs
        .all()
        .filter((j) => j.kind === 'pull' && !known.has(j.subject))
        .map((j) => h('div', { class: 'row other-pull' }, h('span', { class: 'model-name' }, j.subject), pullStatus(j.subject, false, false))),
    );
  draw();
  ctx.onLeave(
    jobs.subscribe((job) => {
      if (job.kind === 'pull' && ctx.alive()) draw();
    }),
  );
  return box;
}

function pullCard(error, catalog, ctx) {
  const input = h('input', { id: 'pull-repo', class: 'input', type: 'text', placeholder: 'owner/name, e.g. HuggingFaceTB/SmolLM2-360M-Instruct', spellcheck: 'false' });
  const go = () => {
    const repo = input.value.trim();
    if (!repo) return;
    clearError(error);
    pullModel(repo)
      .then((job) => {
        jobs.put(job);
        input.value = '';
      })
      .catch((e) => showError(error, e));
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') go();
  });
  return h(
    'div',
    { class: 'card' },
    h('h2', { class: 'card-title' }, 'Download another model from Hugging Face'),
    h('p', { class: 'muted' }, 'Llama and Qwen2 models in Transformers format (config.json + safetensors). A cut download continues where it stopped.'),
    h('div', { class: 'row' }, input, button('Download', { id: 'btn-pull', variant: 'primary', onClick: go })),
    otherPulls(catalog, ctx),
  );
}

function registeredCard(registered, error, refresh) {
  const remove = (name) => removeModel(name).then(refresh).catch((e) => showError(error, e));
  const rows = registered.map((m) =>
    h(
      'tr',
      { dataset: { model: m.name } },
      h('td', { class: 'model-name' }, m.name),
      h('td', {}, m.kind),
      h('td', {}, m.architecture),
      h('td', { class: 'num' }, params(m.params)),
      h('td', { class: 'num' }, fmtBytes(m.size_bytes)),
      h('td', { class: 'muted small path-cell', title: m.path }, m.present ? m.path : `missing: ${m.path}`),
      h('td', {}, button('Remove', { cls: 'btn-small', variant: 'ghost', title: 'Unregister (the files stay)', onClick: () => remove(m.name) })),
    ),
  );
  return h(
    'div',
    { class: 'card' },
    h('h2', { class: 'card-title' }, 'Your models'),
    registered.length
      ? h(
          'div',
          { class: 'table-scroll' },
          h(
            'table',
            { id: 'registered-table', class: 'table' },
            h('thead', {}, h('tr', {}, ['Name', 'Source', 'Architecture', 'Parameters', 'Size', 'Files', ''].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', {}, rows),
          ),
        )
      : h('p', { class: 'muted', id: 'registered-empty' }, 'No models yet: download one above or add one from this computer.'),
  );
}

function localCard(error, refresh) {
  const found = h('div', { class: 'stack' });
  const add = (folder) =>
    pickModel(folder)
      .then((path) => path && registerModel(path, null).then(refresh))
      .catch((e) => showError(error, e));
  const discover = () =>
    discoverModels()
      .then((list) => setChildren(found, list.length ? list.map((f) => foundRow(f, error, refresh)) : h('p', { class: 'muted' }, 'No Ollama or LM Studio models found on this computer.')))
      .catch((e) => showError(error, e));
  return h(
    'div',
    { class: 'card' },
    h('h2', { class: 'card-title' }, 'Add a model from this computer'),
    h('p', { class: 'muted' }, 'A .gguf file, or a Hugging Face model folder (config.json, tokenizer.json, safetensors). Models Ollama and LM Studio keep can be found for you.'),
    h(
      'div',
      { class: 'row' },
      button('Add .gguf file…', { id: 'btn-add-gguf', onClick: () => add(false) }),
      button('Add model folder…', { id: 'btn-add-folder', onClick: () => add(true) }),
      button('Find Ollama / LM Studio models', { id: 'btn-discover', variant: 'ghost', onClick: discover }),
    ),
    found,
  );
}

function foundRow(f, error, refresh) {
  return h(
    'div',
    { class: 'row found-model' },
    h('span', { class: 'model-name' }, f.name),
    h('span', { class: 'muted small' }, `${f.app} · ${f.architecture || 'unknown'} · ${fmtBytes(f.size_bytes)}`),
    f.supported
      ? button('Add', { cls: 'btn-small', onClick: () => registerModel(f.path, f.name).then(refresh).catch((e) => showError(error, e)) })
      : h('span', { class: 'badge badge-warn' }, 'architecture not supported'),
  );
}

function tokenCard(hasToken, error, refresh) {
  const input = h('input', { id: 'hf-token', class: 'input', type: 'password', placeholder: 'hf_…', autocomplete: 'off' });
  const save = () =>
    saveToken(input.value)
      .then(refresh)
      .catch((e) => showError(error, errorText(e)));
  return h(
    'div',
    { class: 'card' },
    h('h2', { class: 'card-title' }, 'Hugging Face token'),
    h(
      'p',
      { class: 'muted' },
      'Gated models (such as Llama 3.2) need you to accept their licence on huggingface.co and a read token from huggingface.co/settings/tokens. ',
      'The token is kept in a file only you can read in TuneDesk’s data folder; it is never shown again or stored in the database.',
    ),
    hasToken
      ? h('div', { class: 'row' }, h('span', { class: 'badge badge-ok', id: 'token-saved' }, 'A token is saved'), button('Forget token', { variant: 'ghost', onClick: () => forgetToken().then(refresh) }))
      : h('div', { class: 'row' }, input, button('Save token', { id: 'btn-save-token', onClick: save })),
  );
}
