//! Normalization layers for modern architectures: [`LayerNorm`] (over the trailing feature
//! axes of each example or token) and [`BatchNorm2d`] (per channel over the batch and the
//! image, for `(m, C, H, W)` images).
//!
//! Both are written with engine operations (multi-axis means and variances, `rsqrt`), so their
//! gradients, second derivatives and forward-mode derivatives come from the engine's rules.

use std::sync::atomic::{AtomicBool, Ordering};

use engine::{no_grad, Float, Tensor};

use crate::module::{Param, ParamKind};

/// Layer normalization over the last `normalized_shape.len()` axes:
/// `y = (x - mean) / sqrt(var + ε) · γ + β`, with the biased variance (as PyTorch), `γ` and `β`
/// of `normalized_shape`. Sequence models use it on `(m, T, d)` tokens with
/// `normalized_shape = [d]`.
pub struct LayerNorm<T: Float> {
    /// Scale `γ`, starts at 1.
    pub gamma: Tensor<T>,
    /// Shift `β`, starts at 0.
    pub beta: Tensor<T>,
    /// `ε` added to the variance.
    pub eps: f64,
}

impl<T: Float> LayerNorm<T> {
    /// Normalizes over trailing axes of `normalized_shape`.
    pub fn new(normalized_shape: &[usize], eps: f64) -> Self {
        LayerNorm {
            gamma: Tensor::ones(normalized_shape)
                .requires_grad()
                .named("gamma"),
            beta: Tensor::zeros(normalized_shape)
                .requires_grad()
                .named("beta"),
            eps,
        }
    }

    /// Normalizes `x`, whose trailing axes must equal `normalized_shape`.
    #[track_caller]
    pub fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let k = self.gamma.ndim();
        assert!(
            x.ndim() >= k && x.shape()[x.ndim() - k..] == *self.gamma.shape(),
            "LayerNorm::forward: normalizes trailing axes {:?}, got shape {:?}",
            self.gamma.shape(),
            x.shape()
        );
        let axes: Vec<isize> = (1..=k as isize).map(|a| -a).collect();
        let mean = x.mean_axes(&axes, true);
        let centered = x - mean;
        let var = centered.square().mean_axes(&axes, true);
        let x_hat = centered * (var + T::from_f64(self.eps)).rsqrt();
        x_hat * &self.gamma + &self.beta
    }

    /// `gamma` and `beta` (never penalised).
    pub fn parameters(&self) -> Vec<Param<T>> {
        vec![
            Param::new("gamma", self.gamma.clone(), ParamKind::Other),
            Param::new("beta", self.beta.clone(), ParamKind::Other),
        ]
    }
}

/// Batch normalization per channel of images `(m, C, H, W)`: statistics over the batch and
/// both spatial axes. Training mode normalizes with the batch mean and biased variance and
/// folds them into running estimates, `running := momentum · running + (1 - momentum) · batch`
/// with the unbiased variance (the seed's convention: `momentum` weighs the old estimate, so
/// PyTorch's `momentum = 0.1` is 0.9 here); evaluation mode uses the running estimates.
pub struct BatchNorm2d<T: Float> {
    /// Scale `γ` per channel `(C,)`, starts at 1.
    pub gamma: Tensor<T>,
    /// Shift `β` per channel `(C,)`, starts at 0.
    pub beta: Tensor<T>,
    running_mean: Tensor<T>,
    running_var: Tensor<T>,
    eps: f64,
    momentum: f64,
    training: AtomicBool,
}

impl<T: Float> BatchNorm2d<T> {
    /// Batch normalization of `channels` channels; running mean 0, running variance 1.
    #[track_caller]
    pub fn new(channels: usize, eps: f64, momentum: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&momentum) && eps >= 0.0,
            "BatchNorm2d::new: momentum must be in [0, 1] and eps non-negative, got {momentum} \
             and {eps}"
        );
        BatchNorm2d {
            gamma: Tensor::ones(&[channels]).requires_grad().named("gamma"),
            beta: Tensor::zeros(&[channels]).requires_grad().named("beta"),
            running_mean: Tensor::zeros(&[channels]),
            running_var: Tensor::ones(&[channels]),
            eps,
            momentum,
            training: AtomicBool::new(true),
        }
    }

    /// Training (batch statistics, running estimates updated) or evaluation mode.
    pub fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    /// The running mean per channel.
    pub fn running_mean(&self) -> Tensor<T> {
        self.running_mean.clone()
    }

    /// The running (unbiased) variance per channel.
    pub fn running_var(&self) -> Tensor<T> {
        self.running_var.clone()
    }

    /// Normalizes images `(m, C, H, W)`.
    #[track_caller]
    pub fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let c = self.gamma.shape()[0];
        assert!(
            x.ndim() == 4 && x.shape()[1] == c,
            "BatchNorm2d::forward: {c} channels take images (m, {c}, H, W), got shape {:?}",
            x.shape()
        );
        let per_channel = |t: &Tensor<T>| t.reshape(&[1, c, 1, 1]);
        let eps = T::from_f64(self.eps);
        let (gamma, beta) = (per_channel(&self.gamma), per_channel(&self.beta));
        if !self.training.load(Ordering::Relaxed) {
            let x_hat = (x - per_channel(&self.running_mean))
                * (per_channel(&self.running_var) + eps).rsqrt();
            return x_hat * gamma + beta;
        }
        let axes = [0, 2, 3];
        let mean = x.mean_axes(&axes, true);
        let centered = x - &mean;
        let var = centered.square().mean_axes(&axes, true);
        let n = x.numel() / c.max(1);
        no_grad(|| {
            let (mu, v) = (mean.to_vec(), var.to_vec());
            let keep = T::from_f64(self.momentum);
            let new = T::from_f64(1.0 - self.momentum);
            self.running_mean.update_data(|r| {
                for (r, &m) in r.iter_mut().zip(&mu) {
                    *r = keep * *r + new * m;
                }
            });
            if n > 1 {
                let unbias = T::from_f64(n as f64 / (n - 1) as f64);
                self.running_var.update_data(|r| {
                    for (r, &v) in r.iter_mut().zip(&v) {
                        *r = keep * *r + new * (unbias * v);
                    }
                });
            }
        });
        centered * (var + eps).rsqrt() * gamma + beta
    }

    /// `gamma` and `beta` (never penalised).
    pub fn parameters(&self) -> Vec<Param<T>> {
        vec![
            Param::new("gamma", self.gamma.clone(), ParamKind::Other),
            Param::new("beta", self.beta.clone(), ParamKind::Other),
        ]
    }

    /// The running statistics, for checkpoints.
    pub fn buffers(&self) -> Vec<Param<T>> {
        vec![
            Param::new("running_mean", self.running_mean.clone(), ParamKind::Other),
            Param::new("running_var", self.running_var.clone(), ParamKind::Other),
        ]
    }
}
