//! The confusion-matrix heatmap: gold labels down, predicted labels across, each cell coloured
//! by its share of the gold row (on the diagonal, the label's recall) and, up to 30 labels,
//! printed with its count. Outputs with no parseable label get a separate red column.

use super::{draw_err, render, ChartError, Figure};
use crate::metrics::Confusion;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Cell counts are printed up to this many labels.
const MAX_NUMBERED: usize = 30;
const MARGIN: i32 = 16;
const FONT: &str = "sans-serif";
const BLUE: RGBColor = RGBColor(23, 63, 150);
const RED: RGBColor = RGBColor(185, 28, 28);
const GRID: RGBColor = RGBColor(226, 228, 233);
const DARK: RGBColor = RGBColor(31, 41, 55);
const FAINT: RGBColor = RGBColor(175, 180, 190);
const UNPARSEABLE: &str = "(unparseable)";

/// Draws the confusion matrix `c` to `out` (.svg or .png), titled `title`.
pub fn confusion_chart(c: &Confusion, title: &str, out: &Path) -> Result<(), ChartError> {
    if c.labels.is_empty() {
        return Err(ChartError::NoLabels);
    }
    render(&Heatmap { c, title }, out)
}

struct Heatmap<'a> {
    c: &'a Confusion,
    title: &'a str,
}

/// Sizes and positions, in pixels, derived from the label count and names.
struct Layout {
    /// Label names as drawn (long ones shortened).
    names: Vec<String>,
    /// Whether the unparseable column is drawn.
    unparseable: bool,
    cell: i32,
    label_px: f64,
    count_px: f64,
    /// Top-left corner of the grid.
    left: i32,
    top: i32,
    /// Gap before the unparseable column.
    gap: i32,
    /// Height of the rotated column labels.
    column_labels: i32,
    width: u32,
    height: u32,
}

/// `name` cut to `max` characters by an ellipsis in the middle, so that labels sharing a
/// long prefix (or suffix) stay distinct.
fn shorten(name: &str, max: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= max {
        return name.to_string();
    }
    let head = (max - 1).div_ceil(2);
    let tail = max - 1 - head;
    chars[..head]
        .iter()
        .chain(['…'].iter())
        .chain(&chars[chars.len() - tail..])
        .collect()
}

/// Width of `text` drawn at `px` pixels.
fn text_width(text: &str, px: f64) -> i32 {
    FontDesc::from((FONT, px))
        .box_size(text)
        .map(|(w, _)| w as i32)
        .unwrap_or_else(|_| (text.chars().count() as f64 * px * 0.6) as i32)
}

/// White blended towards `to` by `share` (0..=1).
fn shade(to: RGBColor, share: f64) -> RGBColor {
    let mix = |c: u8| (255.0 + (f64::from(c) - 255.0) * share.clamp(0.0, 1.0)).round() as u8;
    RGBColor(mix(to.0), mix(to.1), mix(to.2))
}

fn style(px: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: FontDesc::from((FONT, px)),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

impl Heatmap<'_> {
    fn subtitle(&self) -> &'static str {
        "rows: gold label · columns: predicted label · colour: share of the gold row (recall on the diagonal)"
    }

    fn layout(&self) -> Layout {
        let n = self.c.labels.len();
        let unparseable = self.c.unparseable.iter().any(|&u| u > 0);
        let cols = n + usize::from(unparseable);
        let cell = (720 / cols.max(1) as i32).clamp(16, 64);
        let label_px = (f64::from(cell) * 0.75).clamp(10.0, 14.0);
        let count_px = (f64::from(cell) * 0.38).clamp(9.0, 16.0);
        let max_chars = if n <= MAX_NUMBERED { 28 } else { 20 };
        let names: Vec<String> = self
            .c
            .labels
            .iter()
            .map(|l| shorten(l, max_chars))
            .collect();
        let widest = names
            .iter()
            .map(|s| text_width(s, label_px))
            .max()
            .unwrap_or(0);
        let column_labels = widest.max(if unparseable {
            text_width(UNPARSEABLE, label_px)
        } else {
            0
        }) + 10;
        let gap = if unparseable { (cell / 4).max(6) } else { 0 };
        let left = MARGIN + 24 + widest + 10;
        let top = MARGIN + 64;
        let grid_w = cols as i32 * cell + gap;
        let grid_h = n as i32 * cell;
        let legend = 24 + 14 + 8 + text_width("100 %", 12.0);
        let width = (left + grid_w + legend + MARGIN)
            .max(2 * MARGIN + text_width(self.title, 20.0))
            .max(2 * MARGIN + text_width(self.subtitle(), 13.0))
            .max(520);
        let height = top + grid_h.max(120) + column_labels + 28 + MARGIN;
        Layout {
            names,
            unparseable,
            cell,
            label_px,
            count_px,
            left,
            top,
            gap,
            column_labels,
            width: width as u32,
            height: height as u32,
        }
    }
}

