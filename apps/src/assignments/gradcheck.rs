//! Gradient checking (the course's exercise, chapter 6.8): the 1-D check of
//! `J(θ) = θx`, then the N-D check of the `[4,5,3,1]` network with the engine's three-way check
//! (through [`nn::check::ModuleCheck`]): the course's `backward_propagation_n` (with its two
//! planted bugs, `dW2` doubled and `db1` four times too large, then with them fixed) against
//! central differences of the course's cost, and the engine's autodiff of the same network,
//! built from `nn` layers, against both.
//!
//! The course computes its cost from the probabilities, `-log(a3)·y - log(1 - a3)·(1 - y)`;
//! central differences of that cost lose digits to the cancellation in `1 - a3` and agree with
//! the exact gradient only to ~1e-7 (the fixed backward pass's 1.19e-7 is that error, not a
//! mistake). The autodiff lines difference the same cost computed from the logits
//! (`nn::loss::bce_with_logits`), where autodiff, the fixed backward pass and central
//! differences agree to ~1e-9.
//!
//! The N-D test case is drawn as the course's `gradient_check_n_test_case`: `np.random.seed(1)`,
//! `x = randn(4, 3)`, `y = [1, 1, 0]`, then `W1, b1, W2, b2, W3, b3` with `randn` in that order.

use engine::check::{Agreement, CheckConfig, GradientCheckReport, NamedTensors, ParamCheck};
use engine::random::NumpyRng;
use engine::Tensor;
use nn::check::{ModuleCheck, ModuleLoss};
use nn::{Activation, Dense, Param, Sequential};
use serde::Serialize;

use super::{AppError, Context};
use crate::backprop::{self, Output};
use crate::cli::GradcheckArgs;
use crate::pyfmt::py_float;
use crate::report::Component;

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
    /// The components where the three methods disagree most, worst first.
    pub worst: Vec<Component>,
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
    /// The engine's autodiff of the `nn` network (cost from logits) vs numerical.
    pub autodiff_vs_numerical: Comparison,
    /// The engine's autodiff vs the fixed hand-derived backward pass.
    pub autodiff_vs_hand: Comparison,
    /// The engine's three-way report with the planted bugs, as printed (a table per gradient).
    #[serde(skip)]
    pub buggy_report: String,
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

/// The `[4,5,3,1]` network as `nn` layers holding copies of the given `W1, b1, ...`, ReLU on
/// the hidden layers and `output` on the last: `Sigmoid` is the course's
/// `forward_propagation_n`, `Identity` gives logits.
pub fn nn_model(p: &NamedTensors<f64>, output: Activation) -> Sequential<f64> {
    let mut model = Sequential::new(vec![]);
    for l in 1..=3 {
        model.push(Dense::from_parameters(
            p[format!("W{l}").as_str()].clone(),
            p[format!("b{l}").as_str()].clone(),
        ));
        model.push(if l < 3 { Activation::Relu } else { output });
    }
    model
}

