//! Optimization (chapter 6.9.2): the `[2,5,2,2]` ReLU-ReLU-softmax network on the moons
//! data (`np.random.seed(3); make_moons(300, noise=.2)`, one-hot labels), He initialization
//! (seed 3), mini-batches of 64 reshuffled every epoch, 1000 epochs, with gradient descent
//! (lr 0.1), momentum (β 0.9, lr 0.1) and Adam (lr 0.01, β₁ 0.9, β₂ 0.999, ε 1e-8 inside the
//! square root as equation 6.49 writes it). The cost of every 100th epoch's last mini-batch is
//! reported, as the seed's loop prints it.
//!
//! `--output sigmoid` runs the course notebook's version instead: `[2,5,2,1]` with a sigmoid output
//! and 0/1 labels, lr 0.0007, 10000 epochs, reporting the epoch's average cost every 1000 epochs.

use std::time::Instant;

use nn::optim::{Adam, Gd, Momentum, Optimizer};
use nn::Init;

use super::{finish_run, AppError, Context, Data};
use crate::checks::course_check;
use crate::cli::{OptimizationArgs, OptimizerKind, OutputKind};
use crate::model::{labels_of, output_for, CourseNet};
use crate::report::RunReport;
use crate::train::{self, EpochCost, Plan};

/// The moons data: `(X (2, 300), Y)` with one-hot `Y (2, 300)` for softmax, labels `(1, 300)`
/// for sigmoid.
pub fn moons(seed: u32, output: OutputKind) -> Result<Data, AppError> {
    let (x, labels) = crate::data::moons(300, 0.2, seed)?;
    let y = match output {
        OutputKind::Sigmoid => labels,
        OutputKind::Softmax => nn::data::one_hot(&labels_of(&labels), 2),
    };
    Ok(Data {
        x,
        y,
        test: None,
        source: vec![format!(
            "make_moons(300, noise=0.2) after np.random.seed({seed})"
        )],
    })
}

/// Layer sizes for the output kind.
pub fn dims(output: OutputKind) -> [usize; 4] {
    match output {
        OutputKind::Softmax => [2, 5, 2, 2],
        OutputKind::Sigmoid => [2, 5, 2, 1],
    }
}

/// One training run with the given optimizer.
pub fn train_run(
    ctx: &Context,
    data: &Data,
    kind: OptimizerKind,
    args: &OptimizationArgs,
) -> Result<RunReport, AppError> {
    let started = Instant::now();
    let sigmoid = args.output == OutputKind::Sigmoid;
    let lr = args.learning_rate.unwrap_or(if sigmoid {
        0.0007
    } else {
        kind.default_learning_rate()
    });
    let epochs = args
        .num_epochs
        .unwrap_or(if sigmoid { 10000 } else { 1000 });
    let run = format!(
        "opt-{}{}",
        kind.name(),
        if sigmoid { "-sigmoid" } else { "" }
    );
    let d = dims(args.output);
    ctx.reporter.line(&format!(
        "== {run}: {d:?}, {} lr {lr}, {epochs} epochs, mini-batch {}",
        kind.name(),
        args.mini_batch_size
    ));
    let net = CourseNet::new(&d, output_for(&data.y), 0.0, None);
    let model = net.init(Init::HeNormal, args.init_seed);
    let mut optimizer: Box<dyn Optimizer<f64>> = match kind {
        OptimizerKind::Gd => Box::new(Gd::new(lr)),
        OptimizerKind::Momentum => Box::new(Momentum::new(lr, args.beta)),
        // ε inside the square root, as equation 6.49 and the seed's code (nn's default).
        OptimizerKind::Adam => Box::new(
            Adam::new(lr)
                .with_betas(args.beta1, args.beta2)
                .with_epsilon(args.epsilon),
        ),
    };
    let plan = Plan {
        name: run.clone(),
        unit: "epoch",
        epochs,
        batch_size: Some(args.mini_batch_size),
        print_every: ctx.print_every.unwrap_or(if sigmoid { 1000 } else { 100 }),
        epoch_cost: if sigmoid {
            EpochCost::Average
        } else {
            EpochCost::LastBatch
        },
    };
    let trained = train::fit(
        &model,
        optimizer.as_mut(),
        &data.x,
        &data.y,
        &plan,
        |logits, y, params| net.cost(logits, y, params),
        || {},
        |update, model, batch| Some(course_check(&net, update, model, &batch.x, &batch.y)),
        ctx,
    )?;
    finish_run(
        ctx, &run, "epoch", trained, &model, net.output, data, started,
    )
}

/// `apps optimization`: the chosen optimizer, or all three.
pub fn run(ctx: &Context, args: &OptimizationArgs) -> Result<Vec<RunReport>, AppError> {
    if args.mini_batch_size == 0 {
        return Err(AppError("--mini-batch-size must be at least 1".into()));
    }
    let data = moons(args.data_seed, args.output)?;
    let kinds = match args.optimizer {
        Some(k) => vec![k],
        None => vec![
            OptimizerKind::Gd,
            OptimizerKind::Momentum,
            OptimizerKind::Adam,
        ],
    };
    let mut reports = vec![];
    for k in kinds {
        let r = train_run(ctx, &data, k, args)?;
        ctx.reporter.run(&r);
        reports.push(r);
    }
    Ok(reports)
}
