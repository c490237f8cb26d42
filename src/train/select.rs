//! Which validation decides the best checkpoint and early stopping: the loss, or a score of
//! the task itself measured on a decoded validation sample (`metrics::TaskScores`). A task
//! score ties often on a small sample; the lower validation loss breaks ties.

use crate::metrics::TaskScores;
use serde::{Deserialize, Serialize};

/// What the best checkpoint and early stopping follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Validation loss (lower is better).
    Loss,
    /// Label accuracy of the decoded validation sample.
    Accuracy,
    /// Macro-F1 over the labels of the sample.
    MacroF1,
    /// Field micro-F1 of the sample (accuracy when the task has no fields).
    FieldF1,
    /// The mean of accuracy and field micro-F1 (accuracy alone when the task has no fields).
    #[default]
    Task,
}

named!(Selection, "selection", [Loss => "loss", Accuracy => "accuracy", MacroF1 => "macro_f1", FieldF1 => "field_f1", Task => "task"]);

impl Selection {
    /// Every choice, in the order the CLI and the window list them.
    pub const ALL: [Selection; 5] = [
        Selection::Task,
        Selection::Accuracy,
        Selection::MacroF1,
        Selection::FieldF1,
        Selection::Loss,
    ];

    /// What runs stored before the choice existed used.
    pub(crate) fn legacy() -> Selection {
        Selection::Loss
    }

    /// Its name in a settings form.
    pub fn label(self) -> &'static str {
        match self {
            Selection::Loss => "Validation loss",
            Selection::Accuracy => "Label accuracy",
            Selection::MacroF1 => "Macro-F1",
            Selection::FieldF1 => "Field F1",
            Selection::Task => "Task score",
        }
    }

    /// One line for the user.
    pub fn describe(self) -> &'static str {
        match self {
            Selection::Loss => "lowest validation loss",
            Selection::Accuracy => "highest label accuracy on the validation sample",
            Selection::MacroF1 => "highest macro-F1 on the validation sample",
            Selection::FieldF1 => "highest field F1 on the validation sample",
            Selection::Task => {
                "highest mean of label accuracy and field F1 on the validation sample"
            }
        }
    }

    /// Whether it needs the validation sample decoded.
    pub fn needs_scores(self) -> bool {
        self != Selection::Loss
    }

    /// The value to maximise; None when the scores it needs were not measured.
    pub fn value(self, loss: f64, scores: Option<&TaskScores>) -> Option<f64> {
        let fields_or_accuracy = |s: &TaskScores| s.field_f1.unwrap_or(s.accuracy);
        match self {
            Selection::Loss => Some(-loss),
            Selection::Accuracy => scores.map(|s| s.accuracy),
            Selection::MacroF1 => scores.map(|s| s.macro_f1),
            Selection::FieldF1 => scores.map(fields_or_accuracy),
            Selection::Task => scores.map(|s| (s.accuracy + fields_or_accuracy(s)) / 2.0),
        }
    }

    /// Whether a validation (`loss`, `scores`) beats the best one so far: a higher value, a
    /// measured value over an unmeasured one, else the lower loss.
    pub fn better(
        self,
        (loss, scores): (f64, Option<&TaskScores>),
        (best_loss, best_scores): (f64, Option<&TaskScores>),
    ) -> bool {
        match (self.value(loss, scores), self.value(best_loss, best_scores)) {
            (Some(a), Some(b)) if a != b => a > b,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            _ => loss < best_loss,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(accuracy: f64, field_f1: Option<f64>) -> TaskScores {
        TaskScores {
            examples: 10,
            accuracy,
            macro_f1: accuracy / 2.0,
            field_f1,
        }
    }

    #[test]
    fn a_task_score_wins_over_a_lower_loss_and_ties_fall_to_the_loss() {
        let (a, b) = (s(0.9, Some(0.8)), s(0.8, Some(0.8)));
        // Higher accuracy at a higher loss: better by the task, worse by the loss.
        assert!(Selection::Task.better((1.0, Some(&a)), (0.5, Some(&b))));
        assert!(Selection::Accuracy.better((1.0, Some(&a)), (0.5, Some(&b))));
        assert!(!Selection::Loss.better((1.0, Some(&a)), (0.5, Some(&b))));
        // Same field F1: the loss decides.
        assert!(!Selection::FieldF1.better((1.0, Some(&a)), (0.5, Some(&b))));
        assert!(Selection::FieldF1.better((0.4, Some(&a)), (0.5, Some(&b))));
        // A measured point beats the unmeasured step 0, whatever its loss.
        assert!(Selection::Task.better((3.0, Some(&b)), (2.0, None)));
        assert!(!Selection::Task.better((1.0, None), (2.0, Some(&b))));
        // No fields: the field score is the accuracy.
        let (c, d) = (s(0.7, None), s(0.6, None));
        assert_eq!(Selection::Task.value(0.0, Some(&c)), Some(0.7));
        assert!(Selection::FieldF1.better((9.0, Some(&c)), (0.1, Some(&d))));
    }

    #[test]
    fn names_round_trip() {
        for sel in Selection::ALL {
            assert_eq!(sel.name().parse::<Selection>().unwrap(), sel);
        }
        assert!("f1".parse::<Selection>().unwrap_err().contains("macro_f1"));
    }
}