impl Figure for Heatmap<'_> {
    fn size(&self) -> (u32, u32) {
        let l = self.layout();
        (l.width, l.height)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let l = self.layout();
        text(
            area,
            self.title,
            &style(20.0, BLACK, HPos::Left, VPos::Top),
            (MARGIN, MARGIN),
        )?;
        text(
            area,
            self.subtitle(),
            &style(13.0, DARK, HPos::Left, VPos::Top),
            (MARGIN, MARGIN + 30),
        )?;
        // One column per predicted label, then the unparseable column.
        let n = self.c.labels.len();
        let columns: Vec<(i32, Option<usize>)> = (0..n)
            .map(|j| (l.left + j as i32 * l.cell, Some(j)))
            .chain(
                l.unparseable
                    .then_some((l.left + n as i32 * l.cell + l.gap, None)),
            )
            .collect();
        self.draw_cells(area, &l, &columns)?;
        let grid_w = columns.last().map_or(0, |&(x, _)| x + l.cell) - l.left;
        draw_axes(area, &l, &columns, grid_w, n as i32 * l.cell)?;
        draw_scale(area, &l, grid_w, n as i32 * l.cell)
    }
}

/// Draws text, mapping plotters' error.
fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    st: &TextStyle,
    pos: (i32, i32),
) -> Result<(), ChartError> {
    area.draw_text(s, st, pos).map_err(draw_err)
}

impl Heatmap<'_> {
    /// The cells, row by row, each shaded by its share of the gold row (with its count when
    /// the labels are few), and the gold labels at the rows' left.
    fn draw_cells<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        l: &Layout,
        columns: &[(i32, Option<usize>)],
    ) -> Result<(), ChartError> {
        let (c, cell, n) = (self.c, l.cell, self.c.labels.len());
        for (i, gold_total) in (0..n).map(|i| (i, c.gold_total(i))) {
            let y = l.top + i as i32 * cell;
            for &(x, col) in columns {
                let (count, hue) = match col {
                    Some(j) => (c.counts[i][j], BLUE),
                    None => (c.unparseable[i], RED),
                };
                let share = if gold_total == 0 {
                    0.0
                } else {
                    count as f64 / gold_total as f64
                };
                area.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    GRID.filled(),
                ))
                .map_err(draw_err)?;
                area.draw(&Rectangle::new(
                    [(x + 1, y + 1), (x + cell - 1, y + cell - 1)],
                    shade(hue, share).filled(),
                ))
                .map_err(draw_err)?;
                if n <= MAX_NUMBERED {
                    let color = match (count, share > 0.5) {
                        (0, _) => FAINT,
                        (_, true) => WHITE,
                        (_, false) => DARK,
                    };
                    text(
                        area,
                        &count.to_string(),
                        &style(l.count_px, color, HPos::Center, VPos::Center),
                        (x + cell / 2, y + cell / 2),
                    )?;
                }
            }
            // Row label (gold), right-aligned against the grid.
            text(
                area,
                &l.names[i],
                &style(l.label_px, DARK, HPos::Right, VPos::Center),
                (l.left - 8, y + cell / 2),
            )?;
        }
        Ok(())
    }
}

/// The predicted labels under the columns (rotated to read upwards) and the axis titles.
fn draw_axes<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    l: &Layout,
    columns: &[(i32, Option<usize>)],
    grid_w: i32,
    grid_h: i32,
) -> Result<(), ChartError> {
    for &(x, col) in columns {
        let (name, color) = match col {
            Some(j) => (l.names[j].as_str(), DARK),
            None => (UNPARSEABLE, RED),
        };
        text(
            area,
            name,
            &style(l.label_px, color, HPos::Right, VPos::Center)
                .transform(FontTransform::Rotate270),
            (x + l.cell / 2, l.top + grid_h + 8),
        )?;
    }
    text(
        area,
        "gold label",
        &style(14.0, BLACK, HPos::Center, VPos::Center).transform(FontTransform::Rotate270),
        (MARGIN + 8, l.top + grid_h / 2),
    )?;
    text(
        area,
        "predicted label",
        &style(14.0, BLACK, HPos::Center, VPos::Top),
        (l.left + grid_w / 2, l.top + grid_h + l.column_labels + 6),
    )
}

