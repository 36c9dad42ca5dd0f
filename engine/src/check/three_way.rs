//! The three-way gradient check: autodiff, your hand-written backward, and central differences,
//! compared per named parameter in the course's metric (seed 001, eq. 6.57)
//!
//! ```text
//! d = ‖a − b‖₂ / (‖a‖₂ + ‖b‖₂)
//! ```
//!
//! plus the largest absolute error, with the worst components listed. See [`check_gradients`].

use std::fmt;

use crate::autograd::{grad, no_grad, BackwardOptions};
use crate::check::NamedTensors;
use crate::gradcheck::{numerical_gradient, relative_difference, unravel};
use crate::{Float, Tensor};

/// A hand-written backward: parameter values in, named gradients out.
pub type HandWritten<'a, T> = dyn Fn(&NamedTensors<T>) -> NamedTensors<T> + 'a;

/// Settings of [`check_gradients`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckConfig {
    /// Step ε of the central differences (6.56).
    pub epsilon: f64,
    /// A comparison passes when its relative difference (6.57) is below this.
    pub tolerance: f64,
    /// ... or when its largest absolute error is at most this: a parameter whose true gradient
    /// is zero gets numerical values that are pure rounding noise (about `1e-16·|J|/ε`), and
    /// noise against zero has a relative difference of 1.
    pub abs_tolerance: f64,
    /// How many of the worst components to list per parameter.
    pub worst: usize,
}

impl Default for CheckConfig {
    /// For f64: ε = 1e-7 and a relative difference below 1e-7, as the course does;
    /// absolute errors up to 1e-8 pass; five worst components.
    fn default() -> Self {
        CheckConfig {
            epsilon: 1e-7,
            tolerance: 1e-7,
            abs_tolerance: 1e-8,
            worst: 5,
        }
    }
}

impl CheckConfig {
    /// Settings suited to the element type: [`CheckConfig::default`] for f64; for f32, whose
    /// 24-bit mantissa makes a 1e-7 step meaningless, ε = 1e-3 with relative tolerance 1e-2
    /// and absolute tolerance 1e-3 (central differences in f32 agree to about 1e-3 at best).
    pub fn for_type<T: Float>() -> Self {
        if T::NAME == "f32" {
            CheckConfig {
                epsilon: 1e-3,
                tolerance: 1e-2,
                abs_tolerance: 1e-3,
                worst: 5,
            }
        } else {
            CheckConfig::default()
        }
    }
}

/// How well two gradients agree.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Agreement {
    /// `‖a − b‖ / (‖a‖ + ‖b‖)` (6.57); 0 when both are zero.
    pub relative_difference: f64,
    /// `max |aᵢ − bᵢ|`.
    pub max_abs_error: f64,
}

impl Agreement {
    /// Compares two gradients given as flat vectors.
    pub fn between(a: &[f64], b: &[f64]) -> Self {
        let max_abs_error = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, |m: f64, e| {
                if m.is_nan() || e.is_nan() {
                    f64::NAN
                } else {
                    m.max(e)
                }
            });
        Agreement {
            relative_difference: relative_difference(a, b),
            max_abs_error,
        }
    }

    /// Below the relative tolerance, or within the absolute one. NaN never passes.
    pub fn passes(&self, config: &CheckConfig) -> bool {
        self.relative_difference < config.tolerance || self.max_abs_error <= config.abs_tolerance
    }
}

/// One component of one parameter's gradient, as each method computed it.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentValues {
    /// Multi-index within the parameter.
    pub index: Vec<usize>,
    /// Reverse-mode autodiff.
    pub autodiff: f64,
    /// The hand-written backward, when given.
    pub hand_written: Option<f64>,
    /// Central differences.
    pub numerical: f64,
}

impl ComponentValues {
    /// The largest absolute difference between any two of the values (NaN is the largest).
    pub fn spread(&self) -> f64 {
        let mut values = vec![self.autodiff, self.numerical];
        values.extend(self.hand_written);
        if values.iter().any(|v| v.is_nan()) {
            return f64::INFINITY;
        }
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        max - min
    }
}

