//! The command line of the `apps` binary, parsed with `clap`'s derive API.
//!
//! Flags carry the seeds' argument names (`--learning-rate`, `--num-iterations`, `--lambd`,
//! `--keep-prob`, ...). Every default is the seed's hyperparameter, so `apps init` runs exactly
//! what the course ran. Options that leave a choice open (which initialization, which optimizer,
//! which regularization) run every configuration the seed runs when they are not given.
//!
//! Numeric values may be negative (`--learning-rate -0.01` and `-1e-3` parse: subcommands allow
//! negative numbers, and real-valued options hyphen values), so that [`Cli::validate`]
//! can reject them with a one-line message saying which range is allowed, rather than clap
//! taking `-0.01` for an unknown flag. Every hyperparameter is validated there before anything
//! runs: a learning rate of `nan`, `--beta1 1` or `--epsilon 0` would otherwise train into
//! `NaN`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Reproduces the deep-learning course assignments on ferrograd and checks its autodiff
/// gradients against the seeds' hand-derived backprop and against numerical gradients.
#[derive(Debug, Parser, PartialEq)]
#[command(name = "apps", version, about, long_about = None)]
pub struct Cli {
    /// Which assignment to run.
    #[command(subcommand)]
    pub command: Command,
    /// Options every assignment understands.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Output options shared by every subcommand (accepted before or after it).
#[derive(Debug, Args, Clone, PartialEq, Default)]
pub struct OutputArgs {
    /// Print one JSON object per run (JSON Lines) on standard output instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Write cost curves and decision boundaries (SVG) into this folder.
    #[arg(long, global = true, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Report the cost every N iterations (or epochs) instead of the seed's cadence.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub print_every: Option<u64>,
    /// Print no progress lines while training (the results are still printed).
    #[arg(long, global = true)]
    pub quiet: bool,
    /// How much of a batch the gradient checks before the first and last update cover:
    /// `bounded` (default) checks every parameter component on at most as many examples of the
    /// batch as keep the check's cost to about a million component-examples (the course runs
    /// are checked on their whole batch); `full` checks on the whole batch, whatever it costs
    /// (two loss evaluations on the batch per parameter component).
    #[arg(long, global = true, value_enum, default_value_t = CheckScope::Bounded)]
    pub check: CheckScope,
    /// Keep training when the cost becomes NaN or infinite (to study a divergence) instead of
    /// stopping with an error.
    #[arg(long, global = true)]
    pub allow_nonfinite: bool,
}

/// How much of a batch the gradient checks cover (`--check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum CheckScope {
    /// At most [`crate::checks::CHECK_BUDGET`] component-examples: every component, on the
    /// first `CHECK_BUDGET / components` examples of the batch (at least one).
    #[default]
    Bounded,
    /// Every component on the whole batch.
    Full,
}

/// The assignments.
#[derive(Debug, Subcommand, PartialEq)]
pub enum Command {
    /// Initialization: zeros, large random and He on the circles data (`[2,10,5,1]`).
    #[command(allow_negative_numbers = true)]
    Init(InitArgs),
    /// Regularization: plain, L2, dropout and both on the 2-D data set.
    #[command(allow_negative_numbers = true)]
    Regularization(RegularizationArgs),
    /// Gradient checking: the 1-D and N-D checks of the course, the planted bugs caught, and
    /// the engine's autodiff checked the same way.
    #[command(allow_negative_numbers = true)]
    Gradcheck(GradcheckArgs),
    /// Optimization: mini-batch gradient descent, momentum and Adam on the moons data.
    #[command(allow_negative_numbers = true)]
    Optimization(OptimizationArgs),
    /// MNIST: the `[784,30,20,10]` network trained with mini-batch gradient descent.
    #[command(allow_negative_numbers = true)]
    Mnist(MnistArgs),
    /// Batch normalization on the MNIST network, against the plain network at a higher rate.
    #[command(allow_negative_numbers = true)]
    Batchnorm(BatchnormArgs),
    /// Every assignment with its defaults, then `cnn` and `attention`, one after the other.
    All(AllArgs),
    /// A LeNet-style convolutional network on the bundled MNIST split.
    Cnn(crate::assignments::cnn::CnnArgs),
    /// A small transformer sorting (or reversing) digit sequences, with gradient and
    /// Hessian-vector checks on a tiny configuration.
    #[command(allow_negative_numbers = true)]
    Attention(crate::assignments::attention::AttentionArgs),
}

