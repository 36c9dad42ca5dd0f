//! Initialization (course notebook seed 000): the `[2,10,5,1]` ReLU-ReLU-sigmoid network trained
//! with full-batch gradient descent on the circles data, from zeros, from large random weights
//! (`randn * 10`) and from He initialization (`randn * sqrt(2 / n_prev)`), init seed 3.
//!
//! Data: `np.random.seed(S); make_circles(300, noise=.05)` for training and, after seeding with
//! `S + 1`, `make_circles(100, noise=.05)` for testing (S = 1 as in the course).

use std::time::Instant;

use engine::random::NumpyRng;
use nn::optim::Gd;
use nn::{Activation, Init, Module, Param, Sequential};

use super::{finish_run, AppError, Context, Data};
use crate::checks::course_check;
use crate::cli::{InitArgs, InitScheme};
use crate::model::{output_for, CourseNet};
use crate::report::RunReport;
use crate::train::{self, EpochCost, Plan};

/// The network's layer sizes.
pub const DIMS: [usize; 4] = [2, 10, 5, 1];

/// The course's initialization for a scheme: `np.zeros`, `np.random.randn(..) * 10`,
/// `np.random.randn(..) * np.sqrt(2. / layers_dims[l-1])`.
pub fn course_init(scheme: InitScheme) -> Init {
    match scheme {
        InitScheme::Zeros => Init::Zeros,
        InitScheme::Random => Init::ScaledNormal(10.0),
        InitScheme::He => Init::HeNormal,
    }
}

/// The circles data: training set after seeding with `seed`, test set after `seed + 1`.
pub fn circles(seed: u32) -> Result<Data, AppError> {
    let (x, y) = crate::data::circles(300, 0.05, seed)?;
    let test = crate::data::circles(100, 0.05, seed + 1)?;
    Ok(Data {
        x,
        y,
        test: Some(test),
        source: vec![format!(
            "make_circles(300, noise=0.05) after np.random.seed({seed}), test set \
             make_circles(100, noise=0.05) after np.random.seed({})",
            seed + 1
        )],
    })
}

/// The assignment's "Expected Output" blocks: each initializer on a tiny network
/// (zeros and random on `[3,2,1]`, He on `[2,4,1]`, seed 3), as `(title, parameters)`.
pub fn expected_output_blocks(seed: u32) -> Vec<(String, Vec<Param<f64>>)> {
    [
        (
            "initialize_parameters_zeros([3, 2, 1])",
            &[3, 2, 1][..],
            Init::Zeros,
        ),
        (
            "initialize_parameters_random([3, 2, 1])",
            &[3, 2, 1],
            Init::ScaledNormal(10.0),
        ),
        (
            "initialize_parameters_he([2, 4, 1])",
            &[2, 4, 1],
            Init::HeNormal,
        ),
    ]
    .into_iter()
    .map(|(title, dims, init)| {
        let model = Sequential::<f64>::mlp(
            dims,
            Activation::Relu,
            Activation::Sigmoid,
            &init,
            &mut NumpyRng::new(seed),
        );
        (title.to_string(), model.parameters())
    })
    .collect()
}

/// One training run with the given initialization.
pub fn train_run(
    ctx: &Context,
    data: &Data,
    scheme: InitScheme,
    args: &InitArgs,
) -> Result<RunReport, AppError> {
    let started = Instant::now();
    let run = format!("init-{}", scheme.name());
    ctx.reporter.line(&format!(
        "== {run}: {DIMS:?}, lr {}, {} iterations",
        args.learning_rate, args.num_iterations
    ));
    let net = CourseNet::new(&DIMS, output_for(&data.y), 0.0, None);
    let model = net.init(course_init(scheme), args.init_seed);
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
        || {},
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

/// `apps init`: the Expected Output blocks, then the chosen run (or all three).
pub fn run(ctx: &Context, args: &InitArgs) -> Result<Vec<RunReport>, AppError> {
    if !ctx.reporter.json() {
        for (title, params) in expected_output_blocks(args.init_seed) {
            ctx.reporter.line(&format!("{title}:"));
            for p in params {
                ctx.reporter.line(&format!("{} = {}", p.name, p.tensor));
            }
        }
    }
    let data = circles(args.data_seed)?;
    let schemes = match args.init {
        Some(s) => vec![s],
        None => vec![InitScheme::Zeros, InitScheme::Random, InitScheme::He],
    };
    let mut reports = vec![];
    for s in schemes {
        let r = train_run(ctx, &data, s, args)?;
        ctx.reporter.run(&r);
        reports.push(r);
    }
    Ok(reports)
}
