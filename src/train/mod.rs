//! LoRA fine-tuning: examples → token batches → completion-only loss → AdamW on the adapter.
//!
//! Input: a loaded model, train / validation examples and a [`TrainConfig`]. Output: the
//! trained adapter (in the model's `VarMap`) and a stream of [`TrainEvent`]s (per-step loss,
//! learning rate, tokens/s; validation loss; warnings).
//! Must not touch: the store or files here ([`run`] records events and checkpoints).

pub mod auto;
pub mod checkpoint;
pub mod data;
pub mod import;
pub mod loss;
pub mod optim;
pub mod preflight;
pub mod presets;
pub mod run;
pub mod score;
pub mod select;
pub mod summary;

use crate::example::Example;
use crate::metrics::TaskScores;
use crate::model::estimate::TrainShape;
use crate::model::lora::LoraConfig;
use crate::model::{Batch, LoadedModel, ModelError, Sequence, Tokenizer};
use crate::template::Template;
use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use data::Encoded;
use optim::{AdamW, AdamWConfig, Scheduler};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use select::Selection;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Hyperparameters of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training data (`None`: automatic, [`auto::epochs`]; a run stores the
    /// number it chose).
    pub epochs: Option<usize>,
    /// Peak learning rate.
    pub lr: f64,
    /// Examples per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Fraction of the steps spent warming up.
    pub warmup_ratio: f64,
    /// Schedule after warmup.
    pub scheduler: Scheduler,
    /// Adapter shape.
    pub lora: LoraConfig,
    /// Longest sequence in tokens (prompt + completion).
    pub max_len: usize,
    /// Evaluate every this many optimizer steps (and at each epoch end); `None`: at epoch
    /// ends, and within epochs when they alone would give too few ([`auto::eval_every`]).
    pub eval_every: Option<usize>,
    /// Stop after this many evaluations without improvement (by `select_by`).
    pub patience: Option<usize>,
    /// What the best checkpoint and early stopping follow.
    #[serde(default = "Selection::legacy")]
    pub select_by: Selection,
    /// Validation tickets decoded at each validation (after step 0) to measure the task's
    /// accuracy, macro-F1 and field F1 (0: the loss only).
    #[serde(default)]
    pub score_rows: usize,
    /// Stop after this many optimizer steps.
    pub max_steps: Option<usize>,
    /// Seed for adapter init, data order and dropout.
    pub seed: u64,
    /// Run the prompt head that a micro-batch's rows share once for all of them (the same
    /// loss and gradients; LoRA dropout on the head is then drawn once per micro-batch).
    /// Runs stored before it existed read false, so that they resume exactly as they began.
    #[serde(default)]
    pub shared_head: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: None,
            lr: MEASURED_LR,
            batch_size: TrainShape::default().batch,
            grad_accum: 1,
            weight_decay: 0.01,
            warmup_ratio: 0.05,
            scheduler: Scheduler::Cosine,
            // Rank 16 learned what rank 8 could not on ATIS (docs/RESULTS.md, atis500b/c).
            lora: LoraConfig {
                rank: 16,
                alpha: 32.0,
                ..LoraConfig::default()
            },
            max_len: TrainShape::default().seq,
            eval_every: None,
            patience: Some(3),
            select_by: Selection::default(),
            score_rows: 64,
            max_steps: None,
            seed: 42,
            shared_head: true,
        }
    }
}

/// The learning rate that met the ATIS targets with SmolLM2-135M (docs/RESULTS.md,
/// `atis500e`: 5e-4 where 2e-4, the top of the usual range, had not converged in 7 epochs).
pub const MEASURED_LR: f64 = 5e-4;

impl TrainConfig {
    /// The passes a run makes over `train_examples` rows with `labels` labels (0 when
    /// unknown): the number set, else the automatic one.
    pub fn epochs_for(&self, train_examples: usize, labels: usize) -> usize {
        self.epochs
            .unwrap_or_else(|| auto::epochs(train_examples, labels))
    }

