//! Batched decoding of completions after a shared prefix: every row gets one token per step,
//! finished rows leave the batch. Constrained mode picks the label through the label trie
//! (scoring only known labels) and then the fields through the [`Grammar`]; free mode is plain
//! greedy decoding.

use super::grammar::{Check, Grammar};
use super::{PredictOptions, Prediction};
use crate::model::llama::Prefix;
use crate::model::{ModelError, Tokenizer};
use crate::template;
use candle_core::{CpuStorage, Storage, Tensor};
use rayon::prelude::*;

/// Candidates tried, best first, when the grammar rejects the model's favourite field token.
const FIELD_CANDIDATES: usize = 48;

/// What decoding needs besides the model.
pub(super) struct Decoder<'a> {
    pub model: &'a crate::model::Model,
    pub tokenizer: &'a Tokenizer,
    pub grammar: &'a Grammar,
    /// Text of every token id on its own.
    pub token_text: &'a [String],
    /// End-of-sequence ids.
    pub eos: &'a [u32],
    /// Tokens made only of newlines (they end a label).
    pub newlines: &'a [u32],
    pub opts: &'a PredictOptions,
}

/// See [`Decoder::label_choices`].
#[derive(Debug, Default)]
pub(super) struct LabelChoices {
    /// Each next label token, with its log-probability.
    pub next: Vec<(u32, f64)>,
    /// The best token ending the label here, with the log-probability that it ends here.
    pub end: Option<(u32, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    #[default]
    Label,
    Fields,
    Done,
}

/// One row being decoded.
#[derive(Debug, Default)]
struct Row {
    phase: Phase,
    label_ids: Vec<u32>,
    field_ids: Vec<u32>,
    field_text: String,
    /// Log-probability of the label, normalised over the allowed tokens at each step.
    label_logp: f64,
    /// Whether the label part is over (free mode).
    label_closed: bool,
    /// Tokens of the current field line while they spell the start of a field name the
    /// grammar knows (`None` once the line has its `:` or took another path).
    line: Option<Vec<u32>>,
    /// The ticket, lower-cased, when field values must be copied from it.
    source: Option<String>,
}

impl Decoder<'_> {
    /// Decodes `rows` (token ids after `prefix`, at least one each), keeping up to
    /// `batch_size` rows in flight: when half of them have finished, the next rows are
    /// prefilled together and join the batch. `sources[i]`: row i's ticket, lower-cased, when
    /// its field values must be copied from it. `on_done(n)` after rows finish.
    pub fn run(
        &self,
        prefix: &Prefix,
        rows: &[Vec<u32>],
        sources: &[Option<String>],
        on_done: &mut dyn FnMut(usize),
    ) -> Result<Vec<Prediction>, ModelError> {
        let size = self.opts.batch_size.max(1);
        let mut done: Vec<Option<Row>> = rows.iter().map(|_| None).collect();
        let mut batch = self.model.row_batch(prefix, 0);
        // The rows in flight, in batch order: (row index, tokens generated, state); and the
        // current logits, one row each.
        let mut active: Vec<(usize, usize, Row)> = Vec::new();
        let mut logits: Option<Tensor> = None;
        let mut queued = 0;
        // The label tokens every label starts with go in with the prompt.
        let forced = match self.opts.constrained {
            true => self.grammar.forced_label(&[]),
            false => Vec::new(),
        };
        while queued < rows.len() || !active.is_empty() {
            if active.len() <= size / 2 && queued < rows.len() {
                let take = (size - active.len()).min(rows.len() - queued);
                let new = queued..queued + take;
                queued += take;
                let ids: Vec<Vec<u32>> = rows[new.clone()]
                    .iter()
                    .map(|r| r.iter().chain(&forced).copied().collect())
                    .collect();
                let mut fresh = self.model.row_batch(prefix, take);
                let l = self.model.forward_rows(prefix, &mut fresh, &ids)?;
                batch.append(fresh);
                logits = Some(match logits {
                    Some(old) => Tensor::cat(&[old, l], 0)?,
                    None => l,
                });
                active.extend(new.map(|r| {
                    let row = Row {
                        label_ids: forced.clone(),
                        source: sources.get(r).cloned().flatten(),
                        ..Row::default()
                    };
                    (r, forced.len(), row)
                }));
            }
            // Each row's next tokens (None: the row is done), rows in parallel.
            let next: Vec<Option<Vec<u32>>> = match logits.take() {
                Some(l) => with_logit_rows(&l, |table| {
                    let vocab = table.len() / active.len().max(1);
                    active
                        .par_iter_mut()
                        .zip(table.par_chunks(vocab.max(1)))
                        .map(|((_, steps, row), logits)| self.step(row, *steps, logits))
                        .collect()
                })?,
                None => Vec::new(),
            };
            let in_flight = active.len();
            let mut keep = Vec::with_capacity(in_flight);
            let mut feed = Vec::with_capacity(in_flight);
            let mut still = Vec::with_capacity(in_flight);
            for (slot, ((r, steps, row), token)) in active.drain(..).zip(next).enumerate() {
                match token {
                    Some(tokens) => {
                        keep.push(slot);
                        still.push((r, steps + tokens.len(), row));
                        feed.push(tokens);
                    }
                    None => done[r] = Some(row),
                }
            }
            if keep.len() < in_flight {
                on_done(in_flight - keep.len());
            }
            active = still;
            batch.retain(&keep);
            if !feed.is_empty() {
                logits = Some(self.model.forward_rows(prefix, &mut batch, &feed)?);
            }
        }
        done.iter()
            .map(|row| self.finish(row.as_ref().expect("every row decoded")))
            .collect()
    }

