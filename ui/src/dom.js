// Small DOM helpers. Everything is built with createElement/textContent: dataset texts are
// arbitrary and must never reach innerHTML. No inline styles: use classes, or the CSSOM
// (element.style.width = …) for computed sizes.

/** A child of `h` (`DomChild` in types.d.ts: nodes, text, arrays; null/false skipped). @typedef {DomChild} Child */

/**
 * The props of `h`; any key not named here becomes an attribute (`for`, `scope`, `aria-*`…).
 * @typedef {{
 *   class?: string | Array<string | null | undefined | false>,
 *   id?: string,
 *   text?: string | number,
 *   dataset?: Record<string, string | number | boolean | null | undefined>,
 *   hidden?: boolean,
 *   disabled?: boolean,
 *   checked?: boolean,
 *   selected?: boolean,
 *   open?: boolean,
 *   title?: string | null,
 *   value?: string | number,
 *   onClick?: (e: MouseEvent) => void,
 *   onKeydown?: (e: KeyboardEvent) => void,
 *   onChange?: (e: Event) => void,
 *   onInput?: (e: Event) => void,
 * } & Record<string, unknown>} Props
 */

/**
 * Creates an element.
 *   h('button', { class: 'btn', id: 'x', type: 'button', onClick: fn, dataset: { a: 'b' } }, 'Text')
 * Props: class (string or array), id, text, dataset (object), hidden, disabled, title, value,
 * on<Event> (listener), and any other key becomes an attribute (null/false values are skipped).
 * Children: strings (as text), nodes, arrays, null/undefined/false (skipped).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props | null} [props]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') {
      const list = (Array.isArray(value) ? value : [value])
        .filter(Boolean)
        .flatMap((c) => String(c).split(/\s+/))
        .filter(Boolean);
      if (list.length) el.classList.add(...list);
    } else if (key === 'text') {
      el.textContent = String(value);
    } else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) {
        if (v !== null && v !== undefined) el.dataset[k] = String(v);
      }
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), /** @type {EventListener} */ (value));
    } else if (key === 'hidden' || key === 'disabled' || key === 'checked' || key === 'selected') {
      el[key] = Boolean(value);
    } else if (key === 'value') {
      if ('value' in el) el.value = String(value);
    } else if (key === 'style') {
      throw new Error('inline styles are not allowed (CSP); use a class');
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/**
 * @param {Node} el
 * @param {Child[]} children
 */
function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * Replaces all children of `el`.
 * @template {Element} E
 * @param {E} el
 * @param {...Child} children
 * @returns {E}
 */
export function setChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * A plain integer, digits only (no thousands separators: tests and users read them the same).
 * @param {number | string | null | undefined} n
 */
export function fmtInt(n) {
  const v = Number(n);
  return Number.isFinite(v) ? String(Math.round(v)) : '—';
}

/**
 * A percentage with at most one decimal, e.g. 0.934 → "93.4%"; 1 → "100%".
 * @param {number | null | undefined} rate
 */
export function fmtPct(rate) {
  const v = Number(rate) * 100;
  if (!Number.isFinite(v)) return '—';
  if (v === 0 || v === 100) return `${v}%`;
  if (v < 0.1) return '<0.1%';
  if (v > 99.9) return '>99.9%';
  return `${Math.round(v * 10) / 10}%`;
}

/**
 * `n noun` with a simple plural.
 * @param {number | string | null | undefined} n
 * @param {string} singular
 * @param {string} [pluralForm]
 */
export function plural(n, singular, pluralForm = `${singular}s`) {
  return `${fmtInt(n)} ${Number(n) === 1 ? singular : pluralForm}`;
}

/**
 * An RFC 3339 time as local "YYYY-MM-DD HH:MM"; the input unchanged if unparseable.
 * @param {string | null | undefined} iso
 */
export function fmtDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

const DELIMITER_WORDS = { ',': 'comma', ';': 'semicolon', '\t': 'tab', '|': 'pipe' };

/**
 * A CSV delimiter as a word ("comma", "tab", …).
 * @param {string | null | undefined} d
 * @returns {string | null}
 */
export function delimiterWord(d) {
  if (d === null || d === undefined) return null;
  return DELIMITER_WORDS[d] || `“${d}”`;
}

/**
 * The message of a rejected invoke (a string) or of any other thrown value.
 * @param {unknown} err
 * @returns {string}
 */
export function errorText(err) {
  if (err === null || err === undefined) return 'Something went wrong.';
  if (typeof err === 'string') return err;
  if (err instanceof Error) return err.message || String(err);
  if (typeof err === 'object' && 'message' in err && typeof err.message === 'string') return err.message;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

// "  path/to/tickets.csv:17: record has 5 fields, header has 4" → location + problem.
const LOCATED = /^(.+?:\d+):\s+(.*)$/;

/**
 * Shows an error in `el` (and unhides it). A single-line message becomes a paragraph; a
 * multi-line one a heading (first line) and a list of problems, the file:line part in
 * monospace. `el` gets the class "error-box".
 * @param {HTMLElement} el
 * @param {unknown} err
 */
export function showError(el, err) {
  const text = errorText(err).replace(/\r\n/g, '\n').trim();
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  el.classList.add('error-box');
  el.setAttribute('role', 'alert');
  const first = lines.shift() || 'Something went wrong.';
  const head = h('p', { class: 'error-title' }, locatedLine(first));
  if (lines.length === 0) {
    setChildren(el, head);
  } else {
    setChildren(
      el,
      head,
      h('ul', { class: 'error-list' }, lines.map((l) => h('li', {}, locatedLine(l.trim())))),
    );
  }
  el.hidden = false;
}

/**
 * @param {string} line
 * @returns {Child}
 */
function locatedLine(line) {
  const m = LOCATED.exec(line);
  if (!m) return line;
  return [h('code', { class: 'loc' }, m[1]), ': ', m[2]];
}

/**
 * Hides and empties an error element.
 * @param {HTMLElement} el
 */
export function clearError(el) {
  el.replaceChildren();
  el.hidden = true;
}

/**
 * A "← label" back link that calls `onBack`.
 * @param {string} label
 * @param {() => void} onBack
 * @param {string} [id]
 */
export function backLink(label, onBack, id) {
  return h(
    'a',
    {
      href: '#',
      class: 'back-link',
      id,
      onClick: (e) => {
        e.preventDefault();
        onBack();
      },
    },
    h('span', { class: 'back-arrow', 'aria-hidden': 'true' }, '←'),
    ' ',
    label,
  );
}

/**
 * The options of `button`.
 * @typedef {object} ButtonOptions
 * @property {string} [id]
 * @property {'primary' | 'danger' | 'ghost' | 'danger-ghost'} [variant]  default: secondary
 * @property {(e: MouseEvent) => void} [onClick]
 * @property {boolean} [disabled]
 * @property {string} [title]
 * @property {'button' | 'submit' | 'reset'} [type]  default: button
 * @property {string} [cls]  more classes, e.g. 'btn-small'
 */

/**
 * A button. `variant`: 'primary', 'danger', 'ghost' or undefined (secondary).
 * @param {string} label
 * @param {ButtonOptions} [options]
 */
export function button(label, { id, variant, onClick, disabled, title, type = 'button', cls } = {}) {
  return h(
    'button',
    {
      type,
      id,
      class: ['btn', variant ? `btn-${variant}` : 'btn-secondary', cls],
      disabled,
      title,
      onClick,
    },
    label,
  );
}

/**
 * A "Loading…" placeholder.
 * @param {string} [label]
 */
export function loading(label = 'Loading…') {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), label);
}

