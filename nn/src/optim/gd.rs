//! Plain gradient descent: `W := W - α dW`, `b := b - α db`.

use engine::Float;

use super::{impl_optimizer, update_elements, ParamGroup};
use crate::module::Param;

/// Gradient descent: `θ := θ - α · dθ` for weights and biases alike, the course's
/// `update_parameters`.
///
/// ```
/// use engine::Tensor;
/// use nn::{optim::{Gd, Optimizer}, Param};
/// let w = Tensor::<f64>::from_vec(vec![1.0], &[1, 1]).to_leaf();
/// let params = [Param::weight("W1", w.clone())];
/// (w.square().sum() * 0.5).backward(); // dW = W = 1
/// Gd::new(0.25).step(&params);
/// assert_eq!(w.to_vec(), [0.75]);
/// ```
#[derive(Clone, Debug)]
pub struct Gd {
    /// Learning rate α.
    pub learning_rate: f64,
    /// Weight-decay coefficient added to weights' gradients (0 for none).
    pub weight_decay: f64,
    /// Parameter groups with their own learning rate and decay.
    pub groups: Vec<ParamGroup>,
    t: u64,
    state: (),
}

impl Gd {
    /// Gradient descent with learning rate `learning_rate` (finite and `>= 0`, or this panics).
    #[track_caller]
    pub fn new(learning_rate: f64) -> Self {
        super::check_learning_rate("Gd::new", learning_rate);
        Gd {
            learning_rate,
            weight_decay: 0.0,
            groups: Vec::new(),
            t: 0,
            state: (),
        }
    }

    /// One gradient-descent step on every parameter with a gradient.
    #[track_caller]
    fn update<T: Float>(&mut self, params: &[Param<T>]) {
        let settings = super::Settings {
            learning_rate: self.learning_rate,
            weight_decay: self.weight_decay,
            groups: &self.groups,
        };
        update_elements(params, settings, true, &mut (), |w, g, [], r| {
            *w -= r.lr * g
        });
    }
}

impl_optimizer!(Gd, "gd");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::*;
    use crate::optim::Optimizer;

    #[test]
    fn step_subtracts_lr_times_gradient() {
        // Dyadic numbers, so every product and difference is exact.
        let p = param_with_grad("W1", &[1.0, -2.0, 0.5], &[0.5, -0.25, 4.0]);
        let mut opt = Gd::new(0.5);
        opt.step(std::slice::from_ref(&p));
        assert_eq!(p.tensor.to_vec(), [0.75, -1.875, -1.5]);
    }

    #[test]
    fn weight_decay_applies_to_weights_only() {
        let w = param_with_grad("W1", &[2.0], &[1.0]);
        let mut b = param_with_grad("b1", &[2.0], &[1.0]);
        b.kind = crate::module::ParamKind::Bias;
        let mut opt = Gd::new(0.5).with_weight_decay(0.25);
        opt.step(&[w.clone(), b.clone()]);
        // W: g = 1 + 0.25 * 2 = 1.5, W = 2 - 0.75. b: g = 1, b = 2 - 0.5.
        assert_eq!(w.tensor.to_vec(), [1.25]);
        assert_eq!(b.tensor.to_vec(), [1.5]);
    }

    #[test]
    fn parameters_without_gradient_are_untouched_and_zero_grad_clears() {
        let p = param_with_grad("W1", &[1.0], &[1.0]);
        let q = crate::module::Param::weight(
            "W2",
            engine::Tensor::<f64>::from_vec(vec![3.0], &[1, 1]).to_leaf(),
        );
        let mut opt = Gd::new(1.0);
        opt.step(&[p.clone(), q.clone()]);
        assert_eq!(q.tensor.to_vec(), [3.0]);
        Optimizer::<f64>::zero_grad(&opt, std::slice::from_ref(&p));
        assert!(p.tensor.grad().is_none());
        opt.step(std::slice::from_ref(&p));
        assert_eq!(p.tensor.to_vec(), [0.0]);
    }
}
