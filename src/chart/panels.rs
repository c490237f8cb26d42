//! The smaller run charts: learning rate and gradient norm side by side, and several runs'
//! loss curves overlaid for comparison.

use super::loss::{padded_range, smooth, LossView};
use super::{draw_err, render_svg, ChartError, Figure};
use crate::store::RunMetrics;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The learning-rate and gradient-norm panels of a run, side by side, as an SVG document.
pub fn training_panels_svg(m: &RunMetrics, view: &LossView) -> Result<String, ChartError> {
    if m.steps.is_empty() {
        return Err(ChartError::Empty);
    }
    render_svg(&Panels { m, view })
}

/// Several runs' loss curves on one chart (smoothed train loss solid, validation loss dashed
/// with points, one colour per run), as an SVG document.
pub fn overlay_svg(runs: &[(&str, &RunMetrics)], view: &LossView) -> Result<String, ChartError> {
    if runs.iter().all(|(_, m)| m.steps.is_empty()) {
        return Err(ChartError::Empty);
    }
    render_svg(&Overlay { runs, view })
}

/// Distinct colours for overlaid runs (colour-blind friendly, Okabe–Ito).
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

struct Panels<'a> {
    m: &'a RunMetrics,
    view: &'a LossView,
}

impl Figure for Panels<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 260)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let (left, right) = area.split_horizontally(500);
        let (m, v) = (self.m, self.view);
        let x = v.x_of(m);
        let lr: Vec<(f64, f64)> = m.steps.iter().map(|s| (x(s.step), s.lr)).collect();
        let gn: Vec<(f64, f64)> = m.steps.iter().map(|s| (x(s.step), s.grad_norm)).collect();
        panel(&left, "learning rate", &lr, v, RGBColor(124, 58, 237))?;
        panel(
            &right,
            "gradient norm (before clipping)",
            &gn,
            v,
            RGBColor(15, 118, 110),
        )
    }
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    points: &[(f64, f64)],
    view: &LossView,
    color: RGBColor,
) -> Result<(), ChartError> {
    let xs = padded_range(points.iter().map(|p| p.0));
    let ys = padded_range(points.iter().map(|p| p.1));
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(xs.start.max(0.0)..xs.end, ys.start.max(0.0)..ys.end)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc(view.x_desc())
        .x_label_formatter(&|x| view.x_label(*x))
        .y_label_formatter(&|y| {
            if *y != 0.0 && y.abs() < 0.01 {
                format!("{y:.0e}")
            } else {
                format!("{y:.2}")
            }
        })
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(draw_err)?;
    chart
        .draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(2),
        ))
        .map_err(draw_err)?;
    Ok(())
}

/// A curve's points.
type Points = Vec<(f64, f64)>;

struct Overlay<'a> {
    runs: &'a [(&'a str, &'a RunMetrics)],
    view: &'a LossView,
}

impl Figure for Overlay<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 560)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let v = self.view;
        let curves: Vec<(Points, Points)> = self
            .runs
            .iter()
            .map(|(_, m)| {
                let x = v.x_of(m);
                let losses: Vec<f64> = m.steps.iter().map(|s| s.loss).collect();
                let train = m
                    .steps
                    .iter()
                    .zip(smooth(&losses))
                    .map(|(s, l)| (x(s.step), v.y(l)))
                    .collect();
                let val = m
                    .evals
                    .iter()
                    .map(|e| (x(e.step), v.y(e.val_loss)))
                    .collect();
                (train, val)
            })
            .collect();
        let all = || curves.iter().flat_map(|(t, e)| t.iter().chain(e));
        let xs = padded_range(all().map(|p| p.0));
        let ys = padded_range(all().map(|p| p.1));
        let ys = if v.log { ys } else { ys.start.max(0.0)..ys.end };
        let mut chart = ChartBuilder::on(area)
            .caption("Loss of the selected runs", ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(xs.start.max(0.0)..xs.end, ys)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(v.x_desc())
            .x_label_formatter(&|x| v.x_label(*x))
            .y_desc("loss — solid: train (smoothed), dashed: validation")
            .y_label_formatter(&|y| v.y_label(*y))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(draw_err)?;
        for (i, ((name, _), (train, val))) in self.runs.iter().zip(&curves).enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    train.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(draw_err)?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
            chart
                .draw_series(DashedLineSeries::new(
                    val.iter().copied(),
                    6,
                    4,
                    color.stroke_width(2),
                ))
                .map_err(draw_err)?;
            chart
                .draw_series(val.iter().map(|p| Circle::new(*p, 4, color.filled())))
                .map_err(draw_err)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(draw_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EvalPoint, StepRecord};

    fn metrics(scale: f64) -> RunMetrics {
        RunMetrics {
            steps: (1..=10)
                .map(|s| StepRecord {
                    step: s,
                    epoch: 0,
                    loss: scale / s as f64,
                    lr: 1e-4 * s as f64 / 10.0,
                    grad_norm: 0.5,
                    tokens_per_s: 10.0,
                })
                .collect(),
            evals: [(5, scale / 4.0), (10, scale / 8.0)]
                .map(|(step, val_loss)| EvalPoint {
                    step,
                    val_loss,
                    scores: None,
                })
                .to_vec(),
            warnings: vec![],
        }
    }

    #[test]
    fn panels_and_overlay() {
        if crate::chart::ensure_font().is_err() {
            eprintln!("SKIPPED: no system font for plotters");
            return;
        }
        let (a, b) = (metrics(2.0), metrics(3.0));
        let view = LossView::default();
        let panels = training_panels_svg(&a, &view).unwrap();
        assert!(panels.contains("learning rate") && panels.contains("gradient norm"));
        let svg = overlay_svg(&[("run-a", &a), ("run-b", &b)], &view).unwrap();
        assert!(svg.contains("run-a") && svg.contains("run-b"));
        let empty = RunMetrics {
            steps: vec![],
            evals: vec![],
            warnings: vec![],
        };
        assert!(matches!(
            overlay_svg(&[("e", &empty)], &view),
            Err(ChartError::Empty)
        ));
    }
}
