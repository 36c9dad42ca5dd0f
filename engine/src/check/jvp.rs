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
use crate::check::tolerance::{Agreement, Tolerance};
use crate::{Float, Tensor};

/// Settings of [`check_jvp`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JvpCheckConfig {
    /// Seed of the random direction `u` and cotangent `v` (uniform in `[-1, 1)`).
    pub seed: u64,
    /// Step of the central differences along `u`.
    pub epsilon: f64,
    /// What `J·u` and the central differences must agree to.
    pub tolerance: Tolerance,
    /// What `⟨v, J·u⟩` (forward) and `⟨Jᵀ·v, u⟩` (reverse) must agree to: both are exact, so
    /// only rounding separates them.
    pub duality: Tolerance,
}

impl Default for JvpCheckConfig {
    /// For f64: ε = 1e-6, [`Tolerance::default`] (relative 1e-7, absolute 1e-8), duality
    /// relative 1e-12.
    fn default() -> Self {
        JvpCheckConfig {
            seed: 0,
            epsilon: 1e-6,
            tolerance: Tolerance::default(),
            duality: Tolerance::relative(1e-12),
        }
    }
}

/// The result of [`check_jvp`].
#[derive(Clone, Debug, PartialEq)]
pub struct JvpCheck {
    /// The settings used.
    pub config: JvpCheckConfig,
    /// `J·u` against the central differences along `u`.
    pub numerical: Agreement,
    /// `⟨v, J·u⟩` from forward mode.
    pub forward_dot: f64,
    /// `⟨Jᵀ·v, u⟩` from reverse mode.
    pub reverse_dot: f64,
    /// The two products against each other.
    pub duality: Agreement,
}

impl JvpCheck {
    /// Whether `J·u` matches central differences and forward matches reverse mode (a NaN
    /// fails).
    pub fn passed(&self) -> bool {
        self.numerical.passes(&self.config.tolerance) && self.duality.passes(&self.config.duality)
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
            self.numerical.relative_difference, self.numerical.max_abs_error
        )?;
        writeln!(
            f,
            "⟨v, J·u⟩ = {:.12e} (forward), ⟨Jᵀv, u⟩ = {:.12e} (reverse): rel. diff {:.3e}",
            self.forward_dot, self.reverse_dot, self.duality.relative_difference
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
        numerical: Agreement::between(&forward, &numerical),
        forward_dot,
        reverse_dot,
        duality: Agreement::between(&[forward_dot], &[reverse_dot]),
    }
}