/**
 * A horizontal bar whose fill is `fraction` (0..1) of its width.
 * @param {number} fraction
 * @param {string | null} [cls]
 */
export function bar(fraction, cls) {
  const fill = h('span', { class: 'bar-fill' });
  const f = Math.max(0, Math.min(1, Number(fraction) || 0));
  fill.style.width = `${(f * 100).toFixed(2)}%`;
  return h('span', { class: ['bar', cls], 'aria-hidden': 'true' }, fill);
}

/**
 * Bytes in binary units: "512 B", "3.4 MiB", "1.21 GiB".
 * @param {number | null | undefined} n
 */
export function fmtBytes(n) {
  let v = Number(n);
  if (!Number.isFinite(v)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/**
 * Seconds as "45 s", "3 min 20 s", "1 h 05 min".
 * @param {number | null | undefined} seconds
 */
export function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds)));
  if (!Number.isFinite(s)) return '—';
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * A loss value with 4 decimals, or "—".
 * @param {number | null | undefined} v
 */
export function fmtLoss(v) {
  return v === null || v === undefined || !Number.isFinite(Number(v)) ? '—' : Number(v).toFixed(4);
}

/**
 * An <img> showing SVG text (drawn by the engine's chart renderer).
 * @param {string} svg
 * @param {Props} [props]
 */
export function svgImage(svg, props = {}) {
  const img = h('img', props);
  img.src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(svg)))}`;
  return img;
}

/**
 * A labelled figure: "Label / value".
 * @param {string} label
 * @param {Child} value
 * @param {string} [id]
 */
export function figure(label, value, id) {
  return h('div', { class: 'figure' }, h('div', { class: 'figure-label' }, label), h('div', { class: 'figure-value', id }, value));
}

