// Background jobs as the window sees them: one store fed by the backend's `job` events, the
// dock in the sidebar (every page), and a toast when a job ends. Pages subscribe to the store
// instead of keeping progress themselves, so navigating away never loses a job.

import { listJobs, onJob, cancelJob } from './backend.js';
import { h, setChildren, bar, button, fmtBytes, fmtDuration, errorText } from './dom.js';

/** @type {Map<number, Job>} */
const jobs = new Map();
/** @type {Set<(job: Job) => boolean | void>} */
const listeners = new Set();

/** Starts listening; call once at startup. */
export async function init() {
  await onJob(put);
  for (const job of await listJobs()) put(job, { quiet: true });
}

/**
 * Records a job change and tells the subscribers (and the user, when it ended).
 * @param {Job} job
 * @param {{quiet?: boolean}} [options]  quiet: no toast
 */
export function put(job, { quiet = false } = {}) {
  const before = jobs.get(job.id);
  // A command's reply can arrive after the job's own newer events: keep the newest.
  if (before && before.revision > job.revision) return;
  jobs.set(job.id, job);
  renderDock();
  let shown = false;
  for (const l of listeners) shown = l(job) === true || shown;
  // No toast when the open page already shows how the job ended.
  if (!quiet && !shown && job.state !== 'running' && (!before || before.state === 'running')) toast(job);
}

/**
 * Calls `fn(job)` on every change until the returned function is called; `fn` returns true
 * when its page shows the job's outcome itself (then no toast repeats it).
 * @param {(job: Job) => boolean | void} fn
 * @returns {() => void}
 */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Every job of this session, oldest first. */
export function all() {
  return [...jobs.values()].sort((a, b) => a.id - b.id);
}

/**
 * The newest job on `subject` (a repo id or a run name), if any.
 * @param {string} subject
 * @returns {Job | null}
 */
export function latest(subject) {
  /** @type {Job | null} */
  let found = null;
  for (const j of jobs.values()) if (j.subject === subject && (!found || j.id > found.id)) found = j;
  return found;
}

/**
 * "1.2 GB of 2.5 GB · 12 MB/s · 1 min left" / "step 12 of 40 · 0.8 steps/s · 35 s left".
 * @param {Job} job
 */
export function progressText(job) {
  const bytes = job.unit === 'bytes';
  const amount = (v) => (bytes ? fmtBytes(v) : String(Math.round(v)));
  const parts = [];
  const unit = job.unit === 'tickets' ? 'tickets' : 'steps';
  if (job.total > 0) parts.push(bytes ? `${amount(job.done)} of ${amount(job.total)}` : unit === 'tickets' ? `${amount(job.done)} of ${amount(job.total)} tickets` : `step ${amount(job.done)} of ${amount(job.total)}`);
  if (job.state === 'running' && job.rate) parts.push(bytes ? `${fmtBytes(job.rate)}/s` : `${job.rate.toFixed(unit === 'tickets' ? 1 : 2)} ${unit}/s`);
  if (job.state === 'running' && job.eta_s !== null && job.eta_s !== undefined) parts.push(`${fmtDuration(job.eta_s)} left`);
  return parts.join(' · ');
}

/**
 * A page's line for its ticket job: phase, tickets, rate, time left and Cancel while it runs;
 * its closing message after.
 * @param {Job} job
 * @param {string} id  the line's id
 * @param {string} cancelId  the Cancel button's id
 */
export function ticketLine(job, id, cancelId) {
  if (job.state !== 'running') return h('p', { class: 'muted small', id, dataset: { state: job.state } }, job.message || job.state);
  const parts = [`${job.phase}: ${Math.round(job.done)} / ${Math.round(job.total) || '?'} tickets`];
  if (job.rate) parts.push(`${job.rate.toFixed(1)} tickets/s`);
  if (job.eta_s !== null && job.eta_s !== undefined) parts.push(`${fmtDuration(job.eta_s)} left`);
  return h('div', { class: 'row', id, dataset: { state: job.state } }, bar(fraction(job), 'run-bar'), h('span', { class: 'muted small' }, parts.join(' · ')), button('Cancel', { id: cancelId, variant: 'danger', onClick: () => cancelJob(job.id) }));
}

/**
 * The fraction done (0..1).
 * @param {Job} job
 */
export function fraction(job) {
  return job.total > 0 ? job.done / job.total : 0;
}

const KIND_WORD = { pull: 'Download', train: 'Training', export: 'Export', evaluate: 'Evaluation', predict: 'Prediction' };

function renderDock() {
  const dock = document.getElementById('job-dock');
  if (!dock) return;
  const shown = [...jobs.values()].filter((j) => j.state === 'running').sort((a, b) => a.id - b.id);
  dock.hidden = shown.length === 0;
  setChildren(dock, h('div', { class: 'dock-title' }, 'Background jobs'), shown.map(dockItem));
}

/** @param {Job} job */
function dockItem(job) {
  return h(
    'div',
    { class: 'dock-job', dataset: { job: job.id, kind: job.kind } },
    h('div', { class: 'dock-head' }, h('span', { class: 'dock-subject', title: job.subject }, `${KIND_WORD[job.kind]}: ${job.subject}`)),
    h('div', { class: 'dock-phase' }, job.phase),
    bar(fraction(job), 'dock-bar'),
    h('div', { class: 'dock-progress' }, progressText(job)),
    button('Cancel', {
      cls: 'btn-small dock-cancel',
      variant: 'ghost',
      onClick: () => cancelJob(job.id).catch((e) => showToast(errorText(e), 'failed')),
    }),
  );
}

const TOAST_SECONDS = 8;

/** @param {Job} job */
function toast(job) {
  const verb = { done: 'finished', cancelled: 'stopped', failed: 'failed' }[job.state];
  showToast(job.message || `${KIND_WORD[job.kind]} ${job.subject} ${verb}`, job.state);
}

/**
 * Shows a message in the corner for a few seconds.
 * @param {string} text
 * @param {string} [kind]  done, cancelled or failed (the toast's colour)
 */
export function showToast(text, kind = 'done') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: ['toast', `toast-${kind}`], role: 'status' }, text);
  box.appendChild(t);
  setTimeout(() => t.remove(), TOAST_SECONDS * 1000);
}
