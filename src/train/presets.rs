//! The window's three training presets. They are the settings that measured best on real
//! data (docs/RESULTS.md: ATIS 500 rows reached every target only with lr 5e-4, rank 16,
//! alpha 32, 7 epochs — `atis500e`), not the textbook ones (lr 1e-4, rank 8, 3 epochs).

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

/// The learning rate that met the ATIS targets (`atis500e`).
const MEASURED_LR: f64 = 5e-4;

fn lora(rank: usize) -> LoraConfig {
    LoraConfig {
        rank,
        alpha: 2.0 * rank as f64,
        ..LoraConfig::default()
    }
}

/// The presets, quickest first.
pub fn presets() -> Vec<Preset> {
    let base = TrainConfig {
        lr: MEASURED_LR,
        ..TrainConfig::default()
    };
    vec![
        Preset {
            id: "quick",
            name: "Quick check",
            description: "One epoch to see that the data and the model work together.",
            config: TrainConfig {
                epochs: 1,
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
                epochs: 5,
                lora: lora(16),
                patience: Some(3),
                ..base.clone()
            },
            val_limit: super::run::DEFAULT_VAL_LIMIT,
        },
        Preset {
            id: "thorough",
            name: "Thorough",
            description: "Seven epochs at rank 16: what met every ATIS target (atis500e).",
            config: TrainConfig {
                epochs: 7,
                lora: lora(16),
                patience: Some(3),
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
            ["quick", "balanced", "thorough"]
        );
        let t = &p[2].config;
        // docs/RESULTS.md, atis500e: --epochs 7 --lr 5e-4 --lora-rank 16 --lora-alpha 32.
        assert_eq!(
            (t.epochs, t.lr, t.lora.rank, t.lora.alpha),
            (7, 5e-4, 16, 32.0)
        );
        assert!(p
            .windows(2)
            .all(|w| w[0].config.epochs < w[1].config.epochs));
    }
}
