//! The loss chart: training loss raw (light) and smoothed (bold), validation loss, the best
//! checkpoint and the onset of overfitting, axes labelled.

use super::{draw_err, render, ChartError, Figure};
use crate::store::RunMetrics;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Exponential moving average (weight 0.9), as loss curves are usually smoothed.
fn smooth(values: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let mut acc: Option<f64> = None;
    for &v in values {
        let next = acc.map_or(v, |a| 0.9 * a + 0.1 * v);
        out.push(next);
        acc = Some(next);
    }
    out
}

/// The first evaluation step of the overfitting warning, if one was recorded.
fn overfit_step(m: &RunMetrics) -> Option<i64> {
    m.warnings
        .iter()
        .find(|(_, w)| w.starts_with("overfitting"))
        .map(|(s, _)| *s)
}

/// Draws the loss chart of a run to `path` (.svg or .png).
pub fn loss_chart(
    title: &str,
    m: &RunMetrics,
    best_step: Option<i64>,
    path: &Path,
) -> Result<(), ChartError> {
    if m.steps.is_empty() {
        return Err(ChartError::Empty);
    }
    render(
        &LossChart {
            title,
            m,
            best_step,
        },
        path,
    )
}

struct LossChart<'a> {
    title: &'a str,
    m: &'a RunMetrics,
    best_step: Option<i64>,
}

impl Figure for LossChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 600)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        draw(area, self.title, self.m, self.best_step)
    }
}

fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    m: &RunMetrics,
    best_step: Option<i64>,
) -> Result<(), ChartError> {
    let last_step = m.steps.last().map_or(1, |s| s.step).max(1);
    let losses: Vec<f64> = m.steps.iter().map(|s| s.loss).collect();
    let all = losses.iter().copied().chain(m.evals.iter().map(|e| e.1));
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let pad = ((hi - lo) * 0.05).max(1e-3);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0i64..last_step, (lo - pad).max(0.0)..hi + pad)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc("optimizer step")
        .y_desc("loss (completion tokens)")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(draw_err)?;
    let light = RGBColor(147, 197, 253);
    let blue = RGBColor(29, 78, 216);
    let orange = RGBColor(234, 88, 12);
    chart
        .draw_series(LineSeries::new(
            m.steps.iter().map(|s| (s.step, s.loss)),
            light.stroke_width(1),
        ))
        .map_err(draw_err)?
        .label("train loss")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], light.stroke_width(2)));
    let smoothed = smooth(&losses);
    chart
        .draw_series(LineSeries::new(
            m.steps.iter().zip(&smoothed).map(|(s, v)| (s.step, *v)),
            blue.stroke_width(3),
        ))
        .map_err(draw_err)?
        .label("train loss (smoothed)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(3)));
    if !m.evals.is_empty() {
        chart
            .draw_series(LineSeries::new(
                m.evals.iter().copied(),
                orange.stroke_width(3),
            ))
            .map_err(draw_err)?
            .label("validation loss")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], orange.stroke_width(3))
            });
        chart
            .draw_series(
                m.evals
                    .iter()
                    .map(|&(s, v)| Circle::new((s, v), 4, orange.filled())),
            )
            .map_err(draw_err)?;
    }
    let markers = [
        (best_step, RGBColor(22, 163, 74), "best checkpoint"),
        (overfit_step(m), RGBColor(220, 38, 38), "overfitting starts"),
    ];
    for (step, color, label) in markers {
        if let Some(step) = step {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(step, (lo - pad).max(0.0)), (step, hi + pad)],
                    color.stroke_width(2),
                )))
                .map_err(draw_err)?
                .label(format!("{label} (step {step})"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(draw_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StepRecord;

    #[test]
    fn draws_svg_and_png() {
        let steps = (1..=30)
            .map(|s| StepRecord {
                step: s,
                epoch: 0,
                loss: 3.0 / s as f64,
                lr: 1e-4,
                grad_norm: 1.0,
                tokens_per_s: 10.0,
            })
            .collect();
        let m = RunMetrics {
            steps,
            evals: vec![(0, 3.2), (10, 0.6), (20, 0.7), (30, 0.8)],
            warnings: vec![(30, "overfitting: …".into())],
        };
        let dir = tempfile::tempdir().unwrap();
        if crate::chart::ensure_font().is_err() {
            eprintln!("SKIPPED: no system font for plotters");
            return;
        }
        for f in ["c.svg", "c.png"] {
            let p = dir.path().join(f);
            loss_chart("run", &m, Some(10), &p).unwrap();
            assert!(std::fs::metadata(&p).unwrap().len() > 1000, "{f} written");
        }
        let svg = std::fs::read_to_string(dir.path().join("c.svg")).unwrap();
        assert!(
            svg.contains("validation loss")
                && svg.contains("best checkpoint (step 10)")
                && svg.contains("overfitting starts (step 30)")
        );
        assert!(matches!(
            loss_chart("run", &m, None, &dir.path().join("c.bmp")),
            Err(ChartError::Format(_))
        ));
        assert!(matches!(
            loss_chart(
                "run",
                &RunMetrics {
                    steps: vec![],
                    evals: vec![],
                    warnings: vec![]
                },
                None,
                &dir.path().join("e.svg")
            ),
            Err(ChartError::Empty)
        ));
    }
}