/// The course's `forward_propagation_n` cost, from the probabilities `a3` as it computes it
/// (so that its central differences are NumPy's bit for bit):
/// `logprobs = -log(a3)·y - log(1 - a3)·(1 - y)`, `cost = 1./m * np.sum(logprobs)`.
pub fn course_cost(a3: &Tensor<f64>, y: &Tensor<f64>) -> Tensor<f64> {
    let logprobs = -a3.log() * y + -(-a3 + 1.0).log() * (-y + 1.0);
    logprobs.sum() * (1.0 / y.shape()[1] as f64)
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

/// A comparison from the engine's report: `agreement` picks which pair of methods.
fn comparison(
    what: &str,
    report: &GradientCheckReport,
    agreement: impl Fn(&ParamCheck) -> Agreement,
) -> Comparison {
    let difference = agreement(&report.overall).relative_difference;
    let mut worst: Vec<(f64, Component)> = report
        .params
        .iter()
        .flat_map(|p| {
            p.worst.iter().map(|c| {
                (
                    c.spread(),
                    Component {
                        param: p.name.clone(),
                        index: c.index.clone(),
                        autodiff: c.autodiff,
                        hand_derived: c.hand_written,
                        numerical: c.numerical,
                    },
                )
            })
        })
        .collect();
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    Comparison {
        what: what.to_string(),
        difference,
        passed: difference < THRESHOLD,
        per_gradient: report
            .params
            .iter()
            .map(|p| (format!("d{}", p.name), agreement(p).relative_difference))
            .collect(),
        wrong: report
            .params
            .iter()
            .filter(|p| agreement(p).relative_difference > WRONG_GRADIENT)
            .map(|p| format!("d{}", p.name))
            .collect(),
        worst: worst.into_iter().take(5).map(|(_, c)| c).collect(),
    }
}

/// Runs every check.
pub fn check(args: &GradcheckArgs) -> GradcheckOutput {
    let (x, y, params) = test_case(args.data_seed);
    let values = NamedTensors::from_layers(&params);
    // The network is built once; the checks set its parameters to each point they evaluate.
    let probabilities = nn_model(&values, Activation::Sigmoid);
    let logits = nn_model(&values, Activation::Identity);
    let course_loss = |a3: &Tensor<f64>, y: &Tensor<f64>, _: &[Param<f64>]| course_cost(a3, y);
    let logit_loss =
        |z: &Tensor<f64>, y: &Tensor<f64>, _: &[Param<f64>]| nn::loss::bce_with_logits(z, y);
    let (x, y) = (&x, &y);
    let backward = |planted_bugs: bool| {
        move |p: &NamedTensors<f64>| {
            let list: Vec<Tensor<f64>> = p.tensors().cloned().collect();
            NamedTensors::from_layers(&course_backward(x, y, &list, planted_bugs))
        }
    };
    // Per gradient, a difference above WRONG_GRADIENT marks a mistake (see its doc); the
    // course's 2e-7 applies to the whole vector.
    let config = CheckConfig {
        epsilon: args.epsilon,
        ..CheckConfig::default()
    }
    .relative(WRONG_GRADIENT);
    let check = |model: &Sequential<f64>, loss: &ModuleLoss<'_, f64>, planted_bugs: bool| {
        ModuleCheck::new(model, x, y, loss)
            .hand_written(&backward(planted_bugs))
            .config(config)
            .run()
    };
    let buggy = check(&probabilities, &course_loss, true);
    let fixed = check(&probabilities, &course_loss, false);
    // The same gradient, of the same cost written from the logits: its central differences
    // lose fewer digits (see the module documentation).
    let logits = check(&logits, &logit_loss, false);
    let hand = |p: &ParamCheck| {
        p.hand_vs_numerical
            .expect("a hand-written backward was given")
    };
    GradcheckOutput {
        run: "gradcheck".into(),
        one_d_difference: one_d(args.epsilon),
        buggy: comparison(
            "course backward_propagation_n (planted bugs) vs numerical",
            &buggy,
            hand,
        ),
        fixed: comparison(
            "course backward_propagation_n (bugs fixed) vs numerical",
            &fixed,
            hand,
        ),
        autodiff_vs_numerical: comparison(
            "ferrograd autodiff (nn model, cost from logits) vs numerical",
            &logits,
            |p| p.autodiff_vs_numerical,
        ),
        autodiff_vs_hand: comparison(
            "ferrograd autodiff vs hand-derived backprop (bugs fixed)",
            &logits,
            |p| {
                p.autodiff_vs_hand
                    .expect("a hand-written backward was given")
            },
        ),
        buggy_report: buggy.to_string(),
    }
}

fn describe(c: &Comparison) -> String {
    let verdict = if c.passed {
        "Your backward propagation works perfectly fine!"
    } else {
        "There is a mistake in the backward propagation!"
    };
    let mut s = format!(
        "{}: difference = {} -> {verdict}",
        c.what,
        py_float(c.difference)
    );
    if !c.wrong.is_empty() {
        s += &format!("\n  wrong gradients: {}", c.wrong.join(", "));
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
                py_float(out.one_d_difference),
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
            format!(
                "\nThe engine's three-way check with the planted bugs (per gradient, 'ok' below \
                 {WRONG_GRADIENT:e}):\n{}",
                out.buggy_report.trim_end()
            ),
        ]
        .join("\n")
    });
    Ok(out)
}
