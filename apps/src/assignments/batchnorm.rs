//! Batch normalization on the MNIST network (seed 001 section 6.6.2 explains it; the seed has no
//! exercise). Two networks start from the same He-initialized weights (seed 3) and train with
//! mini-batch gradient descent at a learning rate well above the plain network's 0.001:
//!
//! - plain: `Dense(784→30) ReLU Dense(30→20) ReLU Dense(20→10)`, softmax cross-entropy;
//! - batch norm: `Dense BatchNorm ReLU` for each hidden layer (normalizing the pre-activations,
//!   as the seed describes, with ε = 1e-5 and running-average momentum 0.9).
//!
//! Both are built from `nn` layers and trained with `nn`'s gradient descent. The cost of each
//! epoch's last mini-batch is reported and both curves are drawn side by side; the batch-norm
//! network's autodiff gradients (through the batch statistics) are checked against central
//! differences at the first and the last update.

use std::time::Instant;

use engine::{no_grad, Tensor};
use nn::optim::{Gd, Optimizer};
use nn::{Activation, BatchNorm, Dense, Module, Param, Sequential};

use super::mnist::{CHECK_COMPONENTS, DIMS};
use super::{AppError, Context, Data};
use crate::checks::{numerical_components, sample_indices, three_way_report};
use crate::cli::BatchnormArgs;
use crate::net;
use crate::plot;
use crate::report::{Progress, RunReport};
use crate::train::{self, CourseInit};

/// `ε` of the batch-norm layers.
pub const BN_EPSILON: f64 = 1e-5;
/// Weight of the old running estimate.
pub const BN_MOMENTUM: f64 = 0.9;

/// The network from initial `[W1, b1, W2, b2, W3, b3]`, with or without batch norm.
pub fn build(params: &[Tensor<f64>], batch_norm: bool) -> Sequential<f64> {
    let layers = params.len() / 2;
    let mut model: Vec<Box<dyn Module<f64>>> = vec![];
    for l in 0..layers {
        let w = &params[2 * l];
        model.push(Box::new(Dense::from_parameters(
            w.clone(),
            params[2 * l + 1].clone(),
        )));
        if l + 1 < layers {
            if batch_norm {
                model.push(Box::new(BatchNorm::new(
                    w.shape()[0],
                    BN_EPSILON,
                    BN_MOMENTUM,
                )));
            }
            model.push(Box::new(Activation::Relu));
        }
    }
    Sequential::new(model)
}

fn loss_of(model: &mut Sequential<f64>, x: &Tensor<f64>, y: &Tensor<f64>) -> Tensor<f64> {
    nn::loss::softmax_cross_entropy(&model.forward(x), y)
}

/// Autodiff (already in the parameters' gradients) against central differences of the batch's
/// loss, at most [`CHECK_COMPONENTS`] components per parameter. Running statistics are restored
/// afterwards, so the check leaves training untouched.
fn check(
    step: u64,
    model: &mut Sequential<f64>,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
) -> crate::report::AutodiffCheck {
    let params: Vec<Param<f64>> = model.parameters();
    let names: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
    let autodiff: Vec<Tensor<f64>> = params.iter().map(|p| p.grad().expect("gradient")).collect();
    let values: Vec<Tensor<f64>> = params
        .iter()
        .map(|p| p.tensor.detach().contiguous())
        .collect();
    let saved: Vec<(Tensor<f64>, Vec<f64>)> = model
        .buffers()
        .into_iter()
        .map(|b| (b.tensor.clone(), b.tensor.to_vec()))
        .collect();
    let model_cell = std::cell::RefCell::new(model);
    let loss = |point: &[Tensor<f64>]| {
        let mut m = model_cell.borrow_mut();
        for (p, v) in params.iter().zip(point) {
            p.tensor.set_data(v);
        }
        no_grad(|| loss_of(&mut m, x, y).item())
    };
    let indices: Vec<Vec<usize>> = values
        .iter()
        .map(|v| sample_indices(v.numel(), CHECK_COMPONENTS))
        .collect();
    let numeric = numerical_components(&loss, &values, &indices, 1e-7);
    for (p, v) in params.iter().zip(&values) {
        p.tensor.set_data(v);
    }
    for (t, v) in saved {
        t.update_data(|d| d.copy_from_slice(&v));
    }
    // No hand-derived backprop for the batch-norm network here (nn's tests compare BatchNorm
    // with the seed's equations 6.33-6.38): vs_hand is not applicable.
    let mut c = three_way_report(step, &names, &autodiff, &indices, &numeric, f64::NAN);
    c.max_abs_vs_hand = f64::NAN;
    c
}

