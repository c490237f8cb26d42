//! Automatic settings: how long a run trains when the user does not say, from the training
//! set's size and label count. The rule, and the measurements behind it (docs/RESULTS.md,
//! "Automatic settings"):
//! - a run should see about [`EXAMPLES_PER_20_LABELS`] examples for every 20 labels (ATIS,
//!   500 rows, ≈ 20 intents: 3 epochs reached 89.6 % intent accuracy, 5 → 86.8 % at the old
//!   learning rate, 7 at 5e-4 → 93.6 % / 81.0 % field F1; Banking77, 77 intents, 1 000 rows:
//!   3 epochs left the validation loss still falling at 50.7 %; the 360 sample tickets
//!   (3 labels) reached 100 % label accuracy within 2 epochs);
//! - never fewer than [`MIN_EPOCHS`] passes (one pass cannot show a trend) nor more than
//!   [`MAX_EPOCHS`] (small sets would otherwise repeat one example hundreds of times);
//! - the best checkpoint follows the task score and early stopping ends a run that stopped
//!   improving (`TrainConfig::default`), so erring long costs time, not quality.

/// Examples a run sees (epochs × training rows) per 20 labels.
pub const EXAMPLES_PER_20_LABELS: usize = 4_000;
/// Fewest passes over the training rows.
pub const MIN_EPOCHS: usize = 2;
/// Most passes over the training rows.
pub const MAX_EPOCHS: usize = 10;

/// Validations a run makes at least (besides step 0), so that a run of few long epochs still
/// draws a curve and early stopping has something to follow.
pub const MIN_VALIDATIONS: usize = 8;

/// How often to validate, in optimizer steps, when epoch ends alone would give fewer than
/// [`MIN_VALIDATIONS`] validations; `None` when they are enough.
pub fn eval_every(total_steps: usize, steps_per_epoch: usize) -> Option<usize> {
    let every = total_steps.div_ceil(MIN_VALIDATIONS).max(1);
    (every < steps_per_epoch).then_some(every)
}

/// Epochs for `train_examples` training rows with `labels` labels (0 when unknown).
pub fn epochs(train_examples: usize, labels: usize) -> usize {
    let units = labels.max(20).div_ceil(20);
    (EXAMPLES_PER_20_LABELS * units)
        .div_ceil(train_examples.max(1))
        .clamp(MIN_EPOCHS, MAX_EPOCHS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_rows_fewer_epochs_more_labels_more_epochs() {
        assert_eq!(epochs(500, 20), 8, "ATIS 500 rows");
        assert_eq!(epochs(1_000, 77), 10, "Banking77, 1 000 rows");
        assert_eq!(epochs(10_003, 77), 2, "Banking77, the full train split");
        assert_eq!(epochs(324, 3), 10, "the sample tickets: capped");
        assert_eq!(epochs(100_000, 3), MIN_EPOCHS);
        assert_eq!(epochs(0, 0), MAX_EPOCHS);
    }

    #[test]
    fn long_epochs_are_validated_within() {
        assert_eq!(eval_every(504, 63), None, "ATIS: 8 epoch ends are enough");
        assert_eq!(
            eval_every(2_502, 1_251),
            Some(313),
            "Banking77 full: 2 epochs"
        );
        assert_eq!(eval_every(40, 40), Some(5), "one epoch");
    }
}
