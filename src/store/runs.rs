//! The `runs`, `run_steps`, `run_evals` and `run_warnings` tables: training runs, their
//! configuration and status, and every metric they recorded.

use super::{json_column, Store, StoreError};
use crate::metrics::TaskScores;
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

pub(super) const V1: &str = "
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    dataset     TEXT NOT NULL,             -- dataset name at creation
    model       TEXT NOT NULL,             -- model path or id
    config      TEXT NOT NULL,             -- JSON TrainConfig
    template    TEXT NOT NULL,             -- JSON Template
    status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    best_step   INTEGER,
    error       TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE run_steps (
    run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step          INTEGER NOT NULL,
    epoch         INTEGER NOT NULL,
    loss          REAL NOT NULL,
    lr            REAL NOT NULL,
    grad_norm     REAL NOT NULL,
    tokens_per_s  REAL NOT NULL,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE run_evals (
    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step      INTEGER NOT NULL,
    val_loss  REAL NOT NULL,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE run_warnings (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step     INTEGER NOT NULL,
    message  TEXT NOT NULL
);";

/// The task scores a validation measured on its decoded sample (JSON `TaskScores`; NULL when
/// only the loss was measured).
pub(super) const V2: &str = "ALTER TABLE run_evals ADD COLUMN scores TEXT;";

/// The confidence under which `predict` leaves a run's label empty, chosen on the Evaluate
/// page (NULL: never).
pub(super) const V3: &str = "ALTER TABLE runs ADD COLUMN abstain_below REAL;";

/// Status of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Created, not started.
    Queued,
    /// Training (or killed while training: resume it).
    Running,
    /// Finished.
    Done,
    /// Stopped by an error.
    Failed,
    /// Stopped by the user (resumable).
    Cancelled,
}

impl RunStatus {
    /// `queued`, `running`, `done`, `failed` or `cancelled` (as stored and in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> RunStatus {
        match s {
            "running" => RunStatus::Running,
            "done" => RunStatus::Done,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            _ => RunStatus::Queued,
        }
    }
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// Database id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Dataset it trains on.
    pub dataset: String,
    /// Base model.
    pub model: String,
    /// Training configuration (JSON).
    pub config: serde_json::Value,
    /// Prompt template (JSON).
    pub template: serde_json::Value,
    /// Status.
    pub status: RunStatus,
    /// Step of the best validation loss.
    pub best_step: Option<i64>,
    /// Error message of a failed run.
    pub error: Option<String>,
    /// Creation time (UTC).
    pub created_at: String,
    /// Last update (UTC).
    pub updated_at: String,
    /// Steps recorded.
    pub steps: i64,
    /// Confidence under which `predict` abstains by default (None: never).
    pub abstain_below: Option<f64>,
}

/// One recorded training step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// 1-based optimizer step.
    pub step: i64,
    /// 0-based epoch.
    pub epoch: i64,
    /// Training loss.
    pub loss: f64,
    /// Learning rate.
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Throughput.
    pub tokens_per_s: f64,
}

/// One validation of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EvalPoint {
    /// Optimizer step it followed.
    pub step: i64,
    /// Mean validation loss.
    pub val_loss: f64,
    /// The task's scores on the decoded validation sample, when measured.
    pub scores: Option<TaskScores>,
}

/// Everything recorded for a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunMetrics {
    /// Training steps.
    pub steps: Vec<StepRecord>,
    /// Validations, in step order.
    pub evals: Vec<EvalPoint>,
    /// `(step, message)`.
    pub warnings: Vec<(i64, String)>,
}

const SELECT: &str = "SELECT r.id, r.name, r.dataset, r.model, r.config, r.template, r.status,
    r.best_step, r.error, r.created_at, r.updated_at,
    (SELECT COUNT(*) FROM run_steps s WHERE s.run_id = r.id), r.abstain_below FROM runs r";

