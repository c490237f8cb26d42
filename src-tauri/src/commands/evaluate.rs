//! Evaluate page commands: evaluations of a run as background jobs (with the baselines'
//! verdict), one evaluation's figures and answers, the abstain threshold, and suspected
//! mislabels with their relabelling.

use crate::error::CommandResult;
use crate::jobs::{Job, JobCtx, JobKind};
use crate::state::AppState;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;
use tauri::{AppHandle, State};
use tunedesk::adapter::Checkpoint;
use tunedesk::evaluate::compare::{self, Comparison, BASELINE_SHOTS};
use tunedesk::evaluate::metrics::{coverage, CoveragePoint};
use tunedesk::evaluate::mislabels::{self, Suspect, MIN_CONFIDENCE};
use tunedesk::evaluate::report;
use tunedesk::evaluate::run::{
    evaluate_until, EvalError, EvalRequest, SplitChoice, Target, DEFAULT_SEED,
};
use tunedesk::paths::current_user;
use tunedesk::predict::PredictOptions;
use tunedesk::store::{Edit, EvalInfo, EvalRecord, Relabel, RunInfo};

/// A run's evaluations, newest first.
#[tauri::command]
pub async fn list_evaluations(
    state: State<'_, AppState>,
    run: String,
) -> CommandResult<Vec<EvalInfo>> {
    state
        .with_store(move |s| Ok(s.list_evals(Some(&run))?))
        .await
}

/// One evaluation: its figures, every answer, the coverage curve, the verdict against the
/// baselines stored so far, and the run's saved abstain threshold.
#[derive(Serialize)]
pub struct EvalDetail {
    eval: EvalInfo,
    records: Vec<EvalRecord>,
    coverage: Vec<CoveragePoint>,
    comparison: Comparison,
    run: Option<RunInfo>,
}

#[tauri::command]
pub async fn evaluation_detail(state: State<'_, AppState>, id: i64) -> CommandResult<EvalDetail> {
    state
        .with_store(move |s| {
            let eval = s.eval(id)?;
            let records = s.eval_records(id)?;
            let pairs: Vec<_> = records
                .iter()
                .map(|r| (r.gold.clone(), r.predicted.clone()))
                .collect();
            let comparison = compare::stored(s, &eval, &BASELINE_SHOTS)?;
            let run = eval.spec.run.as_deref().map(|r| s.run(r)).transpose()?;
            Ok(EvalDetail {
                coverage: coverage(&pairs),
                eval,
                records,
                comparison,
                run,
            })
        })
        .await
}

/// Progress in tickets with a rate and ETA, for an evaluation job.
pub(crate) fn tickets<'a>(ctx: &'a JobCtx, phase: &str) -> impl FnMut(usize, usize) + 'a {
    let started = Instant::now();
    let phase = phase.to_string();
    move |done, total| {
        let secs = started.elapsed().as_secs_f64();
        let rate = (done > 0 && secs > 0.0).then(|| done as f64 / secs);
        ctx.update(|job| {
            job.phase = phase.clone();
            job.done = done as f64;
            job.total = total as f64;
            job.rate = rate;
            job.eta_s = rate.map(|r| (total - done) as f64 / r);
        });
    }
}

/// Evaluates run `name`'s `checkpoint` (best, last or a step) on `dataset`'s `split` (test,
/// val, train or all), at most `limit` rows, as a background job.
#[tauri::command]
pub async fn evaluate_run(
    app: AppHandle,
    state: State<'_, AppState>,
    name: String,
    checkpoint: Checkpoint,
    dataset: String,
    split: String,
    limit: Option<usize>,
) -> CommandResult<Job> {
    let split =
        SplitChoice::parse(&split).ok_or_else(|| anyhow::anyhow!("no split named '{split}'"))?;
    let data_dir = state.data_dir().clone();
    let subject = format!("evaluate {name}");
    let job = state
        .jobs
        .spawn(&app, JobKind::Evaluate, subject, move |ctx| {
            let req = EvalRequest {
                target: Target::Run { name, checkpoint },
                dataset,
                split,
                limit,
                options: PredictOptions::default(),
                seed: DEFAULT_SEED,
            };
            let mut store = tunedesk::store::Store::open(data_dir.db_path())?;
            let mut progress = tickets(ctx, "answering");
            match evaluate_until(&mut store, &data_dir, &req, &mut progress, &ctx.cancel) {
                Ok(e) => Ok((
                    format!(
                        "evaluation {}: accuracy {:.1} % on {} tickets",
                        e.id,
                        100.0 * e.metrics.accuracy,
                        e.metrics.examples
                    ),
                    false,
                )),
                Err(EvalError::Cancelled) => Ok(("cancelled: nothing was stored".into(), true)),
                Err(e) => Err(e.into()),
            }
        })?;
    Ok(job)
}

