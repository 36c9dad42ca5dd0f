//! Costs for training: the engine's losses from logits with the course's layout fixed (classes
//! along axis 0, examples along axis 1), and the L2 and L1 weight penalties.
//!
//! All losses average over the examples: `J = 1/m Σ L(ŷ⁽ⁱ⁾, y⁽ⁱ⁾)`. Add a penalty to get the
//! regularized cost `J + λ/(2m) Σ_l ‖W[l]‖²_F`:
//!
//! ```
//! use engine::Tensor;
//! use nn::module::Param;
//! use nn::loss::{bce_with_logits, l2_penalty};
//!
//! let w = Tensor::<f64>::from_vec(vec![1.0, -2.0], &[1, 2]).to_leaf();
//! let params = vec![Param::weight("W1", w.clone())];
//! let x = Tensor::<f64>::from_vec2(vec![vec![1.0, 0.0, 2.0], vec![0.5, 1.0, -1.0]]);
//! let y = Tensor::<f64>::from_vec(vec![1.0, 0.0, 1.0], &[1, 3]);
//! let cost = bce_with_logits(&w.matmul(&x), &y) + l2_penalty(&params, 0.7, 3);
//! cost.backward();
//! assert!(w.grad().is_some());
//! ```

use engine::{Float, Tensor};

use crate::module::{Param, ParamKind};

pub use engine::loss::{binary_cross_entropy, softmax_cross_entropy_indices};

/// Mean binary cross-entropy of logits `z` (shape `(1, m)`, before the sigmoid) against
/// labels in `[0, 1]`: `-1/m Σ (y log σ(z) + (1-y) log(1-σ(z)))`, computed from the logits so it
/// stays finite where `σ(z)` rounds to 0 or 1. Its gradient with respect to `z` is
/// `(σ(z) - y) / m`, the course's `dZ[L]`.
#[track_caller]
pub fn bce_with_logits<T: Float>(logits: &Tensor<T>, targets: &Tensor<T>) -> Tensor<T> {
    engine::loss::binary_cross_entropy_with_logits(logits, targets)
}

/// Mean softmax cross-entropy of logits `(classes, m)` against one-hot targets of the same shape
/// (classes along axis 0, as the course's `-1/m Σ Y ⊙ log softmax(Z)`).
#[track_caller]
pub fn softmax_cross_entropy<T: Float>(logits: &Tensor<T>, one_hot: &Tensor<T>) -> Tensor<T> {
    engine::loss::softmax_cross_entropy(logits, one_hot, 0)
}

/// Mean squared error over all elements, `1/n Σ (ŷ - y)²`.
#[track_caller]
pub fn mse<T: Float>(predictions: &Tensor<T>, targets: &Tensor<T>) -> Tensor<T> {
    engine::loss::mse(predictions, targets)
}

/// `Σ_l f(W[l])` over the weights in `params`, left to right (biases and other parameters are
/// skipped, as the course's penalties sum over `W` only).
fn sum_over_weights<T: Float>(
    params: &[Param<T>],
    per_weight: impl Fn(&Tensor<T>) -> Tensor<T>,
) -> Tensor<T> {
    let mut total: Option<Tensor<T>> = None;
    for p in params.iter().filter(|p| p.kind == ParamKind::Weight) {
        let term = per_weight(&p.tensor);
        total = Some(match total {
            None => term,
            Some(t) => t + term,
        });
    }
    total.unwrap_or_else(|| Tensor::scalar(T::zero()))
}

/// `Σ_l ‖W[l]‖²_F`, the sum of the squared elements of the weights in `params` (biases and
/// other parameters skipped), summed weight by weight left to right as the course's
/// `np.sum(np.square(W1)) + np.sum(np.square(W2)) + ...`. Its gradient is `2 W`.
///
/// [`l2_penalty`] scales it by `(1/m)·(λ/2)`. Scale it yourself to round the factor another
/// way: `squared_weights(&params) * (λ / (2m))` has the gradient `round(λ/m)·W`, which is the
/// course notebook's backward term `lambd / m * W` bit for bit.
pub fn squared_weights<T: Float>(params: &[Param<T>]) -> Tensor<T> {
    sum_over_weights(params, |w| w.square().sum())
}

/// The L2 penalty `λ/(2m) Σ_l ‖W[l]‖²_F` (squared Frobenius norms), over the weights in
/// `params` only. Panics unless `m > 0` and λ is finite and `>= 0`.
///
/// Evaluated as the course's `compute_cost_with_regularization`:
/// `(1./m) * (lambd/2) * (np.sum(np.square(W1)) + np.sum(np.square(W2)) + ...)`, the scalar
/// `(1/m)·(λ/2)` first, then one multiplication. Its gradient is `λ/m · W` (the term the
/// course's `backward_propagation_with_regularization` adds to `dW`), computed as
/// `2·((1/m)·(λ/2))·W`; see [`squared_weights`] for the other rounding.
#[track_caller]
pub fn l2_penalty<T: Float>(params: &[Param<T>], lambd: f64, m: usize) -> Tensor<T> {
    assert!(m > 0, "l2_penalty: m (examples) must be positive");
    check_lambda("l2_penalty", lambd);
    let factor = T::from_f64((1.0 / m as f64) * (lambd / 2.0));
    squared_weights(params) * factor
}

