//! Gradient checks of a function of tensors: numerical gradients by central differences,
//!
//! ```text
//! ∂f/∂θᵢ ≈ (f(θ + ε eᵢ) − f(θ − ε eᵢ)) / 2ε
//! ```
//!
//! compared with autodiff in the relative difference `‖a − b‖₂ / (‖a‖₂ + ‖b‖₂)` and the largest
//! absolute error ([`Agreement`](super::Agreement)), overall and per input, in the one report
//! format of this module ([`GradientCheckReport`]). [`gradgradcheck`] does the same one order
//! higher: the gradient of a directional derivative (a Hessian-vector product through
//! `create_graph`) against central differences of the gradient.

use crate::autograd::{grad, no_grad, BackwardOptions};
use crate::check::report::{build_report, CheckConfig, GradientCheckReport};
use crate::{Float, Tensor};

/// Display name of input `i`: its tensor name if it has one.
pub fn input_name<T: Float>(t: &Tensor<T>, i: usize) -> String {
    t.name()
        .map_or_else(|| format!("input {i}"), |n| n.to_string())
}

/// Compares gradients `analytic` (under test) with `reference` (central differences, or
/// another implementation), input by input. `names` label the inputs in the report.
#[track_caller]
pub fn compare_gradients<T: Float>(
    names: &[String],
    analytic: &[Tensor<T>],
    reference: &[Tensor<T>],
    config: CheckConfig,
) -> GradientCheckReport {
    assert!(
        names.len() == analytic.len() && analytic.len() == reference.len(),
        "compare_gradients: {} names, {} analytic and {} reference gradients",
        names.len(),
        analytic.len(),
        reference.len()
    );
    for ((name, a), r) in names.iter().zip(analytic).zip(reference) {
        assert!(
            a.shape() == r.shape(),
            "compare_gradients: gradients of {name} have shapes {:?} and {:?}",
            a.shape(),
            r.shape()
        );
    }
    let shapes: Vec<Vec<usize>> = analytic.iter().map(|t| t.shape().to_vec()).collect();
    let flat = |ts: &[Tensor<T>]| ts.iter().map(Tensor::to_f64_vec).collect::<Vec<_>>();
    build_report(
        config,
        names,
        &shapes,
        flat(analytic),
        None,
        flat(reference),
    )
}

/// Numerical gradient of the scalar `f` at `inputs` by central differences. `f` is
/// evaluated without recording a graph; each component costs two evaluations.
pub fn numerical_gradient<T: Float>(
    f: &dyn Fn(&[Tensor<T>]) -> Tensor<T>,
    inputs: &[Tensor<T>],
    epsilon: f64,
) -> Vec<Tensor<T>> {
    no_grad(|| {
        let mut point: Vec<Tensor<T>> = inputs.iter().map(Tensor::detach).collect();
        let eps = T::from_f64(epsilon);
        let two_eps = T::from_f64(2.0 * epsilon);
        let mut grads = Vec::with_capacity(inputs.len());
        for i in 0..inputs.len() {
            let base = inputs[i].to_vec();
            let shape = inputs[i].shape().to_vec();
            let mut g = Vec::with_capacity(base.len());
            let mut values = base.clone();
            for k in 0..base.len() {
                values[k] = base[k] + eps;
                point[i] = Tensor::from_vec(values.clone(), &shape);
                let plus = scalar_of(&f(&point));
                values[k] = base[k] - eps;
                point[i] = Tensor::from_vec(values.clone(), &shape);
                let minus = scalar_of(&f(&point));
                values[k] = base[k];
                g.push((plus - minus) / two_eps);
            }
            point[i] = Tensor::from_vec(base, &shape);
            grads.push(Tensor::from_vec(g, &shape));
        }
        grads
    })
}

#[track_caller]
fn scalar_of<T: Float>(t: &Tensor<T>) -> T {
    assert!(
        t.numel() == 1,
        "gradcheck: the function must return a scalar, got shape {:?}",
        t.shape()
    );
    t.item()
}

/// Autodiff gradients of the scalar `f` at `inputs` (fresh leaves; nothing else is touched).
pub fn autodiff_gradient<T: Float>(
    f: &dyn Fn(&[Tensor<T>]) -> Tensor<T>,
    inputs: &[Tensor<T>],
) -> Vec<Tensor<T>> {
    let leaves: Vec<Tensor<T>> = inputs.iter().map(|t| leaf_like(t)).collect();
    let out = f(&leaves);
    let refs: Vec<&Tensor<T>> = leaves.iter().collect();
    grad(&out, &refs, BackwardOptions::default())
}

fn leaf_like<T: Float>(t: &Tensor<T>) -> Tensor<T> {
    let leaf = t.to_leaf();
    if let Some(name) = t.name() {
        leaf.set_name(&name);
    }
    leaf
}

/// Checks the autodiff gradient of the scalar `f` at `inputs` against central differences.
///
/// ```
/// use engine::check::{gradcheck, CheckConfig};
/// use engine::Tensor;
/// let x = Tensor::<f64>::from_vec(vec![0.3, -1.2, 2.0], &[3]).named("x");
/// let report = gradcheck(&|v: &[Tensor<f64>]| (v[0].tanh() * &v[0]).sum(), &[x], CheckConfig::default());
/// report.assert_passed();
/// ```
pub fn gradcheck<T: Float>(
    f: &dyn Fn(&[Tensor<T>]) -> Tensor<T>,
    inputs: &[Tensor<T>],
    config: CheckConfig,
) -> GradientCheckReport {
    let analytic = autodiff_gradient(f, inputs);
    let numeric = numerical_gradient(f, inputs, config.epsilon);
    let names: Vec<String> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| input_name(t, i))
        .collect();
    compare_gradients(&names, &analytic, &numeric, config)
}

/// Second-order check: with a fixed direction `v` per input, `h(x) = Σᵢ ⟨∂f/∂xᵢ(x), vᵢ⟩` is
/// differentiated by autodiff through the recorded backward pass (`create_graph`), giving the
/// Hessian-vector product `H v`, and compared with central differences of `h`.
pub fn gradgradcheck<T: Float>(
    f: &dyn Fn(&[Tensor<T>]) -> Tensor<T>,
    inputs: &[Tensor<T>],
    config: CheckConfig,
) -> GradientCheckReport {
    // A deterministic, irregular direction so no component of H v cancels by symmetry.
    let directions: Vec<Tensor<T>> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let data = (0..t.numel())
                .map(|k| T::from_f64(((k * 7 + i * 3 + 1) as f64 * 0.618_033_988_75).fract() - 0.4))
                .collect();
            Tensor::from_vec(data, t.shape())
        })
        .collect();
    let directional = move |xs: &[Tensor<T>]| -> Tensor<T> {
        let _mode = crate::autograd::set_grad_enabled(true);
        let leaves: Vec<Tensor<T>> = xs
            .iter()
            .map(|x| {
                if x.requires_grad() {
                    x.clone()
                } else {
                    x.to_leaf()
                }
            })
            .collect();
        let out = f(&leaves);
        let refs: Vec<&Tensor<T>> = leaves.iter().collect();
        let grads = grad(&out, &refs, BackwardOptions { create_graph: true });
        let mut total = Tensor::scalar(T::zero());
        for (g, v) in grads.iter().zip(&directions) {
            total = total + (g * v).sum();
        }
        total
    };
    gradcheck(&directional, inputs, config)
}
