//! The task's own scores at a validation: a fixed stratified sample of the validation rows,
//! decoded with the constrained decoder as `predict` and `evaluate` do, scored by `metrics`.
//! The adapter stays unmerged (training goes on afterwards) and nothing is quantized.

use crate::dataset::split::stratified_sample;
use crate::example::Example;
use crate::metrics::{self, Gold, Predicted, TaskScores};
use crate::model::{LoadedModel, ModelError, Tokenizer};
use crate::predict::{PredictOptions, Prediction, Predictor};
use crate::template::Template;

/// A validation sample ready to decode at every validation of a run.
pub struct Scorer {
    head: String,
    tails: Vec<String>,
    gold: Vec<Gold>,
    labels: Vec<String>,
    fields: Vec<String>,
    opts: PredictOptions,
}

impl Scorer {
    /// A sample of at most `rows` of `val` (stratified by label, seeded); None when there is
    /// nothing to decode. Answers are limited to a little more than the longest gold answer.
    pub fn new(
        tokenizer: &Tokenizer,
        template: &Template,
        val: &[Example],
        (labels, fields): (Vec<String>, Vec<String>),
        rows: usize,
        seed: u64,
    ) -> Result<Option<Scorer>, ModelError> {
        if rows == 0 || val.is_empty() {
            return Ok(None);
        }
        let sample = stratified_sample(val.to_vec(), Some(rows), seed);
        let mut longest = 0;
        for e in &sample {
            let completion = template.completion(&e.text, &e.label, &e.fields);
            longest = longest.max(tokenizer.encode_plain(&completion)?.len());
        }
        let defaults = PredictOptions::default();
        Ok(Some(Scorer {
            head: template.prompt_head(),
            tails: sample
                .iter()
                .map(|e| template.prompt_tail(&e.text))
                .collect(),
            gold: sample
                .iter()
                .map(|e| Gold {
                    label: e.label.clone(),
                    fields: e.fields.clone(),
                })
                .collect(),
            labels,
            fields,
            opts: PredictOptions {
                int8: false,
                max_new_tokens: (longest + longest / 2 + 8).min(defaults.max_new_tokens),
                ..defaults
            },
        }))
    }

    /// Decodes the sample with `lm` as it is now and scores the answers.
    pub fn score(&self, lm: &mut LoadedModel) -> Result<TaskScores, ModelError> {
        let predictor = Predictor::new(
            lm,
            &self.head,
            &self.labels,
            &self.fields,
            self.opts.clone(),
        )?;
        let predictions = predictor.predict(&self.tails, &mut |_, _| {})?;
        let pairs: Vec<(Gold, Predicted)> = self
            .gold
            .iter()
            .cloned()
            .zip(predictions.iter().map(Prediction::answer))
            .collect();
        Ok(TaskScores::from(&metrics::compute(&pairs)))
    }
}
