//! The three-way gradient check: autodiff, your hand-written backward, and central differences,
//! compared per named parameter in the relative difference
//!
//! ```text
//! d = ‖a − b‖₂ / (‖a‖₂ + ‖b‖₂)
//! ```
//!
//! plus the largest absolute error, with the worst components listed. See [`check_gradients`].

use crate::autograd::{grad, no_grad, BackwardOptions};
use crate::check::gradcheck::numerical_gradient;
use crate::check::report::{build_report, CheckConfig, GradientCheckReport};
use crate::check::NamedTensors;
use crate::{Float, Tensor};

/// A hand-written backward: parameter values in, named gradients out.
pub type HandWritten<'a, T> = dyn Fn(&NamedTensors<T>) -> NamedTensors<T> + 'a;

/// Compares, for every named parameter, the gradient of `loss` by reverse-mode autodiff, by
/// your `hand_written` backward when given, and by central differences , in the
/// relative difference  and the largest absolute error.
///
/// - `loss` receives the parameters under their names and returns a scalar. It is called on
///   fresh leaves for autodiff (your tensors' `.grad` are not touched) and on perturbed
///   copies, without recording, for the numerical gradient: two calls per component.
/// - `hand_written` receives the parameters' current values and returns their gradients,
///   named as the parameters (`W1`) or as the course's `grads` dictionaries name them (`dW1`);
///   other entries (`dA1`, `dZ2`, ...) are ignored.
///
/// Use f64 (see [`CheckConfig::for_type`] for f32) and keep the problem small.
///
/// ```
/// use engine::check::{check_gradients, CheckConfig, NamedTensors};
/// use engine::Tensor;
///
/// // One dense layer with a sigmoid output and the mean binary cross-entropy, examples as
/// // columns: X is (2, 3), W (1, 2), b (1, 1).
/// let x = Tensor::<f64>::from_vec(vec![0.5, -1.0, 2.0, 1.5, 0.3, -0.7], &[2, 3]);
/// let y = Tensor::<f64>::from_vec(vec![1.0, 0.0, 1.0], &[1, 3]);
/// let params = NamedTensors::from([
///     ("W1", Tensor::from_vec(vec![0.2, -0.4], &[1, 2])),
///     ("b1", Tensor::from_vec(vec![0.1], &[1, 1])),
/// ]);
/// let loss = |p: &NamedTensors<f64>| {
///     let z = p["W1"].matmul(&x) + &p["b1"];
///     engine::loss::binary_cross_entropy_with_logits(&z, &y)
/// };
/// // The course's formulas: dZ = A − Y, dW = dZ·Xᵀ / m, db = Σ dZ / m.
/// let hand = |p: &NamedTensors<f64>| {
///     let a = (p["W1"].matmul(&x) + &p["b1"]).sigmoid();
///     let dz = a - &y;
///     NamedTensors::from([("dW1", dz.matmul(&x.t()) / 3.0), ("db1", dz.sum_axis(1, true) / 3.0)])
/// };
/// let report = check_gradients(&params, &loss, Some(&hand), CheckConfig::default());
/// println!("{report}");
/// report.assert_passed();
/// ```
#[track_caller]
pub fn check_gradients<T: Float>(
    params: &NamedTensors<T>,
    loss: &dyn Fn(&NamedTensors<T>) -> Tensor<T>,
    hand_written: Option<&HandWritten<'_, T>>,
    config: CheckConfig,
) -> GradientCheckReport {
    assert!(!params.is_empty(), "check_gradients: no parameters given");
    let names: Vec<String> = params.names().map(str::to_string).collect();

    let leaves = params.map(|name, t| t.to_leaf().named(name));
    let out = loss(&leaves);
    assert!(
        out.numel() == 1,
        "check_gradients: the loss must be a scalar, got shape {:?}",
        out.shape()
    );
    let refs: Vec<&Tensor<T>> = leaves.tensors().collect();
    let autodiff = grad(&out, &refs, BackwardOptions::default());
    drop(out);

    let hand: Option<Vec<Tensor<T>>> = hand_written.map(|h| {
        let values = params.map(|_, t| t.detach());
        let grads = no_grad(|| h(&values));
        names
            .iter()
            .zip(params.tensors())
            .map(|(name, p)| {
                let g = grads.gradient_of(name).unwrap_or_else(|| {
                    panic!(
                        "check_gradients: the hand-written backward returned no gradient for \
                         {name:?} (looked for {name:?} and \"d{name}\"); it returned {:?}",
                        grads.names().collect::<Vec<_>>()
                    )
                });
                assert!(
                    g.shape() == p.shape(),
                    "check_gradients: the hand-written gradient of {name} has shape {:?}, the \
                     parameter has shape {:?}",
                    g.shape(),
                    p.shape()
                );
                g.clone()
            })
            .collect()
    });

    let flat = |values: &[Tensor<T>]| -> NamedTensors<T> {
        names.iter().cloned().zip(values.iter().cloned()).collect()
    };
    let as_slice_fn = |values: &[Tensor<T>]| loss(&flat(values));
    let points: Vec<Tensor<T>> = params.tensors().map(Tensor::detach).collect();
    let numerical = numerical_gradient(&as_slice_fn, &points, config.epsilon);

    let shapes: Vec<Vec<usize>> = params.tensors().map(|t| t.shape().to_vec()).collect();
    let flat = |ts: &[Tensor<T>]| ts.iter().map(Tensor::to_f64_vec).collect::<Vec<_>>();
    build_report(
        config,
        &names,
        &shapes,
        flat(&autodiff),
        hand.as_deref().map(flat),
        flat(&numerical),
    )
}
