// Run page: one run, live while it trains — status, step, epoch, tokens/s, elapsed, ETA; the
// loss chart (drawn by the engine, redrawn as steps arrive) with its step/epoch and log
// toggles; the learning-rate and gradient-norm panels; cancel, resume; the overfitting banner.

import { runDetail, cancelJob, resumeRun } from '../backend.js';
import { exportCard } from './export.js';
import { h, setChildren, button, loading, showError, clearError, backLink, bar, figure, fmtDuration, fmtLoss, fmtPct, plural, svgImage } from '../dom.js';
import * as jobs from '../jobs.js';
import * as settings from '../settings.js';

/** How often the chart is redrawn while the run trains (besides on its events). */
const REFRESH_MS = 1500;

/** A run's status in words: "interrupted" when it was running and nothing trains it now. */
export function statusWord(detail) {
  return detail.interrupted ? 'interrupted' : detail.status;
}

/**
 * One run, live while it trains.
 * @param {{name: string}} params
 * @param {PageContext} ctx
 */
export function render(params, ctx) {
  const name = params.name;
  /** @type {LossView} */
  const view = { x: 'step', log: false };
  const error = h('div', { class: 'error-box', hidden: true });
  const body = h('div', { class: 'stack' }, loading('Loading the run…'));
  const section = h(
    'section',
    { id: 'page-run', class: 'page', dataset: { run: name } },
    backLink('Runs', () => ctx.navigate('runs'), 'back-runs'),
    h('header', { class: 'page-header' }, h('div', { class: 'page-heading' }, h('h1', {}, name), h('span', { class: 'page-subtitle', id: 'run-subtitle' }))),
    error,
    body,
  );
  const parts = skeleton(view, () => refresh(), ctx, name, error);
  let busy = false;
  let again = false;
  const refresh = async () => {
    if (busy) return void (again = true);
    busy = true;
    try {
      const detail = await runDetail(name, view);
      if (!ctx.alive()) return;
      clearError(error);
      if (body.firstChild !== parts.root) setChildren(body, parts.root);
      show(parts, detail, jobs.latest(name));
    } catch (e) {
      if (ctx.alive()) showError(error, e);
    } finally {
      busy = false;
      if (again && ctx.alive()) {
        again = false;
        refresh();
      }
    }
  };
  refresh();
  ctx.onLeave(
    jobs.subscribe((job) => {
      if (job.subject !== name || !ctx.alive()) return;
      showJob(parts, job);
      if (job.event && ['eval', 'started', 'finished', 'warning'].includes(job.event.event)) refresh();
      if (job.state !== 'running') refresh();
    }),
  );
  const timer = setInterval(() => {
    const job = jobs.latest(name);
    if (job && job.state === 'running') refresh();
  }, REFRESH_MS);
  ctx.onLeave(() => clearInterval(timer));
  return section;
}

