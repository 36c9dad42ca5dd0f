//! Adam: momentum and RMSProp combined, with both moving averages bias-corrected
//! (divided by `1 - β^t`).

use engine::Float;

use super::{impl_optimizer, update_elements, EpsilonPlacement, ParamGroup, ParamState};
use crate::module::Param;

/// Adam, as the course's `update_parameters_with_adam`, on step `t = 1, 2, ...`:
///
/// ```text
/// v := β1 v + (1 - β1) dW          v_corrected = v / (1 - β1^t)
/// s := β2 s + (1 - β2) dW²         s_corrected = s / (1 - β2^t)
/// W := W - α v_corrected / sqrt(s_corrected + ε)
/// ```
///
/// `t` counts calls to [`Optimizer::step`](super::Optimizer::step) (one per mini-batch, as the
/// course's `t`). [`EpsilonPlacement::OutsideSqrt`] gives the course notebook's and PyTorch's
/// `α v_corrected / (sqrt(s_corrected) + ε)` instead.
///
/// ```
/// use engine::Tensor;
/// use nn::{optim::{Adam, Optimizer}, Param};
/// let w = Tensor::<f64>::from_vec(vec![1.0, -2.0], &[2, 1]).to_leaf();
/// let params = [Param::weight("W1", w.clone())];
/// let mut opt = Adam::new(0.1).with_epsilon(f64::MIN_POSITIVE);
/// (w.square().sum() * 0.5).backward(); // dW = W
/// opt.step(&params);
/// // At t = 1 the bias correction undoes the averaging: each weight moves by α against the
/// // sign of its gradient (1 - β^1 is not exact in binary, hence the tolerance).
/// let moved: Vec<f64> = w.to_vec().iter().zip([1.0, -2.0]).map(|(a, b)| a - b).collect();
/// assert!((moved[0] + 0.1).abs() < 1e-15 && (moved[1] - 0.1).abs() < 1e-15);
/// assert_eq!(opt.step_count(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct Adam<T: Float> {
    /// Learning rate α.
    pub learning_rate: f64,
    /// β1, for the average of gradients (0.9).
    pub beta1: f64,
    /// β2, for the average of squared gradients (0.999).
    pub beta2: f64,
    /// ε (1e-8).
    pub epsilon: f64,
    /// Where ε is added (inside the square root by default, as in the course's
    /// `update_parameters_with_adam`).
    pub epsilon_placement: EpsilonPlacement,
    /// Weight-decay coefficient added to weights' gradients (0 for none).
    pub weight_decay: f64,
    /// Parameter groups with their own learning rate and decay.
    pub groups: Vec<ParamGroup>,
    t: u64,
    /// `v` (buffer 0) and `s` (buffer 1) of each parameter, before bias correction.
    state: ParamState<T, 2>,
}

impl<T: Float> Adam<T> {
    /// Adam with learning rate α and the course's typical hyperparameters β1 = 0.9,
    /// β2 = 0.999, ε = 1e-8 (the course's text writes "10E-8"; its code uses 1e-8). Panics
    /// unless α is finite and `>= 0`.
    #[track_caller]
    pub fn new(learning_rate: f64) -> Self {
        super::check_learning_rate("Adam::new", learning_rate);
        Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            epsilon_placement: EpsilonPlacement::InsideSqrt,
            weight_decay: 0.0,
            groups: Vec::new(),
            t: 0,
            state: ParamState::new(["v", "s"]),
        }
    }

    /// Sets β1 and β2, each in `[0, 1)` (or this panics: at β1 = 1 the first moment never
    /// leaves zero and the bias correction divides by zero).
    #[track_caller]
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Self {
        super::check_beta("Adam::with_betas", "beta1", beta1);
        super::check_beta("Adam::with_betas", "beta2", beta2);
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// The first-moment average `v` of a parameter (before bias correction).
    pub fn first_moment(&self, param: &Param<T>) -> Option<&[T]> {
        self.state.get(param, 0)
    }

    /// The second-moment average `s` of a parameter (before bias correction).
    pub fn second_moment(&self, param: &Param<T>) -> Option<&[T]> {
        self.state.get(param, 1)
    }

    /// Adam's step `t` (already counted) on every parameter with a gradient: update the moving
    /// averages, bias-correct them, step.
    #[track_caller]
    fn update(&mut self, params: &[Param<T>]) {
        let t = self.t as f64;
        let b1 = T::from_f64(self.beta1);
        let b2 = T::from_f64(self.beta2);
        let one_minus_b1 = T::from_f64(1.0 - self.beta1);
        let one_minus_b2 = T::from_f64(1.0 - self.beta2);
        // `np.power(beta, t)` is the C library's pow, as is `powf` (not `powi`, which
        // multiplies repeatedly and can differ in the last bit).
        let correction1 = T::from_f64(1.0 - self.beta1.powf(t));
        let correction2 = T::from_f64(1.0 - self.beta2.powf(t));
        let eps = T::from_f64(self.epsilon);
        let placement = self.epsilon_placement;
        let settings = super::Settings {
            learning_rate: self.learning_rate,
            weight_decay: self.weight_decay,
            groups: &self.groups,
        };
        update_elements(
            params,
            settings,
            true,
            &mut self.state,
            |w, g, [v, s], r| {
                *v = b1 * *v + one_minus_b1 * g;
                *s = b2 * *s + one_minus_b2 * (g * g);
                let v_corrected = *v / correction1;
                let s_corrected = *s / correction2;
                *w -= placement.divide(r.lr * v_corrected, s_corrected, eps);
            },
        );
    }
}

