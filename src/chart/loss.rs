//! The loss chart: training loss raw (light) and smoothed (bold), validation loss, the best
//! checkpoint and the onset of overfitting, axes labelled; x in optimizer steps or epochs, y
//! linear or logarithmic ([`LossView`]).

use super::{draw_err, render, render_svg, ChartError, Figure};
use crate::metrics::TaskScores;
use crate::store::RunMetrics;
use plotters::chart::DualCoordChartContext;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What the x axis counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum XAxis {
    /// Optimizer steps.
    #[default]
    Step,
    /// Epochs (fractional within an epoch).
    Epoch,
}

/// How a loss chart is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LossView {
    /// The x axis.
    #[serde(default)]
    pub x: XAxis,
    /// A logarithmic loss axis.
    #[serde(default)]
    pub log: bool,
}

impl LossView {
    /// The x coordinate of an optimizer step of `m`'s run. Epochs count in steps of the first
    /// epoch (the steps so far while it runs), worked out once per chart.
    pub(super) fn x_of(&self, m: &RunMetrics) -> impl Fn(i64) -> f64 + Copy {
        let per = match self.x {
            XAxis::Step => 1.0,
            XAxis::Epoch => m.steps.iter().filter(|s| s.epoch == 0).count().max(1) as f64,
        };
        move |step| step as f64 / per
    }

    /// The y coordinate of loss `v`.
    pub(super) fn y(&self, v: f64) -> f64 {
        if self.log {
            v.max(1e-6).log10()
        } else {
            v
        }
    }

    /// The x axis title.
    pub(super) fn x_desc(&self) -> &'static str {
        match self.x {
            XAxis::Step => "optimizer step",
            XAxis::Epoch => "epoch",
        }
    }

    /// An x tick label: whole steps, or epochs with one decimal.
    pub(super) fn x_label(&self, x: f64) -> String {
        match self.x {
            XAxis::Step => format!("{x:.0}"),
            XAxis::Epoch => format!("{x:.1}"),
        }
    }

    /// A y tick label (the loss itself on a log axis).
    pub(super) fn y_label(&self, v: f64) -> String {
        let v = if self.log { 10f64.powf(v) } else { v };
        if v.abs() >= 10.0 {
            format!("{v:.0}")
        } else if v.abs() >= 0.1 {
            format!("{v:.2}")
        } else {
            format!("{v:.3}")
        }
    }

    /// The x label of a marker at `step`, whose x coordinate is `x`.
    pub(super) fn at(&self, step: i64, x: f64) -> String {
        match self.x {
            XAxis::Step => format!("step {step}"),
            XAxis::Epoch => format!("epoch {x:.2}"),
        }
    }
}

/// Exponential moving average (weight 0.9), as loss curves are usually smoothed.
pub(super) fn smooth(values: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let mut acc: Option<f64> = None;
    for &v in values {
        let next = acc.map_or(v, |a| 0.9 * a + 0.1 * v);
        out.push(next);
        acc = Some(next);
    }
    out
}

/// `lo..hi` of `values` with 5 % room on each side (never empty).
pub(super) fn padded_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    lo - pad..hi + pad
}

/// The first evaluation step of the overfitting warning, if one was recorded.
pub fn overfit_step(m: &RunMetrics) -> Option<i64> {
    m.warnings
        .iter()
        .find(|(_, w)| w.starts_with("overfitting"))
        .map(|(s, _)| *s)
}

/// The title the CLI and the app give a run's loss chart.
pub fn loss_title(run: &str, model: &str, dataset: &str) -> String {
    format!("{run} — {} on {dataset}", crate::paths::model_label(model))
}

/// Draws the loss chart of a run to `path` (.svg or .png).
pub fn loss_chart(
    title: &str,
    m: &RunMetrics,
    best_step: Option<i64>,
    view: &LossView,
    path: &Path,
) -> Result<(), ChartError> {
    render(&chart(title, m, best_step, view)?, path)
}

/// The loss chart of a run as an SVG document (what the desktop app shows).
pub fn loss_svg(
    title: &str,
    m: &RunMetrics,
    best_step: Option<i64>,
    view: &LossView,
) -> Result<String, ChartError> {
    render_svg(&chart(title, m, best_step, view)?)
}

