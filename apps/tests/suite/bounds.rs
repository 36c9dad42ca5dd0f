//! Costs that must stay bounded however long or large a run is (issue 13, sections 3 and 4):
//! the gradient check's work under `--check bounded`, and the per-epoch points kept for plots.

use apps::assignments::Context;
use apps::checks::{check_examples, CHECK_BUDGET};
use apps::cli::CheckScope;
use apps::train::{fit, EpochCost, Plan, MEAN_POINTS};
use engine::Tensor;
use nn::optim::Gd;
use nn::{Dense, Module};

/// The course runs' checks cover their whole batch (so their reports and the reproduction
/// tests are unchanged); a large batch is cut to `CHECK_BUDGET / components` examples; `full`
/// never cuts.
#[test]
#[allow(clippy::assertions_on_constants)]
fn bounded_checks_keep_the_course_runs_whole_and_cut_large_batches() {
    // (components, batch): init [2,10,5,1] on 300, regularization book [2,20,5,1] on 211,
    // optimization [2,5,2,2] on 64, MNIST [784,30,20,10] on 32, batch norm on 32.
    for (components, m) in [(91, 300), (171, 211), (33, 64), (24_380, 32), (24_480, 32)] {
        assert_eq!(check_examples(CheckScope::Bounded, components, m), m);
    }
    assert_eq!(check_examples(CheckScope::Bounded, 24_380, 100_000), 41);
    // ... the most examples within the budget.
    assert!(41 * 24_380 <= CHECK_BUDGET && 42 * 24_380 > CHECK_BUDGET);
    // A network larger than the budget is still checked, on one example.
    assert_eq!(check_examples(CheckScope::Bounded, 5_000_000, 64), 1);
    assert_eq!(check_examples(CheckScope::Full, 24_380, 100_000), 100_000);
}

/// A long full-batch run (what `apps init --num-iterations N` does) keeps a bounded number of
/// per-epoch points: it used to keep one per iteration, growing without limit.
#[test]
fn long_runs_keep_a_bounded_number_of_mean_costs() {
    let x = Tensor::<f64>::from_vec(vec![0.5, -1.0, 2.0], &[1, 3]);
    let y = Tensor::<f64>::from_vec(vec![1.0, 0.0, 1.0], &[1, 3]);
    let model = Dense::from_parameters(Tensor::zeros(&[1, 1]), Tensor::zeros(&[1, 1]));
    let epochs = 3 * MEAN_POINTS as u64 + 5;
    let plan = Plan {
        name: "long".into(),
        unit: "iteration",
        epochs,
        batch_size: None,
        print_every: epochs,
        epoch_cost: EpochCost::LastBatch,
    };
    let trained = fit(
        &model,
        &mut Gd::new(0.01),
        &x,
        &y,
        &plan,
        |out, y, _| nn::loss::bce_with_logits(out, y),
        || {},
        |_, _, _| None,
        &Context::silent(),
    )
    .unwrap();
    let n = trained.epoch_means.len();
    assert!(n <= MEAN_POINTS + 1 && n > MEAN_POINTS / 2, "{n} points");
    assert_eq!(trained.epoch_means[0].0, 0);
    assert_eq!(trained.epoch_means.last().unwrap().0, epochs - 1);
    assert_eq!(trained.cost_at, [0]);
    let _ = model.parameters();
}