impl_optimizer!(Adam<T>, "adam", epsilon);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::*;
    use crate::optim::Optimizer;
    use engine::Tensor;

    const W0: [f64; 4] = [0.5, -1.25, 2.0, 0.1];
    const GRADS: [[f64; 4]; 3] = [
        [0.3, -0.2, 1.5, 0.0],
        [-0.1, -0.4, 0.7, 2.0],
        [0.25, 0.05, -3.0, 1e-3],
    ];

    /// Three Adam steps on a 2x2 parameter with the gradients above, lr 0.01, β1 0.9,
    /// β2 0.999. Expected values produced with NumPy 2.4.6 (float64) by a direct transcription
    /// of the course's update_parameters_with_adam:
    ///   v = b1*v + (1-b1)*g; vc = v/(1-np.power(b1,t)); s = b2*s + (1-b2)*np.power(g,2);
    ///   sc = s/(1-np.power(b2,t)); W = W - lr*vc/np.sqrt(sc+eps)   (or /(np.sqrt(sc)+eps))
    /// and printed with repr(). The arithmetic is the same sequence of IEEE operations, so the
    /// comparison is exact.
    fn run(eps: f64, placement: EpsilonPlacement) -> Vec<Vec<f64>> {
        let w = Tensor::<f64>::from_vec(W0.to_vec(), &[2, 2]).to_leaf();
        let params = [crate::module::Param::weight("W1", w.clone())];
        let mut opt = Adam::new(0.01)
            .with_epsilon(eps)
            .with_epsilon_placement(placement);
        GRADS
            .iter()
            .map(|g| {
                w.set_grad(Some(Tensor::from_vec(g.to_vec(), &[2, 2])));
                opt.step(&params);
                w.to_vec()
            })
            .collect()
    }

    #[test]
    fn first_steps_match_numpy_with_epsilon_inside_the_square_root() {
        let expected = [
            [
                0.4900000005555555,
                -1.2400000012499999,
                1.9900000000222222,
                0.1,
            ],
            [
                0.48599781523638996,
                -1.2303481814742283,
                1.9807804492195917,
                0.0925586317829243,
            ],
            [
                0.4796077336985727,
                -1.2236437636021564,
                1.9829342938064984,
                0.08680323764484356,
            ],
        ];
        assert_eq!(run(1e-8, EpsilonPlacement::InsideSqrt), expected);
        let expected_large_eps = [
            [
                0.49005509683802306,
                -1.240122704033504,
                1.9900022214817557,
                0.1,
            ],
            [
                0.48609235803540035,
                -1.2305187696572226,
                1.980786034684488,
                0.09256049047957737,
            ],
            [
                0.4797604666364642,
                -1.22386347758133,
                1.9829396042919767,
                0.08680725337963344,
            ],
        ];
        assert_eq!(run(1e-3, EpsilonPlacement::InsideSqrt), expected_large_eps);
    }

    #[test]
    fn first_steps_match_numpy_with_epsilon_outside_the_square_root() {
        let expected = [
            [0.4900000003333333, -1.2400000005, 1.9900000000666667, 0.1],
            [
                0.48599781479280807,
                -1.2303481805469538,
                1.9807804493091579,
                0.09255863181693545,
            ],
            [
                0.47960773293962256,
                -1.2236437624362433,
                1.9829342938879304,
                0.08680323770711516,
            ],
        ];
        assert_eq!(run(1e-8, EpsilonPlacement::OutsideSqrt), expected);
        let expected_large_eps = [
            [
                0.4900332225913621,
                -1.2400497512437811,
                1.9900066622251833,
                0.1,
            ],
            [
                0.4860488590538283,
                -1.2304283519565034,
                1.9807949827225613,
                0.09256388857444929,
            ],
            [
                0.47968611796014604,
                -1.223749642337704,
                1.9829477393930874,
                0.0868134744197338,
            ],
        ];
        assert_eq!(run(1e-3, EpsilonPlacement::OutsideSqrt), expected_large_eps);
    }

    #[test]
    fn first_step_by_hand_is_a_signed_step_of_lr() {
        // At t = 1 the corrections cancel the (1 - β) factors: v_c = g, s_c = g², so with
        // a negligible ε the step is exactly α·sign(g) (up to the rounding of 1 - β^1).
        let p = param_with_grad("W1", &[1.0, 1.0], &[0.5, -3.0]);
        let mut opt = Adam::new(0.125).with_epsilon(f64::MIN_POSITIVE);
        opt.step(std::slice::from_ref(&p));
        assert_close(&p.tensor.to_vec(), &[0.875, 1.125], 1e-15);
        assert_eq!(opt.step_count(), 1);
        assert_close(opt.first_moment(&p).unwrap(), &[0.05, -0.3], 1e-16);
        assert_close(opt.second_moment(&p).unwrap(), &[0.00025, 0.009], 1e-17);
    }
}
