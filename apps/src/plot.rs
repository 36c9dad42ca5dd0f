//! SVG plots with `plotters` (SVG backend only: no fonts or system libraries needed): cost
//! curves, and decision boundaries of classifiers on 2-D data.

use std::path::Path;

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// An error while writing a plot (the message says which file).
#[derive(Debug)]
pub struct PlotError(pub String);

impl std::fmt::Display for PlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlotError {}

fn err(path: &Path, e: impl std::fmt::Display) -> PlotError {
    PlotError(format!("writing plot {}: {e}", path.display()))
}

const PALETTE: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// Classifies a batch of 2-D points, one class per point.
pub type Classifier<'a> = dyn FnMut(&[(f64, f64)]) -> Vec<usize> + 'a;

/// One named line of a cost plot: `(x, cost)` points.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// The points.
    pub points: &'a [(f64, f64)],
    /// Whether every point gets a marker (for a few reported points, not for every epoch).
    pub markers: bool,
}

/// Costs spanning more than this ratio (largest / smallest) get a logarithmic axis: the large
/// random initialization starts at ~1800 and ends below 0.4, which a linear axis flattens.
pub const LOG_SCALE_RATIO: f64 = 20.0;

/// Whether costs in `[min, max]` are drawn on a logarithmic axis (see [`LOG_SCALE_RATIO`]).
pub fn wants_log_scale(min: f64, max: f64) -> bool {
    min > 0.0 && max / min > LOG_SCALE_RATIO
}

/// A tick label without a needless fractional part: `2000`, `0.5`, `1e-3`.
fn tick(v: f64) -> String {
    if v.abs() < 1e-12 {
        // Zero, or the rounding of the tick arithmetic around it (-1e-16).
        "0".into()
    } else if v.abs() >= 1e5 || v.abs() < 1e-3 {
        format!("{v:.0e}")
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        // Trim the noise of tick arithmetic (0.30000000000000004).
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Writes cost curves (one or more series, e.g. side by side runs) to `path` as SVG: lines
/// through the reported points, marked, with a legend when there are several series and a
/// logarithmic cost axis when the costs span more than [`LOG_SCALE_RATIO`].
pub fn cost_curves(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
) -> Result<(), PlotError> {
    let finite = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.1.is_finite())
    };
    let x_max = finite().map(|p| p.0).fold(1.0, f64::max);
    let y_max = finite().map(|p| p.1).fold(f64::MIN, f64::max);
    let y_min = finite().map(|p| p.1).fold(f64::MAX, f64::min);

    let root = SVGBackend::new(path, (760, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .margin_right(28)
        .x_label_area_size(45)
        .y_label_area_size(70);
    if wants_log_scale(y_min, y_max) {
        let chart = builder
            .build_cartesian_2d(0.0..x_max, (y_min / 1.3..y_max * 1.3).log_scale())
            .map_err(|e| err(path, e))?;
        draw_costs(
            path,
            chart,
            x_label,
            &format!("{y_label} (log scale)"),
            series,
        )?;
    } else {
        let (low, high) = if y_max > y_min {
            (y_min.min(0.0), y_max * 1.05)
        } else {
            (0.0, 1.0)
        };
        let chart = builder
            .build_cartesian_2d(0.0..x_max, low..high)
            .map_err(|e| err(path, e))?;
        draw_costs(path, chart, x_label, y_label, series)?;
    }
    root.present().map_err(|e| err(path, e))
}

fn draw_costs<'a, Y>(
    path: &Path,
    mut chart: ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
) -> Result<(), PlotError>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 13))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(WHITE)
        .draw()
        .map_err(|e| err(path, e))?;
    for (k, s) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let points = || s.points.iter().copied().filter(|p| p.1.is_finite());
        chart
            .draw_series(LineSeries::new(points(), color.stroke_width(2)))
            .map_err(|e| err(path, e))?
            .label(s.label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        if s.markers {
            chart
                .draw_series(points().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(|e| err(path, e))?;
        }
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 15))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(|e| err(path, e))?;
    }
    Ok(())
}

