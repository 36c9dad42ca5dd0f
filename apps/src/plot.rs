//! SVG plots with `plotters` (SVG backend only: no fonts or system libraries needed): cost
//! curves, and decision boundaries of classifiers on 2-D data.

use std::path::Path;

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
}

/// Writes a cost curve (one or more series, e.g. side by side runs) to `path` as SVG.
pub fn cost_curves(
    path: &Path,
    title: &str,
    x_label: &str,
    series: &[Series<'_>],
) -> Result<(), PlotError> {
    let finite = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.1.is_finite())
    };
    let x_max = finite().map(|p| p.0).fold(1.0, f64::max);
    let y_max = finite().map(|p| p.1).fold(0.0, f64::max);
    let y_min = finite().map(|p| p.1).fold(y_max, f64::min).min(0.0);
    let y_top = if y_max > y_min { y_max * 1.05 } else { 1.0 };

    let root = SVGBackend::new(path, (720, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, y_min..y_top)
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("cost")
        .draw()
        .map_err(|e| err(path, e))?;
    for (k, s) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied().filter(|p| p.1.is_finite()),
                color.stroke_width(2),
            ))
            .map_err(|e| err(path, e))?
            .label(s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(path, e))?;
    }
    root.present().map_err(|e| err(path, e))
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
    // The course's plot_decision_boundary pads the data's range by 1.
    let (x0, x1, y0, y1) = (x0 - 1.0, x1 + 1.0, y0 - 1.0, y1 + 1.0);
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
    chart
        .draw_series(
            points
                .iter()
                .zip(labels)
                .map(|(&p, &c)| Circle::new(p, 3, dots[c.min(1)].filled())),
        )
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            &[
                Series {
                    label: "plain",
                    points: &a,
                },
                Series {
                    label: "bn",
                    points: &b,
                },
            ],
        )
        .unwrap();
        let text = std::fs::read_to_string(&costs).unwrap();
        assert!(text.starts_with("<svg") && text.contains("two runs") && text.contains("polyline"));

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