/// Evaluates the zero- and few-shot baselines of evaluation `id` that are not stored yet
/// (same tickets, same base model) as a background job; the verdict is then in
/// `evaluation_detail`.
#[tauri::command]
pub async fn compare_evaluation(
    app: AppHandle,
    state: State<'_, AppState>,
    id: i64,
) -> CommandResult<Job> {
    let data_dir = state.data_dir().clone();
    let tuned = state.with_store(move |s| Ok(s.eval(id)?)).await?;
    let subject = format!("baselines of evaluation {id}");
    let job = state
        .jobs
        .spawn(&app, JobKind::Evaluate, subject, move |ctx| {
            let mut store = tunedesk::store::Store::open(data_dir.db_path())?;
            let mut progress = tickets(ctx, "answering with the base model");
            let c = compare::compare(
                &mut store,
                &data_dir,
                &tuned,
                &BASELINE_SHOTS,
                &PredictOptions::default(),
                DEFAULT_SEED,
                &mut |_, done, total| progress(done, total),
            )?;
            let mut message = c.verdict.map_or("no baseline".to_string(), |v| v.sentence);
            for s in c.skipped {
                message.push_str(&format!(" Left out: {s}."));
            }
            Ok((message, false))
        })?;
    Ok(job)
}

/// Saves the confidence under which `predict` leaves run `name`'s label empty (None: never).
#[tauri::command]
pub async fn set_abstain_below(
    state: State<'_, AppState>,
    name: String,
    below: Option<f64>,
) -> CommandResult<RunInfo> {
    state
        .with_store(move |s| Ok(s.set_abstain_below(&name, below)?))
        .await
}

/// The suspected mislabels of `dataset` by evaluation `eval` (and `second`, another
/// checkpoint's, to cross-check).
#[tauri::command]
pub async fn suspected_mislabels(
    state: State<'_, AppState>,
    dataset: String,
    eval: i64,
    second: Option<i64>,
) -> CommandResult<Vec<Suspect>> {
    state
        .with_store(move |s| {
            Ok(mislabels::of_dataset(
                s,
                &dataset,
                eval,
                second,
                MIN_CONFIDENCE,
            )?)
        })
        .await
}

/// Changes row `row` of `dataset` from label `from` to `to` (one transaction, recorded).
#[tauri::command]
pub async fn relabel_row(
    state: State<'_, AppState>,
    dataset: String,
    row: u64,
    from: String,
    to: String,
    reason: String,
) -> CommandResult<Vec<Edit>> {
    state
        .with_store(move |s| {
            let info = s.dataset(&dataset)?;
            let change = Relabel {
                row,
                old: from,
                new: to,
            };
            Ok(s.relabel(&info, &[change], &reason, &current_user())?)
        })
        .await
}

/// Keeps row `row`'s label `label`: no longer suggested as a mislabel.
#[tauri::command]
pub async fn dismiss_mislabel(
    state: State<'_, AppState>,
    dataset: String,
    row: u64,
    label: String,
) -> CommandResult<()> {
    state
        .with_store(move |s| {
            let info = s.dataset(&dataset)?;
            Ok(s.dismiss_mislabel(&info, row, &label, &current_user())?)
        })
        .await
}

/// Asks where to save evaluation `id` (native dialog, `suggested` file name), then writes it
/// there: a Markdown report, every answer as CSV, or the confusion chart, by the extension.
/// `None` when the user cancels.
#[tauri::command]
pub async fn export_evaluation(
    app: AppHandle,
    state: State<'_, AppState>,
    id: i64,
    suggested: String,
) -> CommandResult<Option<PathBuf>> {
    let Some(out) = super::ask_save_path(&app, "Save the evaluation", suggested, None) else {
        return Ok(None);
    };
    state
        .with_store(move |s| {
            report::export(s, id, &out)?;
            Ok(Some(out))
        })
        .await
}
