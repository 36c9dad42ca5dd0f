//! Batch normalization, per feature over the examples of a batch.
//!
//! Examples are columns, so the statistics of feature `j` are taken along row `j` (axis 1).
//! Training mode, for a batch of `m` examples:
//!
//! ```text
//! μ = 1/m Σ x_i                      batch mean
//! σ² = 1/m Σ (x_i - μ)²              batch variance (biased)
//! x̂_i = (x_i - μ) / sqrt(σ² + ε)     normalize
//! y_i = γ x̂_i + β                    scale and shift
//! ```
//!
//! composed of engine operations, so autodiff yields the batch-norm backward pass (a test
//! compares it with the gradients of `β`, `γ`, `x̂`, `σ²`, `μ` and `x` derived by hand).
//! Running estimates for inference are exponential moving averages:
//! `mean_running := momentum · mean_running + (1 - momentum) · μ`, and likewise for the variance
//! with each batch's unbiased `m/(m-1) σ²`, so that evaluation mode computes
//! `y = γ (x - E[x]) / sqrt(Var[x] + ε) + β` with the running estimates as `E[x]` and `Var[x]`.
//!
//! `momentum` is the course's: the weight of the old estimate (0.9 keeps 90 %). PyTorch's
//! `momentum` argument is the weight of the new batch, i.e. `1 - momentum` here.

use engine::{no_grad, Float, Tensor};

use crate::module::{Mode, Module, ParamKind, Visitor};

/// Batch normalization of `n_features` features, with learnable scale `γ` and shift `β`.
///
/// ```
/// use engine::Tensor;
/// use nn::{BatchNorm, Module};
///
/// let bn = BatchNorm::<f64>::new(2, 1e-5, 0.9);
/// let x = Tensor::<f64>::from_vec2(vec![vec![1.0, 2.0, 3.0], vec![10.0, 10.0, 40.0]]);
/// let y = bn.forward(&x); // each row now has mean 0 and variance ≈ 1
/// let row0 = &y.to_vec2()[0];
/// assert!(row0.iter().sum::<f64>().abs() < 1e-12);
/// bn.set_training(false); // now normalizes with the running estimates
/// assert_eq!(bn.forward(&x).shape(), &[2, 3]);
/// ```
pub struct BatchNorm<T: Float> {
    /// Scale `γ`, shape `(n_features, 1)`, starts at 1.
    pub gamma: Tensor<T>,
    /// Shift `β`, shape `(n_features, 1)`, starts at 0.
    pub beta: Tensor<T>,
    running_mean: Tensor<T>,
    running_var: Tensor<T>,
    eps: f64,
    momentum: f64,
    mode: Mode,
}

