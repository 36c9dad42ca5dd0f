//! The seeds' training loops, run by `nn::train::Trainer` over `nn::data::MiniBatches`: full-batch
//! gradient descent (the initialization and regularization assignments: one "epoch" is one
//! iteration over all examples, in order) and shuffled mini-batches (optimization, MNIST: before
//! epoch `i` the seed `10 + i + 1` shuffles the columns, `np.random.seed(seed);
//! np.random.permutation(m)`, and the shuffled set is cut into batches, the last one smaller).
//!
//! Costs are reported at the seeds' cadence as training goes, and a check runs before the first
//! and before the last update (on at most [`crate::checks::CHECK_BUDGET`] component-examples
//! unless `--check full`; a check that takes more than a second says so on standard error).
//!
//! A cost that becomes NaN or infinite stops the run with an error naming the epoch (or
//! iteration), unless `--allow-nonfinite`. Memory does not grow with the number of epochs
//! beyond the reported costs: the per-epoch means kept for plots are thinned to at most
//! [`MEAN_POINTS`] points.

use std::io::IsTerminal;
use std::time::Duration;

use engine::random::NumpyRng;
use engine::Tensor;
use nn::data::{Batch, MiniBatches};
use nn::optim::Optimizer;
use nn::train::{EpochRecord, Trainer};
use nn::{Module, Param};

use crate::assignments::{AppError, Context};
use crate::checks::{check_examples, first_columns};
use crate::report::{AutodiffCheck, Progress};

/// At most this many (about) per-epoch mean costs are kept for plots; longer runs keep every
/// `2^k`-th epoch's (and the last), evenly spread.
pub const MEAN_POINTS: usize = 4096;

/// `(epoch, value)` points thinned to about [`MEAN_POINTS`], as `nn::train::History` does.
#[derive(Clone, Debug, Default)]
struct Thinned {
    points: Vec<(u64, f64)>,
    every: u64,
    last: Option<(u64, f64)>,
}

impl Thinned {
    fn push(&mut self, at: u64, value: f64) {
        let every = self.every.max(1);
        if at.is_multiple_of(every) {
            self.points.push((at, value));
            if self.points.len() > MEAN_POINTS {
                self.every = every * 2;
                let e = self.every;
                self.points.retain(|p| p.0.is_multiple_of(e));
            }
        }
        self.last = Some((at, value));
    }

    fn finish(mut self) -> Vec<(u64, f64)> {
        if let Some(last) = self.last {
            if self.points.last() != Some(&last) {
                self.points.push(last);
            }
        }
        self.points
    }
}

/// Which cost an epoch reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochCost {
    /// The cost of the epoch's last mini-batch (the course's loop; for full-batch runs, the
    /// iteration's cost).
    LastBatch,
    /// The sum of the per-example losses over the epoch divided by `m` (the course notebook's
    /// `cost_total / m`).
    Average,
}

/// How a run trains and reports.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Name shown in progress lines.
    pub name: String,
    /// `iteration` (full batch) or `epoch`: what the reported costs count.
    pub unit: &'static str,
    /// Number of iterations or epochs.
    pub epochs: u64,
    /// Mini-batch size; `None` trains on all examples at once, in order.
    pub batch_size: Option<usize>,
    /// Report the cost when `epoch % print_every == 0`.
    pub print_every: u64,
    /// Which cost an epoch reports.
    pub epoch_cost: EpochCost,
}

/// What a training run produced.
#[derive(Clone, Debug, Default)]
pub struct Trained {
    /// The iterations (or epochs) the costs were reported at.
    pub cost_at: Vec<u64>,
    /// The reported costs.
    pub costs: Vec<f64>,
    /// The checks before the first and the last update.
    pub checks: Vec<AutodiffCheck>,
    /// `(epoch, mean mini-batch cost weighted by batch size)`, whatever the cadence: a
    /// smoother picture of training than single last-batch costs. Every epoch of runs up to
    /// [`MEAN_POINTS`] epochs; thinned evenly beyond.
    pub epoch_means: Vec<(u64, f64)>,
}

