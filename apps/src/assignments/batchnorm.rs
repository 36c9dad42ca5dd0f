//! Batch normalization on the MNIST network (chapter 6.6.2 explains it; the course has
//! no exercise). Two networks start from the same He-initialized weights (seed 3) and train with
//! mini-batch gradient descent at a learning rate well above the plain network's 0.001:
//!
//! - plain: `Dense(784→30) ReLU Dense(30→20) ReLU Dense(20→10)`, softmax cross-entropy;
//! - batch norm: `Dense BatchNorm ReLU` for each hidden layer (normalizing the pre-activations,
//!   as the seed describes, with ε = 1e-5 and running-average momentum 0.9).
//!
//! Both are `nn` layers trained with `nn`'s gradient descent. The cost of each epoch's last
//! mini-batch is reported and both curves are drawn side by side; the batch-norm network's
//! autodiff gradients (through the batch statistics) are checked against central differences at
//! the first and the last update, every component.

use std::time::Instant;

use engine::check::CheckConfig;
use engine::random::NumpyRng;
use engine::Tensor;
use nn::check::ModuleCheck;
use nn::optim::Gd;
use nn::{Activation, BatchNorm, Dense, Init, Sequential};

use super::mnist::DIMS;
use super::{AppError, Context, Data};
use crate::checks::summarize;
use crate::cli::BatchnormArgs;
use crate::model::{self, Output};
use crate::plot;
use crate::report::{AutodiffCheck, RunReport};
use crate::train;

/// `ε` of the batch-norm layers.
pub const BN_EPSILON: f64 = 1e-5;
/// Weight of the old running estimate.
pub const BN_MOMENTUM: f64 = 0.9;

/// `Dense`, then (with batch norm) `BatchNorm`, then `ReLU` for each hidden layer; a linear
/// output. `dense` are the dense layers in order.
pub fn assemble(dense: Vec<Dense<f64>>, batch_norm: bool) -> Sequential<f64> {
    let hidden = dense.len() - 1;
    let mut model = Sequential::new(vec![]);
    for (l, d) in dense.into_iter().enumerate() {
        let n_out = d.out_features();
        model.push(d);
        if l < hidden {
            if batch_norm {
                model.push(BatchNorm::new(n_out, BN_EPSILON, BN_MOMENTUM));
            }
            model.push(Activation::Relu);
        }
    }
    model
}

/// The network with He-initialized weights (`np.random.seed(seed)`, `W1`, `W2`, ... in order).
pub fn build(batch_norm: bool, seed: u32) -> Sequential<f64> {
    let mut rng = NumpyRng::new(seed);
    let dense = DIMS
        .windows(2)
        .map(|d| Dense::new(d[0], d[1], &Init::HeNormal, &mut rng))
        .collect();
    assemble(dense, batch_norm)
}

/// Autodiff against central differences of the batch's loss, every component (there is no
/// hand-derived backprop for this network; nn's tests compare `BatchNorm` with the seed's
/// equations 6.33-6.38), on the training network itself in training mode: the check restores
/// its parameters and running statistics afterwards.
fn check(update: u64, model: &Sequential<f64>, x: &Tensor<f64>, y: &Tensor<f64>) -> AutodiffCheck {
    let loss = |logits: &Tensor<f64>, y: &Tensor<f64>, _: &[nn::Param<f64>]| {
        nn::loss::softmax_cross_entropy(logits, y)
    };
    let report = ModuleCheck::new(model, x, y, &loss)
        .config(CheckConfig::default())
        .run();
    summarize(update, &report, 0)
}

/// Trains one network; returns its report (without plots) and the `(epoch, mean cost)` points
/// to plot.
pub fn train_one(
    ctx: &Context,
    data: &Data,
    args: &BatchnormArgs,
    batch_norm: bool,
) -> Result<(RunReport, Vec<(f64, f64)>), AppError> {
    let started = Instant::now();
    let run = if batch_norm {
        "batchnorm-bn"
    } else {
        "batchnorm-plain"
    }
    .to_string();
    ctx.reporter.line(&format!(
        "== {run}: {DIMS:?}{}, gd lr {}, {} epochs, mini-batch {}",
        if batch_norm {
            " with BatchNorm before each hidden ReLU"
        } else {
            ""
        },
        args.learning_rate,
        args.num_epochs,
        args.mini_batch_size
    ));
    let model = build(batch_norm, args.init_seed);
    let mut plan = super::mnist::plan(ctx, &run, args.num_epochs, args.mini_batch_size);
    plan.print_every = ctx.print_every.unwrap_or(1);
    let trained = train::fit(
        &model,
        &mut Gd::new(args.learning_rate),
        &data.x,
        &data.y,
        &plan,
        |logits, y, _| nn::loss::softmax_cross_entropy(logits, y),
        || {},
        |update, model, batch| batch_norm.then(|| check(update, model, &batch.x, &batch.y)),
        ctx,
    )?;
    // The plot compares the networks by each epoch's mean mini-batch cost: the reported
    // last-batch costs depend on which 32 images came last.
    let points = trained
        .epoch_means
        .iter()
        .map(|&(e, c)| (e as f64, c))
        .collect();
    // Evaluation mode: batch norm uses its running estimates (6.42).
    let accuracy = |x: &Tensor<f64>, y: &Tensor<f64>| {
        model::accuracy(
            &model::predict(&model, Output::Softmax, x),
            &model::labels_of(y),
        )
    };
    let train_acc = accuracy(&data.x, &data.y);
    let test_acc = data.test.as_ref().map(|(tx, ty)| accuracy(tx, ty));
    let report = RunReport {
        run,
        data: data.source.clone(),
        unit: "epoch",
        cost_at: trained.cost_at,
        costs: trained.costs,
        train_acc,
        test_acc,
        checks: trained.checks,
        hvp_checks: vec![],
        test_acc_curve: vec![],
        plots: vec![],
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((report, points))
}

/// `apps batchnorm`: both networks, then the side-by-side cost plot.
pub fn run(ctx: &Context, args: &BatchnormArgs) -> Result<Vec<RunReport>, AppError> {
    if args.mini_batch_size < 2 {
        return Err(AppError(
            "--mini-batch-size must be at least 2 for batch statistics".into(),
        ));
    }
    let data = super::mnist::load(args.data_dir.as_deref(), args.n_train)?;
    data.announce(ctx);
    let (mut plain, plain_points) = train_one(ctx, &data, args, false)?;
    let (mut bn, bn_points) = train_one(ctx, &data, args, true)?;
    if let Some(dir) = ctx.out_dir()? {
        let path = dir.join("batchnorm-cost.svg");
        plot::cost_curves(
            &path,
            &format!(
                "MNIST [784,30,20,10], gd lr {}: plain vs batch norm",
                args.learning_rate
            ),
            "epoch",
            "mean mini-batch cost of the epoch",
            &[
                plot::Series {
                    label: "plain",
                    points: &plain_points,
                    markers: true,
                },
                plot::Series {
                    label: "batch norm",
                    points: &bn_points,
                    markers: true,
                },
            ],
        )?;
        plain.plots.push(path.display().to_string());
        bn.plots.push(path.display().to_string());
    }
    ctx.reporter.run(&plain);
    ctx.reporter.run(&bn);
    Ok(vec![plain, bn])
}