/// How the initial weights are drawn in the initialization assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitScheme {
    /// All parameters zero (the symmetric network that cannot learn).
    Zeros,
    /// `randn * 10`: large random weights.
    Random,
    /// He initialization `randn * sqrt(2 / n_prev)`.
    He,
}

impl InitScheme {
    /// The name used in run names and JSON.
    pub fn name(self) -> &'static str {
        match self {
            InitScheme::Zeros => "zeros",
            InitScheme::Random => "random",
            InitScheme::He => "he",
        }
    }
}

/// `apps init`.
#[derive(Debug, Args, Clone, PartialEq)]
pub struct InitArgs {
    /// Initialization to train with (all three when not given).
    #[arg(long)]
    pub init: Option<InitScheme>,
    /// Learning rate of gradient descent.
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.01)]
    pub learning_rate: f64,
    /// Number of full-batch iterations.
    #[arg(long, default_value_t = 15000)]
    pub num_iterations: u64,
    /// Seed of the training set (the test set uses this seed + 1).
    #[arg(long, default_value_t = 1)]
    pub data_seed: u32,
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 3)]
    pub init_seed: u32,
}

/// The two versions of the regularization exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Variant {
    /// Seed 001, section 6.9.1: `[2,20,5,1]`, `randn/sqrt(0.5 n_prev)`, dropout reseeded with 4.
    Book,
    /// The course's notebook (seed 002): `[2,20,3,1]`, `randn/sqrt(n_prev)`, dropout reseeded with 1.
    Course,
}

impl Variant {
    /// The name used in run names and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Book => "book",
            Variant::Course => "course",
        }
    }
}

/// `apps regularization`.
#[derive(Debug, Args, Clone, PartialEq)]
pub struct RegularizationArgs {
    /// Which version of the exercise (both when not given).
    #[arg(long)]
    pub variant: Option<Variant>,
    /// L2 regularization strength λ (with neither --lambd nor --keep-prob, the seed's four
    /// configurations run: plain, L2, dropout, and both).
    #[arg(long, allow_hyphen_values = true)]
    pub lambd: Option<f64>,
    /// Probability of keeping a hidden unit in dropout (1 disables dropout).
    #[arg(long, allow_hyphen_values = true)]
    pub keep_prob: Option<f64>,
    /// Learning rate of gradient descent.
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.3)]
    pub learning_rate: f64,
    /// Number of full-batch iterations.
    #[arg(long, default_value_t = 30000)]
    pub num_iterations: u64,
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 3)]
    pub init_seed: u32,
    /// Seed the dropout masks are drawn after (default: the variant's, 4 for book, 1 for course).
    #[arg(long)]
    pub dropout_seed: Option<u32>,
    /// Draw new dropout masks every iteration instead of reseeding before every forward pass
    /// (which, as in the seed's code, gives the same masks every iteration).
    #[arg(long)]
    pub fresh_masks: bool,
    /// The .mat file with the data set (`X`, `y`, `Xval`, `yval`).
    #[arg(long, default_value = crate::paths::REGULARIZATION_DATA)]
    pub data: PathBuf,
}

/// `apps gradcheck`.
#[derive(Debug, Args, Clone, PartialEq)]
pub struct GradcheckArgs {
    /// Step of the central differences.
    #[arg(long, allow_hyphen_values = true, default_value_t = 1e-7)]
    pub epsilon: f64,
    /// Seed of the N-D test case (`X`, `Y`, then the parameters, drawn with randn).
    #[arg(long, default_value_t = 1)]
    pub data_seed: u32,
}

