//! `apps cnn`: a LeNet-style convolutional network on MNIST, built from the layers for modern
//! architectures (`nn::conv`) and trained with Adam on f32 tensors.
//!
//! Network (images are batch-first `(m, 1, 28, 28)`):
//! `conv 1→6 5×5 pad 2 → ReLU → max-pool 2 → conv 6→16 5×5 → ReLU → max-pool 2 → Flatten
//! (400, m) → Dense 120 → ReLU → Dense 84 → ReLU → Dense 10`, cross-entropy from class indices
//! on the logits `(10, m)` (classes on axis 0: after `Flatten` the examples are columns, as in
//! the course's dense networks). He-normal filters and weights with the convolution fans.
//! The network is a [`Sequential`] of the library's [`Module`] layers ([`lenet`]), so its
//! parameters have the course's names (`W1`, `b1` for the first convolution, ..., `b5`) in
//! reports, optimizer state and checkpoints.
//!
//! The learning rate decays by `--lr-decay` (0.7) after every epoch, which settles the test
//! accuracy instead of letting it wander between epochs at a constant rate.
//!
//! By default it trains on the first 8000 images of the bundled test set and tests on the last
//! 2000, as `apps mnist` does. At the first and the last update the autodiff gradient of the
//! cost on a small batch (4 images) is checked three ways, in f64 (the f32 parameters
//! widened): against the textbook convolution and pooling backprop written out as loops
//! ([`crate::backprop_cnn`], every component) and against central differences over a
//! deterministic sample of 8 components of every parameter. The sample keeps the check to a
//! second: [`nn::check::check_module`] differentiates every component (61 706 here, two
//! passes each); a test below runs it on the convolutions and the output layer with the
//! hand-derived backprop as its third opinion.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use engine::check::relative_difference;
use engine::ops::conv::Conv2dOptions;
use engine::random::Sampler;
use engine::{grad, no_grad, BackwardOptions, Float, Tensor};
use nn::conv::{Conv2d, Flatten, MaxPool2d};
use nn::optim::{Adam, Optimizer};
use nn::{Activation, Dense, Init, Module, Sequential};
use rand::SeedableRng;

use super::{AppError, Context, Data};
use crate::model;
use crate::report::{self, AutodiffCheck, RunReport};

/// `apps cnn`.
#[derive(Debug, Args, Clone, PartialEq)]
pub struct CnnArgs {
    /// A folder with the four standard MNIST IDX files (default: the bundled test set split).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.002)]
    pub learning_rate: f64,
    /// The learning rate is multiplied by this after every epoch (1 keeps it constant).
    #[arg(long, default_value_t = 0.7)]
    pub lr_decay: f64,
    /// Number of epochs.
    #[arg(long, default_value_t = 8)]
    pub num_epochs: u64,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    pub mini_batch_size: usize,
    /// Training examples taken from the bundled test set (the rest test).
    #[arg(long, default_value_t = 8000)]
    pub n_train: usize,
    /// Seed of the initial weights and of the shuffling.
    #[arg(long, default_value_t = 3)]
    pub init_seed: u32,
}

/// The LeNet-style network as a [`Sequential`] of [`Module`]s: convolutions, ReLUs, pools,
/// [`Flatten`] (the seam from batch-first images to examples as columns) and dense layers. Its
/// parameters carry the course's numbering for a convolutional network: `W1`, `b1` (conv
/// 1→6), `W2`, `b2` (conv 6→16), `W3` ... `b5` (the dense layers); weights are drawn in that
/// order, He-normal with each layer's fans, biases zero.
pub fn lenet<T: Float, S: Sampler + ?Sized>(sampler: &mut S) -> Sequential<T> {
    let he = Init::HeNormal;
    let conv = |c_in, c_out, pad, sampler: &mut S| {
        Conv2d::new(
            c_in,
            c_out,
            (5, 5),
            Conv2dOptions::new().padding(pad),
            true,
            &he,
            sampler,
        )
    };
    let relu = || Box::new(Activation::Relu);
    Sequential::new(vec![
        Box::new(conv(1, 6, 2, sampler)),
        relu(),
        Box::new(MaxPool2d::new(2)),
        Box::new(conv(6, 16, 0, sampler)),
        relu(),
        Box::new(MaxPool2d::new(2)),
        Box::new(Flatten),
        Box::new(Dense::new(400, 120, &he, sampler)),
        relu(),
        Box::new(Dense::new(120, 84, &he, sampler)),
        relu(),
        Box::new(Dense::new(84, 10, &he, sampler)),
    ])
}

/// Positions in [`lenet`]'s layers of the outputs that go into a ReLU (its pre-activations,
/// where a central difference can cross a kink).
const PRE_ACTIVATIONS: [usize; 4] = [0, 3, 7, 9];

