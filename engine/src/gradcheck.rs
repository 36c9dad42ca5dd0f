//! Gradient checking (seed 001, section 6.8): numerical gradients by central differences,
//!
//! ```text
//! dJ/dθᵢ ≈ (J(θ + ε eᵢ) - J(θ - ε eᵢ)) / 2ε                       (6.56)
//! ```
//!
//! compared with analytic gradients through the relative difference
//!
//! ```text
//! ‖g - g_approx‖₂ / (‖g‖₂ + ‖g_approx‖₂)                            (6.57)
//! ```
//!
//! overall and per input, with a report naming the worst components. [`gradgradcheck`] does the
//! same one order higher: the gradient of a directional derivative (a Hessian-vector product
//! through `create_graph`) against central differences of the gradient.

use std::fmt;

use crate::autograd::{grad, no_grad, BackwardOptions};
use crate::{Float, Tensor};

/// Settings for [`gradcheck`].
#[derive(Clone, Copy, Debug)]
pub struct GradcheckConfig {
    /// The step ε of the central differences.
    pub epsilon: f64,
    /// How many of the largest disagreements to list.
    pub worst: usize,
}

impl Default for GradcheckConfig {
    /// ε = 1e-7, as in the course's exercise; ten worst components.
    fn default() -> Self {
        GradcheckConfig {
            epsilon: 1e-7,
            worst: 10,
        }
    }
}

/// One component where analytic and numerical gradients were compared.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// Name of the input (its tensor name, or `input i`).
    pub input: String,
    /// Multi-index of the component within that input.
    pub index: Vec<usize>,
    /// The gradient under test (autodiff, or a hand-written backward).
    pub analytic: f64,
    /// The reference gradient (numerical, or another implementation).
    pub numeric: f64,
}

impl Component {
    /// `|analytic - numeric|`.
    pub fn abs_error(&self) -> f64 {
        (self.analytic - self.numeric).abs()
    }
}

/// The comparison for one input.
#[derive(Clone, Debug, PartialEq)]
pub struct InputReport {
    /// Name of the input.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Relative difference (6.57) over this input's components.
    pub relative_difference: f64,
    /// Largest absolute difference over its components.
    pub max_abs_error: f64,
}

/// The result of comparing two sets of gradients.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckReport {
    /// Relative difference (6.57) over all components of all inputs, as the course computes it
    /// on the concatenated parameter vector.
    pub relative_difference: f64,
    /// Per-input figures.
    pub inputs: Vec<InputReport>,
    /// The components with the largest absolute disagreement, worst first.
    pub worst: Vec<Component>,
}

impl GradcheckReport {
    /// Whether the overall relative difference is below `tolerance`.
    pub fn passed(&self, tolerance: f64) -> bool {
        self.relative_difference < tolerance
    }

    /// Names of the inputs whose own relative difference is at least `tolerance`.
    pub fn failing_inputs(&self, tolerance: f64) -> Vec<&str> {
        self.inputs
            .iter()
            // NaN differences fail too.
            .filter(|i| i.relative_difference >= tolerance || i.relative_difference.is_nan())
            .map(|i| i.name.as_str())
            .collect()
    }
}

impl fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "relative difference (6.57): {:.6e}",
            self.relative_difference
        )?;
        let w = self
            .inputs
            .iter()
            .map(|i| i.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(
            f,
            "  {:<w$}  {:<12}  {:>12}  {:>12}",
            "input", "shape", "rel. diff", "max |err|"
        )?;
        for i in &self.inputs {
            let shape = format!("{:?}", i.shape);
            writeln!(
                f,
                "  {:<w$}  {:<12}  {:>12.4e}  {:>12.4e}",
                i.name, shape, i.relative_difference, i.max_abs_error
            )?;
        }
        if !self.worst.is_empty() {
            writeln!(f, "  worst components:")?;
            writeln!(
                f,
                "  {:<w$}  {:<12}  {:>16}  {:>16}  {:>10}",
                "input", "index", "analytic", "numeric", "|err|"
            )?;
            for c in &self.worst {
                let index = format!("{:?}", c.index);
                writeln!(
                    f,
                    "  {:<w$}  {:<12}  {:>16.9e}  {:>16.9e}  {:>10.3e}",
                    c.input,
                    index,
                    c.analytic,
                    c.numeric,
                    c.abs_error()
                )?;
            }
        }
        Ok(())
    }
}