fn chart<'a>(
    title: &'a str,
    m: &'a RunMetrics,
    best_step: Option<i64>,
    view: &'a LossView,
) -> Result<LossChart<'a>, ChartError> {
    if m.steps.is_empty() {
        return Err(ChartError::Empty);
    }
    Ok(LossChart {
        title,
        m,
        best_step,
        view,
    })
}

struct LossChart<'a> {
    title: &'a str,
    m: &'a RunMetrics,
    best_step: Option<i64>,
    view: &'a LossView,
}

impl Figure for LossChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 600)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        draw(area, self)
    }
}

fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &LossChart,
) -> Result<(), ChartError> {
    let (m, v) = (c.m, c.view);
    let x = v.x_of(m);
    let last = x(m.steps.last().map_or(1, |s| s.step).max(1));
    let losses: Vec<f64> = m.steps.iter().map(|s| s.loss).collect();
    let ys = padded_range(
        losses
            .iter()
            .chain(m.evals.iter().map(|e| &e.val_loss))
            .map(|l| v.y(*l)),
    );
    let ys = if v.log { ys } else { ys.start.max(0.0)..ys.end };
    let (lo, hi) = (ys.start, ys.end);
    let scored: Vec<(i64, TaskScores)> = m
        .evals
        .iter()
        .filter_map(|e| e.scores.map(|s| (e.step, s)))
        .collect();
    let mut chart = ChartBuilder::on(area)
        .caption(c.title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .right_y_label_area_size(if scored.is_empty() { 0 } else { 64 })
        .build_cartesian_2d(0f64..last, ys)
        .map_err(draw_err)?
        .set_secondary_coord(0f64..last, 0f64..100f64);
    chart
        .configure_mesh()
        .x_desc(v.x_desc())
        .x_label_formatter(&|x| v.x_label(*x))
        .y_desc(if v.log {
            "loss (completion tokens, log scale)"
        } else {
            "loss (completion tokens)"
        })
        .y_label_formatter(&|y| v.y_label(*y))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(draw_err)?;
    let light = RGBColor(147, 197, 253);
    let blue = RGBColor(29, 78, 216);
    let orange = RGBColor(234, 88, 12);
    chart
        .draw_series(LineSeries::new(
            m.steps.iter().map(|s| (x(s.step), v.y(s.loss))),
            light.stroke_width(1),
        ))
        .map_err(draw_err)?
        .label("train loss")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], light.stroke_width(2)));
    let smoothed = smooth(&losses);
    chart
        .draw_series(LineSeries::new(
            m.steps
                .iter()
                .zip(&smoothed)
                .map(|(s, l)| (x(s.step), v.y(*l))),
            blue.stroke_width(3),
        ))
        .map_err(draw_err)?
        .label("train loss (smoothed)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(3)));
    if !m.evals.is_empty() {
        let points: Vec<(f64, f64)> = m
            .evals
            .iter()
            .map(|e| (x(e.step), v.y(e.val_loss)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), orange.stroke_width(3)))
            .map_err(draw_err)?
            .label("validation loss")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], orange.stroke_width(3))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, orange.filled())),
            )
            .map_err(draw_err)?;
    }
    if !scored.is_empty() {
        draw_scores(&mut chart, &scored, x)?;
    }
    let markers = [
        (c.best_step, RGBColor(22, 163, 74), "best checkpoint"),
        (overfit_step(m), RGBColor(220, 38, 38), "overfitting starts"),
    ];
    for (step, color, label) in markers {
        if let Some(step) = step {
            let at = x(step);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(at, lo), (at, hi)],
                    color.stroke_width(2),
                )))
                .map_err(draw_err)?
                .label(format!("{label} ({})", v.at(step, at)))
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

type Plane = Cartesian2d<RangedCoordf64, RangedCoordf64>;
type Points = Vec<(f64, f64)>;

