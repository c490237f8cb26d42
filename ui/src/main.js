// Entry point: a tiny in-memory router that shows one page at a time in <main>.

import * as datasets from './pages/datasets.js';
import * as importPage from './pages/import.js';
import * as detail from './pages/detail.js';
import * as quality from './pages/quality.js';

const PAGES = {
  datasets,
  import: importPage,
  detail,
  quality,
};

let current = 0; // incremented on every navigation; pages check it before late DOM updates

/**
 * Shows page `name` with `params`. Each page module exports `render(params, ctx)` that
 * returns its root <section> at once and fills it asynchronously; `ctx.alive()` tells
 * whether the page is still the one shown.
 */
export function navigate(name, params = {}) {
  const page = PAGES[name];
  if (!page) throw new Error(`unknown page ${name}`);
  const token = ++current;
  const ctx = {
    navigate,
    alive: () => token === current,
  };
  const main = document.getElementById('main');
  const section = page.render(params, ctx);
  main.replaceChildren(section);
  main.scrollTop = 0;
  const nav = document.getElementById('nav-datasets');
  nav.classList.add('active');
  nav.setAttribute('aria-current', 'page');
}

function start() {
  document.getElementById('nav-datasets').addEventListener('click', () => navigate('datasets'));
  navigate('datasets');
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start);
} else {
  start();
}
