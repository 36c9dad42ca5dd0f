//! Gradient checking (the course's exercise, seed 001 section 6.8): the 1-D check of
//! `J(θ) = θx`, the N-D check of the [4,5,3,1] network against the course's
//! `backward_propagation_n` with its two planted bugs (`dW2` doubled, `db1` four times too large)
//! and with them fixed, and the same check on the engine's autodiff gradients of that network
//! built from `nn` layers.
//!
//! The N-D test case is drawn as the course's `gradient_check_n_test_case`: `np.random.seed(1)`,
//! `x = randn(4, 3)`, `y = [1, 1, 0]`, then `W1, b1, W2, b2, W3, b3` with `randn` in that order.

use engine::gradcheck::{compare_gradients, numerical_gradient, GradcheckReport};
use engine::random::NumpyRng;
use engine::{no_grad, Tensor};
use nn::{Activation, Dense, Module, Sequential};
use serde::Serialize;

use super::{AppError, Context};
use crate::backprop::{self, Output};
use crate::cli::GradcheckArgs;
use crate::net::param_names;
use crate::report::WorstComponent;

/// The course's threshold: a difference above it means "there is a mistake in the backward
/// propagation".
pub const THRESHOLD: f64 = 2e-7;

/// A single gradient is named wrong above this difference. The course's 2e-7 is meant for the
/// whole vector: on one gradient, central differences of the course's cost (computed from
/// probabilities, near ReLU kinks) already err by up to ~3e-7 (`db3` of the test case), while a
/// real mistake such as the planted ones is off by tenths.
pub const WRONG_GRADIENT: f64 = 1e-4;

/// One N-D comparison, as printed and in JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// What was compared with what.
    pub what: String,
    /// The course's difference (6.57) over the whole parameter vector.
    pub difference: f64,
    /// Whether it passes the course's threshold 2e-7.
    pub passed: bool,
    /// Difference per gradient (`dW1`, `db1`, ...).
    pub per_gradient: Vec<(String, f64)>,
    /// Gradients whose own difference exceeds [`WRONG_GRADIENT`].
    pub wrong: Vec<String>,
    /// The components that disagree most.
    pub worst: Vec<WorstComponent>,
}

/// Everything `apps gradcheck` reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GradcheckOutput {
    /// Always `gradcheck`.
    pub run: String,
    /// The 1-D check's difference (the course prints 2.919335883291695e-10).
    pub one_d_difference: f64,
    /// The course's backward pass with its planted bugs vs numerical.
    pub buggy: Comparison,
    /// The backward pass with the bugs fixed vs numerical.
    pub fixed: Comparison,
    /// The engine's autodiff of the `nn` network vs numerical.
    pub autodiff_vs_numerical: Comparison,
    /// The engine's autodiff vs the fixed hand-derived backward pass.
    pub autodiff_vs_hand: Comparison,
}

/// The course's 1-D check: `J = θx` at `x = 2`, `θ = 4`, written as the course's code.
pub fn one_d(epsilon: f64) -> f64 {
    let (x, theta) = (2.0_f64, 4.0_f64);
    let j_plus = (theta + epsilon) * x;
    let j_minus = (theta - epsilon) * x;
    let gradapprox = (j_plus - j_minus) / (2.0 * epsilon);
    let grad = x;
    let numerator = (grad - gradapprox).abs();
    let denominator = grad.abs() + gradapprox.abs();
    numerator / denominator
}

/// The N-D test case: `(X, Y, [W1, b1, W2, b2, W3, b3])`.
pub fn test_case(seed: u32) -> (Tensor<f64>, Tensor<f64>, Vec<Tensor<f64>>) {
    let mut rng = NumpyRng::new(seed);
    let x = rng.randn::<f64>(&[4, 3]);
    let y = Tensor::from_vec(vec![1.0, 1.0, 0.0], &[1, 3]);
    let shapes: [&[usize]; 6] = [&[5, 4], &[5, 1], &[3, 5], &[3, 1], &[1, 3], &[1, 1]];
    let params = shapes.iter().map(|s| rng.randn::<f64>(s)).collect();
    (x, y, params)
}

/// The course's `forward_propagation_n` cost, from probabilities as it computes it:
/// `1/m Σ (-log(a3)·y - log(1 - a3)·(1 - y))`.
pub fn course_cost(x: &Tensor<f64>, y: &Tensor<f64>, params: &[Tensor<f64>]) -> f64 {
    no_grad(|| {
        let cache = backprop::forward(x, params, Output::Sigmoid, None, 1.0);
        let a3 = &cache.activations[3];
        let logprobs = -a3.log() * y + -(-a3 + 1.0).log() * (-y + 1.0);
        logprobs.sum().item() * (1.0 / y.shape()[1] as f64)
    })
}

/// The course's `backward_propagation_n`: correct, or with its two planted bugs.
pub fn course_backward(
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    params: &[Tensor<f64>],
    planted_bugs: bool,
) -> Vec<Tensor<f64>> {
    let cache = backprop::forward(x, params, Output::Sigmoid, None, 1.0);
    let mut grads = backprop::backward(y, &cache, params, 0.0, 1.0);
    if planted_bugs {
        grads[2] = &grads[2] * 2.0; // dW2 = 1./m * np.dot(dZ2, A1.T) * 2
        grads[1] = &grads[1] * 4.0; // db1 = 4./m * np.sum(dZ1, axis=1, keepdims=True)
    }
    grads
}

