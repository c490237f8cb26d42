//! Evaluation: how well a model's answers match the gold labels and fields.
//!
//! `run` drives an evaluation end to end (examples from the store → predictions → metrics →
//! stored with per-example records). The scores themselves are pure functions over
//! `(gold, predicted)` pairs in [`crate::metrics`] (re-exported here as `metrics`), on the
//! bottom floor so that the store and the charts can use their types.

pub use crate::metrics;
pub mod bootstrap;
pub mod compare;
pub mod mislabels;
pub mod report;
pub mod run;
pub mod trial;