    /// The next tokens for `row` after `steps` generated tokens (the model's choice and the
    /// tokens the grammar then forces), or `None` when it is done.
    fn step(&self, row: &mut Row, steps: usize, logits: &[f32]) -> Option<Vec<u32>> {
        if steps >= self.opts.max_new_tokens {
            None
        } else if self.opts.constrained {
            self.step_constrained(row, logits)
        } else {
            self.step_free(row, logits)
        }
    }

    /// Constrained step: returns the tokens to feed next, or `None` when the row is done.
    fn step_constrained(&self, row: &mut Row, logits: &[f32]) -> Option<Vec<u32>> {
        match row.phase {
            Phase::Label => {
                let choices = self.label_choices(&row.label_ids, logits);
                let best = choices
                    .next
                    .iter()
                    .copied()
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                match (best, choices.end) {
                    (Some((pick, logp)), end) if end.is_none_or(|(_, e)| logp >= e) => {
                        row.label_logp += logp;
                        row.label_ids.push(pick);
                        let forced = self.grammar.forced_label(&row.label_ids);
                        row.label_ids.extend(&forced);
                        Some([pick].into_iter().chain(forced).collect())
                    }
                    (_, Some((end, logp))) => {
                        row.label_logp += logp;
                        if self.eos.contains(&end) {
                            row.phase = Phase::Done;
                            return None;
                        }
                        row.phase = Phase::Fields;
                        Some(self.push_fields(row, end))
                    }
                    _ => None,
                }
            }
            Phase::Fields => {
                // The model's favourite first; the ranked candidates only if it is rejected.
                let first = argmax(logits)?;
                let rest = std::iter::once_with(|| top_k(logits, FIELD_CANDIDATES))
                    .flatten()
                    .filter(move |&c| c != first);
                for c in std::iter::once(first).chain(rest) {
                    if self.eos.contains(&c) {
                        if self
                            .grammar
                            .check_fields(&row.field_text, row.source.as_deref())
                            == Check::Complete
                        {
                            break;
                        }
                        continue;
                    }
                    let text = format!("{}{}", row.field_text, self.token_text[c as usize]);
                    if self.grammar.check_fields(&text, row.source.as_deref()) != Check::Invalid {
                        return Some(self.push_fields(row, c));
                    }
                }
                row.phase = Phase::Done;
                None
            }
            Phase::Done => None,
        }
    }