/// `‖a - b‖₂ / (‖a‖₂ + ‖b‖₂)` (6.57); 0 when both are zero.
pub fn relative_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(
        a.len(),
        b.len(),
        "relative_difference: lengths {} and {} differ",
        a.len(),
        b.len()
    );
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let num = norm(&mut a.iter().zip(b).map(|(x, y)| x - y));
    let den = norm(&mut a.iter().copied()) + norm(&mut b.iter().copied());
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// The multi-index of row-major position `flat` in `shape` (reports name components by it).
pub(crate) fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            index[i] = flat % d;
            flat /= d;
        }
    }
    index
}

/// Display name of input `i`: its tensor name if it has one.
pub fn input_name<T: Float>(t: &Tensor<T>, i: usize) -> String {
    t.name()
        .map_or_else(|| format!("input {i}"), |n| n.to_string())
}

/// Compares gradients `analytic` (under test) with `reference`, input by input, in the course's
/// metric. `names` label the inputs in the report.
#[track_caller]
pub fn compare_gradients<T: Float>(
    names: &[String],
    analytic: &[Tensor<T>],
    reference: &[Tensor<T>],
    worst: usize,
) -> GradcheckReport {
    assert!(
        names.len() == analytic.len() && analytic.len() == reference.len(),
        "compare_gradients: {} names, {} analytic and {} reference gradients",
        names.len(),
        analytic.len(),
        reference.len()
    );
    let (mut all_a, mut all_r) = (Vec::new(), Vec::new());
    let mut inputs = Vec::new();
    let mut components = Vec::new();
    for ((name, a), r) in names.iter().zip(analytic).zip(reference) {
        assert!(
            a.shape() == r.shape(),
            "compare_gradients: gradients of {name} have shapes {:?} and {:?}",
            a.shape(),
            r.shape()
        );
        let (va, vr) = (a.to_f64_vec(), r.to_f64_vec());
        let max_abs_error = va
            .iter()
            .zip(&vr)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        inputs.push(InputReport {
            name: name.clone(),
            shape: a.shape().to_vec(),
            relative_difference: relative_difference(&va, &vr),
            max_abs_error,
        });
        for (k, (&x, &y)) in va.iter().zip(&vr).enumerate() {
            components.push(Component {
                input: name.clone(),
                index: unravel(k, a.shape()),
                analytic: x,
                numeric: y,
            });
        }
        all_a.extend(va);
        all_r.extend(vr);
    }
    // Largest disagreement first; NaN counts as the worst of all.
    components.sort_by(|x, y| {
        let key = |c: &Component| {
            if c.abs_error().is_nan() {
                f64::INFINITY
            } else {
                c.abs_error()
            }
        };
        key(y).total_cmp(&key(x))
    });
    components.truncate(worst);
    GradcheckReport {
        relative_difference: relative_difference(&all_a, &all_r),
        inputs,
        worst: components,
    }
}

/// Numerical gradient of the scalar `f` at `inputs` by central differences (6.56). `f` is
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
    let leaf = t.requires_grad();
    if let Some(name) = t.name() {
        leaf.set_name(&name);
    }
    leaf
}

/// Checks the autodiff gradient of the scalar `f` at `inputs` against central differences.
///
/// ```
/// use engine::{gradcheck::{gradcheck, GradcheckConfig}, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![0.3, -1.2, 2.0], &[3]).named("x");
/// let report = gradcheck(&|v: &[Tensor<f64>]| (v[0].tanh() * &v[0]).sum(), &[x], GradcheckConfig::default());
/// assert!(report.passed(1e-7), "{report}");
/// ```
pub fn gradcheck<T: Float>(
    f: &dyn Fn(&[Tensor<T>]) -> Tensor<T>,
    inputs: &[Tensor<T>],
    config: GradcheckConfig,
) -> GradcheckReport {
    let analytic = autodiff_gradient(f, inputs);
    let numeric = numerical_gradient(f, inputs, config.epsilon);
    let names: Vec<String> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| input_name(t, i))
        .collect();
    compare_gradients(&names, &analytic, &numeric, config.worst)
}

/// Second-order check: with a fixed direction `v` per input, `h(x) = Σᵢ ⟨∂f/∂xᵢ(x), vᵢ⟩` is
/// differentiated by autodiff through the recorded backward pass (`create_graph`), giving the
/// Hessian-vector product `H v`, and compared with central differences of `h`.
pub fn gradgradcheck<T: Float>(
    f: &dyn Fn(&[Tensor<T>]) -> Tensor<T>,
    inputs: &[Tensor<T>],
    config: GradcheckConfig,
) -> GradcheckReport {
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
                if x.requires_grad_flag() {
                    x.clone()
                } else {
                    x.requires_grad()
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