    /// These settings with the epochs decided for the training rows `train`.
    pub fn resolved(&self, train: &[Example]) -> TrainConfig {
        let labels: std::collections::BTreeSet<&str> =
            train.iter().map(|e| e.label.as_str()).collect();
        TrainConfig {
            epochs: Some(self.epochs_for(train.len(), labels.len())),
            ..self.clone()
        }
    }
}

/// Progress of a run (what the CLI prints and the desktop app draws).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TrainEvent {
    /// The run starts.
    Started {
        /// Passes over the training examples.
        epochs: usize,
        /// Optimizer steps planned.
        total_steps: usize,
        /// Training examples.
        train_examples: usize,
        /// Validation examples.
        val_examples: usize,
        /// Examples whose prompt was cut to fit `max_len`.
        truncated: usize,
        /// The step of the checkpoint a resumed run continues from (`None` for a new run).
        /// Events restart there: a run killed after this step printed steps that the resumed
        /// run computes and prints again (the store keeps each step once).
        resumed_from: Option<usize>,
    },
    /// One optimizer step.
    Step {
        /// 1-based optimizer step.
        step: usize,
        /// 0-based epoch.
        epoch: usize,
        /// Mean training loss of the step.
        loss: f64,
        /// Learning rate used.
        lr: f64,
        /// Gradient norm before clipping.
        grad_norm: f64,
        /// Tokens processed per second in this step.
        tokens_per_s: f64,
    },
    /// A validation pass.
    Eval {
        /// Optimizer step it followed.
        step: usize,
        /// Mean validation loss.
        val_loss: f64,
        /// The task's scores on the decoded validation sample (None when not measured).
        scores: Option<TaskScores>,
        /// Whether it is the best so far (by the run's `select_by`).
        best: bool,
    },
    /// Something the user should know.
    Warning {
        /// Step where it was noticed.
        step: usize,
        /// What happened.
        message: String,
    },
    /// The run ended.
    Finished {
        /// Steps done.
        steps: usize,
        /// Step of the best validation (by the run's `select_by`).
        best_step: Option<usize>,
        /// Why it stopped.
        reason: StopReason,
    },
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// All epochs done.
    Completed,
    /// `max_steps` reached.
    MaxSteps,
    /// Validation stopped improving (`patience`).
    EarlyStopped,
    /// Cancelled by the user.
    Cancelled,
}

/// Gradient norm clipping threshold.
const MAX_GRAD_NORM: f64 = 1.0;

/// Tokenizes `examples` for training; returns them and how many had their prompt cut.
pub fn encode_all(
    lm: &LoadedModel,
    template: &Template,
    examples: &[Example],
    max_len: usize,
) -> Result<(Vec<Encoded>, usize), ModelError> {
    let eos = lm.model.config().eos_token();
    encode_with(&lm.tokenizer, eos, template, examples, max_len)
}

/// [`encode_all`] with a tokenizer and end-of-sequence token alone (no weights loaded).
pub fn encode_with(
    tokenizer: &Tokenizer,
    eos: u32,
    template: &Template,
    examples: &[Example],
    max_len: usize,
) -> Result<(Vec<Encoded>, usize), ModelError> {
    let encoded = examples
        .iter()
        .map(|e| data::encode(tokenizer, template, e, max_len, eos))
        .collect::<Result<Vec<_>, _>>()?;
    let truncated = encoded.iter().filter(|e| e.truncated > 0).count();
    Ok((encoded, truncated))
}

/// The model's batch of `items` (see [`Batch`]).
fn batch_of(
    items: &[&Encoded],
    pad: u32,
    share_head: bool,
    device: &Device,
) -> candle_core::Result<Batch> {
    let rows: Vec<Sequence> = items.iter().map(|e| e.sequence()).collect();
    Batch::new(&rows, pad, share_head, device)
}

