//! Helpers shared by the workspace tests: deterministic inputs and a gradient check that
//! asserts the course's criterion.

#![allow(dead_code)]

use ferrograd::engine::gradcheck::{autodiff_gradient, gradcheck, GradcheckConfig};
use ferrograd::engine::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Relative difference ‖a−b‖/(‖a‖+‖b‖) every gradient check must stay under.
pub const TOLERANCE: f64 = 1e-7;

/// Standard normal values, reproducible from `seed`.
pub fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, &mut StdRng::seed_from_u64(seed))
}

/// Uniform values in `[lo, hi)`, reproducible from `seed`.
pub fn uniform(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.random_range(lo..hi)).collect(), shape)
}

/// Values whose magnitude is in `[lo, hi)` with random signs: away from the kinks at 0 of
/// abs/relu/clamp, where central differences are meaningless.
pub fn away_from_zero(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            let v = rng.random_range(lo..hi);
            if rng.random_bool(0.5) {
                v
            } else {
                -v
            }
        })
        .collect();
    Tensor::from_vec(data, shape)
}

/// Fixed irregular weights of `shape`: reducing an output with them, instead of a plain sum,
/// makes every output component count differently, so a gradient routed to the wrong place
/// (or an op whose plain sum is constant, like softmax) cannot pass.
pub fn weights(shape: &[usize]) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|k| ((k as f64 + 1.0) * 0.754_877_666).fract() * 2.0 - 0.9)
        .collect();
    Tensor::from_vec(data, shape)
}

/// Gradient-checks `f` (any tensor output, reduced with [`weights`]) at `inputs` in f64 and
/// asserts the overall and every per-input relative difference is below [`TOLERANCE`].
#[track_caller]
pub fn check(what: &str, f: impl Fn(&[Tensor<f64>]) -> Tensor<f64>, inputs: &[Tensor<f64>]) {
    let scalar = |v: &[Tensor<f64>]| {
        let out = f(v);
        (&out * &weights(out.shape())).sum()
    };
    let report = gradcheck(
        &scalar,
        inputs,
        GradcheckConfig {
            epsilon: 1e-6,
            worst: 5,
            ..GradcheckConfig::default()
        }
        .relative(TOLERANCE),
    );
    assert!(report.passed(), "{what}: gradient check failed\n{report}");
    // A check whose analytic gradient is identically zero would pass vacuously.
    let nonzero = autodiff_gradient(&scalar, inputs)
        .iter()
        .any(|g| g.to_vec().iter().any(|&x| x != 0.0));
    assert!(nonzero, "{what}: every gradient is zero\n{report}");
}
