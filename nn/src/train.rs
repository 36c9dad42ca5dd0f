//! A small mini-batch training loop (one optimizer step per mini-batch, epoch after epoch) with
//! cost history, an optional learning-rate schedule, an evaluation hook and per-batch and
//! per-epoch hooks. It is a convenience: the loop it runs is the one a user writes by hand,
//!
//! ```text
//! for epoch in 0..epochs {
//!     schedule.apply(&mut optimizer, epoch);
//!     for batch in data.shuffled(&mut rng) {
//!         let params = model.parameters();
//!         optimizer.zero_grad(&params);
//!         let cost = loss(&model.forward(&batch.x), &batch.y, &params);
//!         cost.backward();
//!         optimizer.step(&params);
//!     }
//! }
//! ```
//!
//! and nothing in the library depends on it.

use engine::random::Sampler;
use engine::{no_grad, Float, Tensor};

use crate::data::{Batch, MiniBatches};
use crate::module::{Module, Param};
use crate::optim::Optimizer;
use crate::schedule::Schedule;

/// What was recorded for one epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRecord {
    /// Epoch number (from 0).
    pub epoch: usize,
    /// The learning rate used during the epoch.
    pub learning_rate: f64,
    /// The cost of the epoch's last mini-batch (what the course's `model` prints).
    pub last_batch_cost: f64,
    /// The costs of all mini-batches averaged with their sizes as weights.
    pub mean_cost: f64,
    /// What the evaluation hook returned, on the epochs it ran.
    pub metrics: Vec<(String, f64)>,
}

/// How many epoch records a [`Trainer`] keeps by default: a run of up to this many epochs
/// keeps every one; a longer one is thinned (see [`History`]) so memory stays bounded however
/// long training runs. [`Trainer::full_history`] keeps everything.
pub const DEFAULT_HISTORY_LIMIT: usize = 4096;

/// Per-epoch records of a training run.
///
/// With a limit (the default, [`DEFAULT_HISTORY_LIMIT`]), the records are those of epochs
/// `0, s, 2s, ...` for a stride `s` that doubles (dropping every other record) whenever the
/// limit would be exceeded, plus the last epoch trained: at most `limit + 1` records, spread
/// evenly over the run. Without a limit ([`Trainer::full_history`]), one record per epoch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The recorded epochs, in order (every epoch unless thinned, see above).
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// The last mini-batch cost of every epoch.
    pub fn last_batch_costs(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.last_batch_cost).collect()
    }

    /// The size-weighted mean cost of every epoch.
    pub fn mean_costs(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.mean_cost).collect()
    }

    /// `(epoch, value)` for a metric on the epochs where it was evaluated.
    pub fn metric(&self, name: &str) -> Vec<(usize, f64)> {
        self.epochs
            .iter()
            .flat_map(|e| {
                e.metrics
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(move |(_, v)| (e.epoch, *v))
            })
            .collect()
    }
}

type OrderFn<'a> = Box<dyn FnMut(usize, usize) -> Vec<usize> + 'a>;
type EvalFn<'a, T> = Box<dyn FnMut(usize, &dyn Module<T>) -> Vec<(String, f64)> + 'a>;
type BatchHook<'a, T> = Box<dyn FnMut(usize, &Batch<T>) + 'a>;
type EpochHook<'a> = Box<dyn FnMut(&EpochRecord) + 'a>;
type StopFn<'a> = Box<dyn FnMut(&EpochRecord) -> bool + 'a>;

/// Mini-batch training loop configuration; build it, then call [`Trainer::fit`].
///
/// ```
/// use engine::Tensor;
/// use nn::{data::MiniBatches, loss, optim::Gd, train::Trainer, Activation, Init, Module, Sequential};
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// // y = 1 when x0 + x1 > 0.
/// let x = Tensor::<f64>::from_vec2(vec![vec![1.0, -1.0, 2.0, -2.0], vec![0.5, -0.5, -1.0, 1.5]]);
/// let y = Tensor::<f64>::from_vec(vec![1.0, 0.0, 1.0, 0.0], &[1, 4]);
/// let model = Sequential::mlp(&[2, 1], Activation::Relu, Activation::Identity,
///                             &Init::Zeros, &mut rng);
/// let data = MiniBatches::new(x, y, 2);
/// let history = Trainer::new(50)
///     .shuffle_with(&mut rng)
///     .fit(&model, &mut Gd::new(0.5), &data, |out, y, _| loss::bce_with_logits(out, y));
/// let costs = history.mean_costs();
/// assert!(costs[49] < costs[0]);
/// ```
pub struct Trainer<'a, T: Float> {
    epochs: usize,
    order: Option<OrderFn<'a>>,
    schedule: Option<Box<dyn Fn(usize) -> f64 + 'a>>,
    eval: Option<(usize, EvalFn<'a, T>)>,
    before_batch: Option<BatchHook<'a, T>>,
    after_epoch: Option<EpochHook<'a>>,
    stop_if: Option<StopFn<'a>>,
    history_limit: Option<usize>,
    clip_norm: Option<f64>,
}