/// Mean completion loss of `examples` (no dropout, no gradient).
pub fn evaluate(
    lm: &LoadedModel,
    examples: &[Encoded],
    batch_size: usize,
) -> Result<f64, ModelError> {
    let pad = lm.model.config().eos_token();
    let (mut sum, mut count) = (0f64, 0usize);
    let lengths: Vec<usize> = examples.iter().map(|e| e.input_ids.len()).collect();
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    for chunk in order.chunks(batch_size.max(1)) {
        let items: Vec<&Encoded> = chunk.iter().map(|&i| &examples[i]).collect();
        let batch = batch_of(&items, pad, true, lm.model.device())?;
        let loss = lm.model.completion_loss_eval(&batch)?.to_scalar::<f32>()? as f64;
        sum += loss * batch.counted as f64;
        count += batch.counted;
    }
    Ok(if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    })
}

/// Where a run is: enough to continue it exactly (saved with every checkpoint).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps done.
    pub step: usize,
    /// Current epoch (0-based).
    pub epoch: usize,
    /// Optimizer steps already done within the current epoch.
    pub next_group: usize,
    /// Position of the dropout RNG (ChaCha word position, as decimal text).
    pub rng_word_pos: String,
    /// `(step, validation loss)` of the best evaluation so far.
    pub best: Option<(usize, f64)>,
    /// The task scores of the best evaluation, when measured.
    #[serde(default)]
    pub best_scores: Option<TaskScores>,
    /// Evaluations since the best one.
    pub since_best: usize,
    /// `(mean training loss since the previous evaluation, validation loss)` per evaluation.
    pub evals: Vec<(f64, f64)>,
    /// Training losses since the last evaluation.
    pub recent_train: Vec<f64>,
    /// The overfitting warning was given.
    pub overfit_warned: bool,
    /// Step of the last evaluation.
    pub last_eval: Option<usize>,
}

/// What a checkpoint holds, handed to the caller to write.
pub struct Checkpoint<'a> {
    /// Where the run is.
    pub state: &'a TrainState,
    /// Adapter variables by PEFT name.
    pub lora: &'a [(String, candle_core::Var)],
    /// Optimizer (moments and step).
    pub optimizer: &'a AdamW,
    /// Whether this step has the best validation loss so far.
    pub is_best: bool,
}

/// Tensors restored from a checkpoint: adapter (PEFT names) and optimizer moments
/// (`m.<name>`, `v.<name>`).
pub type Restored = std::collections::HashMap<String, Tensor>;

/// Decodes the validation sample with the model as it is and scores the answers.
pub type ScoreFn<'a> = dyn FnMut(&mut LoadedModel) -> Result<TaskScores, ModelError> + 'a;

/// How a run talks to its caller.
pub struct Hooks<'a> {
    /// Progress events.
    pub on_event: &'a mut dyn FnMut(TrainEvent),
    /// Persists a checkpoint (after every evaluation, on cancel and at the end).
    pub checkpoint: &'a mut dyn FnMut(Checkpoint<'_>) -> Result<(), ModelError>,
    /// Set to stop after the current step (a checkpoint is written first).
    pub cancel: &'a AtomicBool,
    /// Measures the task on a decoded validation sample (see [`score::Scorer`]).
    pub score: Option<&'a mut ScoreFn<'a>>,
}

struct Loop<'a> {
    cfg: &'a TrainConfig,
    val_set: &'a [Encoded],
    state: TrainState,
    vars: Vec<(String, candle_core::Var)>,
    opt: AdamW,
    rng: ChaCha8Rng,
}

