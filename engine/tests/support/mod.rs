//! Shared checks of the convolution, pooling and activation op tests (`conv_pool.rs`, `new_ops.rs`): every op is checked
//! the same way, first order, second order, forward mode, and f32 against f64.

#![allow(dead_code)]

use engine::check::{check_jvp, JvpCheckConfig};
use engine::gradcheck::{
    autodiff_gradient, gradcheck, gradgradcheck, relative_difference, GradcheckConfig,
};
use engine::Tensor;

/// Deterministic, irregular values in about [-1.5, 1.5]: no ties, no zeros.
pub fn t(shape: &[usize], k: f64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| ((i as f64 + 1.0) * 1.618_033_9 + k).sin() * 1.5 + 0.013 * i as f64)
        .collect();
    Tensor::from_vec(data, shape)
}

/// Fixed irregular weights that turn an op's output into a scalar whose gradient exercises
/// every output element differently.
pub fn weights(shape: &[usize]) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| ((i as f64 * 0.754_877_666 + 0.3).fract() - 0.45) * 2.0)
        .collect();
    Tensor::from_vec(data, shape)
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "max_abs_diff: lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Op under test, per precision.
pub type Op64<'a> = &'a dyn Fn(&[Tensor<f64>]) -> Tensor<f64>;
/// The same op in f32.
pub type Op32<'a> = &'a dyn Fn(&[Tensor<f32>]) -> Tensor<f32>;

/// Tolerances, with why:
/// - first order: central differences with ε = 1e-7 in f64 carry about 1e-9 relative error
///   (rounding of f over 2ε); 1e-7 leaves a margin of 100 and still catches any wrong rule.
/// - second order: the differenced function is itself a gradient (a longer computation), so
///   its rounding error is a few times larger; same 1e-7 bound, which held for every op here.
/// - f32 vs f64: f32 rounds at 6e-8 relative; sums over up to a few hundred terms with
///   cancellation stay below 1e-5 relative (L2 over the whole output).
pub const FIRST_ORDER: f64 = 1e-7;
/// See [`FIRST_ORDER`].
pub const SECOND_ORDER: f64 = 1e-7;
/// See [`FIRST_ORDER`].
pub const F32_AGREEMENT: f64 = 1e-5;

/// Runs every check on `op` at `inputs`: gradcheck and gradgradcheck of `Σ w ⊙ op(x)` with
/// fixed irregular `w`, the JVP check of `op` itself, and f32 against f64 for the values and
/// the gradients.
#[track_caller]
pub fn check_op_all(name: &str, f64_op: Op64<'_>, f32_op: Op32<'_>, inputs: &[Tensor<f64>]) {
    let y = f64_op(inputs);
    assert!(
        y.to_f64_vec().iter().all(|v| v.is_finite()),
        "{name}: non-finite output"
    );
    let w = weights(y.shape());
    let scalar = |v: &[Tensor<f64>]| (f64_op(v) * &w).sum();
    let cfg = GradcheckConfig::default();
    let first = gradcheck(&scalar, inputs, cfg.relative(FIRST_ORDER));
    assert!(first.passed(), "{name}: first order\n{first}");
    let second = gradgradcheck(&scalar, inputs, cfg.relative(SECOND_ORDER));
    assert!(
        second.passed(),
        "{name}: second order\n{second}"
    );
    let jvp = check_jvp(f64_op, inputs, JvpCheckConfig::default());
    assert!(jvp.passed(), "{name}: forward mode\n{jvp}");

    let inputs32: Vec<Tensor<f32>> = inputs.iter().map(|x| x.cast::<f32>()).collect();
    let y32 = f32_op(&inputs32);
    let value_diff = relative_difference(&y32.to_f64_vec(), &y.to_f64_vec());
    assert!(
        value_diff < F32_AGREEMENT,
        "{name}: f32 and f64 values differ by {value_diff:e}"
    );
    let w32 = w.cast::<f32>();
    let scalar32 = |v: &[Tensor<f32>]| (f32_op(v) * &w32).sum();
    let g64 = autodiff_gradient(&scalar, inputs);
    let g32 = autodiff_gradient(&scalar32, &inputs32);
    for (i, (a, b)) in g32.iter().zip(&g64).enumerate() {
        let d = relative_difference(&a.to_f64_vec(), &b.to_f64_vec());
        assert!(
            d < F32_AGREEMENT,
            "{name}: f32 and f64 gradients of input {i} differ by {d:e}"
        );
    }
}

/// Expands `|v| body` once for f64 and once for f32 and runs [`check_op_all`].
#[macro_export]
macro_rules! check_op {
    ($name:expr, |$v:ident| $body:expr, $inputs:expr) => {{
        let f64_op = |$v: &[engine::Tensor<f64>]| -> engine::Tensor<f64> { $body };
        let f32_op = |$v: &[engine::Tensor<f32>]| -> engine::Tensor<f32> { $body };
        support::check_op_all($name, &f64_op, &f32_op, $inputs)
    }};
}
