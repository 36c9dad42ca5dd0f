//! Initialization (course notebook seed 000): the [2,10,5,1] ReLU-ReLU-sigmoid network trained
//! with full-batch gradient descent on the circles data, from zeros, from large random weights
//! (`randn * 10`) and from He initialization (`randn * sqrt(2 / n_prev)`), init seed 3.
//!
//! Data: `np.random.seed(S); make_circles(300, noise=.05)` for training and, after seeding with
//! `S + 1`, `make_circles(100, noise=.05)` for testing (S = 1 as in the course).

use std::time::Instant;

use engine::Tensor;

use super::{finish_run, AppError, Context, Data};
use crate::cli::{InitArgs, InitScheme};
use crate::net::Mlp;
use crate::report::RunReport;
use crate::train::{self, CourseInit, FullBatch};

/// The network's layer sizes.
pub const DIMS: [usize; 4] = [2, 10, 5, 1];

/// The course's initialization for a scheme.
pub fn course_init(scheme: InitScheme) -> CourseInit {
    match scheme {
        InitScheme::Zeros => CourseInit::Zeros,
        InitScheme::Random => CourseInit::Times(10.0),
        InitScheme::He => CourseInit::He,
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
    })
}

/// The assignment's "Expected Output" blocks: each initializer on a tiny network
/// (zeros and random on [3,2,1], He on [2,4,1], seed 3).
pub fn expected_output_blocks(seed: u32) -> Vec<(String, Vec<Tensor<f64>>)> {
    vec![
        (
            "initialize_parameters_zeros([3, 2, 1])".into(),
            train::course_init(&[3, 2, 1], CourseInit::Zeros, seed),
        ),
        (
            "initialize_parameters_random([3, 2, 1])".into(),
            train::course_init(&[3, 2, 1], CourseInit::Times(10.0), seed),
        ),
        (
            "initialize_parameters_he([2, 4, 1])".into(),
            train::course_init(&[2, 4, 1], CourseInit::He, seed),
        ),
    ]
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
        "== {run}: [2,10,5,1], lr {}, {} iterations",
        args.learning_rate, args.num_iterations
    ));
    let params = train::course_init(&DIMS, course_init(scheme), args.init_seed);
    let mut net = Mlp::from_params(&params, train::output_for(&data.y));
    let cfg = FullBatch {
        name: run.clone(),
        learning_rate: args.learning_rate,
        iterations: args.num_iterations,
        print_every: ctx.print_every.unwrap_or(1000),
        lambd: 0.0,
        dropout: None,
        check_limit: usize::MAX,
    };
    let trained = train::full_batch(&mut net, &data.x, &data.y, &cfg, &ctx.reporter);
    finish_run(ctx, &run, "iteration", trained, &net, data, started)
}

/// `apps init`: the Expected Output blocks, then the chosen run (or all three).
pub fn run(ctx: &Context, args: &InitArgs) -> Result<Vec<RunReport>, AppError> {
    if !ctx.reporter.json() {
        for (title, params) in expected_output_blocks(args.init_seed) {
            ctx.reporter.line(&format!("{title}:"));
            for (name, p) in crate::net::param_names(params.len() / 2)
                .iter()
                .zip(&params)
            {
                ctx.reporter.line(&format!("{name} = {p}"));
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
