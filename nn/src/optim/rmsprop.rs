//! RMSProp: gradient steps divided by the root of a running average of squared gradients.

use engine::Float;

use super::{impl_optimizer, update_elements, EpsilonPlacement, ParamGroup, ParamState};
use crate::module::Param;

/// RMSProp: `s := β s + (1 - β) dW²`, `W := W - α dW / sqrt(s + ε)`, with `s` starting at zero
/// and no bias correction. ε inside the square root, as the course's RMSProp formula has it
/// (see [`EpsilonPlacement`]).
///
/// ```
/// use engine::Tensor;
/// use nn::{optim::{Optimizer, RmsProp}, Param};
/// let w = Tensor::<f64>::from_vec(vec![1.0], &[1, 1]).to_leaf();
/// let params = [Param::weight("W1", w.clone())];
/// let mut opt = RmsProp::new(0.1, 0.75).with_epsilon(f64::MIN_POSITIVE);
/// (w.square().sum() * 0.5).backward(); // dW = 1
/// opt.step(&params); // s = 0.25, W = 1 - 0.1 * 1 / 0.5
/// assert!((w.to_vec()[0] - 0.8).abs() < 1e-15);
/// ```
#[derive(Clone, Debug)]
pub struct RmsProp<T: Float> {
    /// Learning rate α.
    pub learning_rate: f64,
    /// β, the weight of the past squared average.
    pub beta: f64,
    /// ε, keeps the division finite.
    pub epsilon: f64,
    /// Where ε is added.
    pub epsilon_placement: EpsilonPlacement,
    /// Weight-decay coefficient added to weights' gradients (0 for none).
    pub weight_decay: f64,
    /// Parameter groups with their own learning rate and decay.
    pub groups: Vec<ParamGroup>,
    t: u64,
    /// The squared-gradient average `s` of each parameter.
    state: ParamState<T, 1>,
}

impl<T: Float> RmsProp<T> {
    /// RMSProp with learning rate α and β; ε = 1e-8 (the course's text writes "10E-8"; its
    /// Adam code uses 1e-8).
    /// Panics unless α is finite and `>= 0` and β is in `[0, 1)`.
    #[track_caller]
    pub fn new(learning_rate: f64, beta: f64) -> Self {
        super::check_learning_rate("RmsProp::new", learning_rate);
        super::check_beta("RmsProp::new", "beta", beta);
        RmsProp {
            learning_rate,
            beta,
            epsilon: 1e-8,
            epsilon_placement: EpsilonPlacement::InsideSqrt,
            weight_decay: 0.0,
            groups: Vec::new(),
            t: 0,
            state: ParamState::new(["s"]),
        }
    }

    /// The running average of squared gradients `s` of a parameter.
    pub fn square_average(&self, param: &Param<T>) -> Option<&[T]> {
        self.state.get(param, 0)
    }

    /// One RMSProp step on every parameter with a gradient.
    #[track_caller]
    fn update(&mut self, params: &[Param<T>]) {
        let beta = T::from_f64(self.beta);
        let one_minus_beta = T::from_f64(1.0 - self.beta);
        let eps = T::from_f64(self.epsilon);
        let placement = self.epsilon_placement;
        let settings = super::Settings {
            learning_rate: self.learning_rate,
            weight_decay: self.weight_decay,
            groups: &self.groups,
        };
        update_elements(params, settings, true, &mut self.state, |w, g, [s], r| {
            *s = beta * *s + one_minus_beta * (g * g);
            *w -= placement.divide(r.lr * g, *s, eps);
        });
    }
}

impl_optimizer!(RmsProp<T>, "rmsprop", epsilon);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::*;
    use crate::optim::Optimizer;

    #[test]
    fn two_steps_by_hand() {
        // β = 0.75, α = 0.5, ε the smallest normal f64 (ε must be > 0), too small to change
        // the square roots, which are exact.
        // step 1: g = 2 -> s = 0.25*4 = 1,            W = 1 - 0.5*2/1 = 0
        // step 2: g = 4 -> s = 0.75*1 + 0.25*16 = 4.75, W = 0 - 0.5*4/sqrt(4.75)
        let p = param_with_grad("W1", &[1.0], &[2.0]);
        let mut opt = RmsProp::new(0.5, 0.75).with_epsilon(f64::MIN_POSITIVE);
        opt.step(std::slice::from_ref(&p));
        assert_eq!(p.tensor.to_vec(), [0.0]);
        set_grad(&p, &[4.0]);
        opt.step(std::slice::from_ref(&p));
        assert_eq!(opt.square_average(&p).unwrap(), [4.75]);
        assert_close(&p.tensor.to_vec(), &[-2.0 / 4.75f64.sqrt()], 1e-15);
    }

    #[test]
    fn epsilon_placement_changes_the_step_as_the_formulas_say() {
        // g = 0.5, β = 0.75: s = 0.0625, sqrt(s) = 0.25. ε = 0.25.
        // inside:  W = -1 * 0.5 / sqrt(0.3125);  outside: W = -0.5 / 0.5 = -1.
        let run = |placement| {
            let p = param_with_grad("W1", &[0.0], &[0.5]);
            let mut opt = RmsProp::new(1.0, 0.75)
                .with_epsilon(0.25)
                .with_epsilon_placement(placement);
            opt.step(std::slice::from_ref(&p));
            p.tensor.to_vec()[0]
        };
        assert_close(
            &[run(EpsilonPlacement::InsideSqrt)],
            &[-0.5 / 0.3125f64.sqrt()],
            1e-15,
        );
        assert_eq!(run(EpsilonPlacement::OutsideSqrt), -1.0);
    }
}