impl<'a, T: Float> Trainer<'a, T> {
    /// `epochs` passes over the data, in order (no shuffling) unless configured.
    pub fn new(epochs: usize) -> Self {
        Trainer {
            epochs,
            order: None,
            schedule: None,
            eval: None,
            before_batch: None,
            after_epoch: None,
            stop_if: None,
            history_limit: Some(DEFAULT_HISTORY_LIMIT),
            clip_norm: None,
        }
    }

    /// Keeps at most about `limit` epoch records (at least 2), thinned as [`History`] says.
    pub fn history_limit(mut self, limit: usize) -> Self {
        self.history_limit = Some(limit.max(2));
        self
    }

    /// Keeps a record of every epoch, however many (memory grows with the number of epochs).
    pub fn full_history(mut self) -> Self {
        self.history_limit = None;
        self
    }

    /// Stops training after the epoch whose record makes `stop(record)` true (after the
    /// [`after_epoch`](Self::after_epoch) hook has seen it); that record ends the history.
    /// For example, stop when the cost is no longer finite.
    pub fn stop_if(mut self, stop: impl FnMut(&EpochRecord) -> bool + 'a) -> Self {
        self.stop_if = Some(Box::new(stop));
        self
    }

    /// Shuffles every epoch with `sampler.permutation(m)`.
    pub fn shuffle_with<S: Sampler + ?Sized>(mut self, sampler: &'a mut S) -> Self {
        self.order = Some(Box::new(move |_, m| sampler.permutation(m)));
        self
    }

    /// Orders every epoch by `order(epoch, m)`, which must return a permutation of `0..m`
    /// (e.g. reseed a NumPy-compatible generator with `10 + epoch + 1` and draw its
    /// permutation, as the course's `model` does through `random_mini_batches`).
    pub fn shuffle_by(mut self, order: impl FnMut(usize, usize) -> Vec<usize> + 'a) -> Self {
        self.order = Some(Box::new(order));
        self
    }

    /// Sets the learning rate at the start of every epoch from `schedule`.
    pub fn schedule(mut self, schedule: impl Schedule + 'a) -> Self {
        self.schedule = Some(Box::new(move |epoch| schedule.learning_rate(epoch)));
        self
    }

    /// Calls `eval(epoch, model)` after epochs `0, every, 2·every, ...` and after the last one,
    /// with the model in evaluation mode and no graph recorded; the returned named values are
    /// stored in the history.
    pub fn evaluate_every(
        mut self,
        every: usize,
        eval: impl FnMut(usize, &dyn Module<T>) -> Vec<(String, f64)> + 'a,
    ) -> Self {
        self.eval = Some((every.max(1), Box::new(eval)));
        self
    }

    /// Clips the gradients to a global L2 norm of at most `max_norm` before every update
    /// ([`clip_grad_norm`](crate::optim::clip_grad_norm)); a non-finite norm panics, naming the
    /// epoch, rather than letting NaN reach the parameters.
    pub fn clip_grad_norm(mut self, max_norm: f64) -> Self {
        self.clip_norm = Some(max_norm);
        self
    }

    /// Calls `hook(epoch, batch)` before each forward pass (e.g. to reseed a dropout
    /// generator as the course's code does).
    pub fn before_batch(mut self, hook: impl FnMut(usize, &Batch<T>) + 'a) -> Self {
        self.before_batch = Some(Box::new(hook));
        self
    }

    /// Calls `hook(record)` at the end of every epoch with the record just made (costs,
    /// learning rate, metrics), e.g. to print the cost as training goes rather than after
    /// [`Trainer::fit`] returns.
    pub fn after_epoch(mut self, hook: impl FnMut(&EpochRecord) + 'a) -> Self {
        self.after_epoch = Some(Box::new(hook));
        self
    }