impl Loop<'_> {
    /// Validation pass after the current step; true when early stopping ends the run.
    fn evaluate(&mut self, lm: &mut LoadedModel, hooks: &mut Hooks) -> Result<bool, ModelError> {
        let step = self.state.step;
        if self.val_set.is_empty() || self.state.last_eval == Some(step) {
            return Ok(false);
        }
        let val = evaluate(lm, self.val_set, self.cfg.batch_size)?;
        // Step 0 is the base model: its loss is the curve's reference point, its answers
        // are not worth the time it takes to decode them.
        let scores = match hooks.score.as_mut() {
            Some(score) if step > 0 => Some(score(lm)?),
            _ => None,
        };
        let st = &mut self.state;
        st.last_eval = Some(step);
        let is_best = st.best.is_none_or(|(_, b)| {
            self.cfg
                .select_by
                .better((val, scores.as_ref()), (b, st.best_scores.as_ref()))
        });
        if is_best {
            st.best = Some((step, val));
            st.best_scores = scores;
            st.since_best = 0;
        } else {
            st.since_best += 1;
        }
        (hooks.on_event)(TrainEvent::Eval {
            step,
            val_loss: val,
            scores,
            best: is_best,
        });
        if !st.recent_train.is_empty() {
            let train_loss = st.recent_train.iter().sum::<f64>() / st.recent_train.len() as f64;
            st.recent_train.clear();
            st.evals.push((train_loss, val));
        }
        if !st.overfit_warned {
            if let Some([(t0, v0), _, (t2, v2)]) = overfitting(&st.evals) {
                st.overfit_warned = true;
                (hooks.on_event)(TrainEvent::Warning {
                    step,
                    message: format!(
                        "overfitting: validation loss rose for 2 evaluations ({v0:.4} → {v2:.4}) while training loss fell ({t0:.4} → {t2:.4}); the best checkpoint is step {}",
                        st.best.map_or(0, |b| b.0)
                    ),
                });
            }
        }
        self.checkpoint(hooks, is_best)?;
        Ok(self
            .cfg
            .patience
            .is_some_and(|p| self.state.since_best >= p))
    }

    fn checkpoint(&mut self, hooks: &mut Hooks, is_best: bool) -> Result<(), ModelError> {
        self.state.rng_word_pos = self.rng.get_word_pos().to_string();
        (hooks.checkpoint)(Checkpoint {
            state: &self.state,
            lora: &self.vars,
            optimizer: &self.opt,
            is_best,
        })
    }
}

/// The last three `(train loss, validation loss)` evaluations when validation loss rose at
/// each of the last two while training loss fell: the signature of overfitting.
fn overfitting(evals: &[(f64, f64)]) -> Option<[(f64, f64); 3]> {
    let [a, b, c] = evals.get(evals.len().checked_sub(3)?..)? else {
        return None;
    };
    (b.1 > a.1 && c.1 > b.1 && b.0 < a.0 && c.0 < b.0).then_some([*a, *b, *c])
}

/// How many optimizer steps a run takes, and how many of them warm up.
pub(crate) struct Schedule {
    pub(crate) epochs: usize,
    pub(crate) steps_per_epoch: usize,
    pub(crate) total_steps: usize,
    /// Validate every this many steps (besides epoch ends).
    pub(crate) eval_every: Option<usize>,
    warmup: usize,
}

impl Schedule {
    pub(crate) fn of(train_examples: usize, cfg: &TrainConfig) -> Schedule {
        let micro_per_epoch = train_examples.div_ceil(cfg.batch_size.max(1));
        let steps_per_epoch = micro_per_epoch.div_ceil(cfg.grad_accum.max(1));
        let epochs = cfg.epochs_for(train_examples, 0);
        let mut total_steps = steps_per_epoch * epochs;
        if let Some(max) = cfg.max_steps {
            total_steps = total_steps.min(max);
        }
        let warmup = (total_steps as f64 * cfg.warmup_ratio).ceil() as usize;
        Schedule {
            epochs,
            steps_per_epoch,
            total_steps,
            eval_every: cfg
                .eval_every
                .or_else(|| auto::eval_every(total_steps, steps_per_epoch)),
            warmup,
        }
    }
}