/// The L1 penalty as the course writes it, `λ/(2m) Σ_l ‖W[l]‖₁` (the sum of absolute values,
/// scaled like the L2 penalty), over the weights only, evaluated in the same order as
/// [`l2_penalty`]. Its gradient is `λ/(2m) · sign(W)`. Panics unless `m > 0` and λ is finite
/// and `>= 0`.
#[track_caller]
pub fn l1_penalty<T: Float>(params: &[Param<T>], lambd: f64, m: usize) -> Tensor<T> {
    assert!(m > 0, "l1_penalty: m (examples) must be positive");
    check_lambda("l1_penalty", lambd);
    let factor = T::from_f64((1.0 / m as f64) * (lambd / 2.0));
    sum_over_weights(params, |w| w.abs().sum()) * factor
}

/// Panics unless λ is finite and `>= 0`: a negative penalty rewards large weights, and a NaN
/// or infinite one makes every cost NaN or infinite.
#[track_caller]
fn check_lambda(op: &str, lambd: f64) {
    assert!(
        lambd.is_finite() && lambd >= 0.0,
        "{op}: lambda must be finite and >= 0, got {lambd}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::gradcheck::{gradcheck, GradcheckConfig};

    fn params() -> Vec<Param<f64>> {
        vec![
            Param::weight("W1", Tensor::from_vec(vec![1.0, -2.0, 3.0, 0.5], &[2, 2])),
            Param::bias("b1", Tensor::from_vec(vec![100.0, 100.0], &[2, 1])),
            Param::weight("W2", Tensor::from_vec(vec![-1.5, 2.5], &[1, 2])),
            Param::new(
                "gamma1",
                Tensor::from_vec(vec![7.0], &[1, 1]),
                ParamKind::Other,
            ),
        ]
    }

    #[test]
    fn l2_is_lambda_over_2m_times_squared_frobenius_norms_of_weights() {
        // ‖W1‖² = 1 + 4 + 9 + 0.25 = 14.25, ‖W2‖² = 2.25 + 6.25 = 8.5; total 22.75.
        // λ = 0.5, m = 4: (1/4)(0.5/2) · 22.75 = 1.421875 (exact in binary).
        assert_eq!(l2_penalty(&params(), 0.5, 4).item(), 1.421875);
    }

    #[test]
    fn squared_weights_sums_the_weights_only_and_its_gradient_is_two_w() {
        // 14.25 + 8.5 (see above); b1 and gamma1 are skipped.
        assert_eq!(squared_weights(&params()).item(), 22.75);
        let w = Tensor::<f64>::from_vec(vec![1.0, -2.0, 0.5], &[3, 1]).to_leaf();
        squared_weights(&[Param::weight("W1", w.clone())]).backward();
        assert_eq!(w.grad().unwrap().to_vec(), [2.0, -4.0, 1.0]);
        assert_eq!(squared_weights::<f64>(&[]).item(), 0.0);
    }

    /// The two roundings of the L2 gradient differ: with λ = 0.1 and m = 211 (the regularization
    /// run of the course's `regularization_dropout.ipynb`), `2·((1/m)·(λ/2))` is one ulp above
    /// `λ/m`, while
    /// `squared_weights · (λ/2m)` gives `λ/m` rounded once, the course notebook's factor.
    #[test]
    fn scaling_squared_weights_once_gives_the_notebooks_gradient_factor() {
        let (lambd, m) = (0.1, 211usize);
        let one = || Tensor::<f64>::from_vec(vec![1.0], &[1, 1]).to_leaf();
        let w = one();
        (squared_weights(&[Param::weight("W1", w.clone())]) * (lambd / (2.0 * m as f64)))
            .backward();
        assert_eq!(w.grad().unwrap().item(), lambd / m as f64);
        let w = one();
        l2_penalty(&[Param::weight("W1", w.clone())], lambd, m).backward();
        let g = w.grad().unwrap().item();
        assert_ne!(g, lambd / m as f64);
        assert_eq!(g, 2.0 * ((1.0 / m as f64) * (lambd / 2.0)));
    }

    #[test]
    fn l1_is_lambda_over_2m_times_absolute_sums_of_weights() {
        // ‖W1‖₁ = 6.5, ‖W2‖₁ = 4; total 10.5; (1/4)(0.5/2) · 10.5 = 0.65625.
        assert_eq!(l1_penalty(&params(), 0.5, 4).item(), 0.65625);
    }

    #[test]
    fn l2_gradient_is_lambda_over_m_times_w() {
        let w = Tensor::<f64>::from_vec(vec![1.0, -2.0, 3.0, 0.5], &[2, 2]).to_leaf();
        let p = [Param::weight("W1", w.clone())];
        l2_penalty(&p, 0.5, 4).backward();
        // λ/m = 0.125
        assert_eq!(w.grad().unwrap().to_vec(), [0.125, -0.25, 0.375, 0.0625]);
        let f = |v: &[Tensor<f64>]| {
            let p = [Param::weight("W", v[0].clone())];
            l2_penalty(&p, 0.7, 3) + l1_penalty(&p, 0.3, 3)
        };
        let r = gradcheck(&f, &[w.detach()], GradcheckConfig::default());
        assert!(r.passed(), "{r}");
    }

    #[test]
    fn no_weights_gives_zero() {
        let p = [Param::bias("b1", Tensor::<f64>::ones(&[2, 1]))];
        assert_eq!(l2_penalty(&p, 1.0, 1).item(), 0.0);
    }

    #[test]
    fn losses_use_the_course_layout() {
        // Two classes (rows), two examples (columns).
        let z = Tensor::<f64>::from_vec2(vec![vec![2.0, 0.0], vec![0.0, 1.0]]);
        let y = Tensor::<f64>::from_vec2(vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
        let expected = -((2f64.exp() / (2f64.exp() + 1.0)).ln()
            + (1f64.exp() / (1f64.exp() + 1.0)).ln())
            / 2.0;
        assert!((softmax_cross_entropy(&z, &y).item() - expected).abs() < 1e-15);
        let logits = Tensor::<f64>::from_vec(vec![0.0, 3.0], &[1, 2]);
        let labels = Tensor::<f64>::from_vec(vec![1.0, 0.0], &[1, 2]);
        // -(log σ(0) + log(1 - σ(3))) / 2 = (ln 2 + 3 + ln(1 + e^-3)) / 2, written without the
        // cancellation of 1 - σ(3) so the reference is accurate to an ulp.
        let expected = (2f64.ln() + 3.0 + (-3f64).exp().ln_1p()) / 2.0;
        assert!((bce_with_logits(&logits, &labels).item() - expected).abs() < 1e-15);
        assert_eq!(mse(&logits, &labels).item(), 5.0);
    }

    /// The training losses at infinite logits give the exact limits (0 where the prediction is
    /// certain and right, inf where it is certain and wrong), not `inf - inf = NaN`, in f32
    /// and f64; the gradients `(σ(z) - y)/m` and `(softmax(z) - y)/m` are exactly 0 there.
    fn losses_at_infinite_logits<T: Float>() {
        let inf = f64::INFINITY;
        let z = Tensor::<T>::from_f64_slice(&[inf, -inf], &[1, 2]).to_leaf();
        let y = Tensor::<T>::from_f64_slice(&[1.0, 0.0], &[1, 2]);
        let cost = bce_with_logits(&z, &y);
        assert_eq!(cost.item().as_f64(), 0.0);
        cost.backward();
        assert_eq!(z.grad().unwrap().to_f64_vec(), [0.0, 0.0]);
        let wrong = Tensor::<T>::from_f64_slice(&[0.0, 1.0], &[1, 2]);
        assert_eq!(bce_with_logits(&z, &wrong).item().as_f64(), inf);
        // Classes along axis 0: the first example is certain of class 0, the second has a
        // -inf logit for the class it is not.
        let z = Tensor::<T>::from_f64_slice(&[inf, -inf, 0.0, 0.0], &[2, 2]).to_leaf();
        let y = Tensor::<T>::from_f64_slice(&[1.0, 0.0, 0.0, 1.0], &[2, 2]);
        let cost = softmax_cross_entropy(&z, &y);
        assert_eq!(cost.item().as_f64(), 0.0);
        cost.backward();
        assert_eq!(z.grad().unwrap().to_f64_vec(), [0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn losses_at_infinite_logits_f32_f64() {
        losses_at_infinite_logits::<f32>();
        losses_at_infinite_logits::<f64>();
    }

    #[test]
    fn penalties_refuse_a_negative_or_non_finite_lambda() {
        for (lambd, what) in [(-0.1, "-0.1"), (f64::NAN, "NaN"), (f64::INFINITY, "inf")] {
            for (name, f) in [
                (
                    "l2_penalty",
                    l2_penalty::<f64> as fn(&[Param<f64>], f64, usize) -> Tensor<f64>,
                ),
                ("l1_penalty", l1_penalty::<f64>),
            ] {
                let message = std::panic::catch_unwind(|| f(&params(), lambd, 4))
                    .expect_err("refused")
                    .downcast::<String>()
                    .expect("a formatted message");
                assert_eq!(
                    *message,
                    format!("{name}: lambda must be finite and >= 0, got {what}")
                );
            }
        }
        // 0 is allowed (no penalty).
        assert_eq!(l2_penalty(&params(), 0.0, 4).item(), 0.0);
    }
}
