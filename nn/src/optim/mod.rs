//! Optimizers (seed 001 section 6.7): plain gradient descent (6.2), momentum (6.47), RMSProp
//! (6.48) and Adam with bias correction (6.49).
//!
//! Each works on the [`Param`]s of a model: [`Optimizer::step`] reads every parameter's
//! accumulated gradient ([`engine::Tensor::grad`]) and updates its values in place;
//! [`Optimizer::zero_grad`] clears the gradients before the next backward pass. Parameters
//! without a gradient are left alone. Per-parameter state (velocities, squared averages) is
//! keyed by the tensor's identity, so one optimizer serves one model for its whole training.
//!
//! Updates are computed elementwise in the order the course's NumPy code writes them (for
//! example Adam's `W - lr * v_corrected / np.sqrt(s_corrected + eps)`), so that with the same
//! gradients the parameters agree with the course's to the last bit.
//!
//! # Where things live
//!
//! Each optimizer's file (`gd.rs`, `momentum.rs`, `rmsprop.rs`, `adam.rs`) holds its
//! hyperparameters and its update rule, written for one element as the seed writes the
//! equation, so a rule can be audited against the seed without reading anything else. This
//! file holds what they share: the [`Optimizer`] trait, the loop over the parameters that have
//! a gradient (with weight decay), the per-parameter state buffers, and the learning-rate and
//! builder methods common to all of them.
//!
//! # Weight decay
//!
//! Optional weight decay adds `decay · W` to the gradient of weights (never biases) before the
//! update: the gradient of the L2 penalty `decay/2 · ‖W‖²`. The course's L2 term (6.13),
//! `λ/m · W`, is `with_weight_decay(lambda / m)`.
//!
//! # Example
//!
//! ```
//! use engine::Tensor;
//! use nn::module::Param;
//! use nn::optim::{Adam, Optimizer};
//!
//! let w = Tensor::<f64>::from_vec(vec![1.0, -1.0], &[2, 1]).to_leaf();
//! let params = vec![Param::weight("W1", w.clone())];
//! let mut opt = Adam::new(0.1);
//! for _ in 0..3 {
//!     opt.zero_grad(&params);
//!     w.square().sum().backward(); // J = ‖w‖²
//!     opt.step(&params);
//! }
//! assert!(w.to_vec()[0] < 1.0 && w.to_vec()[1] > -1.0);
//! ```

mod adam;
mod gd;
mod momentum;
mod rmsprop;

pub use adam::Adam;
pub use gd::Gd;
pub use momentum::Momentum;
pub use rmsprop::RmsProp;

use std::collections::HashMap;
use std::fmt;

use engine::tensor::TensorId;
use engine::Float;

use crate::module::{Param, ParamKind};

/// Updates parameters from their gradients.
pub trait Optimizer<T: Float> {
    /// One update of every parameter that has a gradient.
    ///
    /// Panics if a gradient's shape differs from its parameter's.
    #[track_caller]
    fn step(&mut self, params: &[Param<T>]);

    /// Clears the gradients of `params` (backward adds into them).
    fn zero_grad(&self, params: &[Param<T>]) {
        for p in params {
            p.tensor.zero_grad();
        }
    }

    /// The current learning rate α.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate (used by [`crate::schedule`]).
    fn set_learning_rate(&mut self, learning_rate: f64);
}

/// Where Adam and RMSProp add ε.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EpsilonPlacement {
    /// `v / sqrt(s + ε)`: equations (6.48) and (6.49) of seed 001 and its code
    /// (`np.sqrt(s_corrected + epsilon)`); the reference numbers of the optimization runs
    /// (`data/reference/seed_numbers.json`, `opt.adam`) were produced this way.
    #[default]
    InsideSqrt,
    /// `v / (sqrt(s) + ε)`: the course notebook's and PyTorch's form.
    OutsideSqrt,
}

impl EpsilonPlacement {
    /// `numerator / sqrt(s + eps)` or `numerator / (sqrt(s) + eps)`.
    #[inline]
    fn divide<T: Float>(self, numerator: T, s: T, eps: T) -> T {
        match self {
            EpsilonPlacement::InsideSqrt => numerator / (s + eps).sqrt(),
            EpsilonPlacement::OutsideSqrt => numerator / (s.sqrt() + eps),
        }
    }
}

