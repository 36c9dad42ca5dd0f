//! MNIST (the chapter's step-14 network): `[784,30,20,10]` ReLU-ReLU-softmax, He initialization
//! (seed 3), mini-batch gradient descent with lr 0.001 and batches of 32 for 100 epochs,
//! shuffled as in the optimization assignment; pixels scaled `x·0.99/255 + 0.01`; the cost of
//! every 10th epoch's last mini-batch is reported.
//!
//! By default it trains on the first 8000 images of the bundled official test set and tests on
//! the last 2000 (the 60k training set is not bundled); `--data-dir` with the four standard IDX
//! files trains on the 60k and tests on the 10k, as the seed does.

use std::path::Path;
use std::time::Instant;

use nn::optim::Gd;
use nn::Init;

use super::{finish_run, AppError, Context, Data};
use crate::checks::course_check;
use crate::cli::MnistArgs;
use crate::model::{output_for, CourseNet};
use crate::report::RunReport;
use crate::train::{self, EpochCost, Plan};

/// The network's layer sizes.
pub const DIMS: [usize; 4] = [784, 30, 20, 10];

/// The data: the bundled test set split `n_train / rest`, or the full sets of `data_dir`.
pub fn load(data_dir: Option<&Path>, n_train: usize) -> Result<Data, AppError> {
    match data_dir {
        Some(dir) => crate::data::mnist_full(dir),
        None => crate::data::mnist_bundled_split(n_train),
    }
}

/// How a run named `run` trains: mini-batches of `batch`, shuffled every epoch, the cost of
/// every 10th epoch's last mini-batch reported.
pub fn plan(ctx: &Context, run: &str, epochs: u64, batch: usize) -> Plan {
    Plan {
        name: run.to_string(),
        unit: "epoch",
        epochs,
        batch_size: Some(batch),
        print_every: ctx.print_every.unwrap_or(10),
        epoch_cost: EpochCost::LastBatch,
    }
}

/// One training run.
pub fn train_run(ctx: &Context, data: &Data, args: &MnistArgs) -> Result<RunReport, AppError> {
    let started = Instant::now();
    let run = "mnist".to_string();
    ctx.reporter.line(&format!(
        "== {run}: {DIMS:?}, gd lr {}, {} epochs, mini-batch {}, {} training and {} test images",
        args.learning_rate,
        args.num_epochs,
        args.mini_batch_size,
        data.x.shape()[1],
        data.test.as_ref().map_or(0, |t| t.0.shape()[1]),
    ));
    let net = CourseNet::new(&DIMS, output_for(&data.y), 0.0, None);
    let model = net.init(Init::HeNormal, args.init_seed);
    let trained = train::fit(
        &model,
        &mut Gd::new(args.learning_rate),
        &data.x,
        &data.y,
        &plan(ctx, &run, args.num_epochs, args.mini_batch_size),
        |logits, y, params| net.cost(logits, y, params),
        || {},
        |update, model, batch| Some(course_check(&net, update, model, &batch.x, &batch.y)),
        ctx,
    )?;
    finish_run(
        ctx, &run, "epoch", trained, &model, net.output, data, started,
    )
}

/// `apps mnist`.
pub fn run(ctx: &Context, args: &MnistArgs) -> Result<Vec<RunReport>, AppError> {
    if args.mini_batch_size == 0 {
        return Err(AppError("--mini-batch-size must be at least 1".into()));
    }
    let data = load(args.data_dir.as_deref(), args.n_train)?;
    data.announce(ctx);
    let r = train_run(ctx, &data, args)?;
    ctx.reporter.run(&r);
    Ok(vec![r])
}