/** The page's fixed parts, filled by `show` and `showJob`. */
function skeleton(view, redraw, ctx, name, error) {
  const el = (/** @type {string} */ id) => h('span', { id });
  const p = {
    status: el('run-status'),
    step: el('run-step'),
    epoch: el('run-epoch'),
    tps: el('run-tps'),
    elapsed: el('run-elapsed'),
    eta: el('run-eta'),
    best: el('run-best'),
    progress: h('div', { class: 'run-progress' }),
    banners: h('div', { class: 'stack' }),
    chart: h('div', { class: 'chart-box', id: 'loss-chart-box' }),
    panels: h('div', { class: 'chart-box panels-box' }),
    actions: h('div', { class: 'row' }),
    info: h('div', { class: 'stack' }),
  };
  const x = h('select', { id: 'chart-x', class: 'input input-small' }, h('option', { value: 'step' }, 'Optimizer steps'), h('option', { value: 'epoch' }, 'Epochs'));
  const log = h('input', { type: 'checkbox', id: 'chart-log' });
  x.addEventListener('change', () => ((view.x = x.value), redraw()));
  log.addEventListener('change', () => ((view.log = log.checked), redraw()));
  p.ctx = { ctx, name, error };
  p.exporter = exportCard(name, ctx);
  p.root = h(
    'div',
    { class: 'stack' },
    p.banners,
    h(
      'div',
      { class: 'card' },
      h('div', { class: 'figures' }, figure('Status', p.status), figure('Step', p.step), figure('Epoch', p.epoch), figure('Tokens/s', p.tps), figure('Elapsed', p.elapsed), figure('Time left', p.eta), figure('Best checkpoint', p.best)),
      p.progress,
      p.actions,
    ),
    h(
      'div',
      { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', { class: 'card-title' }, 'Loss'), h('div', { class: 'row' }, h('label', { class: 'field-inline' }, 'X axis ', x), h('label', { class: 'check' }, log, ' Log scale'))),
      p.chart,
      p.panels,
    ),
    p.info,
    p.exporter.card,
  );
  return p;
}

function show(p, d, job) {
  const last = d.metrics.steps[d.metrics.steps.length - 1];
  const word = job && job.state === 'running' ? job.phase : statusWord(d);
  setChildren(p.status, h('span', { class: ['badge', `status-${statusWord(d)}`] }, word));
  const device = h('span', { id: 'run-device' });
  setChildren(document.getElementById('run-subtitle'), `${d.model_label} on ${d.dataset}`, device);
  showDevice(device, d);
  const epochs = d.config && d.config.config ? d.config.config.epochs : null;
  p.epoch.textContent = last ? `${last.epoch + 1}${epochs ? ` / ${epochs}` : ''}` : '—';
  p.tps.textContent = last ? String(Math.round(last.tokens_per_s)) : '—';
  const measured = d.best_scores ? `accuracy ${fmtPct(d.best_scores.accuracy)}` : `validation loss ${fmtLoss(d.best_val_loss)}`;
  if (d.best_step === null) p.best.textContent = '—';
  else setChildren(p.best, `step ${d.best_step}`, h('div', { class: 'figure-note' }, measured));
  if (!job || job.state !== 'running') {
    p.step.textContent = last ? String(last.step) : '0';
    p.elapsed.textContent = fmtDuration((Date.parse(d.updated_at) - Date.parse(d.created_at)) / 1000);
    p.eta.textContent = '—';
    p.progress.replaceChildren();
  } else showJob(p, job);
  const steps = d.metrics.steps.length;
  const evals = d.metrics.evals.length;
  setChildren(
    p.chart,
    d.loss_svg
      ? svgImage(d.loss_svg, { id: 'loss-chart', class: 'chart', alt: `Loss chart of ${d.name}`, dataset: { steps, evals } })
      : h('p', { class: 'muted', id: 'loss-chart-empty' }, 'The chart appears after the first training step.'),
  );
  setChildren(p.panels, d.panels_svg ? svgImage(d.panels_svg, { id: 'panels-chart', class: 'chart', alt: 'Learning rate and gradient norm' }) : null);
  setChildren(p.banners, banners(d));
  setChildren(p.actions, actions(p, d, job));
  setChildren(p.info, info(d));
  p.exporter.update(d);
}

/** Where the run trains (`cpu` for runs stored before devices were recorded), by name. */
function showDevice(box, d) {
  if (!d.device || d.config.imported_from) return;
  const id = d.device;
  settings.engineSettings().then((s) => {
    const here = s.devices.find((x) => x.id === id);
    const name = here ? (id === 'cpu' ? here.name : `${id}, ${here.name}`) : `${id} (not found on this computer now)`;
    box.textContent = ` · on ${name}`;
  });
}

function showJob(p, job) {
  if (job.state !== 'running') return;
  p.step.textContent = job.total ? `${Math.round(job.done)} / ${Math.round(job.total)}` : '—';
  p.elapsed.textContent = fmtDuration(job.elapsed_s);
  p.eta.textContent = job.eta_s === null || job.eta_s === undefined ? 'measuring…' : fmtDuration(job.eta_s);
  setChildren(p.progress, bar(jobs.fraction(job), 'run-bar'));
}

function banners(d) {
  const out = [];
  if (d.overfit_step !== null) {
    out.push(
      h(
        'div',
        { class: 'banner banner-warn', id: 'overfit-banner', role: 'status' },
        h('strong', {}, `The model started to overfit at step ${d.overfit_step}. `),
        'Validation loss rose while training loss kept falling: it is memorising the training tickets. ',
        'Stop the run, and use the best checkpoint (kept automatically); next time train fewer epochs or add more data.',
      ),
    );
  }
  if (d.config && d.config.imported_from) {
    out.push(h('div', { class: 'banner', id: 'imported-banner' }, h('strong', {}, 'Imported adapter. '), `Trained elsewhere (${d.config.imported_from}), so there is no training curve; evaluate it to see how good it is, or export it.`));
  }
  if (d.interrupted) {
    out.push(h('div', { class: 'banner', id: 'interrupted-banner' }, h('strong', {}, 'Interrupted. '), 'The app or the computer stopped while this run trained. Resume continues it from its last checkpoint exactly as if it had not stopped.'));
  }
  if (d.status === 'failed' && d.error) out.push(h('div', { class: 'banner banner-error', id: 'run-error' }, h('strong', {}, 'The run failed: '), d.error));
  return out;
}

function actions(p, d, job) {
  const { ctx, name, error } = p.ctx;
  const running = job && job.state === 'running';
  const resume = () =>
    resumeRun(name)
      .then(jobs.put)
      .catch((e) => showError(error, e));
  const out = [];
  if (running) out.push(button('Cancel', { id: 'btn-cancel-run', variant: 'danger', title: 'Stops after saving a checkpoint', onClick: () => cancelJob(job.id) }));
  else if (d.status !== 'done') out.push(button(d.interrupted ? 'Resume' : 'Resume training', { id: 'btn-resume-run', variant: 'primary', onClick: resume }));
  if (d.best_step !== null || d.status === 'done') {
    out.push(button('Evaluate', { id: 'btn-evaluate-run', onClick: () => ctx.navigate('evaluate', { name }) }));
    out.push(button('Try', { id: 'btn-try-run', onClick: () => ctx.navigate('try', { name }) }));
    out.push(button('Predict a file', { id: 'btn-predict-run', onClick: () => ctx.navigate('predict', { name }) }));
  }
  out.push(button('All runs', { variant: 'ghost', onClick: () => ctx.navigate('runs') }));
  return out;
}

/**
 * "label accuracy 93.8 %, field F1 88.0 % on 64 validation tickets; " (empty when not measured).
 * @param {TaskScores | null} s
 */
function scoresText(s) {
  if (!s) return '';
  const field = s.field_f1 === null ? '' : `, field F1 ${fmtPct(s.field_f1)}`;
  return `label accuracy ${fmtPct(s.accuracy)}${field} on ${plural(s.examples, 'validation ticket')}; `;
}

function info(d) {
  const c = (d.config && d.config.config) || {};
  const lora = c.lora || {};
  const best =
    d.best_step !== null
      ? `Best checkpoint: step ${d.best_step} (${scoresText(d.best_scores)}validation loss ${fmtLoss(d.best_val_loss)}). Evaluation, prediction and export use it unless you pick another.`
      : 'The best checkpoint is chosen at the first validation pass.';
  return [
    h('div', { class: 'card' }, h('p', { id: 'best-checkpoint' }, best), d.kept_steps.length ? h('p', { class: 'muted small' }, `Also kept: steps ${d.kept_steps.join(', ')}.`) : null),
    h(
      'div',
      { class: 'card' },
      h('h2', { class: 'card-title' }, 'Settings'),
      h('dl', { class: 'settings-list' }, [
        ['Learning rate', c.lr],
        ['Epochs', c.epochs],
        ['Batch size', c.batch_size],
        ['Weight decay', c.weight_decay],
        ['LoRA rank / alpha', `${lora.rank} / ${lora.alpha}`],
        ['Max length', c.max_len],
        ['Early stopping', c.patience ? `after ${c.patience} validations without improvement` : 'off'],
      ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v ?? '—'))])),
    ),
  ];
}