// ----- what the update rules share ----------------------------------------------------------
//
// A rule is written for one element, `rule(w, g, state)`: `g` is the gradient with weight decay
// included, `state` the element's entries in the optimizer's per-parameter buffers.

/// `N` buffers per parameter, keyed by the tensor's identity and created as zeros on the
/// parameter's first step (the seeds' `v = 0`, `s = 0`): momentum's velocity (`N = 1`),
/// RMSProp's squared average (`N = 1`), Adam's two moments (`N = 2`).
#[derive(Clone)]
struct ParamState<T: Float, const N: usize> {
    buffers: HashMap<TensorId, [Vec<T>; N]>,
}

impl<T: Float, const N: usize> Default for ParamState<T, N> {
    fn default() -> Self {
        ParamState {
            buffers: HashMap::new(),
        }
    }
}

impl<T: Float, const N: usize> ParamState<T, N> {
    /// Buffer `k` of `param`, once a step has created it.
    fn get(&self, param: &Param<T>, k: usize) -> Option<&[T]> {
        self.buffers
            .get(&param.tensor.id())
            .map(|b| b[k].as_slice())
    }
}

impl<T: Float, const N: usize> fmt::Debug for ParamState<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The buffers are as large as the model: say how many parameters have state.
        write!(f, "{} parameters with state", self.buffers.len())
    }
}

/// Where [`update_elements`] finds a parameter's state buffers: a [`ParamState`], or `()` for
/// gradient descent, which keeps none.
trait StateStore<T: Float, const N: usize> {
    /// The buffers of `param`, each as long as the parameter.
    fn buffers(&mut self, param: &Param<T>) -> [&mut [T]; N];
}

impl<T: Float> StateStore<T, 0> for () {
    fn buffers(&mut self, _: &Param<T>) -> [&mut [T]; 0] {
        []
    }
}

impl<T: Float, const N: usize> StateStore<T, N> for ParamState<T, N> {
    fn buffers(&mut self, param: &Param<T>) -> [&mut [T]; N] {
        self.buffers
            .entry(param.tensor.id())
            .or_insert_with(|| std::array::from_fn(|_| vec![T::zero(); param.tensor.numel()]))
            .each_mut()
            .map(Vec::as_mut_slice)
    }
}

/// Applies `rule(w, g, state)` to every element of every parameter that has a gradient, in
/// place, and leaves the others alone. For weights, `g` includes weight decay,
/// `g = dW + decay · W` (computed as `dW + (decay · W)` from the value before the update);
/// `state` holds the element's entries of the parameter's `N` buffers.
#[track_caller]
fn update_elements<T: Float, const N: usize>(
    params: &[Param<T>],
    weight_decay: f64,
    state: &mut impl StateStore<T, N>,
    mut rule: impl FnMut(&mut T, T, [&mut T; N]),
) {
    let decay = T::from_f64(weight_decay);
    for p in params {
        let Some(grad) = p.tensor.grad() else {
            continue;
        };
        assert!(
            grad.shape() == p.tensor.shape(),
            "Optimizer::step: gradient of shape {:?} for parameter {} of shape {:?}",
            grad.shape(),
            p.name,
            p.tensor.shape()
        );
        let decays = weight_decay != 0.0 && p.kind == ParamKind::Weight;
        let mut buffers = state.buffers(p);
        // The gradient is read in place; `update_data` copies the values first if they are
        // shared, so the gradient never changes under the update.
        grad.with_data(|g| {
            p.tensor.update_data(|w| {
                // Equal lengths, so that the indexing below compiles to no bounds checks.
                let n = w.len();
                let (w, g) = (&mut w[..n], &g[..n]);
                let mut buffers = buffers.each_mut().map(|b| &mut b[..n]);
                if decays {
                    for i in 0..n {
                        let gi = g[i] + decay * w[i];
                        rule(&mut w[i], gi, buffers.each_mut().map(|b| &mut b[i]));
                    }
                } else {
                    for i in 0..n {
                        rule(&mut w[i], g[i], buffers.each_mut().map(|b| &mut b[i]));
                    }
                }
            })
        });
    }
}