/// Optimizers of the optimization assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerKind {
    /// Mini-batch gradient descent.
    Gd,
    /// Gradient descent with momentum.
    Momentum,
    /// Adam with bias correction.
    Adam,
}

impl OptimizerKind {
    /// The name used in run names and JSON.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Gd => "gd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Adam => "adam",
        }
    }

    /// The seed's learning rate for this optimizer (section 6.9.2).
    pub fn default_learning_rate(self) -> f64 {
        match self {
            OptimizerKind::Gd | OptimizerKind::Momentum => 0.1,
            OptimizerKind::Adam => 0.01,
        }
    }
}

/// Output layer of the optimization network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputKind {
    /// The book's `[2,5,2,2]` network with a softmax output and one-hot labels.
    Softmax,
    /// The course's `[2,5,2,1]` network with a sigmoid output (default lr 0.0007, 10000 epochs).
    Sigmoid,
}

/// `apps optimization`.
#[derive(Debug, Args, Clone, PartialEq)]
pub struct OptimizationArgs {
    /// Optimizer (all three when not given).
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Output layer: the book's softmax network or the course's sigmoid one.
    #[arg(long, value_enum, default_value_t = OutputKind::Softmax)]
    pub output: OutputKind,
    /// Learning rate (default: 0.1 for gd and momentum, 0.01 for adam; 0.0007 with sigmoid).
    #[arg(long, allow_hyphen_values = true)]
    pub learning_rate: Option<f64>,
    /// Number of epochs (default 1000; 10000 with sigmoid).
    #[arg(long)]
    pub num_epochs: Option<u64>,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    pub mini_batch_size: usize,
    /// Momentum coefficient β.
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.9)]
    pub beta: f64,
    /// Adam's first-moment decay β₁.
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.9)]
    pub beta1: f64,
    /// Adam's second-moment decay β₂.
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.999)]
    pub beta2: f64,
    /// Adam's ε, added to the square root of the second moment.
    #[arg(long, allow_hyphen_values = true, default_value_t = 1e-8)]
    pub epsilon: f64,
    /// Seed of the moons data set.
    #[arg(long, default_value_t = 3)]
    pub data_seed: u32,
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 3)]
    pub init_seed: u32,
}

/// `apps mnist`.
#[derive(Debug, Args, Clone, PartialEq)]
pub struct MnistArgs {
    /// A folder with the four standard IDX files (gzip or raw): trains on the 60k training set
    /// and tests on the 10k test set. Without it, the bundled test set is split 8000/2000.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Learning rate of mini-batch gradient descent.
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.001)]
    pub learning_rate: f64,
    /// Number of epochs.
    #[arg(long, default_value_t = 100)]
    pub num_epochs: u64,
    /// Mini-batch size.
    #[arg(long, default_value_t = 32)]
    pub mini_batch_size: usize,
    /// Training examples taken from the bundled test set (the rest test).
    #[arg(long, default_value_t = 8000)]
    pub n_train: usize,
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 3)]
    pub init_seed: u32,
}

/// `apps batchnorm`.
#[derive(Debug, Args, Clone, PartialEq)]
pub struct BatchnormArgs {
    /// A folder with the four standard MNIST IDX files (default: the bundled test set split).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Learning rate for both networks (500 times the MNIST assignment's 0.001).
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.5)]
    pub learning_rate: f64,
    /// Number of epochs.
    #[arg(long, default_value_t = 10)]
    pub num_epochs: u64,
    /// Mini-batch size.
    #[arg(long, default_value_t = 32)]
    pub mini_batch_size: usize,
    /// Training examples taken from the bundled test set (the rest test).
    #[arg(long, default_value_t = 8000)]
    pub n_train: usize,
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 3)]
    pub init_seed: u32,
}

