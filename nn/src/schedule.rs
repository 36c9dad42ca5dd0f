//! Learning-rate schedules: the course's decay formulas (inverse time, exponential, inverse
//! square root), step decays ([`StepDecay`], [`MultiStepDecay`]) and linear warmup followed by
//! cosine annealing ([`WarmupCosine`]). Each computes `α` from `α0` and a position in the
//! order the formula is written, so the course's `learning_rate0 / (1 + decay_rate *
//! epoch_num)` is reproduced to the bit.
//!
//! A schedule is a pure function of its position (the epoch for the course's formulas; the
//! epoch or the optimizer step for the others, as the caller drives it), so resuming training
//! only needs the position, which [`crate::checkpoint::TrainingState`] saves.
//!
//! ```
//! use nn::optim::{Gd, Optimizer};
//! use nn::schedule::{InverseTimeDecay, Schedule};
//!
//! let schedule = InverseTimeDecay::new(0.1, 1.0);
//! let mut opt = Gd::new(0.1);
//! for epoch in 0..3 {
//!     schedule.apply::<f64>(&mut opt, epoch);
//!     // ... one epoch of mini-batches ...
//! }
//! assert_eq!(Optimizer::<f64>::learning_rate(&opt), 0.1 / 3.0);
//! ```

use engine::Float;

use crate::optim::Optimizer;

/// A learning rate as a function of the epoch (0, 1, 2, ...).
pub trait Schedule {
    /// The learning rate to use during `epoch`.
    fn learning_rate(&self, epoch: usize) -> f64;

    /// Sets the optimizer's learning rate for `epoch` and returns it.
    fn apply<T: Float>(&self, optimizer: &mut dyn Optimizer<T>, epoch: usize) -> f64
    where
        Self: Sized,
    {
        let lr = self.learning_rate(epoch);
        optimizer.set_learning_rate(lr);
        lr
    }
}

/// A fixed learning rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Constant(pub f64);

impl Schedule for Constant {
    fn learning_rate(&self, _epoch: usize) -> f64 {
        self.0
    }
}

/// Inverse-time decay: `α = α0 / (1 + decay_rate · epoch_num)`. With `interval > 1` the epoch
/// number is counted in whole intervals, `α0 / (1 + decay_rate · floor(epoch / interval))`, the
/// course's `schedule_lr_decay` (which decays in steps instead of every epoch).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InverseTimeDecay {
    /// `α0`.
    pub initial: f64,
    /// `decay_rate`.
    pub decay_rate: f64,
    /// Epochs per decay step (1: every epoch).
    pub interval: usize,
}

impl InverseTimeDecay {
    /// Inverse-time decay, decaying every epoch.
    pub fn new(initial: f64, decay_rate: f64) -> Self {
        InverseTimeDecay {
            initial,
            decay_rate,
            interval: 1,
        }
    }

    /// Decays once every `interval` epochs.
    #[track_caller]
    pub fn every(mut self, interval: usize) -> Self {
        assert!(
            interval > 0,
            "InverseTimeDecay::every: interval must be positive"
        );
        self.interval = interval;
        self
    }
}

impl Schedule for InverseTimeDecay {
    fn learning_rate(&self, epoch: usize) -> f64 {
        let steps = (epoch / self.interval) as f64;
        self.initial / (1.0 + self.decay_rate * steps)
    }
}

/// Exponential decay: `α = base^epoch_num · α0`, with `base` 0.95 in the course's formula.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExponentialDecay {
    /// `α0`.
    pub initial: f64,
    /// The base (0.95 in the course's formula).
    pub base: f64,
}

impl ExponentialDecay {
    /// Exponential decay as the course writes it: base 0.95.
    pub fn new(initial: f64) -> Self {
        ExponentialDecay {
            initial,
            base: 0.95,
        }
    }

    /// Another base.
    pub fn with_base(mut self, base: f64) -> Self {
        self.base = base;
        self
    }
}

impl Schedule for ExponentialDecay {
    fn learning_rate(&self, epoch: usize) -> f64 {
        self.base.powf(epoch as f64) * self.initial
    }
}

/// Inverse-square-root decay: `α = k / sqrt(epoch_num) · α0`. The formula is undefined at
/// epoch 0, which is therefore treated as epoch 1 (`α = k α0`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InverseSqrtDecay {
    /// `α0`.
    pub initial: f64,
    /// `k`.
    pub k: f64,
}

