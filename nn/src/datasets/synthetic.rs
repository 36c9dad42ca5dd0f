//! scikit-learn's `make_circles` and `make_moons`, draw for draw.
//!
//! The course calls them right after `np.random.seed(s)` with no `random_state`, so they draw
//! from NumPy's global generator. scikit-learn 1.x (checked against 1.9) does, in this order:
//! 1. lay the points out deterministically (`np.linspace`, `cos`, `sin`), first class 0 (outer
//!    circle / upper moon, `n // 2` points) then class 1;
//! 2. `shuffle=True`: `sklearn.utils.shuffle` → `resample(replace=False)` builds
//!    `indices = np.arange(n)`, calls `random_state.shuffle(indices)` (the legacy shuffle) and
//!    reorders the rows;
//! 3. `noise`: adds `random_state.normal(scale=noise, size=(n, 2))`, drawn row by row (point `i`
//!    gets draws `2i` and `2i + 1`). With `noise=None` nothing is drawn.
//!
//! With a [`NumpyRng`](engine::random::NumpyRng) both calls consume the stream exactly as
//! scikit-learn does, so the data (and every draw after it) match the course. Any other
//! [`Sampler`] works too, giving a different but valid sample.

use engine::random::Sampler;
use engine::Tensor;

/// `n` points from `start` to `stop` as `np.linspace` computes them: `i * step + start` with
/// `step = (stop - start) / div`, and the last point set to `stop` when it is included.
fn numpy_linspace(start: f64, stop: f64, n: usize, endpoint: bool) -> Vec<f64> {
    let div = if endpoint { n.saturating_sub(1) } else { n };
    let delta = stop - start;
    let mut points: Vec<f64> = if div > 0 {
        let step = delta / div as f64;
        (0..n).map(|i| i as f64 * step + start).collect()
    } else {
        (0..n).map(|i| i as f64 * delta + start).collect()
    };
    if endpoint && n > 1 {
        points[n - 1] = stop;
    }
    points
}

/// Shuffles the rows laid out in `xs`, `ys`, `labels`, adds noise, and returns the course
/// layout: `X` `(2, m)`, `Y` `(1, m)`.
fn finish<S: Sampler + ?Sized>(
    xs: Vec<f64>,
    ys: Vec<f64>,
    labels: Vec<f64>,
    noise: Option<f64>,
    rng: &mut S,
) -> (Tensor<f64>, Tensor<f64>) {
    let m = labels.len();
    // resample(): indices = arange(m); shuffle(indices); X = X[indices].
    let order = rng.permutation(m);
    let mut points: Vec<[f64; 2]> = order.iter().map(|&i| [xs[i], ys[i]]).collect();
    let y: Vec<f64> = order.iter().map(|&i| labels[i]).collect();
    if let Some(scale) = noise {
        // normal(scale=noise, size=(m, 2)) fills row-major: both coordinates of point 0 first.
        for point in &mut points {
            for coordinate in point.iter_mut() {
                *coordinate += 0.0 + scale * rng.standard_normal();
            }
        }
    }
    let mut x = Vec::with_capacity(2 * m);
    x.extend(points.iter().map(|p| p[0]));
    x.extend(points.iter().map(|p| p[1]));
    (Tensor::from_vec(x, &[2, m]), Tensor::from_vec(y, &[1, m]))
}

/// scikit-learn's `make_circles(n_samples, shuffle=True, noise=noise, factor=factor)` drawing
/// from `rng`: a large circle (label 0, `n_samples / 2` points) around a smaller one of radius
/// `factor` (label 1), shuffled, plus Gaussian noise of standard deviation `noise`.
///
/// Returns `(X, Y)` in the course layout: `X` is `(2, n_samples)`, `Y` is `(1, n_samples)` with
/// values 0.0 and 1.0. `noise` takes `0.05` or `None` (no noise, no draws).
///
/// Panics, as scikit-learn raises, if `factor` is not in `[0, 1)` or `noise` is negative.
///
/// ```
/// use engine::random::NumpyRng;
/// // np.random.seed(1); make_circles(n_samples=300, noise=.05)
/// let mut rng = NumpyRng::new(1);
/// let (x, y) = nn::datasets::make_circles(300, 0.05, 0.8, &mut rng);
/// assert_eq!((x.shape(), y.shape()), (&[2, 300][..], &[1, 300][..]));
/// ```
#[track_caller]
pub fn make_circles<S: Sampler + ?Sized>(
    n_samples: usize,
    noise: impl Into<Option<f64>>,
    factor: f64,
    rng: &mut S,
) -> (Tensor<f64>, Tensor<f64>) {
    assert!(
        (0.0..1.0).contains(&factor),
        "make_circles: factor must be in [0, 1), got {factor}"
    );
    let noise = checked_noise("make_circles", noise.into());
    let n_out = n_samples / 2;
    let n_in = n_samples - n_out;
    let full_turn = 2.0 * std::f64::consts::PI;
    let outer = numpy_linspace(0.0, full_turn, n_out, false);
    let inner = numpy_linspace(0.0, full_turn, n_in, false);

    let xs = outer
        .iter()
        .map(|t| t.cos())
        .chain(inner.iter().map(|t| t.cos() * factor))
        .collect();
    let ys = outer
        .iter()
        .map(|t| t.sin())
        .chain(inner.iter().map(|t| t.sin() * factor))
        .collect();
    let labels = class_labels(n_out, n_in);
    finish(xs, ys, labels, noise, rng)
}