/// Puts a checkpoint back: adapter values, optimizer moments and step, the RNG's position.
fn restore(
    saved: TrainState,
    tensors: &Restored,
    vars: &[(String, candle_core::Var)],
    opt: &mut AdamW,
    rng: &mut ChaCha8Rng,
) -> Result<TrainState, ModelError> {
    let get = |k: &str| {
        tensors
            .get(k)
            .ok_or_else(|| ModelError::Config(format!("checkpoint lacks tensor '{k}'")))
    };
    for (i, (name, var)) in vars.iter().enumerate() {
        let device = var.device().clone();
        var.set(&get(name)?.to_device(&device)?)?;
        opt.m[i] = get(&format!("m.{name}"))?.to_device(&device)?;
        opt.v[i] = get(&format!("v.{name}"))?.to_device(&device)?;
    }
    opt.step = saved.step;
    let pos: u128 = saved.rng_word_pos.parse().unwrap_or(0);
    rng.set_word_pos(pos);
    Ok(saved)
}

/// The gradients of one optimizer step summed over its micro-batches (each loss divided by
/// their number), with the step's loss and token count.
fn accumulate(
    lm: &mut LoadedModel,
    batches: &[Vec<&Encoded>],
    pad: u32,
    share_head: bool,
    device: &Device,
    rng: &mut ChaCha8Rng,
    var_list: &[candle_core::Var],
) -> Result<(candle_core::backprop::GradStore, f64, usize), ModelError> {
    let mut grads: Option<candle_core::backprop::GradStore> = None;
    let (mut loss_sum, mut tokens) = (0f64, 0usize);
    for items in batches {
        let batch = batch_of(items, pad, share_head, device)?;
        tokens += items.iter().map(|e| e.input_ids.len()).sum::<usize>();
        let loss = lm.model.completion_loss(&batch, Some(rng))?;
        let loss = (loss / batches.len() as f64)?;
        loss_sum += loss.to_scalar::<f32>()? as f64;
        let g = loss.backward()?;
        grads = Some(match grads {
            None => g,
            Some(mut acc) => {
                for var in var_list {
                    if let Some(new) = g.get(var) {
                        let sum = match acc.remove(var) {
                            Some(old) => (old + new)?,
                            None => new.clone(),
                        };
                        acc.insert(var, sum);
                    }
                }
                acc
            }
        });
    }
    let grads = grads.expect("a step has at least one micro-batch");
    Ok((grads, loss_sum, tokens))
}

