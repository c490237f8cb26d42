//! Running a model on tickets: prompts that share a head are decoded in batches after one
//! shared prefix pass, into a label (with its confidence) and fields.
//!
//! Constrained decoding (the default) only ever yields a known label and known field names;
//! the label's confidence is its probability under the model restricted to the label set
//! (the product, over the label's tokens, of each token's probability normalised over the
//! tokens the label trie allows at that point).

mod decode;
mod distribution;
pub mod from_run;
pub mod grammar;
pub mod table;

use crate::model::llama::Prefix;
use crate::model::{LoadedModel, ModelError};
use crate::template;
use grammar::Grammar;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

/// Tickets decoded between two looks at a cancel flag ([`Predictor::predict_until`]).
pub const CHUNK: usize = 256;

/// How to predict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictOptions {
    /// Decode within the known labels and fields (else free greedy text, parsed afterwards).
    pub constrained: bool,
    /// Rows decoded together.
    pub batch_size: usize,
    /// Most new tokens per row.
    pub max_new_tokens: usize,
    /// Run the weight products (projections and LM head) in 8-bit integers where the CPU has
    /// the kernel (`model::ops::int8_matmul`); false keeps every product in f32.
    pub int8: bool,
    /// Constrained decoding copies field values from the ticket: each value is text of the
    /// ticket (ignoring case), so a value is never invented, only chosen.
    pub copy_values: bool,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            constrained: true,
            batch_size: 16,
            max_new_tokens: 96,
            int8: true,
            copy_values: false,
        }
    }
}

/// The model's answer for one ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The label (`None` when the output could not be parsed).
    pub label: Option<String>,
    /// Extracted fields, in output order.
    pub fields: Vec<(String, String)>,
    /// Probability of the label normalised over the labels.
    pub confidence: Option<f64>,
    /// The raw completion text.
    pub output: String,
}

impl Prediction {
    /// The answer as the metrics score it.
    pub fn answer(&self) -> crate::metrics::Predicted {
        crate::metrics::Predicted {
            label: self.label.clone(),
            fields: self.fields.clone(),
            confidence: self.confidence,
        }
    }
}

/// A label with its probability (see [`Predictor::top_labels`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScore {
    /// The label.
    pub label: String,
    /// Its probability under the model restricted to the label set.
    pub probability: f64,
}

/// The model a [`Predictor`] runs: borrowed, or its own (kept warm between calls).
enum ModelRef<'a> {
    Borrowed(&'a LoadedModel),
    Owned(Box<LoadedModel>),
}

impl std::ops::Deref for ModelRef<'_> {
    type Target = LoadedModel;
    fn deref(&self) -> &LoadedModel {
        match self {
            ModelRef::Borrowed(lm) => lm,
            ModelRef::Owned(lm) => lm,
        }
    }
}

/// A model ready to answer prompts `head + tail` for many tails.
pub struct Predictor<'a> {
    lm: ModelRef<'a>,
    grammar: Grammar,
    shared: Vec<u32>,
    prefix: Prefix,
    empty: Prefix,
    head: String,
    token_text: Vec<String>,
    newlines: Vec<u32>,
    opts: PredictOptions,
    int8: bool,
}

