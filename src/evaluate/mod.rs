//! Evaluation: how well a model's answers match the gold labels and fields.
//!
//! Input: `(gold, predicted)` pairs, already decoded from the model's output. Output: typed
//! [`metrics::Metrics`] (serialisable, stored by the store) and a plain-text report.
//! Must not touch: the store, files, the model. The metrics are pure functions.

pub mod metrics;
