// The run and checkpoint choosers of the pages that answer with a trained run (Try, Predict).

import { listRuns, runDetail } from './backend.js';
import { h, setChildren } from './dom.js';

/** Runs that have a checkpoint to answer with. @param {RunRow[]} runs */
function answeringRuns(runs) {
  return runs.filter((r) => r.best_step !== null || r.status === 'done');
}

/**
 * Fills `runSel` with the runs that can answer (`name` chosen, else the newest) and
 * `checkpoint` with the chosen run's checkpoints; again whenever the run changes.
 * @param {HTMLSelectElement} runSel @param {HTMLSelectElement} checkpoint
 * @param {string | undefined} name @param {PageContext} ctx
 * @param {(run: RunDetail) => void} [onRun]  told the chosen run
 * @returns {Promise<boolean>} whether there is a run
 */
export async function chooseRun(runSel, checkpoint, name, ctx, onRun) {
  const runs = answeringRuns(await listRuns());
  if (!ctx.alive()) return false;
  setChildren(runSel, runs.map((r) => h('option', { value: r.name, selected: r.name === name }, r.name)));
  const fill = async () => {
    const d = await runDetail(runSel.value, { x: 'step', log: false });
    if (!ctx.alive()) return;
    setChildren(checkpoint, h('option', { value: 'best' }, 'Best'), h('option', { value: 'last' }, 'Last'), ...d.kept_steps.map((s) => h('option', { value: String(s) }, `Step ${s}`)));
    if (onRun) onRun(d);
  };
  runSel.addEventListener('change', () => fill());
  if (runs.length) await fill();
  return runs.length > 0;
}

