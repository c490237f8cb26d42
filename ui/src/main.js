// Entry point: a tiny in-memory router that shows one page at a time in <main>, the sidebar
// navigation, the job dock and the "quit while training?" question.

import * as datasets from './pages/datasets.js';
import * as importPage from './pages/import.js';
import * as detail from './pages/detail.js';
import * as quality from './pages/quality.js';
import * as models from './pages/models.js';
import * as train from './pages/train.js';
import * as run from './pages/run.js';
import * as runs from './pages/runs.js';
import * as evaluate from './pages/evaluate.js';
import * as tryPage from './pages/try.js';
import * as predict from './pages/predict.js';
import * as jobs from './jobs.js';
import { onCloseRequested, quitApp } from './backend.js';

/** Page name → [module, the sidebar entry it belongs to]. */
const PAGES = {
  datasets: [datasets, 'datasets'],
  import: [importPage, 'datasets'],
  detail: [detail, 'datasets'],
  quality: [quality, 'datasets'],
  models: [models, 'models'],
  train: [train, 'train'],
  run: [run, 'runs'],
  runs: [runs, 'runs'],
  evaluate: [evaluate, 'runs'],
  try: [tryPage, 'try'],
  predict: [predict, 'predict'],
};

let current = 0; // incremented on every navigation; pages check it before late DOM updates
let leave = () => {}; // the shown page's clean-up

/** The sidebar entries (`data-nav` names a page). */
function navEntries() {
  return /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('[data-nav]'));
}

/**
 * Shows page `name` with `params`. Each page module exports `render(params, ctx)` that
 * returns its root <section> at once and fills it asynchronously; `ctx.alive()` tells
 * whether the page is still the one shown; `ctx.onLeave(fn)` registers clean-up (timers,
 * job subscriptions).
 * @param {string} name
 * @param {Record<string, unknown>} [params]
 */
export function navigate(name, params = {}) {
  const entry = PAGES[name];
  if (!entry) throw new Error(`unknown page ${name}`);
  leave();
  /** @type {Array<() => void>} */
  const cleanups = [];
  leave = () => cleanups.splice(0).forEach((fn) => fn());
  const token = ++current;
  /** @type {PageContext} */
  const ctx = {
    navigate,
    alive: () => token === current,
    onLeave: (fn) => cleanups.push(fn),
  };
  const main = document.getElementById('main');
  main.replaceChildren(entry[0].render(params, ctx));
  main.scrollTop = 0;
  for (const nav of navEntries()) {
    const active = nav.dataset.nav === entry[1];
    nav.classList.toggle('active', active);
    if (active) nav.setAttribute('aria-current', 'page');
    else nav.removeAttribute('aria-current');
  }
}

function askBeforeQuitting() {
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('close-dialog'));
  const quit = /** @type {HTMLButtonElement} */ (document.getElementById('btn-quit'));
  document.getElementById('btn-keep-open').addEventListener('click', () => dialog.close());
  quit.addEventListener('click', () => {
    quit.disabled = true;
    quitApp();
  });
  onCloseRequested(() => {
    if (!dialog.open) dialog.showModal();
  });
}

function start() {
  for (const nav of navEntries()) {
    nav.addEventListener('click', () => navigate(nav.dataset.nav));
  }
  askBeforeQuitting();
  jobs.init().catch((e) => console.error('jobs', e));
  navigate('datasets');
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start);
} else {
  start();
}
