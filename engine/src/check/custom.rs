//! Checking user-defined operations ([`CustomOp`]) so that a wrong backward is caught before it
//! trains anything.
//!
//! - [`check_custom_op`]: draws random inputs of the shapes you give and a random output
//!   gradient `v`, and compares the op's backward `Jᵀv` with central differences of
//!   `⟨v, forward(x)⟩`, component by component, per input. A random `v` (not all ones) matters:
//!   a backward that forgets to multiply by the incoming gradient passes with `v = 1`.
//! - [`set_custom_op_checking`]: opt in to an automatic check the first time each op (by name
//!   and element type) is applied, on the actual inputs of that call: cheap (two random
//!   directions, four forward evaluations, one backward), it compares `⟨Jᵀv, u⟩` with the
//!   directional derivative `⟨v, (f(x+εu) − f(x−εu)) / 2ε⟩` and panics with a report when they
//!   disagree. [`FirstUseCheck::DebugBuilds`] does this only when `debug_assertions` are on.
//!
//! ```
//! use std::sync::Arc;
//! use engine::check::{check_custom_op, CustomOpCheck};
//! use engine::autograd::CustomOp;
//! use engine::autograd::rules::InputGrads;
//! use engine::Tensor;
//!
//! /// softplus(x) = log(1 + eˣ), computed stably; its derivative is σ(x).
//! struct Softplus;
//! impl CustomOp<f64> for Softplus {
//!     fn name(&self) -> &'static str { "softplus" }
//!     fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
//!         x[0].relu() + (-x[0].abs()).exp().add(&Tensor::scalar(1.0)).log()
//!     }
//!     fn backward(&self, x: &[Tensor<f64>], _y: &Tensor<f64>, g: &Tensor<f64>) -> InputGrads<f64> {
//!         [Some(g * x[0].sigmoid())].into_iter().collect()
//!     }
//! }
//! let report = check_custom_op(&Softplus, &[&[3, 4]], CustomOpCheck::default());
//! report.assert_passed();
//! let y = Tensor::apply_custom(Arc::new(Softplus), &[&Tensor::parameter(vec![0.5], &[1])]);
//! ```

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::autograd::no_grad;
use crate::autograd::observer::{observe_globally, Observer, ObserverGuard};
use crate::autograd::CustomOp;
use crate::check::gradcheck::{compare_gradients, numerical_gradient};
use crate::check::report::{CheckConfig, GradientCheckReport};
use crate::check::tolerance::{Agreement, Tolerance};
use crate::{Float, Tensor};

/// Settings of [`check_custom_op`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CustomOpCheck {
    /// Seed of the random inputs and output gradient.
    pub seed: u64,
    /// Inputs are drawn uniformly from `[low, high)`: narrow it for ops with a restricted
    /// domain (`(0.1, 2.0)` for a logarithm, say).
    pub low: f64,
    /// See `low`.
    pub high: f64,
    /// Step of the central differences.
    pub epsilon: f64,
    /// What passes (see [`Tolerance`]).
    pub tolerance: Tolerance,
    /// How many of the worst components to list.
    pub worst: usize,
}

impl Default for CustomOpCheck {
    /// For f64: inputs in `[-2, 2)`, ε = 1e-6, relative tolerance 1e-6 (absolute 1e-8).
    fn default() -> Self {
        CustomOpCheck {
            seed: 0,
            low: -2.0,
            high: 2.0,
            epsilon: 1e-6,
            tolerance: Tolerance {
                relative: 1e-6,
                absolute: 1e-8,
            },
            worst: 5,
        }
    }
}

impl CustomOpCheck {
    /// [`CustomOpCheck::default`] for f64; for f32, ε = 1e-3 and [`Tolerance::for_type`]
    /// (relative 1e-2, absolute 1e-3).
    pub fn for_type<T: Float>() -> Self {
        let mut c = Self::default();
        if Tolerance::single_precision::<T>() {
            c.epsilon = 1e-3;
            c.tolerance = Tolerance::for_type::<T>();
        }
        c
    }

    /// The same settings with inputs drawn from `[low, high)`.
    pub fn range(mut self, low: f64, high: f64) -> Self {
        self.low = low;
        self.high = high;
        self
    }
}

/// The result of [`check_custom_op`].
#[derive(Clone, Debug, PartialEq)]
pub struct CustomOpReport {
    /// The op's name.
    pub op: String,
    /// The input shapes checked.
    pub input_shapes: Vec<Vec<usize>>,
    /// Inputs for which the backward returned `None` (not differentiable, not checked).
    pub not_differentiable: Vec<usize>,
    /// Backward (in the report's `autodiff` column) against central differences, per
    /// differentiable input; the report's settings hold the tolerance.
    pub report: GradientCheckReport,
}