impl<T: Float> BatchNorm<T> {
    /// Batch normalization for `n_features` features with `ε = eps` and the course's `momentum`
    /// (the weight of the old running estimate, e.g. 0.9). Running mean starts at 0, running
    /// variance at 1.
    #[track_caller]
    pub fn new(n_features: usize, eps: f64, momentum: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&momentum),
            "BatchNorm::new: momentum must be in [0, 1], got {momentum}"
        );
        assert!(
            eps >= 0.0,
            "BatchNorm::new: eps must be non-negative, got {eps}"
        );
        let shape = [n_features, 1];
        BatchNorm {
            gamma: Tensor::ones(&shape).to_leaf().named("gamma"),
            beta: Tensor::zeros(&shape).to_leaf().named("beta"),
            running_mean: Tensor::zeros(&shape),
            running_var: Tensor::ones(&shape),
            eps,
            momentum,
            mode: Mode::default(),
        }
    }

    /// Number of features.
    pub fn num_features(&self) -> usize {
        self.gamma.shape()[0]
    }

    /// The running mean, the estimate of `E[x]` used in evaluation mode, shape
    /// `(n_features, 1)`.
    pub fn running_mean(&self) -> Tensor<T> {
        self.running_mean.clone()
    }

    /// The running (unbiased) variance, the estimate of `Var[x]` used in evaluation mode,
    /// shape `(n_features, 1)`.
    pub fn running_var(&self) -> Tensor<T> {
        self.running_var.clone()
    }

    /// `ε`.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// The momentum of the running estimates (weight of the old estimate, as in the course).
    pub fn momentum(&self) -> f64 {
        self.momentum
    }

    /// Whether the layer normalizes with batch statistics (training mode).
    pub fn is_training(&self) -> bool {
        self.mode.is_training()
    }

    /// Folds a batch's mean and biased variance into the running estimates (moving averages,
    /// the variance made unbiased by `m/(m-1)` first).
    /// A one-example batch has no unbiased variance: only the mean is updated then.
    fn update_running(&self, mean: &[T], biased_var: &[T], m: usize) {
        let momentum = T::from_f64(self.momentum);
        let rest = T::from_f64(1.0 - self.momentum);
        self.running_mean.update_data(|rm| {
            for (r, &mu) in rm.iter_mut().zip(mean) {
                *r = momentum * *r + rest * mu;
            }
        });
        if m > 1 {
            let unbias = T::from_f64(m as f64 / (m - 1) as f64);
            self.running_var.update_data(|rv| {
                for (r, &v) in rv.iter_mut().zip(biased_var) {
                    *r = momentum * *r + rest * (unbias * v);
                }
            });
        }
    }
}