    /// The ways a label can go on after the label tokens `path`: each next token of the label
    /// trie with its log-probability, and, when `path` is a whole label, its end (the best
    /// ending token — end of text, or a newline before fields — with the log-probability of
    /// all of them together), normalised over these choices only.
    pub(super) fn label_choices(&self, path: &[u32], logits: &[f32]) -> LabelChoices {
        let children = self.grammar.labels.allowed(path);
        let mut ends: Vec<u32> = Vec::new();
        if self.grammar.labels.is_complete(path) {
            ends.extend(self.eos);
            if !self.grammar.fields.is_empty() {
                ends.extend(self.newlines);
            }
        }
        let score = |ids: &[u32]| -> Vec<(u32, f32)> {
            ids.iter()
                .filter_map(|&i| logits.get(i as usize).map(|&l| (i, l)))
                .collect()
        };
        let (next, ends) = (score(&children), score(&ends));
        let Some(max) = next.iter().chain(&ends).map(|p| p.1).max_by(f32::total_cmp) else {
            return LabelChoices::default();
        };
        let weight = |l: f32| ((l - max) as f64).exp();
        let end_mass: f64 = ends.iter().map(|p| weight(p.1)).sum();
        let log_total = (next.iter().map(|p| weight(p.1)).sum::<f64>() + end_mass).ln();
        let log_p = |l: f32| (l - max) as f64 - log_total;
        LabelChoices {
            next: next.iter().map(|&(t, l)| (t, log_p(l))).collect(),
            end: ends
                .iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|&(t, _)| (t, end_mass.ln() - log_total)),
        }
    }

    /// Adds the chosen field token `t` to `row`, then the tokens the grammar forces after it
    /// (the blank line's second newline; the rest of a field name once only one name, or
    /// names sharing their next tokens, can follow). Returns all of them, `t` first.
    fn push_fields(&self, row: &mut Row, t: u32) -> Vec<u32> {
        self.push_field_token(row, t);
        let forced = if row.field_text == "\n" {
            self.grammar.newline().into_iter().collect()
        } else {
            match &row.line {
                Some(line) if !line.is_empty() => {
                    let used = template::field_names(&row.field_text);
                    self.grammar.forced_name(line, &used)
                }
                _ => Vec::new(),
            }
        };
        for &f in &forced {
            self.push_field_token(row, f);
        }
        [t].into_iter().chain(forced).collect()
    }

    /// Appends one token to the row's field section and follows its current line.
    fn push_field_token(&self, row: &mut Row, t: u32) {
        let text = &self.token_text[t as usize];
        row.field_ids.push(t);
        row.field_text.push_str(text);
        if text.contains('\n') {
            row.line = text.ends_with('\n').then(Vec::new);
        } else if let Some(line) = &mut row.line {
            line.push(t);
            if text.contains(':') {
                row.line = None;
            }
        }
    }

    /// Free (greedy) step. The label's confidence is the probability of the tokens of the
    /// first line.
    fn step_free(&self, row: &mut Row, logits: &[f32]) -> Option<Vec<u32>> {
        let (pick, logp) = best_of(logits)?;
        if self.eos.contains(&pick) {
            row.phase = Phase::Done;
            return None;
        }
        let text = &self.token_text[pick as usize];
        if !row.label_closed {
            if text.contains('\n') {
                row.label_closed = true;
            } else {
                row.label_logp += logp;
            }
        }
        row.field_ids.push(pick);
        row.field_text.push_str(text);
        if template::answer_ended(&row.field_text) {
            row.phase = Phase::Done;
            return None;
        }
        Some(vec![pick])
    }

    fn finish(&self, row: &Row) -> Result<Prediction, ModelError> {
        let mut ids = row.label_ids.clone();
        ids.extend(&row.field_ids);
        let output = self.tokenizer.decode(&ids)?;
        if !self.opts.constrained {
            return Ok(
                match template::parse_completion(template::first_answer(&output)) {
                    Ok(c) => Prediction {
                        label: Some(c.label),
                        fields: c.fields,
                        confidence: Some(row.label_logp.exp()),
                        output,
                    },
                    Err(_) => Prediction {
                        label: None,
                        fields: Vec::new(),
                        confidence: None,
                        output,
                    },
                },
            );
        }
        let Some(label) = self.grammar.label(&row.label_ids) else {
            return Ok(Prediction {
                label: None,
                fields: Vec::new(),
                confidence: None,
                output,
            });
        };
        // A field section cut short (token limit) keeps its whole lines only.
        let mut fields_text = row.field_text.as_str();
        if self
            .grammar
            .check_fields(fields_text, row.source.as_deref())
            != Check::Complete
        {
            fields_text = fields_text.rfind('\n').map_or("", |i| &fields_text[..i]);
        }
        let fields = template::parse_fields(fields_text);
        Ok(Prediction {
            label: Some(label.to_string()),
            fields,
            confidence: Some(row.label_logp.exp()),
            output,
        })
    }
}

/// `f` over the logits (rows × vocab) as one slice: borrowed on the CPU, copied elsewhere.
fn with_logit_rows<R>(logits: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R, ModelError> {
    {
        let (storage, layout) = logits.storage_and_layout();
        if let (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) =
            (&*storage, layout.contiguous_offsets())
        {
            return Ok(f(&v[a..b]));
        }
    }
    let flat: Vec<f32> = logits
        .to_dtype(candle_core::DType::F32)?
        .flatten_all()?
        .to_vec1()?;
    Ok(f(&flat))
}

/// The best token and its log-probability.
fn best_of(logits: &[f32]) -> Option<(u32, f64)> {
    let pick = argmax(logits)?;
    let max = logits[pick as usize];
    let sum: f64 = logits.iter().map(|l| ((l - max) as f64).exp()).sum();
    Some((pick, -sum.ln()))
}

/// The highest-scoring token id (the last of equals, as `max_by`).
fn argmax(logits: &[f32]) -> Option<u32> {
    let (i, _) = logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    Some(i as u32)
}

/// The `k` highest-scoring token ids, best first.
fn top_k(logits: &[f32], k: usize) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..logits.len() as u32).collect();
    let k = k.min(idx.len());
    if k == 0 {
        return idx;
    }
    idx.select_nth_unstable_by(k - 1, |a, b| {
        logits[*b as usize].total_cmp(&logits[*a as usize])
    });
    idx.truncate(k);
    idx.sort_by(|a, b| logits[*b as usize].total_cmp(&logits[*a as usize]));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_of_is_the_argmax_and_its_log_probability() {
        let logits = [0.0f32, 2.0, 1.0, 5.0];
        let (pick, logp) = best_of(&logits).unwrap();
        assert_eq!(pick, 3);
        let z: f64 = logits.iter().map(|&l| (l as f64).exp()).sum();
        assert!((logp - (5f64.exp() / z).ln()).abs() < 1e-9);
        assert_eq!(top_k(&logits, 2), vec![3, 1]);
        assert_eq!(argmax(&logits), Some(3));
    }
}