/// Trains a LoRA adapter on `lm` (adding it first). With `resume`, continues a run from a
/// checkpoint: same data order, same dropout stream, optimizer state restored.
pub fn train(
    lm: &mut LoadedModel,
    train_set: &[Encoded],
    val_set: &[Encoded],
    cfg: &TrainConfig,
    resume: Option<(TrainState, Restored)>,
    hooks: &mut Hooks,
) -> Result<VarMap, ModelError> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let varmap = VarMap::new();
    lm.model.add_lora(&cfg.lora, &varmap, &mut rng)?;
    let vars = lm.model.lora_vars();
    let mut opt = AdamW::new(
        vars.iter().map(|(_, v)| v.clone()).collect(),
        AdamWConfig {
            weight_decay: cfg.weight_decay,
            ..AdamWConfig::default()
        },
    )?;
    let resumed_from = resume.as_ref().map(|(saved, _)| saved.step);
    let state = match resume {
        Some((saved, tensors)) => restore(saved, &tensors, &vars, &mut opt, &mut rng)?,
        None => TrainState::default(),
    };
    let pad = lm.model.config().eos_token();
    let device = lm.model.device().clone();
    let lengths: Vec<usize> = train_set.iter().map(|e| e.input_ids.len()).collect();
    let Schedule {
        epochs,
        steps_per_epoch,
        total_steps,
        eval_every,
        warmup,
    } = Schedule::of(train_set.len(), cfg);
    (hooks.on_event)(TrainEvent::Started {
        epochs,
        total_steps,
        train_examples: train_set.len(),
        val_examples: val_set.len(),
        truncated: train_set
            .iter()
            .chain(val_set)
            .filter(|e| e.truncated > 0)
            .count(),
        resumed_from,
    });
    let var_list: Vec<candle_core::Var> = vars.iter().map(|(_, v)| v.clone()).collect();
    let mut lp = Loop {
        cfg,
        val_set,
        state,
        vars,
        opt,
        rng,
    };
    if lp.state.step == 0 && lp.state.last_eval.is_none() {
        // Step 0: the base model's validation loss, the reference point of the curve.
        lp.evaluate(lm, hooks)?;
    }

    let mut reason = StopReason::Completed;
    'epochs: while lp.state.epoch < epochs && lp.state.step < total_steps {
        let order = data::batches(&lengths, cfg.batch_size, cfg.seed, lp.state.epoch);
        let groups: Vec<&[Vec<usize>]> = order.chunks(cfg.grad_accum.max(1)).collect();
        while lp.state.next_group < groups.len() {
            if hooks.cancel.load(Ordering::Relaxed) {
                reason = StopReason::Cancelled;
                lp.checkpoint(hooks, false)?;
                break 'epochs;
            }
            checkpoint::test_pace();
            let group = groups[lp.state.next_group];
            let started = Instant::now();
            let batches: Vec<Vec<&Encoded>> = group
                .iter()
                .map(|micro| micro.iter().map(|&i| &train_set[i]).collect())
                .collect();
            let (mut grads, loss_sum, tokens) = accumulate(
                lm,
                &batches,
                pad,
                cfg.shared_head,
                &device,
                &mut lp.rng,
                &var_list,
            )?;
            let grad_norm = optim::clip_grad_norm(&mut grads, &var_list, MAX_GRAD_NORM)?;
            let lr =
                optim::learning_rate(cfg.lr, lp.state.step, total_steps, warmup, cfg.scheduler);
            lp.opt.step(&grads, lr)?;
            lp.state.step += 1;
            lp.state.next_group += 1;
            lp.state.recent_train.push(loss_sum);
            (hooks.on_event)(TrainEvent::Step {
                step: lp.state.step,
                epoch: lp.state.epoch,
                loss: loss_sum,
                lr,
                grad_norm,
                tokens_per_s: tokens as f64 / started.elapsed().as_secs_f64(),
            });
            let step = lp.state.step;
            if step == total_steps {
                if cfg.max_steps == Some(step) && step < steps_per_epoch * epochs {
                    reason = StopReason::MaxSteps;
                }
                lp.evaluate(lm, hooks)?;
                break 'epochs;
            }
            if eval_every.is_some_and(|n| step.is_multiple_of(n)) && lp.evaluate(lm, hooks)? {
                reason = StopReason::EarlyStopped;
                break 'epochs;
            }
        }
        lp.state.epoch += 1;
        lp.state.next_group = 0;
        if lp.evaluate(lm, hooks)? {
            reason = StopReason::EarlyStopped;
            break;
        }
    }
    if val_set.is_empty() && reason != StopReason::Cancelled {
        lp.checkpoint(hooks, false)?;
    }
    (hooks.on_event)(TrainEvent::Finished {
        steps: lp.state.step,
        best_step: lp.state.best.map(|b| b.0),
        reason,
    });
    Ok(varmap)
}

#[cfg(test)]
mod tests {
    use super::overfitting;

    #[test]
    fn overfitting_needs_two_rises_while_training_falls() {
        assert!(overfitting(&[(2.0, 2.0), (1.5, 1.6)]).is_none());
        assert!(
            overfitting(&[(2.0, 2.0), (1.5, 1.6), (1.0, 1.4)]).is_none(),
            "still improving"
        );
        assert!(
            overfitting(&[(2.0, 1.0), (1.5, 1.1), (1.6, 1.2)]).is_none(),
            "training rose too"
        );
        let hit = overfitting(&[(3.0, 3.0), (2.0, 1.0), (1.5, 1.1), (1.0, 1.3)]).unwrap();
        assert_eq!(hit[0], (2.0, 1.0));
    }
}
