//! AdamW: Adam with decoupled weight decay (Loshchilov and Hutter), as PyTorch's `AdamW`.

use engine::Float;

use super::{impl_optimizer, update_elements, EpsilonPlacement, ParamGroup, ParamState};
use crate::module::Param;

/// AdamW on step `t = 1, 2, ...`, PyTorch's formula: the weight decays first, directly, and
/// then takes Adam's step with ε outside the square root,
///
/// ```text
/// W := W - α λ W                                  (weights only; λ = weight_decay)
/// v := β1 v + (1 - β1) dW                          s := β2 s + (1 - β2) dW²
/// W := W - (α / (1 - β1^t)) · v / (sqrt(s) / sqrt(1 - β2^t) + ε)
/// ```
///
/// Unlike [`Adam::with_weight_decay`](super::Adam::with_weight_decay), which adds `λ W` to the
/// gradient (so the adaptive scaling shrinks the decay of weights with large gradients), the
/// decay here is the same fraction `α λ` for every weight. Biases and batch-norm parameters
/// are not decayed (PyTorch decays whatever is in the group; give them a group with decay 0
/// there to get the same).
///
/// ```
/// use engine::Tensor;
/// use nn::{optim::{AdamW, Optimizer}, Param};
/// let w = Tensor::<f64>::from_vec(vec![2.0], &[1, 1]).to_leaf();
/// let params = [Param::weight("w", w.clone())];
/// // ε must be positive; 1e-300 vanishes next to the moments, so the step is exactly α.
/// let mut opt = AdamW::new(0.5).with_weight_decay(0.25).with_epsilon(1e-300);
/// w.set_grad(Some(Tensor::from_vec(vec![3.0], &[1, 1])));
/// opt.step(&params);
/// // Decay: 2 - 0.5·0.25·2 = 1.75; then at t = 1 Adam moves by α against the gradient's sign.
/// assert!((w.to_vec()[0] - 1.25).abs() < 1e-15);
/// ```
#[derive(Clone, Debug)]
pub struct AdamW<T: Float> {
    /// Learning rate α.
    pub learning_rate: f64,
    /// β1 (0.9).
    pub beta1: f64,
    /// β2 (0.999).
    pub beta2: f64,
    /// ε (1e-8), added outside the square root as PyTorch does.
    pub epsilon: f64,
    /// Kept for the shared builders; AdamW always adds ε outside the square root.
    pub epsilon_placement: EpsilonPlacement,
    /// Decoupled weight-decay coefficient λ (PyTorch's default 0.01).
    pub weight_decay: f64,
    /// Parameter groups with their own learning rate and decay.
    pub groups: Vec<ParamGroup>,
    t: u64,
    /// `v` (buffer 0) and `s` (buffer 1) of each parameter, before bias correction.
    state: ParamState<T, 2>,
}

impl<T: Float> AdamW<T> {
    /// AdamW with PyTorch's defaults: β1 = 0.9, β2 = 0.999, ε = 1e-8, weight decay 0.01.
    /// Panics on a negative or non-finite learning rate.
    #[track_caller]
    pub fn new(learning_rate: f64) -> Self {
        super::check_learning_rate("AdamW::new", learning_rate);
        AdamW {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            epsilon_placement: EpsilonPlacement::OutsideSqrt,
            weight_decay: 0.01,
            groups: Vec::new(),
            t: 0,
            state: ParamState::new(["v", "s"]),
        }
    }