impl InverseSqrtDecay {
    /// Inverse-square-root decay with constant `k`.
    pub fn new(initial: f64, k: f64) -> Self {
        InverseSqrtDecay { initial, k }
    }
}

impl Schedule for InverseSqrtDecay {
    fn learning_rate(&self, epoch: usize) -> f64 {
        self.k / (epoch.max(1) as f64).sqrt() * self.initial
    }
}

/// Step decay: `α = α0 · factor^floor(epoch / step_size)`, e.g. halve every 10 epochs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepDecay {
    /// `α0`.
    pub initial: f64,
    /// Multiplier applied at each step.
    pub factor: f64,
    /// Epochs between steps.
    pub step_size: usize,
}

impl StepDecay {
    /// Multiplies the learning rate by `factor` every `step_size` epochs.
    #[track_caller]
    pub fn new(initial: f64, factor: f64, step_size: usize) -> Self {
        assert!(step_size > 0, "StepDecay::new: step_size must be positive");
        StepDecay {
            initial,
            factor,
            step_size,
        }
    }
}

impl Schedule for StepDecay {
    fn learning_rate(&self, epoch: usize) -> f64 {
        self.initial * self.factor.powf((epoch / self.step_size) as f64)
    }
}

/// Multiplies the learning rate by `factor` at each milestone: `α = α0 · factor^k` where `k`
/// is the number of milestones `≤ position` (PyTorch's `MultiStepLR`).
#[derive(Clone, Debug, PartialEq)]
pub struct MultiStepDecay {
    /// `α0`.
    pub initial: f64,
    /// Multiplier applied at each milestone.
    pub factor: f64,
    /// Positions where the rate drops, increasing.
    pub milestones: Vec<usize>,
}

impl MultiStepDecay {
    /// Drops by `factor` at each of `milestones` (must increase).
    #[track_caller]
    pub fn new(initial: f64, factor: f64, milestones: &[usize]) -> Self {
        assert!(
            milestones.windows(2).all(|w| w[0] < w[1]),
            "MultiStepDecay::new: milestones must increase, got {milestones:?}"
        );
        MultiStepDecay {
            initial,
            factor,
            milestones: milestones.to_vec(),
        }
    }
}

impl Schedule for MultiStepDecay {
    fn learning_rate(&self, position: usize) -> f64 {
        let passed = self.milestones.iter().filter(|&&m| m <= position).count();
        self.initial * self.factor.powf(passed as f64)
    }
}

/// Linear warmup then cosine annealing, as most transformer recipes use:
///
/// ```text
/// α(p) = α_max · (p + 1) / warmup                                   for p < warmup
/// α(p) = α_min + (α_max - α_min) · (1 + cos(π · (p - warmup) / (total - warmup))) / 2
///                                                                   for warmup ≤ p < total
/// α(p) = α_min                                                      for p ≥ total
/// ```
///
/// The warmup reaches `α_max` at its last position (rather than starting at 0, which would make
/// the first step a no-op), and the cosine then falls from `α_max` to `α_min` at `total`.
///
/// ```
/// use nn::schedule::{Schedule, WarmupCosine};
/// let s = WarmupCosine::new(1.0, 0.0, 4, 12);
/// assert_eq!(s.learning_rate(0), 0.25);
/// assert_eq!(s.learning_rate(3), 1.0);
/// assert!((s.learning_rate(8) - 0.5).abs() < 1e-15); // halfway down the cosine
/// assert_eq!(s.learning_rate(12), 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmupCosine {
    /// `α_max`, reached at the end of the warmup.
    pub max: f64,
    /// `α_min`, reached at `total`.
    pub min: f64,
    /// Positions of linear warmup.
    pub warmup: usize,
    /// Position where the cosine ends.
    pub total: usize,
}

impl WarmupCosine {
    /// Warmup over `warmup` positions to `max`, then cosine down to `min` at `total`.
    #[track_caller]
    pub fn new(max: f64, min: f64, warmup: usize, total: usize) -> Self {
        assert!(
            warmup < total,
            "WarmupCosine::new: warmup ({warmup}) must be shorter than total ({total})"
        );
        WarmupCosine {
            max,
            min,
            warmup,
            total,
        }
    }
}

impl Schedule for WarmupCosine {
    fn learning_rate(&self, position: usize) -> f64 {
        if position < self.warmup {
            return self.max * (position + 1) as f64 / self.warmup as f64;
        }
        if position >= self.total {
            return self.min;
        }
        let progress = (position - self.warmup) as f64 / (self.total - self.warmup) as f64;
        self.min + (self.max - self.min) * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0
    }
}