/// Trains one network; returns its report (without plots) and the `(epoch, cost)` points.
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
    let init = train::course_init(&DIMS, CourseInit::He, args.init_seed);
    let mut model = build(&init, batch_norm);
    let params = model.parameters();
    let mut opt = Gd::new(args.learning_rate);
    let (x, y) = (&data.x, &data.y);
    let m = x.shape()[1];
    let batch = args.mini_batch_size;
    let last_step = args.num_epochs * m.div_ceil(batch) as u64 - 1;
    let every = ctx.print_every.unwrap_or(1);
    let mut rng = engine::random::NumpyRng::new(0);
    let (mut seed, mut step) = (10u32, 0u64);
    let (mut cost_at, mut costs, mut checks) = (vec![], vec![], vec![]);
    let mut progress = Progress::default();
    for epoch in 0..args.num_epochs {
        seed += 1;
        rng.seed(seed);
        let order = rng.permutation(m);
        let (sx, sy) = (x.index_select(1, &order), y.index_select(1, &order));
        let mut last = 0.0;
        for start in (0..m).step_by(batch) {
            let len = batch.min(m - start);
            let bx = sx.narrow(1, start, len).contiguous();
            let by = sy.narrow(1, start, len).contiguous();
            opt.zero_grad(&params);
            let loss = loss_of(&mut model, &bx, &by);
            loss.backward();
            if batch_norm && (step == 0 || step == last_step) {
                checks.push(check(step, &mut model, &bx, &by));
            }
            opt.step(&params);
            last = loss.item();
            step += 1;
        }
        if epoch % every == 0 {
            cost_at.push(epoch);
            costs.push(last);
            ctx.reporter.cost("epoch", epoch, last);
        }
        progress.tick(&ctx.reporter, || {
            format!("  [{run}] epoch {}/{}", epoch + 1, args.num_epochs)
        });
    }
    model.set_training(false);
    let mut accuracy = |x: &Tensor<f64>, y: &Tensor<f64>| {
        let predicted = no_grad(|| model.forward(x)).argmax_axis(0);
        net::accuracy(&predicted, &net::labels_of(y))
    };
    let train_acc = accuracy(x, y);
    let test_acc = data.test.as_ref().map(|(tx, ty)| accuracy(tx, ty));
    let points = cost_at
        .iter()
        .zip(&costs)
        .map(|(&e, &c)| (e as f64, c))
        .collect();
    let report = RunReport {
        run,
        unit: "epoch",
        cost_at,
        costs,
        train_acc,
        test_acc,
        checks,
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
    let (mut plain, plain_points) = train_one(ctx, &data, args, false)?;
    let (mut bn, bn_points) = train_one(ctx, &data, args, true)?;
    if let Some(dir) = ctx.out_dir()? {
        let path = dir.join("batchnorm-cost.svg");
        plot::cost_curves(
            &path,
            &format!("MNIST, lr {}: plain vs batch norm", args.learning_rate),
            "epoch",
            &[
                plot::Series {
                    label: "plain",
                    points: &plain_points,
                },
                plot::Series {
                    label: "batch norm",
                    points: &bn_points,
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