impl CustomOpReport {
    /// Whether every comparison passes (a NaN fails).
    pub fn passed(&self) -> bool {
        self.report.passed()
    }

    /// Panics with the printed report unless [`CustomOpReport::passed`].
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "{self}");
    }
}

impl fmt::Display for CustomOpReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() {
            "passed"
        } else {
            "FAILED: its backward disagrees with central differences"
        };
        writeln!(
            f,
            "custom op `{}` on random inputs of shapes {:?}: {verdict}",
            self.op, self.input_shapes
        )?;
        if !self.not_differentiable.is_empty() {
            writeln!(
                f,
                "inputs without gradient (backward returned None): {:?}",
                self.not_differentiable
            )?;
        }
        write!(f, "{}", self.report)
    }
}

pub(crate) fn uniform<T: Float>(
    shape: &[usize],
    low: f64,
    high: f64,
    rng: &mut StdRng,
) -> Tensor<T> {
    let u = Tensor::<f64>::sample_uniform(shape, rng);
    let data = u
        .to_vec()
        .into_iter()
        .map(|x| T::from_f64(low + (high - low) * x))
        .collect();
    Tensor::from_vec(data, shape)
}

/// Checks the backward of `op` against central differences on random inputs of the given
/// shapes (see the [module docs](self)). Panics, naming the op, if the backward returns the
/// wrong number of gradients or a gradient of the wrong shape.
#[track_caller]
pub fn check_custom_op<T: Float>(
    op: &dyn CustomOp<T>,
    input_shapes: &[&[usize]],
    options: CustomOpCheck,
) -> CustomOpReport {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let inputs: Vec<Tensor<T>> = input_shapes
        .iter()
        .map(|s| uniform(s, options.low, options.high, &mut rng))
        .collect();
    no_grad(|| {
        let refs: Vec<&Tensor<T>> = inputs.iter().collect();
        let out = op.forward(&refs);
        let v: Tensor<T> = uniform(out.shape(), -1.0, 1.0, &mut rng);
        let grads = checked_backward(op, &inputs, &out, &v);
        let differentiable: Vec<usize> =
            (0..inputs.len()).filter(|&i| grads[i].is_some()).collect();
        let not_differentiable = (0..inputs.len()).filter(|&i| grads[i].is_none()).collect();
        // ⟨v, forward(x)⟩ as a function of the differentiable inputs only.
        let projected = |xs: &[Tensor<T>]| -> Tensor<T> {
            let mut all = inputs.clone();
            for (&i, x) in differentiable.iter().zip(xs) {
                all[i] = x.clone();
            }
            let refs: Vec<&Tensor<T>> = all.iter().collect();
            (op.forward(&refs) * &v).sum()
        };
        let points: Vec<Tensor<T>> = differentiable.iter().map(|&i| inputs[i].clone()).collect();
        let numerical = numerical_gradient(&projected, &points, options.epsilon);
        let analytic: Vec<Tensor<T>> = differentiable
            .iter()
            .map(|&i| grads[i].clone().unwrap())
            .collect();
        let names: Vec<String> = differentiable
            .iter()
            .map(|i| format!("input {i}"))
            .collect();
        CustomOpReport {
            op: op.name().to_string(),
            input_shapes: input_shapes.iter().map(|s| s.to_vec()).collect(),
            not_differentiable,
            report: compare_gradients(
                &names,
                &analytic,
                &numerical,
                CheckConfig {
                    epsilon: options.epsilon,
                    tolerance: options.tolerance,
                    worst: options.worst,
                },
            ),
        }
    })
}

/// Runs the op's backward and checks that it returned one gradient per input, each shaped
/// like its input.
#[track_caller]
fn checked_backward<T: Float>(
    op: &dyn CustomOp<T>,
    inputs: &[Tensor<T>],
    out: &Tensor<T>,
    v: &Tensor<T>,
) -> Vec<Option<Tensor<T>>> {
    let grads = op.backward(inputs, out, v);
    assert!(
        grads.len() == inputs.len(),
        "custom op `{}`: backward returned {} gradients for {} inputs",
        op.name(),
        grads.len(),
        inputs.len()
    );
    for (i, (g, x)) in grads.iter().zip(inputs).enumerate() {
        if let Some(g) = g {
            assert!(
                g.shape() == x.shape(),
                "custom op `{}`: backward returned a gradient of shape {:?} for input {i} of \
                 shape {:?}",
                op.name(),
                g.shape(),
                x.shape()
            );
        }
    }
    grads.into_vec()
}

// ----- checking at first use ---------------------------------------------------------------

/// When custom ops are checked automatically at their first use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstUseCheck {
    /// Never (the default).
    Off,
    /// In builds of `engine` with `debug_assertions`: `cargo build`, `cargo test`, and this
    /// workspace's release profile, which keeps them on for its own crates; not in release
    /// builds of crates that depend on `engine`, unless their profile turns them on.
    DebugBuilds,
    /// In every build.
    Always,
}

