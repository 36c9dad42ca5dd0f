//! Regularization (chapter 6.9.1 and the regularization notebook): a 3-layer
//! ReLU-ReLU-sigmoid network on the 2-D data set (211 training, 200 validation examples),
//! full-batch gradient descent with lr 0.3 for 30000 iterations, plain, with L2, with dropout,
//! and with both (the seed's exercise 5).
//!
//! - `book`: `[2,20,5,1]`, `W = randn / sqrt(0.5 n_prev)` (seed 3), dropout masks drawn after
//!   `np.random.seed(4)`; configurations plain, λ = 0.1, keep 0.8, and λ = 0.1 with keep 0.9.
//! - `course`: `[2,20,3,1]`, `W = randn / sqrt(n_prev)` (seed 3), dropout after `np.random.seed(1)`;
//!   plain, λ = 0.7, keep 0.86, and both.
//!
//! The seed's forward pass reseeds NumPy before drawing its masks, so every iteration drops the
//! same units: that is the default here, to reproduce its numbers. `--fresh-masks` seeds once
//! and draws new masks every iteration, which is what dropout is meant to do.

use std::path::Path;
use std::time::Instant;

use nn::optim::Gd;
use nn::Init;

use super::{finish_run, AppError, Context, Data};
use crate::checks::course_check;
use crate::cli::{RegularizationArgs, Variant};
use crate::model::{output_for, CourseNet, DropoutConfig};
use crate::report::RunReport;
use crate::train::{self, EpochCost, Plan};

/// Layer sizes of a variant.
pub fn dims(variant: Variant) -> [usize; 4] {
    match variant {
        Variant::Book => [2, 20, 5, 1],
        Variant::Course => [2, 20, 3, 1],
    }
}

/// The variant's initialization: `np.random.randn(..) / np.sqrt(0.5 * n_prev)` (book) or
/// `/ np.sqrt(n_prev)` (course).
pub fn init(variant: Variant) -> Init {
    match variant {
        Variant::Book => Init::NormalDivided(0.5),
        Variant::Course => Init::NormalDivided(1.0),
    }
}

/// The seed the variant's forward pass reseeds with before drawing dropout masks.
pub fn dropout_seed(variant: Variant) -> u32 {
    match variant {
        Variant::Book => 4,
        Variant::Course => 1,
    }
}

/// The variant's four configurations `(λ, keep_prob)`: plain, L2, dropout, both.
pub fn configurations(variant: Variant) -> [(f64, f64); 4] {
    match variant {
        Variant::Book => [(0.0, 1.0), (0.1, 1.0), (0.0, 0.8), (0.1, 0.9)],
        Variant::Course => [(0.0, 1.0), (0.7, 1.0), (0.0, 0.86), (0.7, 0.86)],
    }
}

/// The run's name, e.g. `reg-book-l2=0.1-keep=0.9`.
pub fn run_name(variant: Variant, lambd: f64, keep_prob: f64, fresh: bool) -> String {
    let fresh = if fresh && keep_prob < 1.0 {
        "-fresh"
    } else {
        ""
    };
    format!("reg-{}-l2={lambd}-keep={keep_prob}{fresh}", variant.name())
}

/// Loads the data set (`X`, `y` train; `Xval`, `yval` test).
pub fn load(path: &Path) -> Result<Data, AppError> {
    crate::data::regularization_2d(&crate::paths::resolve(path))
}

/// One training run.
pub fn train_run(
    ctx: &Context,
    data: &Data,
    variant: Variant,
    lambd: f64,
    keep_prob: f64,
    args: &RegularizationArgs,
) -> Result<RunReport, AppError> {
    let started = Instant::now();
    let run = run_name(variant, lambd, keep_prob, args.fresh_masks);
    let d = dims(variant);
    ctx.reporter.line(&format!(
        "== {run}: {d:?}, lr {}, {} iterations, lambd {lambd}, keep_prob {keep_prob}{}",
        args.learning_rate,
        args.num_iterations,
        if args.fresh_masks {
            ", fresh masks"
        } else {
            ""
        }
    ));
    let dropout = (keep_prob < 1.0).then(|| DropoutConfig {
        keep_prob,
        seed: args.dropout_seed.unwrap_or_else(|| dropout_seed(variant)),
        fresh: args.fresh_masks,
    });
    let net = CourseNet::new(&d, output_for(&data.y), lambd, dropout);
    let model = net.init(init(variant), args.init_seed);
    let plan = Plan {
        name: run.clone(),
        unit: "iteration",
        epochs: args.num_iterations,
        batch_size: None,
        print_every: ctx.print_every.unwrap_or(1000),
        epoch_cost: EpochCost::LastBatch,
    };
    let trained = train::fit(
        &model,
        &mut Gd::new(args.learning_rate),
        &data.x,
        &data.y,
        &plan,
        |logits, y, params| net.cost(logits, y, params),
        || net.before_forward(),
        |update, model, batch| Some(course_check(&net, update, model, &batch.x, &batch.y)),
        ctx,
    )?;
    finish_run(
        ctx,
        &run,
        "iteration",
        trained,
        &model,
        net.output,
        data,
        started,
    )
}

/// `apps regularization`: the given configuration, or the variant's four (both variants when
/// `--variant` is not given).
pub fn run(ctx: &Context, args: &RegularizationArgs) -> Result<Vec<RunReport>, AppError> {
    for (name, v) in [("--lambd", args.lambd), ("--keep-prob", args.keep_prob)] {
        if let Some(v) = v {
            let ok = if name == "--lambd" {
                v >= 0.0
            } else {
                v > 0.0 && v <= 1.0
            };
            if !ok || !v.is_finite() {
                return Err(AppError(format!("{name} {v} is out of range")));
            }
        }
    }
    let data = load(&args.data)?;
    data.announce(ctx);
    let variants = match args.variant {
        Some(v) => vec![v],
        None => vec![Variant::Book, Variant::Course],
    };
    let mut reports = vec![];
    for variant in variants {
        let configs: Vec<(f64, f64)> = if args.lambd.is_none() && args.keep_prob.is_none() {
            configurations(variant).to_vec()
        } else {
            vec![(args.lambd.unwrap_or(0.0), args.keep_prob.unwrap_or(1.0))]
        };
        for (lambd, keep_prob) in configs {
            let r = train_run(ctx, &data, variant, lambd, keep_prob, args)?;
            ctx.reporter.run(&r);
            reports.push(r);
        }
    }
    Ok(reports)
}
