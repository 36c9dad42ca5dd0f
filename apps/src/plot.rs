//! SVG plots with `plotters` (SVG backend only: no fonts or system libraries needed): cost
//! curves, and decision boundaries of classifiers on 2-D data.
//!
//! The decision regions are one small PNG image (one pixel per grid cell, deflated with
//! `flate2`, embedded as a `data:` URI) under the vector axes and points, not one `<rect>` per
//! cell: a boundary plot is a few kilobytes instead of ~2 MB. The PNG encoder is the few lines
//! below (RGB, 8 bits, no filtering), enough for flat-coloured regions.

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

    let mut svg = String::new();
    let region = [[198u8, 219, 239], [253, 208, 162]];
    let plot_area = draw_boundary_chart(path, &mut svg, title, (x0, x1, y0, y1), points, labels)?;
    // Grid row j is y0 + (j + 0.5) dy, bottom up; image rows go top down.
    let mut pixels = Vec::with_capacity(3 * N * N);
    for j in (0..N).rev() {
        for c in &classes[j * N..(j + 1) * N] {
            pixels.extend_from_slice(&region[(*c).min(1)]);
        }
    }
    let png = png_rgb(N as u32, N as u32, &pixels);
    let (px, py) = plot_area;
    let image = format!(
        "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" \
         style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{}\"/>\n",
        px.start,
        py.start,
        px.end - px.start,
        py.end - py.start,
        base64(&png)
    );
    // Under everything but the white background: right after the first element drawn.
    let at = svg
        .find("<rect")
        .and_then(|r| svg[r..].find("/>").map(|e| r + e + 2))
        .ok_or_else(|| err(path, "no background in the SVG"))?;
    svg.insert_str(at, &format!("\n{image}"));
    std::fs::write(path, svg).map_err(|e| err(path, e))
}

/// Draws the axes, points and legend of a decision-boundary plot into `svg`; returns the
/// plotting area's pixel ranges (x, y), where the regions image goes.
#[allow(clippy::type_complexity)]
fn draw_boundary_chart(
    path: &Path,
    svg: &mut String,
    title: &str,
    (x0, x1, y0, y1): (f64, f64, f64, f64),
    points: &[(f64, f64)],
    labels: &[usize],
) -> Result<(std::ops::Range<i32>, std::ops::Range<i32>), PlotError> {
    let root = SVGBackend::with_string(svg, (600, 560)).into_drawing_area();
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
    let area = chart.plotting_area().get_pixel_range();
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
    root.present().map_err(|e| err(path, e))?;
    Ok(area)
}

/// A PNG image (8-bit RGB, filter type 0 on every row) of `width × height` pixels, `rgb` row by
/// row from the top.
pub fn png_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    use std::io::Write;
    assert_eq!(
        rgb.len(),
        3 * width as usize * height as usize,
        "png_rgb: {} bytes for {width}×{height} RGB pixels",
        rgb.len()
    );
    let mut raw = Vec::with_capacity(rgb.len() + height as usize);
    for row in rgb.chunks_exact((3 * width as usize).max(1)) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&raw).expect("writing to memory");
    let idat = z.finish().expect("writing to memory");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", &ihdr[..]),
        (b"IDAT", &idat[..]),
        (b"IEND", &[][..]),
    ] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

/// CRC-32 (IEEE 802.3, reflected, as PNG chunks use), bit by bit: the images are small.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A file name for a run's plot: the run name with `=` (awkward in shells and some tools)
/// replaced by `_`, e.g. `reg-book-l2_0.1-keep_0.9`.
pub fn file_stem(run: &str) -> String {
    run.replace('=', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Base64 decoding, written from RFC 4648 independently of the encoder above.
    fn unbase64(s: &str) -> Vec<u8> {
        let value = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        };
        let s = s.trim_end_matches('=').as_bytes();
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = vec![];
        for &c in s {
            bits = (bits << 6) | u32::from(value(c));
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
            }
        }
        out
    }

    /// The pixels of an unfiltered 8-bit RGB PNG, checking the signature, the chunk CRCs
    /// (against a table-driven CRC-32 written here) and the IHDR fields.
    fn decode_png_rgb(png: &[u8]) -> Vec<[u8; 3]> {
        use std::io::Read;
        let table: Vec<u32> = (0..256u32)
            .map(|n| {
                (0..8).fold(n, |c, _| {
                    if c & 1 == 1 {
                        0xEDB88320 ^ (c >> 1)
                    } else {
                        c >> 1
                    }
                })
            })
            .collect();
        let crc = |b: &[u8]| {
            !b.iter().fold(!0u32, |c, &x| {
                table[((c ^ u32::from(x)) & 0xff) as usize] ^ (c >> 8)
            })
        };
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let (mut at, mut idat, mut size) = (8, vec![], (0, 0));
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let body = &png[at + 4..at + 8 + len];
            let want = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(crc(body), want, "chunk CRC");
            match &body[..4] {
                b"IHDR" => {
                    size = (
                        u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize,
                        u32::from_be_bytes(body[8..12].try_into().unwrap()) as usize,
                    );
                    assert_eq!(&body[12..17], &[8, 2, 0, 0, 0]);
                }
                b"IDAT" => idat.extend_from_slice(&body[4..]),
                _ => {}
            }
            at += 12 + len;
        }
        let mut raw = vec![];
        flate2::read::ZlibDecoder::new(&idat[..])
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw.len(), size.1 * (1 + 3 * size.0));
        raw.chunks(1 + 3 * size.0)
            .flat_map(|row| {
                assert_eq!(row[0], 0, "filter none");
                row[1..]
                    .chunks(3)
                    .map(|p| [p[0], p[1], p[2]])
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn base64_and_png_pieces_are_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        // The CRC-32 check value of "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let px = decode_png_rgb(&png_rgb(2, 1, &[1, 2, 3, 4, 5, 6]));
        assert_eq!(px, [[1, 2, 3], [4, 5, 6]]);
        assert_eq!(
            file_stem("reg-book-l2=0.1-keep=0.9"),
            "reg-book-l2_0.1-keep_0.9"
        );
    }

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
        // The regions are one embedded image holding both classes' region colours, under the
        // three points; the file is small (it was ~2 MB of <rect>s).
        assert_eq!(text.matches("<image").count(), 1);
        assert!(
            text.matches("<rect").count() <= 3,
            "background and legend only: {text}"
        );
        assert!(text.len() < 40_000, "{} bytes", text.len());
        let b64 = text
            .split("base64,")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let pixels = decode_png_rgb(&unbase64(b64));
        assert!(pixels.contains(&[198, 219, 239]) && pixels.contains(&[253, 208, 162]));
        // The class of x > 0 is on the right: the top-right pixel is class 1's colour.
        assert_eq!(pixels[149], [253, 208, 162]);
        assert_eq!(pixels[0], [198, 219, 239]);
        // Classified by the second coordinate: class 1 (x2 > 0.5) at the top of the image.
        decision_boundary(&boundary, "regions", &pts, &[0, 1, 0], &mut |g| {
            g.iter().map(|&(_, y)| usize::from(y > 0.5)).collect()
        })
        .unwrap();
        let text = std::fs::read_to_string(&boundary).unwrap();
        let b64 = text
            .split("base64,")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let pixels = decode_png_rgb(&unbase64(b64));
        assert_eq!(pixels[0], [253, 208, 162]);
        assert_eq!(pixels[150 * 150 - 1], [198, 219, 239]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