/// `apps all`.
#[derive(Debug, Args, Clone, PartialEq, Default)]
pub struct AllArgs {
    /// A folder with the four standard MNIST IDX files for the MNIST and batch-norm apps.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// A learning rate: finite and `> 0`.
fn learning_rate(flag: &str, v: f64) -> Result<(), String> {
    check(
        flag,
        v,
        v.is_finite() && v > 0.0,
        "must be a finite number > 0",
    )
}

/// A decay coefficient β: in `[0, 1)` (at 1 the average never moves and Adam's bias correction
/// divides by zero).
fn beta(flag: &str, v: f64) -> Result<(), String> {
    check(flag, v, (0.0..1.0).contains(&v), "must be in [0, 1)")
}

/// A count that must be at least `min`.
fn at_least(flag: &str, v: u64, min: u64) -> Result<(), String> {
    if v >= min {
        Ok(())
    } else {
        Err(format!("{flag} {v}: must be at least {min}"))
    }
}

fn check(flag: &str, v: f64, ok: bool, rule: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("{flag} {v}: {rule}"))
    }
}

impl Cli {
    /// Checks every hyperparameter of the command (and of the options) before anything runs;
    /// the error is one line naming the flag, the value and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        self.command.validate()
    }
}

impl Command {
    /// See [`Cli::validate`].
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Command::Init(a) => {
                learning_rate("--learning-rate", a.learning_rate)?;
                at_least("--num-iterations", a.num_iterations, 1)
            }
            Command::Regularization(a) => {
                if let Some(l) = a.lambd {
                    check(
                        "--lambd",
                        l,
                        l.is_finite() && l >= 0.0,
                        "must be a finite number >= 0",
                    )?;
                }
                if let Some(k) = a.keep_prob {
                    check("--keep-prob", k, k > 0.0 && k <= 1.0, "must be in (0, 1]")?;
                }
                learning_rate("--learning-rate", a.learning_rate)?;
                at_least("--num-iterations", a.num_iterations, 1)
            }
            Command::Gradcheck(a) => check(
                "--epsilon",
                a.epsilon,
                a.epsilon.is_finite() && a.epsilon > 0.0,
                "must be a finite number > 0",
            ),
            Command::Optimization(a) => {
                if let Some(lr) = a.learning_rate {
                    learning_rate("--learning-rate", lr)?;
                }
                if let Some(n) = a.num_epochs {
                    at_least("--num-epochs", n, 1)?;
                }
                at_least("--mini-batch-size", a.mini_batch_size as u64, 1)?;
                beta("--beta", a.beta)?;
                beta("--beta1", a.beta1)?;
                beta("--beta2", a.beta2)?;
                check(
                    "--epsilon",
                    a.epsilon,
                    a.epsilon.is_finite() && a.epsilon > 0.0,
                    "must be a finite number > 0",
                )
            }
            Command::Mnist(a) => {
                learning_rate("--learning-rate", a.learning_rate)?;
                at_least("--num-epochs", a.num_epochs, 1)?;
                at_least("--mini-batch-size", a.mini_batch_size as u64, 1)?;
                at_least("--n-train", a.n_train as u64, 1)
            }
            Command::Batchnorm(a) => {
                learning_rate("--learning-rate", a.learning_rate)?;
                at_least("--num-epochs", a.num_epochs, 1)?;
                // Batch statistics need two examples.
                at_least("--mini-batch-size", a.mini_batch_size as u64, 2)?;
                at_least("--n-train", a.n_train as u64, 1)
            }
            Command::Cnn(a) => {
                learning_rate("--learning-rate", a.learning_rate)?;
                check(
                    "--lr-decay",
                    a.lr_decay,
                    a.lr_decay.is_finite() && a.lr_decay > 0.0,
                    "must be a finite number > 0",
                )?;
                at_least("--num-epochs", a.num_epochs, 1)?;
                at_least("--mini-batch-size", a.mini_batch_size as u64, 1)?;
                at_least("--n-train", a.n_train as u64, 1)
            }
            Command::Attention(a) => a.validate(),
            Command::All(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("apps").chain(args.iter().copied()))
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_the_seeds_hyperparameters() {
        let cli = parse(&["init"]).unwrap();
        assert_eq!(
            cli.command,
            Command::Init(InitArgs {
                init: None,
                learning_rate: 0.01,
                num_iterations: 15000,
                data_seed: 1,
                init_seed: 3,
            })
        );
        assert_eq!(cli.output, OutputArgs::default());
        let Command::Regularization(r) = parse(&["regularization"]).unwrap().command else {
            panic!("not regularization");
        };
        assert_eq!(
            (
                r.variant,
                r.lambd,
                r.keep_prob,
                r.learning_rate,
                r.num_iterations
            ),
            (None, None, None, 0.3, 30000)
        );
        assert!(!r.fresh_masks);
        let Command::Optimization(o) = parse(&["optimization"]).unwrap().command else {
            panic!("not optimization");
        };
        assert_eq!(
            (
                o.mini_batch_size,
                o.beta,
                o.beta1,
                o.beta2,
                o.epsilon,
                o.data_seed
            ),
            (64, 0.9, 0.9, 0.999, 1e-8, 3)
        );
        let Command::Mnist(m) = parse(&["mnist"]).unwrap().command else {
            panic!("not mnist");
        };
        assert_eq!(
            (m.learning_rate, m.num_epochs, m.mini_batch_size, m.n_train),
            (0.001, 100, 32, 8000)
        );
    }