    /// Sets β1 and β2; panics unless both are in `[0, 1)`.
    #[track_caller]
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Self {
        super::check_beta("AdamW::with_betas", "beta1", beta1);
        super::check_beta("AdamW::with_betas", "beta2", beta2);
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

    /// Step `t` (already counted) on every parameter with a gradient.
    #[track_caller]
    fn update(&mut self, params: &[Param<T>]) {
        let t = self.t as f64;
        let b1 = T::from_f64(self.beta1);
        let b2 = T::from_f64(self.beta2);
        let one_minus_b1 = T::from_f64(1.0 - self.beta1);
        let one_minus_b2 = T::from_f64(1.0 - self.beta2);
        let correction1 = T::from_f64(1.0 - self.beta1.powf(t));
        let correction2_sqrt = T::from_f64((1.0 - self.beta2.powf(t)).sqrt());
        let eps = T::from_f64(self.epsilon);
        let settings = super::Settings {
            learning_rate: self.learning_rate,
            weight_decay: self.weight_decay,
            groups: &self.groups,
        };
        update_elements(
            params,
            settings,
            false,
            &mut self.state,
            |w, g, [v, s], r| {
                *w *= T::one() - r.lr * r.decay;
                *v = b1 * *v + one_minus_b1 * g;
                *s = b2 * *s + one_minus_b2 * (g * g);
                let step_size = r.lr / correction1;
                *w -= step_size * (*v / (s.sqrt() / correction2_sqrt + eps));
            },
        );
    }
}

impl_optimizer!(AdamW<T>, "adamw", epsilon);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::*;
    use crate::optim::{Adam, Optimizer};

    /// Three steps against the formula written out independently, element by element, in
    /// plain f64 (the decay as `w - lr·λ·w`, the bias corrections applied to the moments).
    #[test]
    fn steps_follow_the_decoupled_formula_element_by_element() {
        let (lr, b1, b2, eps, wd) = (0.01, 0.9, 0.999, 1e-8, 0.1);
        let w0 = [0.5, -1.25, 2.0, 0.1];
        let grads = [
            [0.3, -0.2, 1.5, 0.0],
            [-0.1, -0.4, 0.7, 2.0],
            [0.25, 0.05, -3.0, 1e-3],
        ];
        let p = param_with_grad("W1", &w0, &grads[0]);
        let mut opt = AdamW::new(lr).with_weight_decay(wd);
        let (mut w, mut m, mut v) = (w0.to_vec(), [0.0; 4], [0.0; 4]);
        for (step, g) in grads.iter().enumerate() {
            set_grad(&p, g);
            opt.step(std::slice::from_ref(&p));
            let t = (step + 1) as i32;
            for i in 0..4 {
                w[i] -= lr * wd * w[i];
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                let m_hat = m[i] / (1.0 - b1.powi(t));
                let v_hat = v[i] / (1.0 - b2.powi(t));
                w[i] -= lr * m_hat / (v_hat.sqrt() + eps);
            }
            // Same maths, another order of the roundings: agreement to a few ulps.
            assert_close(&p.tensor.to_vec(), &w, 1e-15);
        }
        assert_eq!(opt.step_count(), 3);
    }

    #[test]
    fn decay_is_decoupled_from_the_gradient_and_spares_biases() {
        // A zero gradient: Adam's coupled decay moves W by α·sign(λW) at t = 1 (a full step),
        // AdamW shrinks it by the fraction α·λ only; the bias is never decayed.
        let w = param_with_grad("W1", &[2.0], &[0.0]);
        let mut b = param_with_grad("b1", &[2.0], &[0.0]);
        b.kind = crate::module::ParamKind::Bias;
        let mut opt = AdamW::new(0.5).with_weight_decay(0.25);
        opt.step(&[w.clone(), b.clone()]);
        assert_eq!(w.tensor.to_vec(), [2.0 * (1.0 - 0.5 * 0.25)]);
        assert_eq!(b.tensor.to_vec(), [2.0]);
        let coupled = param_with_grad("W1", &[2.0], &[0.0]);
        // ε must be positive; 1e-300 vanishes next to the moments (a full step of α).
        Adam::new(0.5)
            .with_weight_decay(0.25)
            .with_epsilon(1e-300)
            .step(std::slice::from_ref(&coupled));
        assert_close(&coupled.tensor.to_vec(), &[1.5], 1e-15);
    }
}
