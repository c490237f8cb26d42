//! The `evals` and `eval_records` tables: stored evaluations (of a run's checkpoint or of a
//! base-model baseline), their metrics, and every example's input, gold answer, prediction and
//! raw model output.

use super::{json_column, Store, StoreError};
use crate::metrics::{Gold, Metrics, Predicted};
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

pub(super) const V1: &str = "
CREATE TABLE evals (
    id           INTEGER PRIMARY KEY,
    run          TEXT,                      -- run name; NULL for a base-model baseline
    run_id       INTEGER REFERENCES runs(id) ON DELETE CASCADE,
    model        TEXT NOT NULL,             -- base model path or id
    checkpoint   TEXT,                      -- 'best', 'last' or a step; NULL for a baseline
    dataset      TEXT NOT NULL,
    split        TEXT NOT NULL,
    shots        INTEGER,                   -- K of a K-shot baseline
    constrained  INTEGER NOT NULL CHECK (constrained IN (0, 1)),
    limit_rows   INTEGER,                   -- only the first N examples were evaluated
    metrics      TEXT NOT NULL,             -- JSON Metrics
    seconds      REAL NOT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    CHECK ((run IS NULL) = (run_id IS NULL))
);
CREATE TABLE eval_records (
    eval_id     INTEGER NOT NULL REFERENCES evals(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,           -- 0-based position in the evaluation
    example_id  INTEGER,                    -- the example's row in its dataset
    input       TEXT NOT NULL,
    gold        TEXT NOT NULL,              -- JSON Gold
    predicted   TEXT NOT NULL,              -- JSON Predicted
    confidence  REAL,
    output      TEXT NOT NULL,              -- raw model output
    PRIMARY KEY (eval_id, idx)
);
CREATE INDEX evals_by_run ON evals (run_id);";

/// Whether the products ran in 8-bit integers (evaluations stored before ran in f32).
pub(super) const V2: &str =
    "ALTER TABLE evals ADD COLUMN int8 INTEGER NOT NULL DEFAULT 0 CHECK (int8 IN (0, 1));";

/// What was evaluated, and how: the header of a stored evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSpec {
    /// Run whose adapter was evaluated; None for a base-model baseline.
    pub run: Option<String>,
    /// Checkpoint of the run: `best`, `last` or a step (None for a baseline).
    pub checkpoint: Option<String>,
    /// Base model path or id.
    pub model: String,
    /// Dataset evaluated on.
    pub dataset: String,
    /// Split evaluated on (`test`, `val`, …).
    pub split: String,
    /// K of a K-shot baseline prompt.
    pub shots: Option<u32>,
    /// Whether decoding was constrained to the known labels.
    pub constrained: bool,
    /// Only the first N examples of the split were evaluated.
    pub limit: Option<usize>,
    /// The products ran in 8-bit integers (`model::ops::int8_matmul`), not f32.
    #[serde(default)]
    pub int8: bool,
}

/// A stored evaluation: its header, metrics and timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalInfo {
    /// Database id.
    pub id: i64,
    /// Database id of the run (None for a baseline).
    pub run_id: Option<i64>,
    /// What was evaluated.
    #[serde(flatten)]
    pub spec: EvalSpec,
    /// The scores.
    pub metrics: Metrics,
    /// Wall-clock time the evaluation took.
    pub seconds: f64,
    /// Creation time (UTC).
    pub created_at: String,
}

/// One evaluated example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// The example's row in its dataset (`Example::row`), when it came from one.
    pub example_id: Option<i64>,
    /// The ticket text given to the model.
    pub input: String,
    /// The expected answer.
    pub gold: Gold,
    /// The decoded answer.
    pub predicted: Predicted,
    /// The model's raw output.
    pub output: String,
}

const SELECT: &str = "SELECT id, run_id, run, checkpoint, model, dataset, split, shots,
    constrained, limit_rows, metrics, seconds, created_at, int8 FROM evals";

