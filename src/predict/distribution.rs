//! The most probable labels of one ticket, with their probabilities under the model
//! restricted to the label set — the same probability a prediction's confidence is.
//!
//! A label's probability is the product of its choices along the label trie
//! ([`Decoder::label_choices`]), so a best-first search finds the top labels exactly while
//! running the model only where the probable labels branch: a trie node is expanded (one
//! forward pass of its few tokens, the ticket's keys and values reused) only while it could
//! still hold a label more probable than the ones found.

use super::decode::Decoder;
use crate::model::llama::{Prefix, RowBatch};
use crate::model::ModelError;
use std::rc::Rc;

/// Trie nodes expanded together in one forward pass.
const EXPAND_AT_ONCE: usize = 8;

/// Labels less probable than this are not looked for (nor shown).
pub const LEAST_SHOWN: f64 = 1e-3;

/// A trie node not yet expanded.
struct Open {
    /// Log-probability of reaching it.
    logp: f64,
    /// Its label tokens.
    path: Vec<u32>,
    /// The row that has read everything before `feed` (shared by siblings).
    state: Rc<RowBatch>,
    /// The tokens from its parent to it.
    feed: Vec<u32>,
}

impl Decoder<'_> {
    /// The `top` most probable labels (as label-trie paths, with log-probabilities), most
    /// probable first, for the row `ids` after `prefix`; labels under [`LEAST_SHOWN`] are left
    /// out.
    pub(super) fn top_labels(
        &self,
        prefix: &Prefix,
        ids: &[u32],
        top: usize,
    ) -> Result<Vec<(Vec<u32>, f64)>, ModelError> {
        let mut found: Vec<(Vec<u32>, f64)> = Vec::new();
        let forced = self.grammar.forced_label(&[]);
        let mut open = vec![Open {
            logp: 0.0,
            path: forced.clone(),
            state: Rc::new(self.model.row_batch(prefix, 1)),
            feed: ids.iter().chain(&forced).copied().collect(),
        }];
        loop {
            found.sort_by(|a, b| b.1.total_cmp(&a.1));
            let bar = match top {
                0 => f64::INFINITY,
                n => found.get(n - 1).map_or(LEAST_SHOWN.ln(), |f| f.1),
            };
            open.retain(|o| o.logp > bar);
            if open.is_empty() {
                break;
            }
            open.sort_by(|a, b| b.logp.total_cmp(&a.logp));
            let now: Vec<Open> = open.drain(..EXPAND_AT_ONCE.min(open.len())).collect();
            let mut batch = RowBatch::default();
            let mut feeds = Vec::with_capacity(now.len());
            let mut nodes = Vec::with_capacity(now.len());
            for o in now {
                batch.append(Rc::unwrap_or_clone(o.state));
                feeds.push(o.feed);
                nodes.push((o.path, o.logp));
            }
            let logits = self.model.forward_rows(prefix, &mut batch, &feeds)?;
            let logits: Vec<Vec<f32>> = logits.to_dtype(candle_core::DType::F32)?.to_vec2()?;
            for ((state, row), (path, logp)) in batch.split().into_iter().zip(&logits).zip(nodes) {
                let state = Rc::new(state);
                let choices = self.label_choices(&path, row);
                if let Some((_, end)) = choices.end {
                    found.push((path.clone(), logp + end));
                }
                for (t, lp) in choices.next {
                    let mut child = path.clone();
                    child.push(t);
                    let rest = self.grammar.forced_label(&child);
                    child.extend(&rest);
                    // A label no other continues is found without running the model.
                    if self.grammar.labels.allowed(&child).is_empty() {
                        found.push((child, logp + lp));
                        continue;
                    }
                    open.push(Open {
                        logp: logp + lp,
                        path: child,
                        state: Rc::clone(&state),
                        feed: [t].into_iter().chain(rest).collect(),
                    });
                }
            }
        }
        found.retain(|f| f.1 >= LEAST_SHOWN.ln());
        found.truncate(top);
        Ok(found)
    }
}