impl<'a> Predictor<'a> {
    /// Prepares `lm` for prompts starting with `head`, answering with one of `labels` and
    /// fields named from `fields` (and quantizes it, with `opts.int8`).
    pub fn new(
        lm: &'a mut LoadedModel,
        head: &str,
        labels: &[String],
        fields: &[String],
        opts: PredictOptions,
    ) -> Result<Predictor<'a>, ModelError> {
        let int8 = opts.int8 && lm.model.quantize_int8()?;
        Predictor::prepared(ModelRef::Borrowed(lm), head, labels, fields, opts, int8)
    }

    /// Like [`Predictor::new`], keeping the model: a predictor that can be stored and asked
    /// again without loading anything.
    pub fn owning(
        mut lm: LoadedModel,
        head: &str,
        labels: &[String],
        fields: &[String],
        opts: PredictOptions,
    ) -> Result<Predictor<'static>, ModelError> {
        let int8 = opts.int8 && lm.model.quantize_int8()?;
        let lm = ModelRef::Owned(Box::new(lm));
        Predictor::prepared(lm, head, labels, fields, opts, int8)
    }

    fn prepared(
        lm: ModelRef<'a>,
        head: &str,
        labels: &[String],
        fields: &[String],
        opts: PredictOptions,
        int8: bool,
    ) -> Result<Predictor<'a>, ModelError> {
        let tok = &lm.tokenizer;
        let mut shared = tok.encode(head)?;
        let context = lm.model.config().max_position_embeddings;
        if shared.len() >= context {
            return Err(ModelError::PromptTooLong {
                tokens: shared.len(),
                context,
            });
        }
        // The head's last token may merge with the text that follows it.
        shared.pop();
        let token_text = (0..tok.vocab_size() as u32)
            .map(|i| tok.decode(&[i]))
            .collect::<Result<Vec<_>, _>>()?;
        let newlines = token_text
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.is_empty() && t.chars().all(|c| c == '\n'))
            .map(|(i, _)| i as u32)
            .collect();
        Ok(Predictor {
            grammar: Grammar::new(tok, labels, fields)?,
            prefix: lm.model.prefix(&shared)?,
            empty: lm.model.prefix(&[])?,
            shared,
            head: head.to_string(),
            token_text,
            newlines,
            opts,
            int8,
            lm,
        })
    }

    /// Whether the products run in 8-bit integers (asked for, and the CPU has the kernel).
    pub fn int8(&self) -> bool {
        self.int8
    }

    /// The `top` most probable labels for one tail, most probable first, with their
    /// probabilities (the same a prediction's confidence is); labels under
    /// [`distribution::LEAST_SHOWN`] are left out.
    pub fn top_labels(&self, tail: &str, top: usize) -> Result<Vec<LabelScore>, ModelError> {
        let (prefix, ids) = self.row(tail)?;
        let found = self.decoder().top_labels(prefix, &ids, top)?;
        Ok(found
            .into_iter()
            .filter_map(|(path, logp)| {
                Some(LabelScore {
                    label: self.grammar.label(&path)?.to_string(),
                    probability: logp.exp(),
                })
            })
            .collect())
    }

    /// The prefix a tail continues and its tokens after it: the shared head when its tokens
    /// start with the head's (nearly always), else nothing.
    fn row(&self, tail: &str) -> Result<(&Prefix, Vec<u32>), ModelError> {
        let ids = self.lm.tokenizer.encode(&format!("{}{tail}", self.head))?;
        Ok(match ids.strip_prefix(self.shared.as_slice()) {
            Some(rest) if !rest.is_empty() => (&self.prefix, rest.to_vec()),
            _ => (&self.empty, ids),
        })
    }

    fn decoder(&self) -> decode::Decoder<'_> {
        decode::Decoder {
            model: &self.lm.model,
            tokenizer: &self.lm.tokenizer,
            grammar: &self.grammar,
            token_text: &self.token_text,
            eos: &self.lm.model.config().eos_token_ids,
            newlines: &self.newlines,
            opts: &self.opts,
        }
    }

    /// [`Predictor::predict`] in chunks of [`CHUNK`] tails, looking at `cancel` before each:
    /// `None` once it is set.
    pub fn predict_until(
        &self,
        tails: &[String],
        on_progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
    ) -> Result<Option<Vec<Prediction>>, ModelError> {
        let mut predictions = Vec::with_capacity(tails.len());
        for chunk in tails.chunks(CHUNK) {
            if cancel.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let before = predictions.len();
            predictions.extend(self.predict(chunk, &mut |done, _| {
                on_progress(before + done, tails.len())
            })?);
        }
        Ok(Some(predictions))
    }

    /// Predicts for every tail (the prompt after the head); `on_progress(done, total)` after
    /// each batch. Results are in input order.
    pub fn predict(
        &self,
        tails: &[String],
        on_progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Prediction>, ModelError> {
        // Rows whose tokens start with the shared head continue the prefix; the rare others
        // (a tokenization that merges across the boundary) run on their own.
        let sources: Vec<Option<String>> = tails
            .iter()
            .map(|tail| {
                (self.opts.copy_values && self.opts.constrained).then(|| {
                    template::ticket_from_tail(tail)
                        .unwrap_or(tail)
                        .to_lowercase()
                })
            })
            .collect();
        let mut rows: Vec<(bool, Vec<u32>, usize)> = Vec::with_capacity(tails.len());
        for (i, tail) in tails.iter().enumerate() {
            let (prefix, ids) = self.row(tail)?;
            rows.push((std::ptr::eq(prefix, &self.prefix), ids, i));
        }
        rows.sort_by_key(|(shared, ids, _)| (!*shared, ids.len()));
        let decoder = self.decoder();
        let mut out: Vec<Option<Prediction>> = vec![None; tails.len()];
        let mut done = 0;
        for shared in [true, false] {
            let group: Vec<&(bool, Vec<u32>, usize)> =
                rows.iter().filter(|r| r.0 == shared).collect();
            if group.is_empty() {
                continue;
            }
            let prefix = if shared { &self.prefix } else { &self.empty };
            let ids: Vec<Vec<u32>> = group.iter().map(|r| r.1.clone()).collect();
            let group_sources: Vec<Option<String>> =
                group.iter().map(|r| sources[r.2].clone()).collect();
            let predictions = decoder.run(prefix, &ids, &group_sources, &mut |n| {
                done += n;
                on_progress(done, tails.len());
            })?;
            for (p, r) in predictions.into_iter().zip(group) {
                out[r.2] = Some(p);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}