    #[test]
    fn seed_argument_names_parse() {
        let cli = parse(&[
            "regularization",
            "--variant",
            "book",
            "--lambd",
            "0.1",
            "--keep-prob",
            "0.9",
            "--learning-rate",
            "0.2",
            "--num-iterations",
            "50",
            "--fresh-masks",
            "--json",
            "--out",
            "plots",
            "--print-every",
            "10",
        ])
        .unwrap();
        let Command::Regularization(r) = cli.command else {
            panic!("not regularization");
        };
        assert_eq!(r.variant, Some(Variant::Book));
        assert_eq!((r.lambd, r.keep_prob), (Some(0.1), Some(0.9)));
        assert_eq!((r.learning_rate, r.num_iterations), (0.2, 50));
        assert!(r.fresh_masks);
        assert!(cli.output.json);
        assert_eq!(cli.output.out, Some(PathBuf::from("plots")));
        assert_eq!(cli.output.print_every, Some(10));

        let cli = parse(&[
            "--json",
            "optimization",
            "--optimizer",
            "adam",
            "--learning-rate",
            "0.01",
            "--num-epochs",
            "5",
            "--mini-batch-size",
            "32",
            "--beta1",
            "0.8",
            "--beta2",
            "0.99",
            "--epsilon",
            "1e-7",
        ])
        .unwrap();
        assert!(cli.output.json);
        let Command::Optimization(o) = cli.command else {
            panic!("not optimization");
        };
        assert_eq!(o.optimizer, Some(OptimizerKind::Adam));
        assert_eq!((o.learning_rate, o.num_epochs), (Some(0.01), Some(5)));
        assert_eq!(
            (o.mini_batch_size, o.beta1, o.beta2, o.epsilon),
            (32, 0.8, 0.99, 1e-7)
        );

        let Command::Init(i) = parse(&["init", "--init", "he", "--data-seed", "7"])
            .unwrap()
            .command
        else {
            panic!("not init");
        };
        assert_eq!(
            (i.init, i.data_seed, i.init_seed),
            (Some(InitScheme::He), 7, 3)
        );
    }