    /// Trains `model` on `data` with `optimizer`, minimizing `loss(output, targets, params)`
    /// mini-batch by mini-batch, and returns the per-epoch history. The model's parameter list
    /// (`model.parameters()`) is read once, at the start.
    pub fn fit<M, O>(
        mut self,
        model: &M,
        optimizer: &mut O,
        data: &MiniBatches<T>,
        mut loss: impl FnMut(&Tensor<T>, &Tensor<T>, &[Param<T>]) -> Tensor<T>,
    ) -> History
    where
        M: Module<T>,
        O: Optimizer<T> + ?Sized,
    {
        let mut history = History::default();
        // Records are kept for epochs that are multiples of `every` (see `History`).
        let mut every = 1usize;
        let mut last_record: Option<EpochRecord> = None;
        let m = data.num_examples();
        // Once per fit, not per batch: naming the parameters formats strings, a measurable
        // share of a small network's step.
        let params = model.parameters();
        for epoch in 0..self.epochs {
            if let Some(schedule) = &self.schedule {
                optimizer.set_learning_rate(schedule(epoch));
            }
            let learning_rate = optimizer.learning_rate();
            model.set_training(true);
            let batches = match &mut self.order {
                Some(order) => data.with_permutation(&order(epoch, m)),
                None => data.in_order(),
            };
            let (mut total, mut last) = (0.0, f64::NAN);
            for batch in batches {
                if let Some(hook) = &mut self.before_batch {
                    hook(epoch, &batch);
                }
                optimizer.zero_grad(&params);
                let output = model.forward(&batch.x);
                let cost = loss(&output, &batch.y, &params);
                cost.backward();
                if let Some(max_norm) = self.clip_norm {
                    let norm = crate::optim::clip_grad_norm(&params, max_norm);
                    assert!(
                        norm.is_finite(),
                        "Trainer::fit: the gradient norm is {norm} in epoch {epoch}; run with \
                         engine::anomaly::detect_anomaly(true) to find the operation"
                    );
                }
                optimizer.step(&params);
                last = cost.item().as_f64();
                total += last * batch.indices.len() as f64;
            }
            let mut metrics = Vec::new();
            if let Some((every, eval)) = &mut self.eval {
                if epoch % *every == 0 || epoch + 1 == self.epochs {
                    model.set_training(false);
                    metrics = no_grad(|| eval(epoch, model));
                    model.set_training(true);
                }
            }
            let record = EpochRecord {
                epoch,
                learning_rate,
                last_batch_cost: last,
                mean_cost: total / m as f64,
                metrics,
            };
            if let Some(hook) = &mut self.after_epoch {
                hook(&record);
            }
            if self.stop_if.as_mut().is_some_and(|stop| stop(&record)) {
                history.epochs.push(record);
                return history;
            }
            if epoch % every == 0 {
                history.epochs.push(record.clone());
                if let Some(limit) = self.history_limit {
                    if history.epochs.len() > limit {
                        every *= 2;
                        history.epochs.retain(|r| r.epoch % every == 0);
                    }
                }
            }
            last_record = Some(record);
        }
        if let Some(last) = last_record {
            if history.epochs.last().map(|r| r.epoch) != Some(last.epoch) {
                history.epochs.push(last);
            }
        }
        history
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Gd;
    use crate::schedule::StepDecay;
    use crate::{loss, Dense};

    /// One weight, no bias effect: J = mean((w x - y)^2) with x = y = 1 on 2 examples.
    fn model() -> Dense<f64> {
        Dense::from_parameters(Tensor::zeros(&[1, 1]), Tensor::zeros(&[1, 1]))
    }

    #[test]
    fn fit_runs_the_hand_written_loop() {
        // The same training by hand and through Trainer must agree exactly.
        let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, -1.0], &[1, 3]);
        let y = Tensor::<f64>::from_vec(vec![2.0, 4.5, -2.0], &[1, 3]);
        let data = MiniBatches::new(x, y, 2);
        let a = model();
        let history = Trainer::new(3)
            .shuffle_by(|epoch, m| {
                let mut v: Vec<usize> = (0..m).collect();
                v.rotate_left(epoch % m);
                v
            })
            .fit(&a, &mut Gd::new(0.1), &data, |o, y, _| loss::mse(o, y));
        let b = model();
        let mut opt = Gd::new(0.1);
        let mut last = 0.0;
        for epoch in 0..3 {
            let mut order: Vec<usize> = (0..3).collect();
            order.rotate_left(epoch % 3);
            for batch in data.with_permutation(&order) {
                let params = b.parameters();
                Optimizer::<f64>::zero_grad(&opt, &params);
                let cost = loss::mse(&b.forward(&batch.x), &batch.y);
                cost.backward();
                opt.step(&params);
                last = cost.item();
            }
        }
        assert_eq!(a.weight.to_vec(), b.weight.to_vec());
        assert_eq!(a.bias.to_vec(), b.bias.to_vec());
        assert_eq!(history.epochs.len(), 3);
        assert_eq!(history.last_batch_costs()[2], last);
    }

    #[test]
    fn schedule_eval_and_hooks_are_called() {
        let x = Tensor::<f64>::ones(&[1, 4]);
        let y = Tensor::<f64>::ones(&[1, 4]);
        let data = MiniBatches::new(x, y, 3);
        let m = model();
        let mut batches_seen = 0;
        let mut eval_epochs = Vec::new();
        let mut seen_records = Vec::new();
        let history = Trainer::new(5)
            .schedule(StepDecay::new(0.2, 0.5, 2))
            .before_batch(|_, _| batches_seen += 1)
            .evaluate_every(2, |epoch, model| {
                eval_epochs.push(epoch);
                let out = model.forward(&Tensor::ones(&[1, 1]));
                assert!(!out.requires_grad(), "evaluation records no graph");
                vec![("w".to_string(), out.item())]
            })
            .after_epoch(|record| seen_records.push(record.clone()))
            .fit(&m, &mut Gd::new(1.0), &data, |o, y, _| loss::mse(o, y));
        assert_eq!(batches_seen, 10);
        // The hook saw every record, complete (with the evaluation's metrics), in order.
        assert_eq!(seen_records, history.epochs);
        assert_eq!(eval_epochs, [0, 2, 4]);
        let lrs: Vec<f64> = history.epochs.iter().map(|e| e.learning_rate).collect();
        assert_eq!(lrs, [0.2, 0.2, 0.1, 0.1, 0.05]);
        assert_eq!(history.metric("w").len(), 3);
        // mean cost weights batches by size: batch costs over 3 and 1 examples.
        let e = &history.epochs[0];
        assert!(e.mean_cost.is_finite() && e.last_batch_cost.is_finite());
    }

    fn tiny() -> MiniBatches<f64> {
        MiniBatches::new(Tensor::ones(&[1, 2]), Tensor::ones(&[1, 2]), 2)
    }

    /// The history of a long run stays bounded (it used to grow by one record per epoch),
    /// evenly spread, with the first and last epochs; `full_history` keeps every epoch.
    #[test]
    fn long_runs_keep_a_bounded_history() {
        let data = tiny();
        let history = Trainer::new(10_000).fit(&model(), &mut Gd::new(0.01), &data, |o, y, _| {
            loss::mse(o, y)
        });
        let n = history.epochs.len();
        assert!(
            n <= DEFAULT_HISTORY_LIMIT + 1 && n > DEFAULT_HISTORY_LIMIT / 2,
            "{n}"
        );
        let epochs: Vec<usize> = history.epochs.iter().map(|r| r.epoch).collect();
        assert_eq!(epochs[0], 0);
        assert_eq!(*epochs.last().unwrap(), 9_999);
        let stride = epochs[1] - epochs[0];
        assert!(
            epochs[..n - 1].windows(2).all(|w| w[1] - w[0] == stride),
            "even spacing"
        );

        let limited = Trainer::new(1000).history_limit(10).fit(
            &model(),
            &mut Gd::new(0.01),
            &data,
            |o, y, _| loss::mse(o, y),
        );
        assert!(limited.epochs.len() <= 11, "{}", limited.epochs.len());
        let full = Trainer::new(5000).full_history().fit(
            &model(),
            &mut Gd::new(0.01),
            &data,
            |o, y, _| loss::mse(o, y),
        );
        assert_eq!(full.epochs.len(), 5000);
    }

    #[test]
    fn stop_if_ends_training_after_the_epoch() {
        let mut epochs_seen = 0;
        let history = Trainer::new(100)
            .after_epoch(|_| epochs_seen += 1)
            .stop_if(|r| r.epoch == 6)
            .fit(&model(), &mut Gd::new(0.01), &tiny(), |o, y, _| {
                loss::mse(o, y)
            });
        assert_eq!(epochs_seen, 7);
        assert_eq!(history.epochs.last().unwrap().epoch, 6);
        assert_eq!(history.epochs.len(), 7);
    }

    #[test]
    fn clipping_bounds_the_step_and_a_nan_gradient_panics() {
        // J = mean((w·1 + b - 10)²) from w = b = 0: dJ/dw = dJ/db = -20, global norm
        // sqrt(800); clipped to norm 0.5, Gd(1) moves w by 0.5·20/(sqrt(800) + 1e-6).
        let x = Tensor::<f64>::ones(&[1, 2]);
        let y = Tensor::<f64>::full(&[1, 2], 10.0);
        let data = MiniBatches::new(x, y, 2);
        let m = model();
        Trainer::new(1)
            .clip_grad_norm(0.5)
            .fit(&m, &mut Gd::new(1.0), &data, |o, y, _| loss::mse(o, y));
        let expected = 0.5 * 20.0 / (800f64.sqrt() + 1e-6);
        assert!(
            (m.weight.to_vec()[0] - expected).abs() < 1e-15,
            "{:?}",
            m.weight.to_vec()
        );
        let nan = MiniBatches::new(
            Tensor::<f64>::from_vec(vec![f64::NAN], &[1, 1]),
            Tensor::<f64>::ones(&[1, 1]),
            1,
        );
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Trainer::new(1)
                .clip_grad_norm(1.0)
                .fit(&model(), &mut Gd::new(1.0), &nan, |o, y, _| loss::mse(o, y))
        }));
        assert!(result.is_err());
    }
}