/// The task scores of the validations that measured them, in percent on the right axis.
fn draw_scores<DB: DrawingBackend>(
    chart: &mut DualCoordChartContext<'_, DB, Plane, Plane>,
    scored: &[(i64, TaskScores)],
    x: impl Fn(i64) -> f64,
) -> Result<(), ChartError> {
    let examples = scored.last().map_or(0, |(_, s)| s.examples);
    chart
        .configure_secondary_axes()
        .y_desc(format!("validation sample of {examples} tickets, %"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(draw_err)?;
    let purple = RGBColor(124, 58, 237);
    let teal = RGBColor(13, 148, 136);
    let lines: [(&str, RGBColor, Points); 2] = [
        (
            "label accuracy",
            purple,
            scored
                .iter()
                .map(|(st, s)| (x(*st), 100.0 * s.accuracy))
                .collect(),
        ),
        (
            "field F1",
            teal,
            scored
                .iter()
                .filter_map(|(st, s)| s.field_f1.map(|f| (x(*st), 100.0 * f)))
                .collect(),
        ),
    ];
    for (label, color, points) in lines {
        if points.is_empty() {
            continue;
        }
        chart
            .draw_secondary_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(draw_err)?
            .label(format!("{label} (right axis)"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_secondary_series(
                points
                    .into_iter()
                    .map(|p| TriangleMarker::new(p, 5, color.filled())),
            )
            .map_err(draw_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EvalPoint, StepRecord};

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
            evals: [(0, 3.2), (10, 0.6), (20, 0.7), (30, 0.8)]
                .map(|(step, val_loss)| EvalPoint {
                    step,
                    val_loss,
                    scores: (step > 0).then_some(TaskScores {
                        examples: 16,
                        accuracy: 0.5 + step as f64 / 100.0,
                        macro_f1: 0.4,
                        field_f1: Some(0.3 + step as f64 / 100.0),
                    }),
                })
                .to_vec(),
            warnings: vec![(30, "overfitting: …".into())],
        };
        let dir = tempfile::tempdir().unwrap();
        if crate::chart::ensure_font().is_err() {
            eprintln!("SKIPPED: no system font for plotters");
            return;
        }
        for f in ["c.svg", "c.png"] {
            let p = dir.path().join(f);
            loss_chart("run", &m, Some(10), &LossView::default(), &p).unwrap();
            assert!(std::fs::metadata(&p).unwrap().len() > 1000, "{f} written");
        }
        let svg = std::fs::read_to_string(dir.path().join("c.svg")).unwrap();
        assert!(
            svg.contains("validation loss")
                && svg.contains("best checkpoint (step 10)")
                && svg.contains("overfitting starts (step 30)")
        );
        assert!(
            svg.contains("label accuracy (right axis)")
                && svg.contains("field F1 (right axis)")
                && svg.contains("validation sample of 16 tickets, %"),
            "the task scores on the right axis"
        );
        assert!(matches!(
            loss_chart(
                "run",
                &m,
                None,
                &LossView::default(),
                &dir.path().join("c.bmp")
            ),
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
                &LossView::default(),
                &dir.path().join("e.svg")
            ),
            Err(ChartError::Empty)
        ));
    }

    #[test]
    fn epoch_axis_and_log_scale() {
        let steps = (1..=20)
            .map(|s| StepRecord {
                step: s,
                epoch: (s - 1) / 8,
                loss: 2.0 / s as f64,
                lr: 1e-4,
                grad_norm: 1.0,
                tokens_per_s: 10.0,
            })
            .collect();
        let m = RunMetrics {
            steps,
            evals: [(8, 0.5), (16, 0.3)]
                .map(|(step, val_loss)| EvalPoint {
                    step,
                    val_loss,
                    scores: None,
                })
                .to_vec(),
            warnings: vec![],
        };
        let epochs = LossView {
            x: XAxis::Epoch,
            log: true,
        };
        assert_eq!(epochs.x_of(&m)(12), 1.5, "8 steps in the first epoch");
        assert_eq!(LossView::default().x_of(&m)(12), 12.0);
        assert!((epochs.y(0.01) + 2.0).abs() < 1e-12);
        assert_eq!(epochs.y_label(-1.0), "0.10");
        assert_eq!(epochs.at(16, epochs.x_of(&m)(16)), "epoch 2.00");
        if crate::chart::ensure_font().is_err() {
            eprintln!("SKIPPED: no system font for plotters");
            return;
        }
        let svg = loss_svg("run", &m, Some(16), &epochs).unwrap();
        assert!(!svg.contains("right axis"), "no scores, no right axis");
        assert!(
            svg.starts_with("<svg") || svg.starts_with("<?xml"),
            "an SVG document"
        );
        assert!(svg.contains("log scale") && svg.contains("best checkpoint (epoch 2.00)"));
    }
}
