//! Charts (plotters), written as SVG or PNG by the output file's extension: a run's loss
//! curves ([`loss_chart`], [`loss_svg`]), the learning-rate and gradient-norm panels, several
//! runs overlaid ([`overlay_svg`]) and an evaluation's confusion matrix ([`confusion_chart`]).
//!
//! Input: recorded metrics. Output: an image file. Must not touch: the store.

mod confusion;
mod loss;
mod panels;

pub use confusion::confusion_chart;
pub use loss::{loss_chart, loss_svg, loss_title, overfit_step, LossView, XAxis};
pub use panels::{overlay_svg, training_panels_svg};

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChartError {
    /// Nothing recorded yet.
    #[error("the run has no recorded steps yet")]
    Empty,
    /// A confusion matrix without labels.
    #[error("the evaluation has no examples to chart")]
    NoLabels,
    /// Unknown output format.
    #[error("cannot tell the chart format of '{0}': use a .svg or .png file name")]
    Format(String),
    /// No font to draw text with (PNG and SVG layout need one).
    #[error("no TrueType font found (looked in {0}); install fonts-dejavu-core")]
    NoFont(String),
    /// Drawing failed.
    #[error("drawing the chart failed: {0}")]
    Draw(String),
}

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers a system font for plotters once per process.
fn ensure_font() -> Result<(), ChartError> {
    static FONT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    FONT.get_or_init(|| {
        let bytes = FONT_PATHS
            .iter()
            .find_map(|p| std::fs::read(p).ok())
            .ok_or_else(|| FONT_PATHS.join(", "))?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| "invalid font file".to_string())
    })
    .clone()
    .map_err(ChartError::NoFont)
}

/// A drawing error, as text.
fn draw_err(e: impl std::fmt::Display) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// A figure that can be drawn on any plotters backend.
trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws the figure on `area` (already filled white).
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), ChartError>;
}

/// Draws `figure` to `path`: SVG for `.svg`, PNG for `.png`.
fn render(figure: &impl Figure, path: &Path) -> Result<(), ChartError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    ensure_font()?;
    match ext.as_deref() {
        Some("svg") => present(
            figure,
            SVGBackend::new(path, figure.size()).into_drawing_area(),
        ),
        Some("png") => present(
            figure,
            BitMapBackend::new(path, figure.size()).into_drawing_area(),
        ),
        _ => Err(ChartError::Format(path.display().to_string())),
    }
}

/// Draws `figure` as an SVG document in memory.
fn render_svg(figure: &impl Figure) -> Result<String, ChartError> {
    ensure_font()?;
    let mut out = String::new();
    present(
        figure,
        SVGBackend::with_string(&mut out, figure.size()).into_drawing_area(),
    )?;
    Ok(out)
}

fn present<DB: DrawingBackend>(
    figure: &impl Figure,
    area: DrawingArea<DB, Shift>,
) -> Result<(), ChartError> {
    area.fill(&WHITE).map_err(draw_err)?;
    figure.draw(&area)?;
    area.present().map_err(draw_err)
}