/// Trains `model` on `(x, y)` with `optimizer`, minimizing `loss(output, targets, params)`.
///
/// `before_forward` runs before every forward pass (the seed's dropout reseeds there);
/// `check(update, model, batch)` runs, after it, before the first and the last update, with
/// the parameters still at the values that update starts from (return `None` to skip), on the
/// examples `ctx.check` allows; it must leave the model as it found it
/// (`nn::check::ModuleCheck` does).
///
/// Errors when the data has no examples, and when a cost is NaN or infinite (unless
/// `ctx.allow_nonfinite`), naming the epoch or iteration.
#[allow(clippy::too_many_arguments)]
pub fn fit<M: Module<f64>>(
    model: &M,
    optimizer: &mut dyn Optimizer<f64>,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    plan: &Plan,
    loss: impl FnMut(&Tensor<f64>, &Tensor<f64>, &[Param<f64>]) -> Tensor<f64>,
    mut before_forward: impl FnMut(),
    mut check: impl FnMut(u64, &M, &Batch<f64>) -> Option<AutodiffCheck>,
    ctx: &Context,
) -> Result<Trained, AppError> {
    let reporter = &ctx.reporter;
    let m = x.shape()[1];
    if m == 0 {
        return Err(AppError(format!(
            "[{}] the training set has no examples",
            plan.name
        )));
    }
    if plan.epochs == 0 {
        return Err(AppError(format!(
            "[{}] no {}s to train",
            plan.name, plan.unit
        )));
    }
    let data = MiniBatches::new(x.clone(), y.clone(), plan.batch_size.unwrap_or(m).max(1));
    let last_update = (plan.epochs * data.num_batches() as u64).saturating_sub(1);
    // Shared handles: they follow the optimizer's in-place updates.
    let params = model.parameters();
    let components: usize = params.iter().map(|p| p.tensor.numel()).sum();
    let (mut checks, mut cost_at, mut costs) = (vec![], vec![], vec![]);
    let mut epoch_means = Thinned::default();
    let mut nonfinite: Option<String> = None;
    let mut update = 0u64;
    let mut progress = Progress::default();
    let mut shuffle = NumpyRng::new(0);
    let mut trainer = Trainer::new(plan.epochs as usize)
        .before_batch(|epoch, batch| {
            before_forward();
            if update == 0 || update == last_update {
                let batch_m = batch.x.shape()[1];
                let k = check_examples(ctx.check, components, batch_m);
                let sub;
                let checked = if k < batch_m {
                    sub = Batch {
                        x: first_columns(&batch.x, k),
                        y: first_columns(&batch.y, k),
                        indices: batch.indices[..k].to_vec(),
                    };
                    &sub
                } else {
                    batch
                };
                let what = format!(
                    "  [{}] checking gradients at update {update}: {components} components on {k} \
                     examples, two loss evaluations per component",
                    plan.name
                );
                let c =
                    with_slow_notice(reporter_quiet(ctx), &what, || check(update, model, checked));
                checks.extend(c.map(|mut c| {
                    c.examples = k;
                    c.batch_examples = batch_m;
                    c
                }));
            }
            update += 1;
            progress.tick(reporter, || {
                format!(
                    "  [{}] {} {}/{}",
                    plan.name,
                    plan.unit,
                    epoch + 1,
                    plan.epochs
                )
            });
        })
        .after_epoch(|record: &EpochRecord| {
            let epoch = record.epoch as u64;
            epoch_means.push(epoch, record.mean_cost);
            if epoch.is_multiple_of(plan.print_every) {
                let cost = match plan.epoch_cost {
                    EpochCost::LastBatch => record.last_batch_cost,
                    EpochCost::Average => record.mean_cost,
                };
                cost_at.push(epoch);
                costs.push(cost);
                reporter.cost(plan.unit, epoch, cost);
            }
        });
    if plan.batch_size.is_some() {
        trainer = trainer.shuffle_by(|epoch, m| {
            shuffle.seed(10 + epoch as u32 + 1);
            shuffle.permutation(m)
        });
    }
    if !ctx.allow_nonfinite {
        trainer = trainer.stop_if(|record: &EpochRecord| {
            let bad = !record.mean_cost.is_finite() || !record.last_batch_cost.is_finite();
            if bad {
                nonfinite = Some(format!(
                    "[{}] the cost became {} at {} {} (learning rate too large, or bad data?); \
                     stopped (--allow-nonfinite keeps going)",
                    plan.name,
                    if record.mean_cost.is_finite() {
                        record.last_batch_cost
                    } else {
                        record.mean_cost
                    },
                    plan.unit,
                    record.epoch
                ));
            }
            bad
        });
    }
    // The apps keep what they report themselves: the trainer's own history can stay short.
    trainer = trainer.history_limit(2);
    trainer.fit(model, optimizer, &data, loss);
    if let Some(e) = nonfinite {
        return Err(AppError(e));
    }
    Ok(Trained {
        cost_at,
        costs,
        checks,
        epoch_means: epoch_means.finish(),
    })
}

/// Whether progress lines are silenced.
fn reporter_quiet(ctx: &Context) -> bool {
    ctx.reporter.is_quiet()
}

/// Runs `work`; if it takes more than a second, says `what` on standard error (when it is a
/// terminal and not `--quiet`), then how long it has been running every 5 s, and the time it
/// took. Standard output is untouched, so results read the same however long a check takes.
fn with_slow_notice<R>(quiet: bool, what: &str, work: impl FnOnce() -> R) -> R {
    if quiet || !std::io::stderr().is_terminal() {
        return work();
    }
    let (done, wait) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            let started = std::time::Instant::now();
            let mut timeout = Duration::from_secs(1);
            let mut announced = false;
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(timeout) {
                if announced {
                    eprintln!("{what}: {:.0} s so far", started.elapsed().as_secs_f64());
                } else {
                    eprintln!("{what}...");
                    announced = true;
                }
                timeout = Duration::from_secs(5);
            }
            if announced {
                eprintln!("{what}: done in {:.1} s", started.elapsed().as_secs_f64());
            }
        });
        let r = work();
        drop(done);
        r
    })
}
