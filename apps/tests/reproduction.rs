//! Each assignment against the NumPy reference numbers in `data/reference/seed_numbers.json`,
//! shortened to a prefix of the reported costs where the full run would be slow (full runs
//! belong to `apps all`).
//!
//! Tolerance: 1e-9 relative on every reported cost. Our matmul kernel and reductions sum in a
//! different order than NumPy's BLAS, so costs differ in the last bits (we measure ~1e-15);
//! 1e-9 leaves room for that and nothing else. Accuracies must be identical. Chaotic runs (see
//! the reference README) are compared over their stable prefix only, as `stable_costs` says.

use apps::assignments::{gradcheck, init, mnist, optimization, regularization, Context, Data};
use apps::cli::{Cli, Command, InitScheme, OptimizerKind, OutputKind, Variant};
use apps::reference::{close, Reference};
use apps::report::{RunReport, NEGLIGIBLE_GRADIENT};
use clap::Parser;

const TOL: f64 = 1e-9;

fn reference() -> Reference {
    Reference::load_bundled().expect("bundled reference numbers")
}

fn command(words: &[&str]) -> Command {
    Cli::try_parse_from(std::iter::once("apps").chain(words.iter().copied()))
        .expect("arguments parse")
        .command
}

/// Every reported cost within `TOL` of the reference's first `n` costs (an infinite reference
/// cost, NumPy's `log(0)`, must come out finite and large: our loss is computed from logits).
fn assert_costs(run: &RunReport, want: &[f64], n: usize) {
    assert!(
        run.costs.len() >= n,
        "{}: {} costs, want {n}",
        run.run,
        run.costs.len()
    );
    for (i, (&got, &want)) in run.costs.iter().zip(want).take(n).enumerate() {
        if want.is_infinite() {
            assert!(
                got.is_finite() && got > 10.0,
                "{}: cost[{i}] = {got}",
                run.run
            );
        } else {
            assert!(
                close(got, want, TOL),
                "{}: cost[{i}] = {got:e}, NumPy {want:e} (relative {:.1e})",
                run.run,
                ((got - want) / want).abs()
            );
        }
    }
}

/// Autodiff agrees with the hand-derived backprop to rounding (1e-12) and with central
/// differences to 1e-7, except where a hidden pre-activation sits at a ReLU kink (then central
/// differences average two slopes and the report says so).
fn assert_checks(run: &RunReport) {
    assert_eq!(
        run.checks.len(),
        2,
        "{}: checks at the first and last update",
        run.run
    );
    for c in &run.checks {
        if c.grad_norm < NEGLIGIBLE_GRADIENT {
            assert!(c.max_abs_vs_hand.unwrap() < 1e-15, "{}: {c:?}", run.run);
            continue;
        }
        if let Some(vs_hand) = c.vs_hand {
            assert!(vs_hand < 1e-12, "{}: vs hand {c:?}", run.run);
        }
        if c.near_kinks == 0 {
            assert!(c.vs_numerical < 1e-7, "{}: vs numerical {c:?}", run.run);
        }
    }
}

#[test]
fn init_runs_reproduce_numpy() {
    let r = reference();
    let Command::Init(mut args) = command(&["init"]) else {
        unreachable!()
    };
    let data = init::circles(args.data_seed).unwrap();
    // The generated data is the course's, value for value.
    let (x, shape) = r.matrix("init/dataset/train_X");
    assert_eq!(data.x.shape(), shape);
    assert_eq!(data.x.to_vec(), x);
    assert_eq!(
        data.test.as_ref().unwrap().0.to_vec(),
        r.matrix("init/dataset/test_X").0
    );
    for scheme in [InitScheme::Zeros, InitScheme::Random, InitScheme::He] {
        let name = scheme.name();
        let stable = r.number(&format!("init/{name}/stable_costs")) as usize;
        // He runs in full (15 costs, accuracies); the others to their third cost, or to the
        // last cost that is stable.
        args.num_iterations = if scheme == InitScheme::He {
            15000
        } else {
            2001
        };
        let run = init::train_run(&Context::silent(), &data, scheme, &args).unwrap();
        assert_costs(
            &run,
            &r.numbers(&format!("init/{name}/costs_every_1000")),
            stable.min(run.costs.len()),
        );
        assert_checks(&run);
        if scheme == InitScheme::He {
            assert_eq!(run.train_acc, r.number("init/he/train_acc"));
            assert_eq!(run.test_acc, Some(r.number("init/he/test_acc")));
        }
    }
}

#[test]
fn expected_output_blocks_are_the_assignments() {
    let r = reference();
    let blocks = init::expected_output_blocks(3);
    for ((_, params), key) in blocks
        .iter()
        .zip(["zeros_3_2_1", "random_3_2_1", "he_2_4_1"])
    {
        for (p, name) in params.iter().zip(["W1", "b1", "W2", "b2"]) {
            let (want, shape) = r.matrix(&format!("init/expected_init/{key}/{name}"));
            assert_eq!(p.name, name);
            assert_eq!(p.tensor.shape(), shape, "{key} {name}");
            assert_eq!(p.tensor.to_vec(), want, "{key} {name}");
        }
    }
}