/// Writes what all optimizers share around their update rule: the [`Optimizer`] impl, whose
/// `step` is the type's inherent `update` and whose learning rate is its `learning_rate` field,
/// and the `with_weight_decay` builder (setting the `weight_decay` field). With `epsilon` it
/// also writes `with_epsilon` and `with_epsilon_placement` (fields `epsilon` and
/// `epsilon_placement`).
macro_rules! impl_optimizer {
    ($name:ident $(<$t:ident>)? $(, $extra:ident)?) => {
        impl<T: ::engine::Float> $crate::optim::Optimizer<T> for $name$(<$t>)? {
            #[track_caller]
            fn step(&mut self, params: &[$crate::module::Param<T>]) {
                self.update(params);
            }

            fn learning_rate(&self) -> f64 {
                self.learning_rate
            }

            fn set_learning_rate(&mut self, learning_rate: f64) {
                self.learning_rate = learning_rate;
            }
        }

        impl$(<$t: ::engine::Float>)? $name$(<$t>)? {
            /// Adds `decay · W` to every weight's gradient before the update (biases and
            /// other parameters are not decayed); see the
            /// [module docs](crate::optim#weight-decay).
            pub fn with_weight_decay(mut self, decay: f64) -> Self {
                self.weight_decay = decay;
                self
            }

            $($crate::optim::impl_optimizer!(@$extra);)?
        }
    };
    (@epsilon) => {
        /// Sets ε.
        pub fn with_epsilon(mut self, epsilon: f64) -> Self {
            self.epsilon = epsilon;
            self
        }

        /// Sets where ε is added.
        pub fn with_epsilon_placement(mut self, placement: $crate::optim::EpsilonPlacement) -> Self {
            self.epsilon_placement = placement;
            self
        }
    };
}
use impl_optimizer;

#[cfg(test)]
pub(crate) mod test_support {
    use engine::Tensor;

    use crate::module::Param;

    /// A parameter holding `values` whose gradient is set to `grad`.
    pub fn param_with_grad(name: &str, values: &[f64], grad: &[f64]) -> Param<f64> {
        let t = Tensor::from_vec(values.to_vec(), &[values.len(), 1]).to_leaf();
        t.set_grad(Some(Tensor::from_vec(grad.to_vec(), &[grad.len(), 1])));
        Param::weight(name, t)
    }

    pub fn set_grad(p: &Param<f64>, grad: &[f64]) {
        p.tensor
            .set_grad(Some(Tensor::from_vec(grad.to_vec(), &[grad.len(), 1])));
    }

    pub fn assert_close(got: &[f64], expected: &[f64], tol: f64) {
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() <= tol, "got {got:?}, expected {expected:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::param_with_grad;
    use super::*;
    use engine::Tensor;

    #[test]
    #[should_panic(
        expected = "Optimizer::step: gradient of shape [3, 1] for parameter W1 of shape [2, 1]"
    )]
    fn a_gradient_of_the_wrong_shape_names_the_parameter_and_both_shapes() {
        let p = param_with_grad("W1", &[1.0, 2.0], &[1.0, 2.0, 3.0]);
        Gd::new(0.1).step(std::slice::from_ref(&p));
    }

    #[test]
    fn a_gradient_sharing_the_parameters_buffer_is_read_before_the_update() {
        // The gradient is read in place while the values are written: with dW = W (the same
        // buffer), every element must see its own pre-update value and the decay term too.
        // Dyadic numbers, so the expected values are exact: g = W + 0.5 W, W := W - 0.5 g.
        let w = Tensor::<f64>::from_vec(vec![2.0, -4.0, 8.0], &[3, 1]).to_leaf();
        w.set_grad(Some(w.detach()));
        let params = [Param::weight("W1", w.clone())];
        Gd::new(0.5).with_weight_decay(0.5).step(&params);
        assert_eq!(w.to_vec(), [0.5, -1.0, 2.0]);
        assert_eq!(w.grad().unwrap().to_vec(), [2.0, -4.0, 8.0]);
    }
}
