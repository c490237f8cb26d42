//! The playground (the window's Try page, `tunedesk predict --text`): one ticket through a
//! fine-tuned run and, beside it, its base model prompted with worked examples — both loaded
//! once and kept warm, each answer with the label's top alternatives and its time.

use super::compare::BASELINE_SHOTS;
use super::run::{prepare, EvalError, EvalRequest, SplitChoice, Target, DEFAULT_SEED};
use crate::dataset::Split;
use crate::model::ModelError;
use crate::paths::DataDir;
use crate::predict::from_run::Checkpoint;
use crate::predict::{LabelScore, PredictOptions, Prediction, Predictor};
use crate::store::Store;
use crate::template::Template;
use serde::Serialize;
use std::time::Instant;

/// Alternatives listed with each answer.
pub const TOP_LABELS: usize = 3;

/// One model of the playground.
pub struct Side {
    /// `fine-tuned`, or `5-shot base` (the column names `compare` uses).
    pub name: String,
    predictor: Predictor<'static>,
    template: Template,
}

/// One side's answer to a ticket.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The side that answered.
    pub side: String,
    /// Label (with its confidence) and fields, as `predict` gives them.
    #[serde(flatten)]
    pub prediction: Prediction,
    /// The most probable labels, most probable first, with their probabilities.
    pub top: Vec<LabelScore>,
    /// Seconds the answer took (the model already loaded).
    pub seconds: f64,
}

impl Side {
    /// Run `name` at `checkpoint`, ready to answer.
    pub fn tuned(
        store: &mut Store,
        data_dir: &DataDir,
        name: &str,
        checkpoint: Checkpoint,
        options: &PredictOptions,
    ) -> Result<Side, EvalError> {
        let target = Target::Run {
            name: name.to_string(),
            checkpoint,
        };
        let dataset = store.run(name)?.dataset;
        Side::load(
            store,
            data_dir,
            target,
            dataset,
            options,
            "fine-tuned".into(),
        )
    }

    /// The base model of run `name`, prompted with the most worked examples of
    /// [`BASELINE_SHOTS`] (drawn as `compare` draws them) that fit in its context.
    pub fn base(
        store: &mut Store,
        data_dir: &DataDir,
        name: &str,
        options: &PredictOptions,
    ) -> Result<Side, EvalError> {
        let run = store.run(name)?;
        let mut last = None;
        for shots in BASELINE_SHOTS.into_iter().rev() {
            let target = Target::Base {
                model: run.model.clone().into(),
                shots,
                shots_from: Some(run.dataset.clone()),
            };
            let side_name = format!("{shots}-shot base");
            match Side::load(
                store,
                data_dir,
                target,
                run.dataset.clone(),
                options,
                side_name,
            ) {
                Err(EvalError::Model(e @ ModelError::PromptTooLong { .. })) => last = Some(e),
                other => return other,
            }
        }
        Err(last.expect("at least one baseline").into())
    }

    fn load(
        store: &mut Store,
        data_dir: &DataDir,
        target: Target,
        dataset: String,
        options: &PredictOptions,
        name: String,
    ) -> Result<Side, EvalError> {
        let req = EvalRequest {
            target,
            dataset,
            split: SplitChoice::Only(Split::Train),
            limit: None,
            options: options.clone(),
            seed: DEFAULT_SEED,
        };
        let p = prepare(store, data_dir, &req)?;
        let predictor = Predictor::owning(p.lm, &p.head, &p.labels, &p.fields, options.clone())?;
        Ok(Side {
            name,
            predictor,
            template: p.template,
        })
    }

    /// This side's answer to the ticket `text`.
    pub fn ask(&self, text: &str) -> Result<Answer, EvalError> {
        let started = Instant::now();
        let tail = self.template.prompt_tail(text);
        let prediction = self
            .predictor
            .predict(std::slice::from_ref(&tail), &mut |_, _| {})?
            .remove(0);
        let top = self.predictor.top_labels(&tail, TOP_LABELS)?;
        Ok(Answer {
            side: self.name.clone(),
            prediction,
            top,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// The playground's models, kept warm between tickets: the fine-tuned side reloaded only when
/// the run or checkpoint changes, the base side loaded the first time it is asked for.
pub struct Playground {
    options: PredictOptions,
    tuned: Option<(String, Checkpoint, Side)>,
    base: Option<(String, Side)>,
}

impl Playground {
    /// An empty playground decoding with `options`.
    pub fn new(options: PredictOptions) -> Playground {
        Playground {
            options,
            tuned: None,
            base: None,
        }
    }

    /// Run `run`'s answer at `checkpoint` to the ticket `text`, and with `with_base` its base
    /// model's after it.
    #[allow(clippy::too_many_arguments)]
    pub fn ask(
        &mut self,
        store: &mut Store,
        data_dir: &DataDir,
        run: &str,
        checkpoint: Checkpoint,
        text: &str,
        with_base: bool,
    ) -> Result<Vec<Answer>, EvalError> {
        if !matches!(&self.tuned, Some((r, c, _)) if r == run && *c == checkpoint) {
            self.tuned = None;
            let side = Side::tuned(store, data_dir, run, checkpoint, &self.options)?;
            self.tuned = Some((run.to_string(), checkpoint, side));
        }
        if with_base && !matches!(&self.base, Some((r, _)) if r == run) {
            self.base = None;
            self.base = Some((
                run.to_string(),
                Side::base(store, data_dir, run, &self.options)?,
            ));
        }
        let mut answers = Vec::new();
        if let Some((_, _, side)) = &self.tuned {
            answers.push(side.ask(text)?);
        }
        if let (true, Some((_, side))) = (with_base, &self.base) {
            answers.push(side.ask(text)?);
        }
        Ok(answers)
    }
}