fn eval_from_row(r: &Row) -> rusqlite::Result<EvalInfo> {
    Ok(EvalInfo {
        id: r.get(0)?,
        run_id: r.get(1)?,
        spec: EvalSpec {
            run: r.get(2)?,
            checkpoint: r.get(3)?,
            model: r.get(4)?,
            dataset: r.get(5)?,
            split: r.get(6)?,
            shots: r.get(7)?,
            constrained: r.get(8)?,
            limit: r.get::<_, Option<i64>>(9)?.map(|n| n as usize),
            int8: r.get(13)?,
        },
        metrics: json_column(r, 10)?,
        seconds: r.get(11)?,
        created_at: r.get(12)?,
    })
}

impl Store {
    /// Stores an evaluation and all its records in one transaction: either everything is
    /// stored or nothing. A run named in `spec` must exist.
    pub fn save_eval(
        &mut self,
        spec: &EvalSpec,
        metrics: &Metrics,
        seconds: f64,
        records: &[EvalRecord],
    ) -> Result<EvalInfo, StoreError> {
        let run_id = match &spec.run {
            Some(name) => Some(self.run(name)?.id),
            None => None,
        };
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO evals (run, run_id, model, checkpoint, dataset, split, shots, constrained,
                limit_rows, metrics, seconds, int8)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                spec.run,
                run_id,
                spec.model,
                spec.checkpoint,
                spec.dataset,
                spec.split,
                spec.shots,
                spec.constrained,
                spec.limit.map(|n| n as i64),
                serde_json::to_string(metrics).expect("metrics serialize"),
                seconds,
                spec.int8
            ],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut stmt = tx.prepare(
                "INSERT INTO eval_records (eval_id, idx, example_id, input, gold, predicted,
                    confidence, output)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for (idx, rec) in records.iter().enumerate() {
                stmt.execute(params![
                    id,
                    idx as i64,
                    rec.example_id,
                    rec.input,
                    serde_json::to_string(&rec.gold).expect("gold serializes"),
                    serde_json::to_string(&rec.predicted).expect("prediction serializes"),
                    rec.predicted.confidence,
                    rec.output
                ])?;
            }
        }
        tx.commit()?;
        self.eval(id)
    }

    /// The evaluation with database id `id`.
    pub fn eval(&self, id: i64) -> Result<EvalInfo, StoreError> {
        self.conn
            .query_row(&format!("{SELECT} WHERE id = ?1"), [id], eval_from_row)
            .optional()?
            .ok_or(StoreError::EvalNotFound(id))
    }

    /// The records of evaluation `id`, in evaluation order.
    pub fn eval_records(&self, id: i64) -> Result<Vec<EvalRecord>, StoreError> {
        self.eval(id)?;
        let mut stmt = self.conn.prepare(
            "SELECT example_id, input, gold, predicted, output FROM eval_records
             WHERE eval_id = ?1 ORDER BY idx",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok(EvalRecord {
                example_id: r.get(0)?,
                input: r.get(1)?,
                gold: json_column(r, 2)?,
                predicted: json_column(r, 3)?,
                output: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Evaluations, newest first: all of them, or those of the run named `run`.
    pub fn list_evals(&self, run: Option<&str>) -> Result<Vec<EvalInfo>, StoreError> {
        let run_id = match run {
            Some(name) => Some(self.run(name)?.id),
            None => None,
        };
        let mut stmt = self.conn.prepare(&format!(
            "{SELECT} WHERE ?1 IS NULL OR run_id = ?1 ORDER BY id DESC"
        ))?;
        let rows = stmt.query_map([run_id], eval_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest evaluation with exactly this spec (every field equal, absent ones absent
    /// alike), to reuse a baseline instead of computing it again.
    pub fn find_eval(&self, spec: &EvalSpec) -> Result<Option<EvalInfo>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "{SELECT} WHERE run IS ?1 AND checkpoint IS ?2 AND model = ?3 AND dataset = ?4
                     AND split = ?5 AND shots IS ?6 AND constrained = ?7 AND limit_rows IS ?8
                     AND int8 = ?9 ORDER BY id DESC LIMIT 1"
                ),
                params![
                    spec.run,
                    spec.checkpoint,
                    spec.model,
                    spec.dataset,
                    spec.split,
                    spec.shots,
                    spec.constrained,
                    spec.limit.map(|n| n as i64),
                    spec.int8
                ],
                eval_from_row,
            )
            .optional()?)
    }

    /// Deletes an evaluation and its records.
    pub fn delete_eval(&mut self, id: i64) -> Result<EvalInfo, StoreError> {
        let info = self.eval(id)?;
        self.conn.execute("DELETE FROM evals WHERE id = ?1", [id])?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compute;

    fn baseline(shots: Option<u32>) -> EvalSpec {
        EvalSpec {
            run: None,
            checkpoint: None,
            model: "smollm2.gguf".into(),
            dataset: "tickets".into(),
            split: "test".into(),
            shots,
            constrained: true,
            limit: Some(50),
            int8: false,
        }
    }

    fn records() -> Vec<EvalRecord> {
        let gold = Gold {
            label: "Billing".into(),
            fields: vec![("Customer ID".into(), "123".into())],
        };
        vec![
            EvalRecord {
                example_id: Some(7),
                input: "charged twice".into(),
                gold: gold.clone(),
                predicted: Predicted {
                    label: Some("Billing".into()),
                    fields: vec![("Customer ID".into(), "123".into())],
                    confidence: Some(0.75),
                },
                output: " Billing\n\nCustomer ID: 123".into(),
            },
            EvalRecord {
                example_id: None,
                input: "???".into(),
                gold,
                predicted: Predicted::unparseable(),
                output: "\n".into(),
            },
        ]
    }

    fn metrics(recs: &[EvalRecord]) -> Metrics {
        let pairs: Vec<_> = recs
            .iter()
            .map(|r| (r.gold.clone(), r.predicted.clone()))
            .collect();
        compute(&pairs)
    }

    fn count(s: &Store, table: &str) -> i64 {
        s.conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    fn new_run(s: &mut Store, name: &str) {
        let v = serde_json::json!({});
        s.create_run(name, "tickets", "smollm2.gguf", &v, &v)
            .unwrap();
    }

    #[test]
    fn eval_round_trip() {
        let mut s = Store::open_in_memory().unwrap();
        new_run(&mut s, "r1");
        let recs = records();
        let m = metrics(&recs);
        let spec = EvalSpec {
            run: Some("r1".into()),
            checkpoint: Some("best".into()),
            shots: None,
            constrained: false,
            limit: None,
            int8: false,
            ..baseline(None)
        };
        let info = s.save_eval(&spec, &m, 12.5, &recs).unwrap();
        assert_eq!(info.spec, spec);
        assert_eq!(info.run_id, Some(s.run("r1").unwrap().id));
        assert_eq!((info.metrics.examples, info.seconds), (2, 12.5));
        assert_eq!(info.metrics, m);
        assert_eq!(info.created_at.len(), "2025-01-01T00:00:00Z".len());
        assert_eq!(s.eval(info.id).unwrap(), info);
        assert_eq!(s.eval_records(info.id).unwrap(), recs);
        let stored: Option<f64> = s
            .conn
            .query_row(
                "SELECT confidence FROM eval_records WHERE idx = 0",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, Some(0.75));

        let base = s.save_eval(&baseline(Some(3)), &m, 1.0, &[]).unwrap();
        assert_eq!(base.run_id, None);
        let ids = |v: Vec<EvalInfo>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(s.list_evals(None).unwrap()), [base.id, info.id]);
        assert_eq!(ids(s.list_evals(Some("r1")).unwrap()), [info.id]);
        assert!(matches!(
            s.list_evals(Some("nope")),
            Err(StoreError::RunNotFound { .. })
        ));
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(
            (&json["run"], &json["checkpoint"]),
            (&"r1".into(), &"best".into())
        );

        assert_eq!(s.delete_eval(info.id).unwrap().id, info.id);
        assert_eq!(count(&s, "eval_records"), 0);
        assert!(matches!(s.eval(info.id), Err(StoreError::EvalNotFound(_))));
        assert!(matches!(
            s.eval_records(info.id),
            Err(StoreError::EvalNotFound(_))
        ));
    }

    #[test]
    fn deleting_a_run_deletes_its_evals() {
        let mut s = Store::open_in_memory().unwrap();
        new_run(&mut s, "r1");
        let recs = records();
        let m = metrics(&recs);
        let spec = EvalSpec {
            run: Some("r1".into()),
            checkpoint: Some("last".into()),
            ..baseline(None)
        };
        s.save_eval(&spec, &m, 1.0, &recs).unwrap();
        let base = s.save_eval(&baseline(None), &m, 1.0, &recs).unwrap();
        assert_eq!(count(&s, "eval_records"), 4);
        s.delete_run("r1").unwrap();
        assert_eq!(s.list_evals(None).unwrap(), [base]);
        assert_eq!(count(&s, "eval_records"), 2);
    }

    #[test]
    fn find_eval_matches_the_whole_spec_newest_first() {
        let mut s = Store::open_in_memory().unwrap();
        let m = compute(&[]);
        assert_eq!(s.find_eval(&baseline(Some(3))).unwrap(), None);
        let old = s.save_eval(&baseline(Some(3)), &m, 1.0, &[]).unwrap();
        let zero_shot = s.save_eval(&baseline(None), &m, 1.0, &[]).unwrap();
        let new = s.save_eval(&baseline(Some(3)), &m, 2.0, &[]).unwrap();
        assert!(new.id > old.id);
        let found = |s: &Store, spec: &EvalSpec| s.find_eval(spec).unwrap().map(|e| e.id);
        assert_eq!(found(&s, &baseline(Some(3))), Some(new.id));
        assert_eq!(found(&s, &baseline(None)), Some(zero_shot.id));
        assert_eq!(found(&s, &baseline(Some(5))), None);
        for spec in [
            EvalSpec {
                constrained: false,
                ..baseline(Some(3))
            },
            EvalSpec {
                limit: None,
                ..baseline(Some(3))
            },
            EvalSpec {
                int8: true,
                ..baseline(Some(3))
            },
            EvalSpec {
                split: "val".into(),
                ..baseline(Some(3))
            },
            EvalSpec {
                model: "other.gguf".into(),
                ..baseline(Some(3))
            },
            EvalSpec {
                dataset: "other".into(),
                ..baseline(Some(3))
            },
        ] {
            assert_eq!(found(&s, &spec), None, "{spec:?}");
        }
        // A run's eval is not a baseline.
        new_run(&mut s, "r1");
        let spec = EvalSpec {
            run: Some("r1".into()),
            checkpoint: Some("best".into()),
            ..baseline(None)
        };
        let run_eval = s.save_eval(&spec, &m, 1.0, &[]).unwrap();
        assert_eq!(found(&s, &baseline(None)), Some(zero_shot.id));
        assert_eq!(found(&s, &spec), Some(run_eval.id));
    }

    #[test]
    fn failed_save_stores_nothing() {
        let mut s = Store::open_in_memory().unwrap();
        let recs = records();
        let m = metrics(&recs);
        // The second record's insert fails after the header and the first record went in.
        s.conn
            .execute_batch(
                "CREATE TEMP TRIGGER fail_second BEFORE INSERT ON eval_records
                 WHEN NEW.idx = 1 BEGIN SELECT RAISE(ABORT, 'boom'); END;",
            )
            .unwrap();
        let err = s.save_eval(&baseline(None), &m, 1.0, &recs).unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
        assert_eq!((count(&s, "evals"), count(&s, "eval_records")), (0, 0));
        // An unknown run is refused before anything is written.
        let spec = EvalSpec {
            run: Some("nope".into()),
            ..baseline(None)
        };
        assert!(matches!(
            s.save_eval(&spec, &m, 1.0, &[]),
            Err(StoreError::RunNotFound { .. })
        ));
        assert_eq!(count(&s, "evals"), 0);
    }
}
