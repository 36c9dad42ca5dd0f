//! Gradient descent with momentum: steps along a moving average of the gradients.

use engine::Float;

use super::{impl_optimizer, update_elements, ParamGroup, ParamState};
use crate::module::Param;

/// Momentum: `v := β v + (1 - β) dW`, `W := W - α v`, with `v` starting at zero; the course's
/// `update_parameters_with_momentum` (`v` is an exponentially weighted average of the
/// gradients, without bias correction).
///
/// ```
/// use engine::Tensor;
/// use nn::{optim::{Momentum, Optimizer}, Param};
/// let w = Tensor::<f64>::from_vec(vec![1.0], &[1, 1]).to_leaf();
/// let params = [Param::weight("W1", w.clone())];
/// let mut opt = Momentum::new(0.5, 0.5);
/// (w.square().sum() * 0.5).backward(); // dW = 1
/// opt.step(&params); // v = 0.5, W = 1 - 0.25
/// assert_eq!(w.to_vec(), [0.75]);
/// ```
#[derive(Clone, Debug)]
pub struct Momentum<T: Float> {
    /// Learning rate α.
    pub learning_rate: f64,
    /// β, the weight of the past average (0.9 in the course's `model`).
    pub beta: f64,
    /// Weight-decay coefficient added to weights' gradients (0 for none).
    pub weight_decay: f64,
    /// Parameter groups with their own learning rate and decay.
    pub groups: Vec<ParamGroup>,
    t: u64,
    /// The velocity `v` of each parameter.
    state: ParamState<T, 1>,
}

impl<T: Float> Momentum<T> {
    /// Momentum with learning rate α (finite, `>= 0`) and β in `[0, 1)`; panics otherwise.
    #[track_caller]
    pub fn new(learning_rate: f64, beta: f64) -> Self {
        super::check_learning_rate("Momentum::new", learning_rate);
        super::check_beta("Momentum::new", "beta", beta);
        Momentum {
            learning_rate,
            beta,
            weight_decay: 0.0,
            groups: Vec::new(),
            t: 0,
            state: ParamState::new(["v"]),
        }
    }

    /// The velocity `v` of a parameter (after at least one step).
    pub fn velocity(&self, param: &Param<T>) -> Option<&[T]> {
        self.state.get(param, 0)
    }

    /// One momentum step on every parameter with a gradient.
    #[track_caller]
    fn update(&mut self, params: &[Param<T>]) {
        let beta = T::from_f64(self.beta);
        let one_minus_beta = T::from_f64(1.0 - self.beta);
        let settings = super::Settings {
            learning_rate: self.learning_rate,
            weight_decay: self.weight_decay,
            groups: &self.groups,
        };
        update_elements(params, settings, true, &mut self.state, |w, g, [v], r| {
            *v = beta * *v + one_minus_beta * g;
            *w -= r.lr * *v;
        });
    }
}

impl_optimizer!(Momentum<T>, "momentum");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::*;
    use crate::optim::Optimizer;

    #[test]
    fn two_steps_by_hand() {
        // β = 0.5, α = 0.5 (exact in binary).
        // step 1: g = 2   -> v = 0.5*0 + 0.5*2 = 1,        W = 1 - 0.5*1 = 0.5
        // step 2: g = -4  -> v = 0.5*1 + 0.5*(-4) = -1.5,  W = 0.5 + 0.75 = 1.25
        let p = param_with_grad("W1", &[1.0], &[2.0]);
        let mut opt = Momentum::new(0.5, 0.5);
        opt.step(std::slice::from_ref(&p));
        assert_eq!(p.tensor.to_vec(), [0.5]);
        assert_eq!(opt.velocity(&p).unwrap(), [1.0]);
        set_grad(&p, &[-4.0]);
        opt.step(std::slice::from_ref(&p));
        assert_eq!(p.tensor.to_vec(), [1.25]);
        assert_eq!(opt.velocity(&p).unwrap(), [-1.5]);
    }

    #[test]
    fn seed_beta_matches_the_formula_with_decimal_numbers() {
        // β = 0.9, α = 0.1, g = 1 then 1: v1 = 0.1, W1 = -0.01; v2 = 0.19, W2 = -0.029.
        // Decimal constants are not exact in binary: compare within a few ulps of 0.03.
        let p = param_with_grad("W1", &[0.0], &[1.0]);
        let mut opt = Momentum::new(0.1, 0.9);
        opt.step(std::slice::from_ref(&p));
        opt.step(std::slice::from_ref(&p));
        assert_close(&p.tensor.to_vec(), &[-0.029], 1e-17);
        assert_close(opt.velocity(&p).unwrap(), &[0.19], 1e-16);
    }
}