/// Images `(m, 1, 28, 28)` in f32 from the examples-as-columns pixels `(784, m)`.
fn images(x: &Tensor<f64>) -> Tensor<f32> {
    let m = x.shape()[1];
    x.t().reshape(&[m, 1, 28, 28]).cast::<f32>()
}

/// Mean cross-entropy of the logits `(10, m)` against class indices.
fn cost<T: Float>(logits: &Tensor<T>, labels: &[usize]) -> Tensor<T> {
    logits.cross_entropy_indices(labels, 0, Default::default())
}

/// Predicted classes, in chunks of 500 images without recording a graph.
fn predict(net: &Sequential<f32>, x: &Tensor<f32>) -> Vec<usize> {
    no_grad(|| {
        let m = x.shape()[0];
        let mut out = Vec::with_capacity(m);
        for start in (0..m).step_by(500) {
            let len = 500.min(m - start);
            let logits = net.forward(&x.narrow(0, start, len));
            out.extend(logits.argmax_axis(0));
        }
        out
    })
}

/// Autodiff against central differences (ε = 1e-6, f64) at `update`, on the images `x` and
/// labels `y`, over `per_param` evenly spaced components of every parameter of `net`, and
/// against the hand-derived backprop on every component. The check runs on an f64 copy of
/// `net` (its parameters widened, written by name), so the training network is untouched.
fn sampled_check(
    update: u64,
    net: &Sequential<f32>,
    x: &Tensor<f32>,
    y: &[usize],
    per_param: usize,
) -> AutodiffCheck {
    // Any weights will do: every parameter is overwritten by name below.
    let wide = lenet::<f64, _>(&mut rand::rngs::StdRng::seed_from_u64(0));
    let params = wide.parameters();
    for (p, narrow) in params.iter().zip(net.parameters()) {
        assert_eq!(
            p.name, narrow.name,
            "the f64 copy lists the same parameters"
        );
        p.tensor.set_data(&narrow.tensor.detach().cast::<f64>());
    }
    let values: Vec<Tensor<f64>> = params.iter().map(|p| p.tensor.detach()).collect();
    let x = x.cast::<f64>();
    let trace = wide.forward_trace(&x);
    let near_kinks = PRE_ACTIVATIONS
        .iter()
        .map(|&i| trace[i].to_vec().iter().filter(|v| v.abs() < 1e-6).count())
        .sum();
    let leaves: Vec<&Tensor<f64>> = params.iter().map(|p| &p.tensor).collect();
    let logits = trace.last().expect("lenet has layers");
    let autodiff = grad(&cost(logits, y), &leaves, BackwardOptions::default());
    let raw: Vec<Vec<f64>> = values.iter().map(Tensor::to_vec).collect();
    let hand = crate::backprop_cnn::lenet_gradients(&raw, &x.to_vec(), y);
    let flat_auto: Vec<f64> = autodiff.iter().flat_map(Tensor::to_vec).collect();
    let flat_hand: Vec<f64> = hand.iter().flatten().copied().collect();
    let eps = 1e-6;
    let (mut all_a, mut all_n) = (vec![], vec![]);
    let mut per_param_vs_numerical = vec![];
    let mut worst: Vec<report::Component> = vec![];
    no_grad(|| {
        for (i, p) in params.iter().enumerate() {
            let n = values[i].numel();
            let g = autodiff[i].to_vec();
            let (mut a, mut num) = (vec![], vec![]);
            for s in 0..per_param.min(n) {
                let k = s * n / per_param.min(n) + (s * 7) % (n / per_param.min(n)).max(1);
                // Shift one component of the network's own parameter, then put it back.
                let original = values[i].to_vec()[k];
                let shifted = |d: f64| {
                    p.tensor.update_data(|v| v[k] = original + d);
                    let loss = cost(&wide.forward(&x), y).item();
                    p.tensor.update_data(|v| v[k] = original);
                    loss
                };
                let numerical = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
                a.push(g[k]);
                num.push(numerical);
                worst.push(report::Component {
                    param: p.name.clone(),
                    index: vec![k],
                    autodiff: g[k],
                    hand_derived: Some(hand[i][k]),
                    numerical,
                });
            }
            per_param_vs_numerical.push((p.name.clone(), relative_difference(&a, &num)));
            all_a.extend(a);
            all_n.extend(num);
        }
    });
    worst.sort_by(|a, b| {
        (b.autodiff - b.numerical)
            .abs()
            .total_cmp(&(a.autodiff - a.numerical).abs())
    });
    worst.truncate(crate::checks::WORST);
    let grad_norm = autodiff
        .iter()
        .map(|g| g.to_vec().iter().map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        .sqrt();
    AutodiffCheck {
        update,
        grad_norm,
        vs_hand: Some(relative_difference(&flat_auto, &flat_hand)),
        max_abs_vs_hand: Some(
            flat_auto
                .iter()
                .zip(&flat_hand)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max),
        ),
        vs_numerical: relative_difference(&all_a, &all_n),
        max_abs_vs_numerical: all_a
            .iter()
            .zip(&all_n)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max),
        per_param_vs_numerical,
        near_kinks,
        relative_meaningful: grad_norm >= report::NEGLIGIBLE_GRADIENT,
        // The check has its own fixed batch (the first training images), checked whole.
        examples: y.len(),
        batch_examples: y.len(),
        worst,
    }
}

