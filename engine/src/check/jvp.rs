//! Checking forward mode: a Jacobian-vector product `J·u` against central differences along
//! `u`, and against reverse mode through the identity `⟨v, J·u⟩ = ⟨Jᵀ·v, u⟩`.
//!
//! ```
//! use engine::check::{check_jvp, JvpCheckConfig};
//! use engine::Tensor;
//!
//! let a = Tensor::<f64>::from_vec(vec![0.5, -1.0, 2.0, 0.3, 0.8, -0.4], &[2, 3]);
//! let b = Tensor::<f64>::from_vec(vec![0.2, 0.7, -0.1], &[3, 1]);
//! let check = check_jvp(|v| v[0].matmul(&v[1]).tanh(), &[a, b], JvpCheckConfig::default());
//! println!("{check}");
//! check.assert_passed();
//! ```

use std::fmt;

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::autograd::no_grad;
use crate::autograd::tangent::{jvp, vjp};
use crate::check::custom::uniform;
use crate::gradcheck::relative_difference;
use crate::{Float, Tensor};

/// Settings of [`check_jvp`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JvpCheckConfig {
    /// Seed of the random direction `u` and cotangent `v` (uniform in `[-1, 1)`).
    pub seed: u64,
    /// Step of the central differences along `u`.
    pub epsilon: f64,
    /// `J·u` and the central differences must agree to this relative difference (6.57), or...
    pub tolerance: f64,
    /// ... to this largest absolute error.
    pub abs_tolerance: f64,
    /// `⟨v, J·u⟩` (forward) and `⟨Jᵀ·v, u⟩` (reverse) must agree to this relative
    /// difference: both are exact, so only rounding separates them.
    pub duality_tolerance: f64,
}

impl Default for JvpCheckConfig {
    /// For f64: ε = 1e-6, tolerance 1e-7 (absolute 1e-8), duality 1e-12.
    fn default() -> Self {
        JvpCheckConfig {
            seed: 0,
            epsilon: 1e-6,
            tolerance: 1e-7,
            abs_tolerance: 1e-8,
            duality_tolerance: 1e-12,
        }
    }
}

/// The result of [`check_jvp`].
#[derive(Clone, Debug, PartialEq)]
pub struct JvpCheck {
    /// The settings used.
    pub config: JvpCheckConfig,
    /// Relative difference (6.57) between `J·u` and the central differences along `u`.
    pub numerical_relative_difference: f64,
    /// Their largest absolute difference.
    pub numerical_max_abs_error: f64,
    /// `⟨v, J·u⟩` from forward mode.
    pub forward_dot: f64,
    /// `⟨Jᵀ·v, u⟩` from reverse mode.
    pub reverse_dot: f64,
    /// Relative difference of the two.
    pub duality_difference: f64,
}

impl JvpCheck {
    /// Whether `J·u` matches central differences and forward matches reverse mode.
    pub fn passed(&self) -> bool {
        let c = &self.config;
        let numerical = self.numerical_relative_difference < c.tolerance
            || self.numerical_max_abs_error <= c.abs_tolerance;
        numerical && self.duality_difference < c.duality_tolerance
    }

    /// Panics with the printed check unless it passed.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "forward-mode check failed\n{self}");
    }
}

impl fmt::Display for JvpCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "forward mode J·u vs central differences along u: rel. diff {:.3e}, max |err| {:.3e}",
            self.numerical_relative_difference, self.numerical_max_abs_error
        )?;
        writeln!(
            f,
            "⟨v, J·u⟩ = {:.12e} (forward), ⟨Jᵀv, u⟩ = {:.12e} (reverse): rel. diff {:.3e}",
            self.forward_dot, self.reverse_dot, self.duality_difference
        )?;
        write!(f, "{}", if self.passed() { "PASSED" } else { "FAILED" })
    }
}

/// Checks forward mode on `f` at `primals` along a random direction `u`, against central
/// differences `(f(x + εu) − f(x − εu)) / 2ε` and against reverse mode with a random
/// cotangent `v`.
pub fn check_jvp<T: Float>(
    f: impl Fn(&[Tensor<T>]) -> Tensor<T>,
    primals: &[Tensor<T>],
    config: JvpCheckConfig,
) -> JvpCheck {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let u: Vec<Tensor<T>> = primals
        .iter()
        .map(|p| uniform(p.shape(), -1.0, 1.0, &mut rng))
        .collect();
    let (y, ju) = jvp(&f, primals, &u);
    let v: Tensor<T> = uniform(y.shape(), -1.0, 1.0, &mut rng);
    let (_, vj) = vjp(&f, primals, &v);

    let eps = T::from_f64(config.epsilon);
    let numerical: Vec<f64> = no_grad(|| {
        let shifted = |sign: T| -> Vec<f64> {
            let xs: Vec<Tensor<T>> = primals
                .iter()
                .zip(&u)
                .map(|(p, u)| p.detach() + u * (sign * eps))
                .collect();
            f(&xs).to_f64_vec()
        };
        let (plus, minus) = (shifted(T::one()), shifted(-T::one()));
        plus.iter()
            .zip(&minus)
            .map(|(p, m)| (p - m) / (2.0 * config.epsilon))
            .collect()
    });
    let forward = ju.to_f64_vec();
    let dot = |a: &Tensor<T>, b: &Tensor<T>| -> f64 {
        a.to_f64_vec()
            .iter()
            .zip(b.to_f64_vec())
            .map(|(x, y)| x * y)
            .sum()
    };
    let forward_dot = dot(&v, &ju);
    let reverse_dot: f64 = vj.iter().zip(&u).map(|(g, u)| dot(g, u)).sum();
    JvpCheck {
        config,
        numerical_relative_difference: relative_difference(&forward, &numerical),
        numerical_max_abs_error: forward
            .iter()
            .zip(&numerical)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, |m: f64, e| {
                if m.is_nan() || e.is_nan() {
                    f64::NAN
                } else {
                    m.max(e)
                }
            }),
        forward_dot,
        reverse_dot,
        duality_difference: relative_difference(&[forward_dot], &[reverse_dot]),
    }
}