/// scikit-learn's `make_moons(n_samples, shuffle=True, noise=noise)` drawing from `rng`: two
/// interleaving half circles (label 0: `n_samples / 2` points on the upper one), shuffled,
/// plus Gaussian noise of standard deviation `noise`.
///
/// Returns `(X, Y)` in the course layout: `X` is `(2, n_samples)`, `Y` is `(1, n_samples)`.
#[track_caller]
pub fn make_moons<S: Sampler + ?Sized>(
    n_samples: usize,
    noise: impl Into<Option<f64>>,
    rng: &mut S,
) -> (Tensor<f64>, Tensor<f64>) {
    let noise = checked_noise("make_moons", noise.into());
    let n_out = n_samples / 2;
    let n_in = n_samples - n_out;
    let pi = std::f64::consts::PI;
    let outer = numpy_linspace(0.0, pi, n_out, true);
    let inner = numpy_linspace(0.0, pi, n_in, true);

    let xs = outer
        .iter()
        .map(|t| t.cos())
        .chain(inner.iter().map(|t| 1.0 - t.cos()))
        .collect();
    let ys = outer
        .iter()
        .map(|t| t.sin())
        .chain(inner.iter().map(|t| 1.0 - t.sin() - 0.5))
        .collect();
    let labels = class_labels(n_out, n_in);
    finish(xs, ys, labels, noise, rng)
}

#[track_caller]
fn checked_noise(op: &str, noise: Option<f64>) -> Option<f64> {
    if let Some(scale) = noise {
        assert!(scale >= 0.0, "{op}: noise must be >= 0, got {scale}");
    }
    noise
}

fn class_labels(zeros: usize, ones: usize) -> Vec<f64> {
    let mut labels = vec![0.0; zeros];
    labels.resize(zeros + ones, 1.0);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by `np.linspace` (NumPy 2.4.6): `np.linspace(0, np.pi, 4)` (its last
    /// value is `np.pi` itself) and `np.linspace(0, 2*np.pi, 3, endpoint=False)`.
    #[test]
    fn linspace_matches_numpy() {
        let with_end = numpy_linspace(0.0, std::f64::consts::PI, 4, true);
        assert_eq!(
            with_end,
            [
                0.0,
                1.0471975511965976,
                2.0943951023931953,
                std::f64::consts::PI
            ]
        );
        let without_end = numpy_linspace(0.0, 2.0 * std::f64::consts::PI, 3, false);
        assert_eq!(without_end, [0.0, 2.0943951023931953, 4.1887902047863905]);
        assert_eq!(numpy_linspace(0.0, 1.0, 1, true), [0.0]);
        assert!(numpy_linspace(0.0, 1.0, 0, false).is_empty());
    }

    #[test]
    fn without_noise_points_lie_on_the_curves() {
        let mut rng = engine::random::NumpyRng::new(0);
        let (x, y) = make_circles(10, None, 0.5, &mut rng);
        let (x, y) = (x.to_vec2(), y.to_vec());
        for i in 0..10 {
            let radius = x[0][i].hypot(x[1][i]);
            let expected = if y[i] == 0.0 { 1.0 } else { 0.5 };
            assert!(
                (radius - expected).abs() < 1e-15,
                "point {i}: radius {radius}"
            );
        }
        assert_eq!(y.iter().filter(|&&v| v == 1.0).count(), 5);
    }

    #[test]
    #[should_panic(expected = "make_circles: factor must be in [0, 1), got 1.5")]
    fn factor_outside_the_unit_interval_panics() {
        make_circles(10, 0.1, 1.5, &mut engine::random::NumpyRng::new(0));
    }

    #[test]
    #[should_panic(expected = "make_moons: noise must be >= 0, got -0.2")]
    fn negative_noise_panics() {
        make_moons(10, -0.2, &mut engine::random::NumpyRng::new(0));
    }
}
