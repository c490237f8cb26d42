//! The window's training presets: Automatic (the defaults: measured learning rate and rank,
//! epochs from the data, early stopping on the task score) and three fixed lengths. They
//! start from the settings that measured best on real data (docs/RESULTS.md: ATIS 500 rows
//! reached every target only with lr 5e-4, rank 16, alpha 32, 7 epochs — `atis500e`), not
//! the textbook ones (lr 1e-4, rank 8, 3 epochs).

use super::TrainConfig;
use crate::model::lora::LoraConfig;
use serde::Serialize;

/// A named set of training settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preset {
    /// Stable id (`quick`, `balanced`, `thorough`).
    pub id: &'static str,
    /// Name shown to the user.
    pub name: &'static str,
    /// One line on when to use it.
    pub description: &'static str,
    /// The settings.
    pub config: TrainConfig,
    /// Validation rows used (a stratified sample of the validation split).
    pub val_limit: usize,
}

fn lora(rank: usize) -> LoraConfig {
    LoraConfig {
        rank,
        alpha: 2.0 * rank as f64,
        ..LoraConfig::default()
    }
}

/// The presets, quickest first.
pub fn presets() -> Vec<Preset> {
    let base = TrainConfig::default();
    vec![
        Preset {
            id: "auto",
            name: "Automatic",
            description: "Epochs from your data's size and label count; stops when the task score stops improving.",
            config: base.clone(),
            val_limit: super::run::DEFAULT_VAL_LIMIT,
        },
        Preset {
            id: "quick",
            name: "Quick check",
            description: "One epoch to see that the data and the model work together.",
            config: TrainConfig {
                epochs: Some(1),
                lora: lora(8),
                ..base.clone()
            },
            val_limit: 100,
        },
        Preset {
            id: "balanced",
            name: "Balanced",
            description: "Five epochs, stopping early when the task score stops improving.",
            config: TrainConfig {
                epochs: Some(5),
                ..base.clone()
            },
            val_limit: super::run::DEFAULT_VAL_LIMIT,
        },
        Preset {
            id: "thorough",
            name: "Thorough",
            description: "Seven epochs at rank 16: what met every ATIS target (atis500e).",
            config: TrainConfig {
                epochs: Some(7),
                ..base
            },
            val_limit: super::run::DEFAULT_VAL_LIMIT,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thorough_is_the_measured_atis_run() {
        let p = presets();
        assert_eq!(
            p.iter().map(|p| p.id).collect::<Vec<_>>(),
            ["auto", "quick", "balanced", "thorough"]
        );
        assert_eq!(
            p[0].config,
            TrainConfig::default(),
            "automatic = the defaults"
        );
        let t = &p[3].config;
        // docs/RESULTS.md, atis500e: --epochs 7 --lr 5e-4 --lora-rank 16 --lora-alpha 32.
        assert_eq!(
            (t.epochs, t.lr, t.lora.rank, t.lora.alpha),
            (Some(7), 5e-4, 16, 32.0)
        );
        assert!(p[1..]
            .windows(2)
            .all(|w| w[0].config.epochs < w[1].config.epochs));
    }
}