#[test]
fn regularization_runs_reproduce_numpy() {
    let r = reference();
    let Command::Regularization(mut args) = command(&["regularization"]) else {
        unreachable!()
    };
    let data = regularization::load(&args.data).unwrap();
    assert_eq!(data.x.shape(), [2, 211]);
    args.num_iterations = 2001;
    for (variant, lambd, keep, key) in [
        (Variant::Book, 0.0, 1.0, "book_plain"),
        (Variant::Book, 0.1, 1.0, "book_l2_0.1"),
        (Variant::Book, 0.0, 0.8, "book_dropout_0.8"),
        (Variant::Book, 0.1, 0.9, "book_l2_0.1_dropout_0.9"),
        (Variant::Course, 0.0, 1.0, "course_plain"),
        (Variant::Course, 0.7, 1.0, "course_l2_0.7"),
        (Variant::Course, 0.0, 0.86, "course_dropout_0.86"),
    ] {
        let run = regularization::train_run(&Context::silent(), &data, variant, lambd, keep, &args)
            .unwrap();
        let stable = r.number(&format!("reg/{key}/stable_costs")) as usize;
        assert_costs(
            &run,
            &r.numbers(&format!("reg/{key}/costs_every_1000")),
            stable.min(3),
        );
        assert_checks(&run);
    }
}

#[test]
fn book_dropout_run_reproduces_the_seeds_printed_accuracy() {
    // The seed prints 0.9241706161137441 / 0.935 for this run; it is stable all the way.
    let r = reference();
    let Command::Regularization(args) =
        command(&["regularization", "--variant", "book", "--keep-prob", "0.8"])
    else {
        unreachable!()
    };
    let data = regularization::load(&args.data).unwrap();
    let run = regularization::train_run(&Context::silent(), &data, Variant::Book, 0.0, 0.8, &args)
        .unwrap();
    assert_costs(
        &run,
        &r.numbers("reg/book_dropout_0.8/costs_every_1000"),
        30,
    );
    assert_eq!(run.train_acc, 0.9241706161137441);
    assert_eq!(run.test_acc, Some(0.935));
    assert_checks(&run);
}

#[test]
fn fresh_masks_change_the_masks_every_iteration() {
    let Command::Regularization(mut args) = command(&[
        "regularization",
        "--variant",
        "course",
        "--keep-prob",
        "0.86",
        "--num-iterations",
        "1001",
    ]) else {
        unreachable!()
    };
    let data = regularization::load(&args.data).unwrap();
    let same =
        regularization::train_run(&Context::silent(), &data, Variant::Course, 0.0, 0.86, &args)
            .unwrap();
    args.fresh_masks = true;
    let fresh =
        regularization::train_run(&Context::silent(), &data, Variant::Course, 0.0, 0.86, &args)
            .unwrap();
    // Iteration 0 draws the same first masks either way; later ones differ.
    assert_eq!(same.costs[0], fresh.costs[0]);
    assert_ne!(same.costs[1], fresh.costs[1]);
    assert!(fresh.run.ends_with("-fresh"));
}

#[test]
fn gradcheck_reproduces_the_course_and_names_the_planted_bugs() {
    let r = reference();
    let Command::Gradcheck(args) = command(&["gradcheck"]) else {
        unreachable!()
    };
    let (x, _, params) = gradcheck::test_case(args.data_seed);
    assert_eq!(x.to_vec(), r.matrix("gc/test_case/X").0);
    for (p, name) in params.iter().zip(["W1", "b1", "W2", "b2", "W3", "b3"]) {
        assert_eq!(
            p.to_vec(),
            r.matrix(&format!("gc/test_case/params/{name}")).0,
            "{name}"
        );
    }
    let out = gradcheck::check(&args);
    assert_eq!(out.one_d_difference, r.number("gc/one_d_difference"));
    assert!(close(
        out.buggy.difference,
        r.number("gc/n_d_difference_buggy"),
        TOL
    ));
    // With the bugs fixed, every gradient and every central difference is NumPy's bit for bit
    // (the hand-derived backprop multiplies by `1./m` as the course writes it), and so is the
    // difference. With the planted bugs we print one ulp less than NumPy: its norms are
    // OpenBLAS dot products, summed in another order (docs/apps.md).
    assert_eq!(out.fixed.difference, r.number("gc/n_d_difference_correct"));
    assert!(!out.buggy.passed && out.fixed.passed);
    assert_eq!(out.buggy.wrong, ["db1", "dW2"]);
    assert!(out.fixed.wrong.is_empty(), "{:?}", out.fixed);
    assert!(out.autodiff_vs_hand.difference < 1e-12);
    assert!(out.autodiff_vs_numerical.difference < 1e-7);
}

#[test]
fn optimization_runs_reproduce_numpy() {
    let r = reference();
    let Command::Optimization(args) = command(&["optimization"]) else {
        unreachable!()
    };
    let data = optimization::moons(args.data_seed, OutputKind::Softmax).unwrap();
    assert_eq!(data.x.to_vec(), r.matrix("opt/dataset/X").0);
    for kind in [
        OptimizerKind::Momentum,
        OptimizerKind::Gd,
        OptimizerKind::Adam,
    ] {
        let key = kind.name();
        let run = optimization::train_run(&Context::silent(), &data, kind, &args).unwrap();
        assert_costs(
            &run,
            &r.numbers(&format!("opt/{key}/costs_every_100_epochs")),
            10,
        );
        assert_eq!(
            run.train_acc,
            r.number(&format!("opt/{key}/train_acc")),
            "{key}"
        );
        assert_checks(&run);
    }
}

#[test]
fn mnist_reproduces_numpy_over_its_first_reported_costs() {
    let r = reference();
    let Command::Mnist(mut args) = command(&["mnist"]) else {
        unreachable!()
    };
    let data: Data = mnist::load(None, args.n_train).unwrap();
    assert_eq!(data.x.shape(), [784, 8000]);
    args.num_epochs = 21;
    let run = mnist::train_run(&Context::silent(), &data, &args).unwrap();
    assert_costs(&run, &r.numbers("mnist/costs_every_10_epochs"), 3);
    assert_checks(&run);
}