    #[test]
    fn bad_input_is_rejected_with_a_message() {
        for bad in [
            vec!["init", "--init", "xavier"],
            vec!["optimization", "--optimizer", "sgd"],
            vec!["init", "--learning-rate", "fast"],
            vec!["init", "--print-every", "0"],
            vec!["mnist", "--num-epochs", "-3"],
            vec!["nonsense"],
            vec![],
        ] {
            assert!(parse(&bad).is_err(), "{bad:?} was accepted");
        }
        let err = parse(&["init", "--init", "xavier"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("zeros") && err.contains("he"), "{err}");
    }

    /// Every out-of-range hyperparameter the issue lists parses (negative numbers included)
    /// and is then refused by `validate` with one line naming the flag and the range.
    #[test]
    fn out_of_range_hyperparameters_are_refused_with_one_line() {
        for (args, want) in [
            (
                vec!["init", "--learning-rate", "nan"],
                "--learning-rate NaN: must be a finite number > 0",
            ),
            (
                vec!["init", "--learning-rate", "-0.01"],
                "--learning-rate -0.01: must be a finite number > 0",
            ),
            (
                vec!["init", "--learning-rate", "inf"],
                "--learning-rate inf",
            ),
            (
                vec!["init", "--num-iterations", "0"],
                "--num-iterations 0: must be at least 1",
            ),
            (
                vec!["regularization", "--lambd", "-1"],
                "--lambd -1: must be a finite number >= 0",
            ),
            (
                vec!["regularization", "--keep-prob", "0"],
                "--keep-prob 0: must be in (0, 1]",
            ),
            (
                vec!["regularization", "--learning-rate", "-0.3"],
                "--learning-rate -0.3",
            ),
            (
                vec!["gradcheck", "--epsilon", "0"],
                "--epsilon 0: must be a finite number > 0",
            ),
            (
                vec!["optimization", "--beta1", "1"],
                "--beta1 1: must be in [0, 1)",
            ),
            (
                vec!["optimization", "--beta", "1.5"],
                "--beta 1.5: must be in [0, 1)",
            ),
            (
                vec!["optimization", "--beta2", "-0.5"],
                "--beta2 -0.5: must be in [0, 1)",
            ),
            (
                vec!["optimization", "--epsilon", "0"],
                "--epsilon 0: must be a finite number > 0",
            ),
            (
                vec!["optimization", "--learning-rate", "-1e-3"],
                "--learning-rate -0.001",
            ),
            (
                vec!["optimization", "--mini-batch-size", "0"],
                "--mini-batch-size 0: must be at least 1",
            ),
            (
                vec!["mnist", "--learning-rate", "nan"],
                "--learning-rate NaN",
            ),
            (
                vec!["mnist", "--n-train", "0"],
                "--n-train 0: must be at least 1",
            ),
            (
                vec!["batchnorm", "--mini-batch-size", "1"],
                "--mini-batch-size 1: must be at least 2",
            ),
            (
                vec!["attention", "--heads", "3"],
                "--heads 3: must divide --d-model 64",
            ),
            (
                vec!["attention", "--learning-rate", "-0.002"],
                "--learning-rate -0.002: must be a finite number > 0",
            ),
            (
                vec!["attention", "--seq-len", "1"],
                "--seq-len 1: must be at least 2",
            ),
            (
                vec!["attention", "--num-steps", "0"],
                "--num-steps 0: must be at least 1",
            ),
            (
                vec!["attention", "--mini-batch-size", "0"],
                "--mini-batch-size 0: must be at least 1",
            ),
            (
                vec!["attention", "--seq-len", "2", "--n-test", "60"],
                "--n-test 60: at most half of the 100 distinct sequences of length 2",
            ),
        ] {
            let cli = parse(&args).unwrap_or_else(|e| panic!("{args:?} does not parse: {e}"));
            let err = cli.validate().expect_err(&format!("{args:?} was accepted"));
            assert!(err.starts_with(want), "{args:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
        for ok in [
            vec!["init"],
            vec!["regularization", "--lambd", "0"],
            vec!["optimization", "--beta", "0"],
            vec!["attention", "--task", "reverse", "--heads", "8"],
        ] {
            parse(&ok).unwrap().validate().unwrap();
        }
        for cmd in all_defaults() {
            cmd.validate().unwrap();
        }
    }

    fn all_defaults() -> Vec<Command> {
        crate::run::all_commands(&AllArgs::default())
    }
}