/// Writes the decision regions of a binary classifier over 2-D points to `path` as SVG.
///
/// `points` are `(x1, x2)` with labels 0/1; `classify` receives a batch of grid points and
/// returns one class (0 or 1) per point.
pub fn decision_boundary(
    path: &Path,
    title: &str,
    points: &[(f64, f64)],
    labels: &[usize],
    classify: &mut Classifier<'_>,
) -> Result<(), PlotError> {
    assert_eq!(
        points.len(),
        labels.len(),
        "decision_boundary: points and labels"
    );
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    // The course's plot_decision_boundary pads the data's range by 1, which leaves the
    // regularization data (range ~1) a small patch in the middle: pad by 15% of each range.
    let (px, py) = (0.15 * (x1 - x0).max(1e-9), 0.15 * (y1 - y0).max(1e-9));
    let (x0, x1, y0, y1) = (x0 - px, x1 + px, y0 - py, y1 + py);
    const N: usize = 150;
    let (dx, dy) = ((x1 - x0) / N as f64, (y1 - y0) / N as f64);
    let grid: Vec<(f64, f64)> = (0..N)
        .flat_map(|j| (0..N).map(move |i| (x0 + (i as f64 + 0.5) * dx, y0 + (j as f64 + 0.5) * dy)))
        .collect();
    let classes = classify(&grid);
    assert_eq!(
        classes.len(),
        grid.len(),
        "decision_boundary: one class per grid point"
    );

    let root = SVGBackend::new(path, (600, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("x1")
        .y_desc("x2")
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 13))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()
        .map_err(|e| err(path, e))?;
    let region = [RGBColor(198, 219, 239), RGBColor(253, 208, 162)];
    chart
        .draw_series(grid.iter().zip(&classes).map(|(&(x, y), &c)| {
            Rectangle::new(
                [(x - dx / 2.0, y - dy / 2.0), (x + dx / 2.0, y + dy / 2.0)],
                region[c.min(1)].filled(),
            )
        }))
        .map_err(|e| err(path, e))?;
    let dots = [PALETTE[0], PALETTE[1]];
    for (class, color) in dots.into_iter().enumerate() {
        chart
            .draw_series(
                points
                    .iter()
                    .zip(labels)
                    .filter(|(_, &c)| c.min(1) == class)
                    .map(|(&p, _)| Circle::new(p, 3, color.filled())),
            )
            .map_err(|e| err(path, e))?
            .label(format!("y = {class} (region: predicted {class})"))
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(2000.0), "2000");
        assert_eq!(tick(0.30000000000000004), "0.3");
        assert_eq!(tick(-1.1102230246251565e-16), "0");
        assert_eq!(tick(1e-4), "1e-4");
        assert!(wants_log_scale(0.38, 1773.6) && !wants_log_scale(0.07, 0.88));
        assert!(!wants_log_scale(0.0, 5.0));
    }

    #[test]
    fn writes_svg_files() {
        let dir = std::env::temp_dir().join(format!("apps-plot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a: Vec<(f64, f64)> = (0..10)
            .map(|i| (i as f64 * 100.0, 1.0 / (1.0 + i as f64)))
            .collect();
        let b: Vec<(f64, f64)> = (0..10)
            .map(|i| (i as f64 * 100.0, 0.5 / (1.0 + i as f64)))
            .collect();
        let costs = dir.join("costs.svg");
        cost_curves(
            &costs,
            "two runs",
            "iteration",
            "cost",
            &[
                Series {
                    label: "plain",
                    points: &a,
                    markers: true,
                },
                Series {
                    label: "bn",
                    points: &b,
                    markers: false,
                },
            ],
        )
        .unwrap();
        let text = std::fs::read_to_string(&costs).unwrap();
        assert!(text.starts_with("<svg") && text.contains("two runs") && text.contains("polyline"));
        // A legend for two series; markers on the first series' ten points only.
        let label = |t: &str| text.contains(&format!(">\n{t}\n</text>"));
        assert!(label("plain") && label("bn"));
        assert_eq!(text.matches("<circle").count(), 10);
        assert!(!text.contains("log scale"));
        // Costs over three decades get a logarithmic axis, ticks without ".0".
        let wide: Vec<(f64, f64)> = (0..10)
            .map(|i| (i as f64 * 1000.0, 2000.0 / (1.0 + 100.0 * i as f64)))
            .collect();
        cost_curves(
            &costs,
            "random init",
            "iteration",
            "cost",
            &[Series {
                label: "init",
                points: &wide,
                markers: true,
            }],
        )
        .unwrap();
        let text = std::fs::read_to_string(&costs).unwrap();
        assert!(
            text.contains("cost (log scale)") && text.contains(">\n1000\n</text>"),
            "{text}"
        );
        assert!(!text.contains("000.0\n"));

        let pts = [(0.0, 0.0), (1.0, 1.0), (-1.0, 0.5)];
        let boundary = dir.join("boundary.svg");
        decision_boundary(&boundary, "regions", &pts, &[0, 1, 0], &mut |g| {
            g.iter().map(|&(x, _)| usize::from(x > 0.0)).collect()
        })
        .unwrap();
        let text = std::fs::read_to_string(&boundary).unwrap();
        // Both classes' region colours are drawn.
        assert!(
            text.contains("#C6DBEF") && text.contains("#FDD0A2"),
            "{}",
            &text[..200]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