/// The colour scale right of the grid: share of the gold row, 100 % at the top.
fn draw_scale<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    l: &Layout,
    grid_w: i32,
    grid_h: i32,
) -> Result<(), ChartError> {
    let bar_x = l.left + grid_w + 24;
    let bar_h = grid_h.clamp(120, 320);
    let steps = 64;
    for s in 0..steps {
        let y0 = l.top + bar_h * s / steps;
        let y1 = l.top + bar_h * (s + 1) / steps;
        let share = 1.0 - (f64::from(s) + 0.5) / f64::from(steps);
        area.draw(&Rectangle::new(
            [(bar_x, y0), (bar_x + 14, y1)],
            shade(BLUE, share).filled(),
        ))
        .map_err(draw_err)?;
    }
    area.draw(&Rectangle::new(
        [(bar_x, l.top), (bar_x + 14, l.top + bar_h)],
        FAINT.stroke_width(1),
    ))
    .map_err(draw_err)?;
    for (share, label) in [(1.0, "100 %"), (0.5, "50 %"), (0.0, "0 %")] {
        let y = l.top + ((1.0 - share) * f64::from(bar_h)) as i32;
        text(
            area,
            label,
            &style(12.0, DARK, HPos::Left, VPos::Center),
            (bar_x + 20, y),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A confusion matrix over `labels` where gold label `i` is mostly predicted right.
    fn confusion(labels: &[String], unparseable: bool) -> Confusion {
        let n = labels.len();
        let counts = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| match j {
                        _ if j == i => 10 + i % 7,
                        _ if j == (i + 1) % n => i % 4,
                        _ => 0,
                    })
                    .collect()
            })
            .collect();
        Confusion {
            labels: labels.to_vec(),
            counts,
            unparseable: (0..n)
                .map(|i| usize::from(unparseable && i % 3 == 0))
                .collect(),
        }
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("Label number {i}")).collect()
    }

    #[test]
    fn draws_svg_with_label_names_and_a_png() {
        if crate::chart::ensure_font().is_err() {
            eprintln!("SKIPPED: no system font for plotters");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let labels: Vec<String> = ["Billing", "Technical Issue", "Account Management"]
            .map(String::from)
            .to_vec();
        let c = confusion(&labels, true);
        let svg = dir.path().join("c.svg");
        confusion_chart(&c, "run r1 · test split", &svg).unwrap();
        let svg = std::fs::read_to_string(svg).unwrap();
        for needle in [
            "Billing",
            "Technical Issue",
            "Account Management",
            "(unparseable)",
            "predicted label",
            "gold label",
            "run r1 · test split",
        ] {
            assert!(svg.contains(needle), "{needle} in the SVG");
        }
        for (n, unparseable) in [(3, true), (20, false), (77, true)] {
            let png = dir.path().join(format!("c{n}.png"));
            confusion_chart(&confusion(&names(n), unparseable), "t", &png).unwrap();
            let bytes = std::fs::read(&png).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
            assert!(bytes.len() > 5_000, "{n} labels: {} bytes", bytes.len());
        }
        assert!(matches!(
            confusion_chart(&c, "t", &dir.path().join("c.jpg")),
            Err(ChartError::Format(_))
        ));
        let empty = Confusion {
            labels: vec![],
            counts: vec![],
            unparseable: vec![],
        };
        assert!(matches!(
            confusion_chart(&empty, "t", &dir.path().join("e.svg")),
            Err(ChartError::NoLabels)
        ));
    }

    #[test]
    fn long_names_are_shortened() {
        assert_eq!(shorten("Billing", 5), "Bi…ng");
        assert_eq!(shorten("Billing", 6), "Bil…ng");
        assert_eq!(shorten("Billing", 7), "Billing");
        assert_eq!(shorten("atis_flight#atis_airfare", 12), "atis_f…rfare");
    }

    /// Writes sample charts for a person to look at: `TUNEDESK_CHART_SAMPLES=/tmp cargo test
    /// --lib chart::confusion -- --ignored`.
    #[test]
    #[ignore = "writes sample images for manual inspection"]
    fn write_samples() {
        let dir = std::env::var("TUNEDESK_CHART_SAMPLES").unwrap_or_else(|_| "/tmp".into());
        let three = ["Billing", "Technical Issue", "Account Management"].map(String::from);
        let long: Vec<String> = (0..20)
            .map(|i| match i % 3 {
                0 => format!("Class {i}"),
                1 => format!("A rather long label name number {i}"),
                _ => format!("flight_{i}"),
            })
            .collect();
        for (labels, unparseable, file) in [
            (three.to_vec(), true, "confusion3.png"),
            (three.to_vec(), true, "confusion3.svg"),
            (long, false, "confusion20.png"),
            (names(77), true, "confusion77.png"),
        ] {
            let out = Path::new(&dir).join(file);
            confusion_chart(
                &confusion(&labels, unparseable),
                "run r1 · test split",
                &out,
            )
            .unwrap();
            eprintln!("wrote {}", out.display());
        }
    }
}
