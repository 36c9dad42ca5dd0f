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
//! Optional weight decay adds `decay · W` to the gradient of weights (never biases) before the
//! update: the gradient of the L2 penalty `decay/2 · ‖W‖²`. The course's L2 term (6.13),
//! `λ/m · W`, is `with_weight_decay(lambda / m)`.
//!
//! ```
//! use engine::Tensor;
//! use nn::module::Param;
//! use nn::optim::{Adam, Optimizer};
//!
//! let w = Tensor::<f64>::from_vec(vec![1.0, -1.0], &[2, 1]).requires_grad();
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

use engine::Float;

use crate::module::{Param, ParamKind};

/// Updates parameters from their gradients.
pub trait Optimizer<T: Float> {
    /// One update of every parameter that has a gradient.
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
    pub(crate) fn divide<T: Float>(self, numerator: T, s: T, eps: T) -> T {
        match self {
            EpsilonPlacement::InsideSqrt => numerator / (s + eps).sqrt(),
            EpsilonPlacement::OutsideSqrt => numerator / (s.sqrt() + eps),
        }
    }
}

/// Calls `update(param, gradient, values)` for every parameter that has a gradient, with the
/// gradient already including weight decay for weights, and writes the values back in place.
pub(crate) fn for_each_with_grad<T: Float>(
    params: &[Param<T>],
    weight_decay: f64,
    mut update: impl FnMut(&Param<T>, &[T], &mut [T]),
) {
    for p in params {
        let Some(g) = p.tensor.grad() else { continue };
        assert!(
            g.shape() == p.tensor.shape(),
            "optimizer step: gradient of shape {:?} for parameter {} of shape {:?}",
            g.shape(),
            p.name,
            p.tensor.shape()
        );
        let mut grad = g.to_vec();
        let decay = weight_decay != 0.0 && p.kind == ParamKind::Weight;
        p.tensor.update_data(|w| {
            if decay {
                let wd = T::from_f64(weight_decay);
                for (gi, &wi) in grad.iter_mut().zip(w.iter()) {
                    *gi += wd * wi;
                }
            }
            update(p, &grad, w);
        });
    }
}

/// Per-parameter state buffers, created as zeros on first use (`v = 0`, `s = 0`).
#[derive(Default)]
pub(crate) struct StateBuffers<T: Float> {
    buffers: std::collections::HashMap<engine::tensor::TensorId, Vec<T>>,
}

impl<T: Float> StateBuffers<T> {
    pub(crate) fn get(&mut self, p: &Param<T>) -> &mut Vec<T> {
        self.buffers
            .entry(p.tensor.id())
            .or_insert_with(|| vec![T::zero(); p.tensor.numel()])
    }

    pub(crate) fn by_id(&self, id: engine::tensor::TensorId) -> Option<&[T]> {
        self.buffers.get(&id).map(Vec::as_slice)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use engine::Tensor;

    use crate::module::Param;

    /// A parameter holding `values` whose gradient is set to `grad`.
    pub fn param_with_grad(name: &str, values: &[f64], grad: &[f64]) -> Param<f64> {
        let t = Tensor::from_vec(values.to_vec(), &[values.len(), 1]).requires_grad();
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