/// The comparison for one named parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamCheck {
    /// The parameter's name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Autodiff against central differences.
    pub autodiff_vs_numerical: Agreement,
    /// The hand-written backward against central differences.
    pub hand_vs_numerical: Option<Agreement>,
    /// Autodiff against the hand-written backward.
    pub autodiff_vs_hand: Option<Agreement>,
    /// The components where the methods disagree most, worst first.
    pub worst: Vec<ComponentValues>,
    /// The full gradients, row-major: autodiff, hand-written, numerical.
    pub autodiff: Vec<f64>,
    /// See `autodiff`.
    pub hand_written: Option<Vec<f64>>,
    /// See `autodiff`.
    pub numerical: Vec<f64>,
}

impl ParamCheck {
    /// The comparisons made, labelled.
    pub fn comparisons(&self) -> Vec<(&'static str, Agreement)> {
        let mut out = vec![("autodiff vs numerical", self.autodiff_vs_numerical)];
        out.extend(
            self.hand_vs_numerical
                .map(|a| ("hand-written vs numerical", a)),
        );
        out.extend(
            self.autodiff_vs_hand
                .map(|a| ("autodiff vs hand-written", a)),
        );
        out
    }
}

/// The result of [`check_gradients`]; `Display` prints a table for the terminal.
#[derive(Clone, Debug, PartialEq)]
pub struct GradientCheckReport {
    /// The settings used.
    pub config: CheckConfig,
    /// Per parameter, in the order given.
    pub params: Vec<ParamCheck>,
    /// Over all parameters concatenated into one vector, as the course computes 6.57.
    pub overall: ParamCheck,
}

impl GradientCheckReport {
    /// Whether every comparison of every parameter, and overall, passes.
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    /// `(parameter, comparison, agreement)` for each comparison that does not pass.
    pub fn failures(&self) -> Vec<(&str, &'static str, Agreement)> {
        self.params
            .iter()
            .chain(std::iter::once(&self.overall))
            .flat_map(|p| {
                p.comparisons()
                    .into_iter()
                    .filter(|(_, a)| !a.passes(&self.config))
                    .map(move |(what, a)| (p.name.as_str(), what, a))
            })
            .collect()
    }

    /// The check of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&ParamCheck> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Panics with the printed report unless [`GradientCheckReport::passed`].
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "gradient check failed\n{self}");
    }
}

/// Compares, for every named parameter, the gradient of `loss` by reverse-mode autodiff, by
/// your `hand_written` backward when given, and by central differences (6.56), in the
/// relative difference (6.57) and the largest absolute error.
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

    let leaves = params.map(|name, t| t.requires_grad().named(name));
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

    let mut checks = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        checks.push(compare(
            name,
            params.tensors().nth(i).unwrap().shape(),
            autodiff[i].to_f64_vec(),
            hand.as_ref().map(|h| h[i].to_f64_vec()),
            numerical[i].to_f64_vec(),
            config.worst,
        ));
    }
    let concat =
        |f: &dyn Fn(&ParamCheck) -> Vec<f64>| -> Vec<f64> { checks.iter().flat_map(f).collect() };
    let total: usize = checks.iter().map(|c| c.numerical.len()).sum();
    let overall = compare(
        "all",
        &[total],
        concat(&|c| c.autodiff.clone()),
        hand.as_ref()
            .map(|_| concat(&|c| c.hand_written.clone().unwrap())),
        concat(&|c| c.numerical.clone()),
        0,
    );
    GradientCheckReport {
        config,
        params: checks,
        overall,
    }
}

fn compare(
    name: &str,
    shape: &[usize],
    autodiff: Vec<f64>,
    hand_written: Option<Vec<f64>>,
    numerical: Vec<f64>,
    worst: usize,
) -> ParamCheck {
    let mut components: Vec<ComponentValues> = (0..numerical.len())
        .map(|k| ComponentValues {
            index: unravel(k, shape),
            autodiff: autodiff[k],
            hand_written: hand_written.as_ref().map(|h| h[k]),
            numerical: numerical[k],
        })
        .collect();
    components.sort_by(|a, b| b.spread().total_cmp(&a.spread()));
    components.truncate(worst);
    ParamCheck {
        name: name.to_string(),
        shape: shape.to_vec(),
        autodiff_vs_numerical: Agreement::between(&autodiff, &numerical),
        hand_vs_numerical: hand_written
            .as_ref()
            .map(|h| Agreement::between(h, &numerical)),
        autodiff_vs_hand: hand_written
            .as_ref()
            .map(|h| Agreement::between(&autodiff, h)),
        worst: components,
        autodiff,
        hand_written,
        numerical,
    }
}