fn run_from_row(r: &Row) -> rusqlite::Result<RunInfo> {
    Ok(RunInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        dataset: r.get(2)?,
        model: r.get(3)?,
        config: json_column(r, 4)?,
        template: json_column(r, 5)?,
        status: RunStatus::parse(&r.get::<_, String>(6)?),
        best_step: r.get(7)?,
        error: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
        steps: r.get(11)?,
        abstain_below: r.get(12)?,
    })
}

impl Store {
    /// Saves the confidence under which `predict` abstains for run `name` (None: never).
    pub fn set_abstain_below(
        &mut self,
        name: &str,
        below: Option<f64>,
    ) -> Result<RunInfo, StoreError> {
        let run = self.run(name)?;
        self.conn.execute(
            "UPDATE runs SET abstain_below = ?2 WHERE id = ?1",
            params![run.id, below],
        )?;
        self.run(name)
    }

    /// Creates a run (status `queued`); a name that exists is refused.
    pub fn create_run(
        &mut self,
        name: &str,
        dataset: &str,
        model: &str,
        config: &serde_json::Value,
        template: &serde_json::Value,
    ) -> Result<RunInfo, StoreError> {
        let tx = self.conn.transaction()?;
        let exists: Option<i64> = tx
            .query_row("SELECT id FROM runs WHERE name = ?1", [name], |r| r.get(0))
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::RunExists(name.to_string()));
        }
        tx.execute(
            "INSERT INTO runs (name, dataset, model, config, template, status) VALUES (?1, ?2, ?3, ?4, ?5, 'queued')",
            params![name, dataset, model, config.to_string(), template.to_string()],
        )?;
        tx.commit()?;
        self.run(name)
    }

    fn run_opt(&self, name: &str) -> Result<Option<RunInfo>, StoreError> {
        Ok(self
            .conn
            .query_row(&format!("{SELECT} WHERE r.name = ?1"), [name], run_from_row)
            .optional()?)
    }

    /// The run called `name`.
    pub fn run(&self, name: &str) -> Result<RunInfo, StoreError> {
        match self.run_opt(name)? {
            Some(r) => Ok(r),
            None => Err(StoreError::RunNotFound {
                name: name.to_string(),
                available: self.list_runs()?.into_iter().map(|r| r.name).collect(),
            }),
        }
    }

    /// All runs, newest first.
    pub fn list_runs(&self) -> Result<Vec<RunInfo>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("{SELECT} ORDER BY r.id DESC"))?;
        let rows = stmt.query_map([], run_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes a run and its metrics.
    pub fn delete_run(&mut self, name: &str) -> Result<RunInfo, StoreError> {
        let info = self.run(name)?;
        self.conn
            .execute("DELETE FROM runs WHERE id = ?1", [info.id])?;
        Ok(info)
    }

    /// Sets a run's status (and error message, for failures).
    pub fn set_run_status(
        &mut self,
        run: &RunInfo,
        status: RunStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE runs SET status = ?2, error = ?3, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1",
            params![run.id, status.as_str(), error],
        )?;
        Ok(())
    }

    /// Records the best checkpoint's step.
    pub fn set_best_step(&mut self, run: &RunInfo, step: Option<i64>) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE runs SET best_step = ?2 WHERE id = ?1",
            params![run.id, step],
        )?;
        Ok(())
    }

    /// Records a training step (replacing a record of the same step).
    pub fn record_step(&mut self, run: &RunInfo, s: &StepRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO run_steps (run_id, step, epoch, loss, lr, grad_norm, tokens_per_s)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![run.id, s.step, s.epoch, s.loss, s.lr, s.grad_norm, s.tokens_per_s],
        )?;
        Ok(())
    }

    /// Records a validation.
    pub fn record_eval(&mut self, run: &RunInfo, e: &EvalPoint) -> Result<(), StoreError> {
        let scores = e
            .scores
            .map(|s| serde_json::to_string(&s).expect("scores serialize"));
        self.conn.execute(
            "INSERT OR REPLACE INTO run_evals (run_id, step, val_loss, scores) VALUES (?1, ?2, ?3, ?4)",
            params![run.id, e.step, e.val_loss, scores],
        )?;
        Ok(())
    }

    /// Records a warning.
    pub fn record_warning(
        &mut self,
        run: &RunInfo,
        step: i64,
        message: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO run_warnings (run_id, step, message) VALUES (?1, ?2, ?3)",
            params![run.id, step, message],
        )?;
        Ok(())
    }

    /// Forgets every metric recorded after `step` (before resuming from a checkpoint at
    /// `step`, so that no step is recorded twice).
    pub fn truncate_run(&mut self, run: &RunInfo, step: i64) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for table in ["run_steps", "run_evals", "run_warnings"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE run_id = ?1 AND step > ?2"),
                params![run.id, step],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Everything recorded for a run, in step order.
    pub fn run_metrics(&self, run: &RunInfo) -> Result<RunMetrics, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT step, epoch, loss, lr, grad_norm, tokens_per_s FROM run_steps WHERE run_id = ?1 ORDER BY step",
        )?;
        let steps = stmt
            .query_map([run.id], |r| {
                Ok(StepRecord {
                    step: r.get(0)?,
                    epoch: r.get(1)?,
                    loss: r.get(2)?,
                    lr: r.get(3)?,
                    grad_norm: r.get(4)?,
                    tokens_per_s: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT step, val_loss, scores FROM run_evals WHERE run_id = ?1 ORDER BY step",
        )?;
        let evals = stmt
            .query_map([run.id], |r| {
                Ok(EvalPoint {
                    step: r.get(0)?,
                    val_loss: r.get(1)?,
                    scores: match r.get::<_, Option<String>>(2)? {
                        Some(_) => Some(json_column(r, 2)?),
                        None => None,
                    },
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT step, message FROM run_warnings WHERE run_id = ?1 ORDER BY step, rowid",
        )?;
        let warnings = stmt
            .query_map([run.id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(RunMetrics {
            steps,
            evals,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_lifecycle_and_truncation() {
        let mut s = Store::open_in_memory().unwrap();
        let cfg = serde_json::json!({"lr": 1e-4});
        let run = s
            .create_run("r1", "d", "m.gguf", &cfg, &serde_json::json!({}))
            .unwrap();
        assert_eq!(run.status, RunStatus::Queued);
        for st in [
            RunStatus::Queued,
            RunStatus::Running,
            RunStatus::Done,
            RunStatus::Failed,
            RunStatus::Cancelled,
        ] {
            assert_eq!(serde_json::to_value(st).unwrap(), st.as_str());
            assert_eq!(RunStatus::parse(st.as_str()), st);
        }
        assert!(matches!(
            s.create_run("r1", "d", "m", &cfg, &cfg),
            Err(StoreError::RunExists(_))
        ));
        s.set_run_status(&run, RunStatus::Running, None).unwrap();
        for step in 1..=5 {
            let rec = StepRecord {
                step,
                epoch: 0,
                loss: 1.0 / step as f64,
                lr: 1e-4,
                grad_norm: 0.5,
                tokens_per_s: 100.0,
            };
            s.record_step(&run, &rec).unwrap();
        }
        let point = |step, val_loss, scores| EvalPoint {
            step,
            val_loss,
            scores,
        };
        let scores = TaskScores {
            examples: 8,
            accuracy: 0.75,
            macro_f1: 0.5,
            field_f1: None,
        };
        s.record_eval(&run, &point(0, 3.0, None)).unwrap();
        s.record_eval(&run, &point(2, 2.0, Some(scores))).unwrap();
        s.record_eval(&run, &point(4, 1.0, None)).unwrap();
        s.record_warning(&run, 5, "overfitting").unwrap();
        s.truncate_run(&run, 3).unwrap();
        let m = s.run_metrics(&run).unwrap();
        assert_eq!(m.steps.len(), 3);
        assert_eq!(
            m.evals,
            vec![point(0, 3.0, None), point(2, 2.0, Some(scores))]
        );
        assert!(m.warnings.is_empty());
        let run = s.run("r1").unwrap();
        assert_eq!((run.status, run.steps), (RunStatus::Running, 3));
        s.delete_run("r1").unwrap();
        assert!(s.list_runs().unwrap().is_empty());
    }
}
