//! The seeds' training loops, run by `nn::train::Trainer` over `nn::data::MiniBatches`: full-batch
//! gradient descent (the initialization and regularization assignments: one "epoch" is one
//! iteration over all examples, in order) and shuffled mini-batches (optimization, MNIST: before
//! epoch `i` the seed `10 + i + 1` shuffles the columns, `np.random.seed(seed);
//! np.random.permutation(m)`, and the shuffled set is cut into batches, the last one smaller).
//!
//! Costs are reported at the seeds' cadence as training goes, and a check runs before the first
//! and before the last update.

use engine::random::NumpyRng;
use engine::Tensor;
use nn::data::{Batch, MiniBatches};
use nn::optim::Optimizer;
use nn::train::{EpochRecord, Trainer};
use nn::{Module, Param};

use crate::report::{AutodiffCheck, Progress, Reporter};

/// Which cost an epoch reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochCost {
    /// The cost of the epoch's last mini-batch (seed 001's loop; for full-batch runs, the
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
    /// Every epoch's mean mini-batch cost (weighted by batch size), whatever the cadence:
    /// a smoother picture of training than single last-batch costs.
    pub epoch_means: Vec<f64>,
}

/// Trains `model` on `(x, y)` with `optimizer`, minimizing `loss(output, targets, params)`.
///
/// `before_forward` runs before every forward pass (the seed's dropout reseeds there);
/// `check(update, model, batch)` runs, after it, before the first and the last update, with
/// the parameters still at the values that update starts from (return `None` to skip); it must
/// leave the model as it found it (`nn::check::ModuleCheck` does).
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
    reporter: &Reporter,
) -> Trained {
    let m = x.shape()[1];
    let data = MiniBatches::new(x.clone(), y.clone(), plan.batch_size.unwrap_or(m));
    let last_update = plan.epochs * data.num_batches() as u64 - 1;
    let (mut checks, mut cost_at, mut costs, mut epoch_means) = (vec![], vec![], vec![], vec![]);
    let mut update = 0u64;
    let mut progress = Progress::default();
    let mut shuffle = NumpyRng::new(0);
    let mut trainer = Trainer::new(plan.epochs as usize)
        .before_batch(|epoch, batch| {
            before_forward();
            if update == 0 || update == last_update {
                checks.extend(check(update, model, batch));
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
            epoch_means.push(record.mean_cost);
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
    trainer.fit(model, optimizer, &data, loss);
    Trained {
        cost_at,
        costs,
        checks,
        epoch_means,
    }
}