impl fmt::Display for GradientCheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let with_hand = self.overall.hand_written.is_some();
        writeln!(
            f,
            "gradient check, relative difference ‖a−b‖/(‖a‖+‖b‖) (seed 001, eq. 6.57)\n\
             central differences with ε = {:e}; pass: rel. diff < {:e} or max |err| ≤ {:e}",
            c.epsilon, c.tolerance, c.abs_tolerance
        )?;
        let shape_of = |p: &ParamCheck| {
            if std::ptr::eq(p, &self.overall) {
                format!("{} values", p.numerical.len())
            } else {
                format!("{:?}", p.shape)
            }
        };
        let all_rows = || self.params.iter().chain(std::iter::once(&self.overall));
        let name_w = all_rows().map(|p| p.name.len()).max().unwrap_or(0).max(5);
        let shape_w = all_rows()
            .map(|p| shape_of(p).len())
            .max()
            .unwrap_or(0)
            .max(5);
        let titles: Vec<&str> = self.overall.comparisons().iter().map(|c| c.0).collect();
        let mut line = format!("{:name_w$}  {:shape_w$}", "", "");
        for t in &titles {
            line += &format!("  {t:^26}");
        }
        writeln!(f, "{}", line.trim_end())?;
        let mut line = format!("{:<name_w$}  {:<shape_w$}", "param", "shape");
        for _ in &titles {
            line += &format!("  {:>10}  {:>10}    ", "rel. diff", "max |err|");
        }
        writeln!(f, "{}", line.trim_end())?;
        for p in all_rows() {
            write!(f, "{:<name_w$}  {:<shape_w$}", p.name, shape_of(p))?;
            for (_, a) in p.comparisons() {
                let mark = if a.passes(c) { "ok" } else { "!!" };
                write!(
                    f,
                    "  {:>10.3e}  {:>10.3e}  {mark}",
                    a.relative_difference, a.max_abs_error
                )?;
            }
            writeln!(f)?;
        }
        if self.passed() {
            writeln!(f, "PASSED")?;
        } else {
            writeln!(f, "FAILED:")?;
            for p in all_rows() {
                let bad: Vec<String> = p
                    .comparisons()
                    .into_iter()
                    .filter(|(_, a)| !a.passes(c))
                    .map(|(what, a)| format!("{what} {:.3e}", a.relative_difference))
                    .collect();
                if !bad.is_empty() {
                    writeln!(f, "  {}: {}", p.name, bad.join(", "))?;
                }
            }
        }
        // Worst components: those of the failing parameters, or the worst overall if none fails.
        let failing: Vec<&ParamCheck> = self
            .params
            .iter()
            .filter(|p| p.comparisons().iter().any(|(_, a)| !a.passes(c)))
            .collect();
        let mut rows: Vec<(&str, &ComponentValues)> = if failing.is_empty() {
            self.params
                .iter()
                .flat_map(|p| p.worst.iter().map(move |w| (p.name.as_str(), w)))
                .collect()
        } else {
            failing
                .iter()
                .flat_map(|p| p.worst.iter().map(move |w| (p.name.as_str(), w)))
                .collect()
        };
        if failing.is_empty() {
            rows.sort_by(|a, b| b.1.spread().total_cmp(&a.1.spread()));
            rows.truncate(c.worst);
        }
        if rows.is_empty() {
            return Ok(());
        }
        writeln!(f, "worst components (largest disagreement first):")?;
        let index_w = rows
            .iter()
            .map(|(_, r)| format!("{:?}", r.index).len())
            .max()
            .unwrap_or(5)
            .max(5);
        write!(
            f,
            "{:<name_w$}  {:<index_w$}  {:>17}",
            "param", "index", "autodiff"
        )?;
        if with_hand {
            write!(f, "  {:>17}", "hand-written")?;
        }
        writeln!(f, "  {:>17}", "numerical")?;
        for (name, r) in rows {
            let index = format!("{:?}", r.index);
            write!(
                f,
                "{name:<name_w$}  {index:<index_w$}  {:>17.9e}",
                r.autodiff
            )?;
            if let Some(h) = r.hand_written {
                write!(f, "  {h:>17.9e}")?;
            }
            writeln!(f, "  {:>17.9e}", r.numerical)?;
        }
        Ok(())
    }
}