/// The [4,5,3,1] network as `nn` layers holding `params`, with a logit output.
pub fn nn_model(params: &[Tensor<f64>]) -> Sequential<f64> {
    let mut layers: Vec<Box<dyn Module<f64>>> = vec![];
    for l in 0..params.len() / 2 {
        layers.push(Box::new(Dense::from_parameters(
            params[2 * l].clone(),
            params[2 * l + 1].clone(),
        )));
        if 2 * l + 2 < params.len() {
            layers.push(Box::new(Activation::Relu));
        }
    }
    Sequential::new(layers)
}

/// The autodiff gradients of the `nn` model's mean BCE (from logits) at `params`.
pub fn autodiff_gradients(
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    params: &[Tensor<f64>],
) -> Vec<Tensor<f64>> {
    let mut model = nn_model(params);
    let loss = nn::loss::bce_with_logits(&model.forward(x), y);
    loss.backward();
    model
        .parameters()
        .iter()
        .map(|p| p.grad().expect("every parameter gets a gradient"))
        .collect()
}

fn comparison(what: &str, report: &GradcheckReport) -> Comparison {
    Comparison {
        what: what.to_string(),
        difference: report.relative_difference,
        passed: report.relative_difference < THRESHOLD,
        per_gradient: report
            .inputs
            .iter()
            .map(|i| (i.name.clone(), i.relative_difference))
            .collect(),
        wrong: report
            .failing_inputs(WRONG_GRADIENT)
            .into_iter()
            .map(str::to_string)
            .collect(),
        worst: report
            .worst
            .iter()
            .map(|c| WorstComponent {
                param: c.input.clone(),
                index: c.index.clone(),
                autodiff: c.analytic,
                reference: c.numeric,
            })
            .collect(),
    }
}

/// Runs every check.
pub fn check(args: &GradcheckArgs) -> GradcheckOutput {
    let (x, y, params) = test_case(args.data_seed);
    let grad_names: Vec<String> = param_names(3).iter().map(|n| format!("d{n}")).collect();
    let cost = |p: &[Tensor<f64>]| Tensor::scalar(course_cost(&x, &y, p));
    let numeric = numerical_gradient(&cost, &params, args.epsilon);
    let buggy = compare_gradients(
        &grad_names,
        &course_backward(&x, &y, &params, true),
        &numeric,
        5,
    );
    let fixed = compare_gradients(
        &grad_names,
        &course_backward(&x, &y, &params, false),
        &numeric,
        5,
    );

    // The nn model's loss from logits, differenced numerically on its own.
    let model_cost = |p: &[Tensor<f64>]| {
        let mut model = nn_model(p);
        no_grad(|| nn::loss::bce_with_logits(&model.forward(&x), &y))
    };
    let model_numeric = numerical_gradient(&model_cost, &params, args.epsilon);
    let auto = autodiff_gradients(&x, &y, &params);
    let vs_numerical = compare_gradients(&grad_names, &auto, &model_numeric, 5);
    let vs_hand = compare_gradients(
        &grad_names,
        &auto,
        &course_backward(&x, &y, &params, false),
        5,
    );
    GradcheckOutput {
        run: "gradcheck".into(),
        one_d_difference: one_d(args.epsilon),
        buggy: comparison(
            "course backward_propagation_n (planted bugs) vs numerical",
            &buggy,
        ),
        fixed: comparison(
            "course backward_propagation_n (bugs fixed) vs numerical",
            &fixed,
        ),
        autodiff_vs_numerical: comparison(
            "ferrograd autodiff (nn model) vs numerical",
            &vs_numerical,
        ),
        autodiff_vs_hand: comparison("ferrograd autodiff vs hand-derived backprop", &vs_hand),
    }
}

fn describe(c: &Comparison) -> String {
    let verdict = if c.passed {
        "Your backward propagation works perfectly fine!"
    } else {
        "There is a mistake in the backward propagation!"
    };
    let mut s = format!("{}: difference = {} -> {verdict}", c.what, c.difference);
    if !c.wrong.is_empty() {
        s += &format!("\n  wrong gradients: {}", c.wrong.join(", "));
    }
    for w in c.worst.iter().take(3) {
        s += &format!(
            "\n  {}{:?}: analytic {:.10}, reference {:.10}",
            w.param, w.index, w.autodiff, w.reference
        );
    }
    s
}

/// `apps gradcheck`.
pub fn run(ctx: &Context, args: &GradcheckArgs) -> Result<GradcheckOutput, AppError> {
    if !(args.epsilon > 0.0 && args.epsilon.is_finite()) {
        return Err(AppError(format!(
            "--epsilon {} must be positive",
            args.epsilon
        )));
    }
    let out = check(args);
    ctx.reporter.emit(&out, || {
        [
            format!(
                "1-D check J = theta*x: difference = {} -> {}",
                out.one_d_difference,
                if out.one_d_difference < THRESHOLD {
                    "The gradient is correct!"
                } else {
                    "The gradient is wrong!"
                }
            ),
            describe(&out.buggy),
            describe(&out.fixed),
            describe(&out.autodiff_vs_numerical),
            describe(&out.autodiff_vs_hand),
        ]
        .join("\n")
    });
    Ok(out)
}
