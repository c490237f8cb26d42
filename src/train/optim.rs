//! AdamW with decoupled weight decay, global gradient-norm clipping and the learning-rate
//! schedule (linear warmup, then cosine / linear / constant). Written here rather than taken
//! from candle-nn so that its state (moments, step) can be checkpointed and restored.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use serde::{Deserialize, Serialize};

/// Learning-rate shape after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheduler {
    /// Half a cosine from the peak down to 0.
    Cosine,
    /// A straight line down to 0.
    Linear,
    /// Stay at the peak.
    Constant,
}

/// The learning rate at optimizer step `step` (0-based) of `total`.
pub fn learning_rate(
    peak: f64,
    step: usize,
    total: usize,
    warmup: usize,
    scheduler: Scheduler,
) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step - warmup) as f64 / span).min(1.0);
    match scheduler {
        Scheduler::Cosine => peak * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
        Scheduler::Linear => peak * (1.0 - progress),
        Scheduler::Constant => peak,
    }
}

/// AdamW hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// AdamW over a fixed list of variables.
pub struct AdamW {
    vars: Vec<Var>,
    /// First moments, one per variable.
    pub m: Vec<Tensor>,
    /// Second moments, one per variable.
    pub v: Vec<Tensor>,
    /// Steps taken.
    pub step: usize,
    cfg: AdamWConfig,
}

impl AdamW {
    /// A fresh optimizer for `vars`.
    pub fn new(vars: Vec<Var>, cfg: AdamWConfig) -> Result<AdamW> {
        let m = vars
            .iter()
            .map(|v| v.zeros_like())
            .collect::<Result<Vec<_>>>()?;
        let v = m.clone();
        Ok(AdamW {
            vars,
            m,
            v,
            step: 0,
            cfg,
        })
    }

    /// One update with learning rate `lr` from the gradients `grads` (a variable without a
    /// gradient is left alone).
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        self.step += 1;
        let c = self.cfg;
        let bc1 = 1.0 - c.beta1.powi(self.step as i32);
        let bc2 = 1.0 - c.beta2.powi(self.step as i32);
        for ((var, m), v) in self.vars.iter().zip(&mut self.m).zip(&mut self.v) {
            let Some(g) = grads.get(var) else { continue };
            *m = ((&*m * c.beta1)? + (g * (1.0 - c.beta1))?)?;
            *v = ((&*v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let m_hat = (&*m / bc1)?;
            let v_hat = (&*v / bc2)?;
            let update = (m_hat / (v_hat.sqrt()? + c.eps)?)?;
            let decayed = (var.as_tensor() * (1.0 - lr * c.weight_decay))?;
            var.set(&(decayed - (update * lr)?)?)?;
        }
        Ok(())
    }
}

/// Scales all gradients of `vars` so their global L2 norm is at most `max_norm`; returns the
/// norm before clipping.
pub fn clip_grad_norm(grads: &mut GradStore, vars: &[Var], max_norm: f64) -> Result<f64> {
    let mut total = 0f64;
    for var in vars {
        if let Some(g) = grads.get(var) {
            total += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
    }
    let norm = total.sqrt();
    if norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for var in vars {
            if let Some(g) = grads.remove(var) {
                grads.insert(var, (g * scale)?);
            }
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn one_adamw_step_matches_the_formula() -> Result<()> {
        let dev = Device::Cpu;
        let w = Var::new(&[1.0f32, -2.0], &dev)?;
        let loss = (w.as_tensor() * Tensor::new(&[3.0f32, 0.5], &dev)?)?.sum_all()?;
        let grads = loss.backward()?;
        let mut opt = AdamW::new(vec![w.clone()], AdamWConfig::default())?;
        opt.step(&grads, 0.1)?;
        // First step: m̂ = g, v̂ = g², update = g / (|g| + ε) = sign(g); decay 1 - 0.1·0.01.
        let got: Vec<f32> = w.as_tensor().to_vec1()?;
        let want = [1.0 * 0.999 - 0.1, -2.0 * 0.999 - 0.1];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
        Ok(())
    }

    #[test]
    fn schedule_warms_up_then_decays() {
        let lr = |s| learning_rate(1e-4, s, 100, 10, Scheduler::Cosine);
        assert!((lr(0) - 1e-5).abs() < 1e-12);
        assert!((lr(9) - 1e-4).abs() < 1e-12);
        assert!((lr(55) - 5e-5).abs() < 1e-9);
        assert!(lr(100) < 1e-12);
        assert!((learning_rate(1e-4, 55, 100, 10, Scheduler::Linear) - 5e-5).abs() < 1e-9);
        assert_eq!(learning_rate(1e-4, 80, 100, 10, Scheduler::Constant), 1e-4);
    }

    #[test]
    fn clipping_bounds_the_global_norm() -> Result<()> {
        let dev = Device::Cpu;
        let a = Var::new(&[3.0f32], &dev)?;
        let b = Var::new(&[4.0f32], &dev)?;
        let loss = ((a.as_tensor().sqr()? * 0.5)? + (b.as_tensor().sqr()? * 0.5)?)?.sum_all()?;
        let mut grads = loss.backward()?;
        let norm = clip_grad_norm(&mut grads, &[a.clone(), b.clone()], 1.0)?;
        assert!((norm - 5.0).abs() < 1e-5);
        let ga = grads.get(&a).unwrap().to_vec1::<f32>()?[0];
        assert!((ga - 0.6).abs() < 1e-4);
        Ok(())
    }
}