impl<S: Schedule + ?Sized> Schedule for Box<S> {
    fn learning_rate(&self, epoch: usize) -> f64 {
        (**self).learning_rate(epoch)
    }
}

impl<S: Schedule + ?Sized> Schedule for &S {
    fn learning_rate(&self, epoch: usize) -> f64 {
        (**self).learning_rate(epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, Optimizer};

    #[test]
    fn inverse_time_decay_follows_its_formula() {
        // α0 = 0.5, decay_rate = 1: 0.5, 0.25, 0.5/3, 0.125.
        let s = InverseTimeDecay::new(0.5, 1.0);
        let got: Vec<f64> = (0..4).map(|e| s.learning_rate(e)).collect();
        assert_eq!(got, [0.5, 0.25, 0.5 / 3.0, 0.125]);
        // Every 10 epochs: constant within an interval.
        let s = InverseTimeDecay::new(0.5, 1.0).every(10);
        assert_eq!(s.learning_rate(9), 0.5);
        assert_eq!(s.learning_rate(10), 0.25);
        assert_eq!(s.learning_rate(29), 0.5 / 3.0);
    }

    #[test]
    fn exponential_decay_follows_its_formula() {
        let s = ExponentialDecay::new(2.0);
        assert_eq!(s.learning_rate(0), 2.0);
        assert!((s.learning_rate(1) - 1.9).abs() < 1e-15);
        assert!((s.learning_rate(2) - 0.9025 * 2.0).abs() < 1e-15);
        let s = ExponentialDecay::new(1.0).with_base(0.5);
        assert_eq!(s.learning_rate(3), 0.125);
    }

    #[test]
    fn inverse_sqrt_decay_follows_its_formula() {
        let s = InverseSqrtDecay::new(0.1, 2.0);
        assert!((s.learning_rate(0) - 0.2).abs() < 1e-16); // epoch 0 treated as 1
        assert!((s.learning_rate(1) - 0.2).abs() < 1e-16);
        assert!((s.learning_rate(4) - 0.1).abs() < 1e-16);
        assert!((s.learning_rate(16) - 0.05).abs() < 1e-16);
    }

    #[test]
    fn step_decay_halves_every_step() {
        let s = StepDecay::new(1.0, 0.5, 3);
        let got: Vec<f64> = (0..7).map(|e| s.learning_rate(e)).collect();
        assert_eq!(got, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]);
    }

    #[test]
    fn apply_sets_the_optimizer_rate() {
        let mut opt = Adam::<f64>::new(1.0);
        let lr = StepDecay::new(1.0, 0.5, 1).apply::<f64>(&mut opt, 2);
        assert_eq!(lr, 0.25);
        assert_eq!(opt.learning_rate(), 0.25);
        assert_eq!(Constant(0.3).learning_rate(99), 0.3);
    }

    #[test]
    fn multi_step_drops_at_each_milestone() {
        let s = MultiStepDecay::new(1.0, 0.1, &[2, 5]);
        let got: Vec<f64> = (0..7).map(|e| s.learning_rate(e)).collect();
        let (a, b) = (0.1f64.powf(1.0), 0.1f64.powf(2.0));
        assert_eq!(got, [1.0, 1.0, a, a, a, b, b]);
    }

    #[test]
    fn warmup_then_cosine_follows_the_formula() {
        // max 0.2, min 0.02, warmup 5, total 25: warmup 0.04, 0.08, ..., 0.2; then the cosine
        // written out independently.
        let s = WarmupCosine::new(0.2, 0.02, 5, 25);
        for p in 0..5 {
            assert!(
                (s.learning_rate(p) - 0.04 * (p + 1) as f64).abs() < 1e-16,
                "{p}"
            );
        }
        for p in 5..25 {
            let angle = (p - 5) as f64 * std::f64::consts::PI / 20.0;
            let expected = 0.02 + 0.09 * (1.0 + angle.cos());
            assert!((s.learning_rate(p) - expected).abs() < 1e-16, "{p}");
        }
        assert_eq!(s.learning_rate(5), 0.2);
        assert_eq!(s.learning_rate(25), 0.02);
        assert_eq!(s.learning_rate(1000), 0.02);
        // Monotone after the warmup.
        assert!((5..25).all(|p| s.learning_rate(p + 1) <= s.learning_rate(p)));
    }
}
