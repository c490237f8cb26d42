//! Evaluation: how well a model's answers match the gold labels and fields.
//!
//! Input: `(gold, predicted)` pairs, already decoded from the model's output. Output: typed
//! [`metrics::Metrics`] (serialisable, stored by the store) and a plain-text report.
//! `metrics` is pure (no store, files or model); `run` drives an evaluation end to end
//! (examples from the store → predictions → metrics → stored with per-example records).

pub mod metrics;
pub mod run;