static FIRST_USE: AtomicU8 = AtomicU8::new(0);
static CHECKED: Mutex<Option<HashSet<(String, &'static str)>>> = Mutex::new(None);

/// Sets, for the whole process, whether each custom op is checked the first time it is applied
/// (see the [module docs](self)). Ops are told apart by name and element type.
pub fn set_custom_op_checking(mode: FirstUseCheck) {
    FIRST_USE.store(mode as u8, Ordering::Relaxed);
    if mode != FirstUseCheck::Off {
        // The check is a process-wide autograd observer, installed at the first opt-in; it
        // consults the setting at each application.
        static INSTALLED: OnceLock<(ObserverGuard, ObserverGuard)> = OnceLock::new();
        INSTALLED.get_or_init(|| {
            (
                observe_globally::<f32>(Arc::new(FirstUseObserver)),
                observe_globally::<f64>(Arc::new(FirstUseObserver)),
            )
        });
    }
}

/// Checks each custom op at its first application, when opted in.
struct FirstUseObserver;

impl<T: Float> Observer<T> for FirstUseObserver {
    fn on_custom_op(&self, op: &dyn CustomOp<T>, inputs: &[&Tensor<T>], output: &Tensor<T>) {
        check_at_first_use(op, inputs, output);
    }
}

/// The current first-use setting.
pub fn custom_op_checking() -> FirstUseCheck {
    match FIRST_USE.load(Ordering::Relaxed) {
        1 => FirstUseCheck::DebugBuilds,
        2 => FirstUseCheck::Always,
        _ => FirstUseCheck::Off,
    }
}

/// Checks the op once if opted in (before it is recorded).
fn check_at_first_use<T: Float>(op: &dyn CustomOp<T>, inputs: &[&Tensor<T>], out: &Tensor<T>) {
    let active = match custom_op_checking() {
        FirstUseCheck::Off => false,
        FirstUseCheck::DebugBuilds => cfg!(debug_assertions),
        FirstUseCheck::Always => true,
    };
    if !active {
        return;
    }
    let key = (op.name().to_string(), T::NAME);
    {
        let mut checked = CHECKED.lock().unwrap();
        // Marked before checking, so an op applied inside its own check is not re-checked.
        if !checked.get_or_insert_with(HashSet::new).insert(key) {
            return;
        }
    }
    if let Err(message) = directional_check(op, inputs, out) {
        panic!("{message}");
    }
}

/// `⟨Jᵀv, u⟩` from the op's backward against `⟨v, (f(x+εu) − f(x−εu)) / 2ε⟩`, for two random
/// directions `u` (over the inputs that get a gradient) and output gradients `v`.
#[track_caller]
fn directional_check<T: Float>(
    op: &dyn CustomOp<T>,
    inputs: &[&Tensor<T>],
    out: &Tensor<T>,
) -> Result<(), String> {
    let options = CustomOpCheck::for_type::<T>();
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let inputs: Vec<Tensor<T>> = inputs.iter().map(|t| t.detach()).collect();
    no_grad(|| {
        for trial in 0..2 {
            let v: Tensor<T> = uniform(out.shape(), -1.0, 1.0, &mut rng);
            let grads = checked_backward(op, &inputs, out, &v);
            let mut analytic = 0.0;
            let (mut plus, mut minus) = (inputs.clone(), inputs.clone());
            let eps = T::from_f64(options.epsilon);
            for (i, g) in grads.iter().enumerate() {
                let Some(g) = g else { continue };
                let u: Tensor<T> = uniform(inputs[i].shape(), -1.0, 1.0, &mut rng);
                analytic += (g * &u).sum().item().as_f64();
                plus[i] = &inputs[i] + &(&u * eps);
                minus[i] = &inputs[i] - &(&u * eps);
            }
            let eval = |xs: &[Tensor<T>]| {
                let refs: Vec<&Tensor<T>> = xs.iter().collect();
                (op.forward(&refs) * &v).sum().item().as_f64()
            };
            let numerical = (eval(&plus) - eval(&minus)) / (2.0 * options.epsilon);
            let agreement = Agreement::between(&[analytic], &[numerical]);
            let d = agreement.relative_difference;
            if !agreement.passes(&options.tolerance) {
                let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
                return Err(format!(
                    "custom op `{}` failed its first-use gradient check (direction {trial}) on \
                     inputs of shapes {shapes:?}:\n  backward ⟨Jᵀv, u⟩ = {analytic:.9e}\n  \
                     central differences ⟨v, J u⟩ ≈ {numerical:.9e}\n  relative difference \
                     {d:.3e} (tolerance {:e})\n  run check_custom_op on it for a per-component \
                     report",
                    op.name(),
                    options.tolerance.relative
                ));
            }
        }
        Ok(())
    })
}