impl<T: Float> Module<T> for BatchNorm<T> {
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        assert!(
            x.ndim() == 2 && x.shape()[0] == self.num_features(),
            "BatchNorm::forward: gamma of shape {:?} takes inputs of shape ({}, m) (examples \
             are columns), got shape {:?}",
            self.gamma.shape(),
            self.num_features(),
            x.shape()
        );
        let eps = T::from_f64(self.eps);
        if !self.mode.is_training() {
            let x_hat = (x - &self.running_mean) / (&self.running_var + eps).sqrt();
            return &self.gamma * x_hat + &self.beta;
        }
        let m = x.shape()[1];
        assert!(
            m > 0,
            "BatchNorm::forward: empty batch (shape {:?}): training needs at least one example",
            x.shape()
        );
        let mean = x.mean_axis(1, true); // batch mean μ
        let centered = x - &mean;
        let var = centered.square().mean_axis(1, true); // biased batch variance σ²
        let x_hat = centered / (&var + eps).sqrt(); // normalized x̂
        let y = &self.gamma * x_hat + &self.beta; // scaled and shifted
        no_grad(|| self.update_running(&mean.to_vec(), &var.to_vec(), m));
        y
    }

    /// Parameters `gamma` and `beta` (kind [`ParamKind::Other`]: never penalised), buffers
    /// `running_mean` and `running_var`, and the train/eval switch.
    fn visit(&self, v: &mut Visitor<'_, T>) {
        v.param("gamma", &self.gamma, ParamKind::Other);
        v.param("beta", &self.beta, ParamKind::Other);
        v.buffer("running_mean", &self.running_mean);
        v.buffer("running_var", &self.running_var);
        v.mode(&self.mode);
    }

    fn describe(&self) -> String {
        format!(
            "BatchNorm({}, eps = {}, momentum = {})",
            self.num_features(),
            self.eps,
            self.momentum
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::gradcheck::{gradcheck, relative_difference, GradcheckConfig};

    fn data(n: usize, m: usize, phase: f64) -> Vec<f64> {
        (0..n * m)
            .map(|k| ((k as f64 + phase) * 1.37).sin() * (1.0 + k as f64 * 0.1))
            .collect()
    }

    /// The batch-norm backward pass written out by hand for one feature row, by the chain rule
    /// through `y`, `x̂`, `σ²` and `μ` as the course derives it.
    /// Returns (dx, dgamma, dbeta) for upstream gradient `dy`.
    fn hand_backward(x: &[f64], dy: &[f64], gamma: f64, eps: f64) -> (Vec<f64>, f64, f64) {
        let m = x.len() as f64;
        let mu = x.iter().sum::<f64>() / m;
        let var = x.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / m;
        let inv_std = 1.0 / (var + eps).sqrt();
        let x_hat: Vec<f64> = x.iter().map(|v| (v - mu) * inv_std).collect();
        let dbeta: f64 = dy.iter().sum(); // dL/dβ
        let dgamma: f64 = dy.iter().zip(&x_hat).map(|(d, h)| d * h).sum(); // dL/dγ
        let dx_hat: Vec<f64> = dy.iter().map(|d| d * gamma).collect(); // dL/dx̂
        let dvar: f64 = dx_hat
            .iter()
            .zip(x)
            .map(|(d, v)| d * (v - mu) * -0.5 * (var + eps).powf(-1.5))
            .sum(); // dL/dσ²

        // dL/dμ: its dL/dσ² term vanishes, as Σ (x_i - μ) = 0.
        let dmu: f64 = dx_hat.iter().map(|d| d * -inv_std).sum();
        let dx = dx_hat
            .iter()
            .zip(x)
            .map(|(d, v)| d * inv_std + dvar * 2.0 / m * (v - mu) + dmu / m)
            .collect(); // dL/dx
        (dx, dgamma, dbeta)
    }

    #[test]
    fn forward_normalizes_each_feature_over_the_examples() {
        let (n, m) = (3, 6);
        let x = Tensor::<f64>::from_vec(data(n, m, 0.0), &[n, m]);
        let bn = BatchNorm::<f64>::new(n, 1e-8, 0.9);
        bn.gamma
            .update_data(|g| g.copy_from_slice(&[2.0, 0.5, -1.0]));
        bn.beta.update_data(|b| b.copy_from_slice(&[0.1, 0.2, 0.3]));
        let y = bn.forward(&x).to_vec2();
        for (j, row) in x.to_vec2().iter().enumerate() {
            let mu = row.iter().sum::<f64>() / m as f64;
            let var = row.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / m as f64;
            let gamma = [2.0, 0.5, -1.0][j];
            let beta = [0.1, 0.2, 0.3][j];
            for (i, v) in row.iter().enumerate() {
                let expected = gamma * (v - mu) / (var + 1e-8).sqrt() + beta;
                assert!(
                    (y[j][i] - expected).abs() < 1e-13,
                    "{} vs {expected}",
                    y[j][i]
                );
            }
        }
    }

    #[test]
    fn autodiff_gradients_equal_the_seeds_hand_derivation() {
        let (n, m, eps) = (3, 5, 1e-3);
        let x = Tensor::<f64>::from_vec(data(n, m, 0.3), &[n, m]).to_leaf();
        let dy = Tensor::<f64>::from_vec(data(n, m, 2.0), &[n, m]);
        let bn = BatchNorm::<f64>::new(n, eps, 0.9);
        let gammas = [1.5, -0.7, 0.2];
        bn.gamma.update_data(|g| g.copy_from_slice(&gammas));
        (bn.forward(&x) * &dy).sum().backward();
        let gx = x.grad().unwrap().to_vec2();
        let gg = bn.gamma.grad().unwrap().to_vec();
        let gb = bn.beta.grad().unwrap().to_vec();
        for (j, (row, drow)) in x.to_vec2().iter().zip(dy.to_vec2()).enumerate() {
            let (dx, dgamma, dbeta) = hand_backward(row, &drow, gammas[j], eps);
            // Two evaluation orders of the same sums: agreement to rounding.
            assert!(
                relative_difference(&gx[j], &dx) < 1e-12,
                "{:?} vs {dx:?}",
                gx[j]
            );
            assert!((gg[j] - dgamma).abs() < 1e-12 * (1.0 + dgamma.abs()));
            assert!((gb[j] - dbeta).abs() < 1e-12 * (1.0 + dbeta.abs()));
        }
    }

    #[test]
    fn training_and_evaluation_modes_pass_gradcheck() {
        let (n, m) = (2, 4);
        let x = Tensor::<f64>::from_vec(data(n, m, 1.1), &[n, m]).named("x");
        let gamma = Tensor::<f64>::from_vec(vec![1.3, -0.4], &[n, 1]).named("gamma");
        let beta = Tensor::<f64>::from_vec(vec![0.2, 0.7], &[n, 1]).named("beta");
        let w = Tensor::<f64>::from_vec(data(n, m, 5.0), &[n, m]);
        for training in [true, false] {
            let w = w.clone();
            let f = move |v: &[Tensor<f64>]| {
                let mut bn = BatchNorm::<f64>::new(n, 1e-5, 0.9);
                bn.gamma = v[1].clone();
                bn.beta = v[2].clone();
                bn.set_training(training);
                (bn.forward(&v[0]).tanh() * &w).sum()
            };
            let r = gradcheck(
                &f,
                &[x.clone(), gamma.clone(), beta.clone()],
                GradcheckConfig {
                    epsilon: 1e-6,
                    worst: 5,
                    ..GradcheckConfig::default()
                },
            );
            assert!(r.passed(), "training = {training}: {r}");
        }
    }

    #[test]
    fn running_estimates_are_moving_averages_with_the_unbiased_variance() {
        let bn = BatchNorm::<f64>::new(1, 0.0, 0.75);
        // Batch 1: [1, 3] -> μ = 2, σ² = 1, unbiased 2. Running: mean 0.25*2 = 0.5,
        // var 0.75*1 + 0.25*2 = 1.25.
        bn.forward(&Tensor::from_vec(vec![1.0, 3.0], &[1, 2]));
        assert_eq!(bn.running_mean().to_vec(), [0.5]);
        assert_eq!(bn.running_var().to_vec(), [1.25]);
        // Batch 2: [0, 4, 8, 4] -> μ = 4, σ² = 8, unbiased 32/3.
        bn.forward(&Tensor::from_vec(vec![0.0, 4.0, 8.0, 4.0], &[1, 4]));
        assert_eq!(bn.running_mean().to_vec(), [0.75 * 0.5 + 0.25 * 4.0]);
        let expected_var = 0.75 * 1.25 + 0.25 * (32.0 / 3.0);
        assert!((bn.running_var().to_vec()[0] - expected_var).abs() < 1e-15);
        // Evaluation normalizes with them and leaves them alone.
        bn.set_training(false);
        let y = bn.forward(&Tensor::from_vec(vec![1.375], &[1, 1])).to_vec()[0];
        assert!((y - (1.375 - 1.375) / expected_var.sqrt()).abs() < 1e-15);
        let y = bn.forward(&Tensor::from_vec(vec![5.0], &[1, 1])).to_vec()[0];
        assert!((y - (5.0 - 1.375) / expected_var.sqrt()).abs() < 1e-15);
        assert_eq!(bn.running_mean().to_vec(), [1.375]);
    }

    #[test]
    #[should_panic(
        expected = "BatchNorm::forward: gamma of shape [3, 1] takes inputs of shape (3, m) \
                    (examples are columns), got shape [2, 4]"
    )]
    fn wrong_input_shape_names_the_layer_and_both_shapes() {
        BatchNorm::<f64>::new(3, 1e-5, 0.9).forward(&Tensor::zeros(&[2, 4]));
    }

    #[test]
    fn parameters_and_buffers_are_named() {
        let bn = BatchNorm::<f32>::new(4, 1e-5, 0.9);
        let p: Vec<String> = bn.parameters().into_iter().map(|p| p.name).collect();
        let b: Vec<String> = bn.buffers().into_iter().map(|p| p.name).collect();
        assert_eq!(p, ["gamma", "beta"]);
        assert_eq!(b, ["running_mean", "running_var"]);
    }
}