/// One training run on `data`.
pub fn train_run(ctx: &Context, data: &Data, args: &CnnArgs) -> Result<RunReport, AppError> {
    let started = Instant::now();
    let run = "cnn-lenet".to_string();
    let (test_x, test_y) = data
        .test
        .as_ref()
        .ok_or_else(|| AppError("cnn: the data set has no test split".into()))?;
    let (x, labels) = (images(&data.x), model::labels_of(&data.y));
    let (tx, tlabels) = (images(test_x), model::labels_of(test_y));
    let m = x.shape()[0];
    ctx.reporter.line(&format!(
        "== {run}: conv6-pool-conv16-pool-120-84-10, adam lr {} (x{} per epoch), {} epochs, \
         mini-batch {}, {m} training and {} test images",
        args.learning_rate,
        args.lr_decay,
        args.num_epochs,
        args.mini_batch_size,
        tx.shape()[0]
    ));
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(args.init_seed));
    let net = lenet::<f32, _>(&mut rng);
    let params = net.parameters();
    let mut adam = Adam::new(args.learning_rate);
    let (mut cost_at, mut costs, mut checks) = (vec![], vec![], vec![]);
    let mut test_acc_curve = vec![];
    let batches_per_epoch = m.div_ceil(args.mini_batch_size) as u64;
    let last_update = batches_per_epoch * args.num_epochs - 1;
    let mut update = 0u64;
    // The check batch: the first 4 training images, small enough for central differences.
    let check_x = x.narrow(0, 0, 4);
    for epoch in 0..args.num_epochs {
        let order = rng.permutation(m);
        let mut epoch_cost = 0.0;
        for batch in order.chunks(args.mini_batch_size) {
            if update == 0 || update == last_update {
                checks.push(sampled_check(update, &net, &check_x, &labels[..4], 8));
            }
            let xb = x.index_select(0, batch);
            let yb: Vec<usize> = batch.iter().map(|&i| labels[i]).collect();
            let loss = cost(&net.forward(&xb), &yb);
            adam.zero_grad(&params);
            loss.backward();
            adam.step(&params);
            epoch_cost += loss.item().as_f64() * batch.len() as f64;
            update += 1;
        }
        adam.set_learning_rate(adam.learning_rate() * args.lr_decay);
        let mean = epoch_cost / m as f64;
        cost_at.push(epoch + 1);
        costs.push(mean);
        let test_acc = model::accuracy(&predict(&net, &tx), &tlabels);
        test_acc_curve.push((epoch + 1, test_acc));
        ctx.reporter.progress(&format!(
            "{run}: epoch {} mean cost {mean:.6}, test accuracy {test_acc:.4} ({:.1} s)",
            epoch + 1,
            started.elapsed().as_secs_f64()
        ));
    }
    let train_acc = model::accuracy(&predict(&net, &x), &labels);
    let test_acc = model::accuracy(&predict(&net, &tx), &tlabels);
    let mut plots = vec![];
    if let Some(dir) = ctx.out_dir()? {
        let points: Vec<(f64, f64)> = cost_at
            .iter()
            .zip(&costs)
            .map(|(&e, &c)| (e as f64, c))
            .collect();
        let path = dir.join(format!("{run}-cost.svg"));
        crate::plot::cost_curves(
            &path,
            &format!("{run}: mean cost per epoch"),
            "epoch",
            "cost",
            &[crate::plot::Series {
                label: "mean over the epoch's mini-batches",
                points: &points,
                markers: true,
            }],
        )?;
        plots.push(path.display().to_string());
        let accuracy: Vec<(f64, f64)> =
            test_acc_curve.iter().map(|&(e, a)| (e as f64, a)).collect();
        let path = dir.join(format!("{run}-accuracy.svg"));
        crate::plot::cost_curves(
            &path,
            &format!("{run}: test accuracy per epoch"),
            "epoch",
            "accuracy",
            &[crate::plot::Series {
                label: "held-out images",
                points: &accuracy,
                markers: true,
            }],
        )?;
        plots.push(path.display().to_string());
    }
    Ok(RunReport {
        run,
        data: data.source.clone(),
        unit: "epoch",
        cost_at,
        costs,
        train_acc,
        test_acc: Some(test_acc),
        checks,
        hvp_checks: vec![],
        test_acc_curve,
        plots,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// `apps cnn`.
pub fn run(ctx: &Context, args: &CnnArgs) -> Result<Vec<RunReport>, AppError> {
    if args.mini_batch_size == 0 || args.num_epochs == 0 {
        return Err(AppError(
            "--mini-batch-size and --num-epochs must be at least 1".into(),
        ));
    }
    let data = super::mnist::load(args.data_dir.as_deref(), args.n_train)?;
    let report = train_run(ctx, &data, args)?;
    ctx.reporter.run(&report);
    Ok(vec![report])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_run_learns_and_its_gradient_checks_agree() {
        let data = crate::assignments::mnist::load(None, 1000).unwrap();
        let data = Data {
            test: data
                .test
                .map(|(x, y)| (x.narrow(1, 0, 1000), y.narrow(1, 0, 1000))),
            ..data
        };
        let args = CnnArgs {
            data_dir: None,
            learning_rate: 0.002,
            lr_decay: 0.7,
            num_epochs: 2,
            mini_batch_size: 64,
            n_train: 1000,
            init_seed: 3,
        };
        let report = train_run(&Context::silent(), &data, &args).unwrap();
        // Two epochs on 1000 images: far above chance (10%); a broken gradient stays near it.
        assert!(report.test_acc.unwrap() > 0.8, "{:?}", report.test_acc);
        assert!(report.costs[1] < report.costs[0]);
        assert_eq!(report.checks.len(), 2);
        for c in &report.checks {
            // Central differences (ε = 1e-6) in f64 agree to ~1e-9 relative where gradients
            // are not tiny; where they are (a well-fitted batch), the numerical values are
            // rounding noise of about 1e-16·|cost|/ε, so the engine's rule applies: relative
            // difference below 1e-7 or largest absolute error at most 1e-8 (CheckConfig's
            // defaults). A ReLU kink or pooling near-tie crossed by the step can cost more.
            let ok = c.vs_numerical < 1e-7 || c.max_abs_vs_numerical <= 1e-8;
            assert!(ok || c.near_kinks > 0, "{c:?}");
            // The textbook backprop is the same arithmetic in another order: rounding only.
            assert!(c.vs_hand.unwrap() < 1e-12, "{c:?}");
        }
    }

    #[test]
    fn check_module_agrees_three_ways_on_the_convolutions_and_the_output_layer() {
        use engine::check::NamedTensors;
        use nn::check::ModuleCheck;
        use nn::Param;
        let data = crate::assignments::mnist::load(None, 1000).unwrap();
        let x = images(&data.x.narrow(1, 0, 2)).cast::<f64>();
        let labels = model::labels_of(&data.y.narrow(1, 0, 2));
        let net = lenet::<f64, _>(&mut rand::rngs::StdRng::seed_from_u64(3));
        // Every component of the filters and of the output layer; the two wide hidden dense
        // layers (58 000 weights) are frozen to keep central differences to a few seconds.
        assert_eq!(net.freeze("W3") + net.freeze("b3"), 2);
        assert_eq!(net.freeze("W4") + net.freeze("b4"), 2);
        let all: Vec<Param<f64>> = net.parameters();
        let frozen: Vec<Vec<f64>> = all.iter().map(|p| p.tensor.to_vec()).collect();
        let (xv, lv) = (x.to_vec(), labels.clone());
        let hand = move |given: &NamedTensors<f64>| {
            let names = ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4", "W5", "b5"];
            let raw: Vec<Vec<f64>> = names
                .iter()
                .zip(&frozen)
                .map(|(n, f)| match given.get(n) {
                    Some(t) => t.to_vec(),
                    None => f.clone(),
                })
                .collect();
            let g = crate::backprop_cnn::lenet_gradients(&raw, &xv, &lv);
            let keep = [0, 1, 2, 3, 8, 9];
            keep.iter()
                .map(|&i| {
                    (
                        format!("d{}", names[i]),
                        Tensor::from_vec(g[i].clone(), all[i].tensor.shape()),
                    )
                })
                .collect::<NamedTensors<f64>>()
        };
        let y = Tensor::<f64>::zeros(&[1]);
        let ce = |out: &Tensor<f64>, _: &Tensor<f64>, _: &[Param<f64>]| cost(out, &labels);
        let report = ModuleCheck::new(&net, &x, &y, &ce)
            .hand_written(&hand)
            .run();
        report.assert_passed();
        let checked: Vec<&str> = report.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(checked, ["W1", "b1", "W2", "b2", "W5", "b5"]);
        for p in &report.params {
            // The textbook loops are the same arithmetic in another order: rounding only.
            let vs_hand = p.autodiff_vs_hand.as_ref().unwrap().relative_difference;
            assert!(vs_hand < 1e-12, "{}: {vs_hand:e}", p.name);
        }
    }
}
