//! Normalization layers for modern architectures: [`LayerNorm`] (over the trailing feature
//! axes of each example or token) and [`BatchNorm2d`] (per channel over the batch and the
//! image, for `(m, C, H, W)` images).
//!
//! Both are [`Module`]s. [`LayerNorm`] reports PyTorch's names, `weight` (the scale `γ`) and
//! `bias` (the shift `β`), neither penalised; [`BatchNorm2d`] reports the names of the
//! column-layout [`BatchNorm`](crate::BatchNorm), `gamma` and `beta`, its running statistics
//! as the buffers `running_mean` and `running_var` (saved by checkpoints, never updated by
//! optimizers), and its train/eval switch as a shared [`Mode`], so
//! [`Module::set_training`] on any model holding it reaches it.
//!
//! Both are written with engine operations (multi-axis means and variances, `rsqrt`), so their
//! gradients, second derivatives and forward-mode derivatives come from the engine's rules.

use engine::{no_grad, Float, Tensor};

use crate::module::{Mode, Module, ParamKind, Visitor};

/// Layer normalization over the last `normalized_shape.len()` axes:
/// `y = (x - mean) / sqrt(var + ε) · γ + β`, with the biased variance (as PyTorch), `γ`
/// (`weight`) and `β` (`bias`) of `normalized_shape`. Sequence models use it on `(m, T, d)` tokens with
/// `normalized_shape = [d]`.
pub struct LayerNorm<T: Float> {
    /// Scale `γ`, starts at 1 (PyTorch's `weight`).
    pub weight: Tensor<T>,
    /// Shift `β`, starts at 0 (PyTorch's `bias`).
    pub bias: Tensor<T>,
    /// `ε` added to the variance.
    pub eps: f64,
}

impl<T: Float> LayerNorm<T> {
    /// Normalizes over trailing axes of `normalized_shape`.
    pub fn new(normalized_shape: &[usize], eps: f64) -> Self {
        LayerNorm {
            weight: Tensor::ones(normalized_shape).to_leaf().named("weight"),
            bias: Tensor::zeros(normalized_shape).to_leaf().named("bias"),
            eps,
        }
    }
}

impl<T: Float> Module<T> for LayerNorm<T> {
    /// Normalizes `x`, whose trailing axes must equal `normalized_shape`.
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let k = self.weight.ndim();
        assert!(
            x.ndim() >= k && x.shape()[x.ndim() - k..] == *self.weight.shape(),
            "LayerNorm::forward: normalizes trailing axes {:?}, got shape {:?}",
            self.weight.shape(),
            x.shape()
        );
        let axes: Vec<isize> = (1..=k as isize).map(|a| -a).collect();
        let mean = x.mean_axes(&axes, true);
        let centered = x - mean;
        let var = centered.square().mean_axes(&axes, true);
        let x_hat = centered * (var + T::from_f64(self.eps)).rsqrt();
        x_hat * &self.weight + &self.bias
    }

    /// `weight` and `bias` (kind [`ParamKind::Other`]: never penalised).
    fn visit(&self, v: &mut Visitor<'_, T>) {
        v.param("weight", &self.weight, ParamKind::Other);
        v.param("bias", &self.bias, ParamKind::Other);
    }

    fn describe(&self) -> String {
        format!("LayerNorm({:?}, eps = {})", self.weight.shape(), self.eps)
    }
}

/// Batch normalization per channel of images `(m, C, H, W)`: statistics over the batch and
/// both spatial axes. Training mode normalizes with the batch mean and biased variance and
/// folds them into running estimates, `running := momentum · running + (1 - momentum) · batch`
/// with the unbiased variance (the course's convention: `momentum` weighs the old estimate, so
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
    mode: Mode,
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
            gamma: Tensor::ones(&[channels]).to_leaf().named("gamma"),
            beta: Tensor::zeros(&[channels]).to_leaf().named("beta"),
            running_mean: Tensor::zeros(&[channels]),
            running_var: Tensor::ones(&[channels]),
            eps,
            momentum,
            mode: Mode::default(),
        }
    }

    /// The running mean per channel.
    pub fn running_mean(&self) -> Tensor<T> {
        self.running_mean.clone()
    }

    /// The running (unbiased) variance per channel.
    pub fn running_var(&self) -> Tensor<T> {
        self.running_var.clone()
    }
}

impl<T: Float> Module<T> for BatchNorm2d<T> {
    /// Normalizes images `(m, C, H, W)`: with the batch's statistics in training mode (and
    /// folds them into the running estimates), with the running estimates in evaluation mode.
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let c = self.gamma.shape()[0];
        assert!(
            x.ndim() == 4 && x.shape()[1] == c,
            "BatchNorm2d::forward: {c} channels take images (m, {c}, H, W), got shape {:?}",
            x.shape()
        );
        let per_channel = |t: &Tensor<T>| t.reshape(&[1, c, 1, 1]);
        let eps = T::from_f64(self.eps);
        let (gamma, beta) = (per_channel(&self.gamma), per_channel(&self.beta));
        if !self.mode.is_training() {
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

    /// Parameters `gamma` and `beta` (never penalised), buffers `running_mean` and
    /// `running_var`, and the train/eval switch: the names of [`BatchNorm`](crate::BatchNorm).
    fn visit(&self, v: &mut Visitor<'_, T>) {
        v.param("gamma", &self.gamma, ParamKind::Other);
        v.param("beta", &self.beta, ParamKind::Other);
        v.buffer("running_mean", &self.running_mean);
        v.buffer("running_var", &self.running_var);
        v.mode(&self.mode);
    }

    fn describe(&self) -> String {
        format!(
            "BatchNorm2d({}, eps = {}, momentum = {})",
            self.gamma.shape()[0],
            self.eps,
            self.momentum
        )
    }
}
