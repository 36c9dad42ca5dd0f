//! What a run reports and how it is printed: human-readable lines in the seeds' wording by
//! default, one JSON object per run (JSON Lines) with `--json`.
//!
//! Standard output carries only results, so `apps ... --json | jq` works; progress lines for
//! long runs go to standard error, and only when it is a terminal (or in text mode, where the
//! seed's "Cost after iteration i" lines are the progress).
//!
//! Every training run's JSON object has the same fields, documented on [`RunReport`] and in
//! `docs/json.md`: a value that does not apply is `null`, never a missing key.
//!
//! A closed standard output (`apps ... | head -1`) ends the run at the next line it prints,
//! quietly and with exit status 141, the status of a Unix tool killed by `SIGPIPE` (what
//! `yes | head -1` gives): the reader has gone, so there is no point computing on.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::pyfmt::py_float;

/// One component of a gradient as each method computed it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Component {
    /// Parameter name (`W1`, `b2`, ...).
    pub param: String,
    /// Index of the component within the parameter.
    pub index: Vec<usize>,
    /// Reverse-mode autodiff.
    pub autodiff: f64,
    /// The seed's hand-derived backprop (`null` where there is none).
    pub hand_derived: Option<f64>,
    /// Central differences.
    pub numerical: f64,
}

/// Autodiff gradients compared with the hand-derived backprop and with numerical gradients at
/// one update of a run (the engine's three-way check, condensed by [`crate::checks::summarize`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AutodiffCheck {
    /// The update (0-based: iteration of a full-batch run, mini-batch step otherwise) whose
    /// parameters and batch were checked, before the update was applied.
    pub update: u64,
    /// ‖autodiff gradient‖₂ over all parameters: when it is at rounding level (the zero
    /// initialization's symmetric network), relative differences compare noise with noise.
    pub grad_norm: f64,
    /// Relative difference (6.57) autodiff vs the seed's hand-derived backprop, all parameters
    /// as one vector (`null` where there is no hand-derived version: the batch-norm network).
    pub vs_hand: Option<f64>,
    /// Largest absolute difference autodiff vs hand-derived (`null` as `vs_hand`).
    pub max_abs_vs_hand: Option<f64>,
    /// Whether the relative differences (`vs_hand`, `vs_numerical`, `per_param_vs_numerical`)
    /// mean anything: `false` when the gradients vanish (`grad_norm` below
    /// [`NEGLIGIBLE_GRADIENT`], e.g. the zero initialization, where `vs_hand` is 1.0 because
    /// it divides rounding noise by rounding noise). Then read the absolute differences.
    pub relative_meaningful: bool,
    /// How many examples of the batch the check ran on (`--check bounded` may take the first
    /// few of a large batch; see `crate::checks::CHECK_BUDGET`).
    pub examples: usize,
    /// How many examples the batch of that update had.
    pub batch_examples: usize,
    /// Relative difference (6.57) autodiff vs central differences, all parameters as one vector.
    pub vs_numerical: f64,
    /// Largest absolute difference autodiff vs central differences.
    pub max_abs_vs_numerical: f64,
    /// Per-parameter relative difference autodiff vs numerical, in parameter order.
    pub per_param_vs_numerical: Vec<(String, f64)>,
    /// Hidden pre-activations within 1e-6 of a ReLU kink (most often exactly 0: an example
    /// whose previous layer is all zeros). Perturbing a parameter by ε can cross a kink, where
    /// central differences average the two one-sided slopes: the numerical comparison is then
    /// off by design, not because of autodiff.
    pub near_kinks: usize,
    /// The components where the methods disagree most, worst first.
    pub worst: Vec<Component>,
}

/// A Hessian-vector product of a run's loss (forward-over-reverse, `engine::hvp`) against
/// central differences of autodiff gradients along the same direction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HvpCheck {
    /// The update of the checked network (0-based), before it was applied.
    pub update: u64,
    /// Length of the product (all parameters' components).
    pub components: usize,
    /// Step ε of the central differences of gradients.
    pub epsilon: f64,
    /// ‖H·v‖₂ of the exact product.
    pub hv_norm: f64,
    /// Relative difference (the course's formula, all components as one vector).
    pub relative_difference: f64,
    /// Largest absolute difference of a component.
    pub max_abs_difference: f64,
    /// Whether the relative difference is within the app's tolerance.
    pub passed: bool,
}

/// One line describing a Hessian-vector check.
pub fn hvp_line(c: &HvpCheck) -> String {
    format!(
        "Hessian-vector product at update {}: relative difference vs central differences of \
         gradients (ε = {:e}) {:.2e} (max abs {:.1e}, ‖Hv‖ {:.3}, {} components){}",
        c.update,
        c.epsilon,
        c.relative_difference,
        c.max_abs_difference,
        c.hv_norm,
        c.components,
        if c.passed { "" } else { " FAILED" }
    )
}

/// The result of one training run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    /// Name of the run, e.g. `init-he` or `reg-book-l2=0.1-keep=1`.
    pub run: String,
    /// The files the data came from (or how it was generated).
    pub data: Vec<String>,
    /// `iteration` or `epoch`: what `cost_at` counts.
    pub unit: &'static str,
    /// The iterations (or epochs) the costs were reported at.
    pub cost_at: Vec<u64>,
    /// Every reported cost, in order.
    pub costs: Vec<f64>,
    /// Accuracy on the training set, as the course's `predict` computes it.
    pub train_acc: f64,
    /// Accuracy on the test set (`null` where there is none).
    pub test_acc: Option<f64>,
    /// Autodiff checks at the first and the last iteration.
    pub checks: Vec<AutodiffCheck>,
    /// Hessian-vector product checks (`apps attention`; empty elsewhere).
    pub hvp_checks: Vec<HvpCheck>,
    /// Test accuracy during training, `(iteration or epoch, accuracy)` (empty where the run
    /// measures it only at the end).
    pub test_acc_curve: Vec<(u64, f64)>,
    /// Plots written for this run.
    pub plots: Vec<String>,
    /// Wall time of the run in seconds.
    pub seconds: f64,
}

/// Where results and progress go.
#[derive(Debug)]
pub struct Reporter {
    json: bool,
    quiet: bool,
    progress_to_stderr: bool,
}

impl Reporter {
    /// A reporter printing JSON Lines (`json`) or text; `quiet` silences progress lines.
    pub fn new(json: bool, quiet: bool) -> Self {
        Reporter {
            json,
            quiet,
            progress_to_stderr: std::io::stderr().is_terminal(),
        }
    }

    /// A reporter that prints nothing at all (library use and tests).
    pub fn silent() -> Self {
        Reporter {
            json: true,
            quiet: true,
            progress_to_stderr: false,
        }
    }

    /// Whether progress lines are silenced (`--quiet`).
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Whether results are printed as JSON.
    pub fn json(&self) -> bool {
        self.json
    }

    /// A result line for text mode (ignored in JSON mode, where the run's object says it all).
    pub fn line(&self, text: &str) {
        if !self.json {
            print_line(text);
        }
    }

    /// A cost reported during training, in the seed's words.
    pub fn cost(&self, unit: &str, at: u64, cost: f64) {
        if self.json {
            self.progress(&format!("cost after {unit} {at}: {}", py_float(cost)));
        } else {
            print_line(&format!("Cost after {unit} {at}: {}", py_float(cost)));
        }
    }

    /// A progress line: to standard error when it is a terminal in JSON mode; to standard
    /// output in text mode. Never printed with `--quiet`.
    pub fn progress(&self, text: &str) {
        if self.quiet {
            return;
        }
        if !self.json {
            print_line(text);
        } else if self.progress_to_stderr {
            eprintln!("{text}");
        }
    }

    /// Prints any serializable result: one JSON line, or its text form.
    pub fn emit<R: Serialize>(&self, value: &R, text: impl FnOnce() -> String) {
        if self.json {
            print_line(&serde_json::to_string(value).expect("reports serialize to JSON"));
        } else {
            print_line(&text());
        }
    }

    /// Prints a finished run.
    pub fn run(&self, report: &RunReport) {
        self.emit(report, || summary(report));
    }
}

/// Exit status when standard output is closed: 128 + `SIGPIPE` (13), as a shell reports a
/// Unix tool that `SIGPIPE` ended.
pub const CLOSED_STDOUT_STATUS: i32 = 141;

/// Writes a line to standard output. When the reader has gone (`apps ... | head -1`), the
/// process ends there, quietly, with [`CLOSED_STDOUT_STATUS`] (see the module docs); any other
/// write error is reported once and ends the run likewise.
fn print_line(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing to standard output: {e}");
        }
        std::process::exit(CLOSED_STDOUT_STATUS);
    }
}

/// The text form of a finished run.
pub fn summary(r: &RunReport) -> String {
    let mut s = format!("{}: train accuracy {}", r.run, py_float(r.train_acc));
    if let Some(t) = r.test_acc {
        s += &format!(", test accuracy {}", py_float(t));
    }
    s += &format!(" ({:.2} s)", r.seconds);
    for c in &r.checks {
        s += &format!("\n  {}", check_line(c));
    }
    for c in &r.hvp_checks {
        s += &format!("\n  {}", hvp_line(c));
    }
    for p in &r.plots {
        s += &format!("\n  wrote {p}");
    }
    s
}

/// Below this gradient norm the gradients are rounding noise (e.g. a zero-initialized network,
/// whose every gradient vanishes by symmetry) and relative differences say nothing.
pub const NEGLIGIBLE_GRADIENT: f64 = 1e-12;

/// One line describing an autodiff check.
pub fn check_line(c: &AutodiffCheck) -> String {
    let line = check_line_inner(c);
    if c.examples < c.batch_examples {
        format!(
            "{line} [on the first {} of the batch's {} examples; --check full for all]",
            c.examples, c.batch_examples
        )
    } else {
        line
    }
}

fn check_line_inner(c: &AutodiffCheck) -> String {
    if !c.relative_meaningful {
        let mut s = format!(
            "autodiff at update {}: gradients vanish (norm {:.1e})",
            c.update, c.grad_norm
        );
        if let Some(abs) = c.max_abs_vs_hand {
            s += &format!("; max |autodiff - hand-derived| {abs:.1e}");
        }
        s + &format!(
            "; max |autodiff - numerical| {:.1e}",
            c.max_abs_vs_numerical
        )
    } else {
        let mut s = match c.vs_hand {
            None => format!(
                "autodiff at update {}: relative difference vs numerical {:.2e} (max abs {:.1e})",
                c.update, c.vs_numerical, c.max_abs_vs_numerical
            ),
            Some(h) => format!(
                "autodiff at update {}: relative difference vs hand-derived backprop {h:.2e}, vs numerical {:.2e} (max abs {:.1e})",
                c.update, c.vs_numerical, c.max_abs_vs_numerical
            ),
        };
        if c.near_kinks > 0 {
            let worst = c
                .per_param_vs_numerical
                .iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(String::new(), |(n, d)| format!("; worst {n}: {d:.2e}"));
            s += &format!(
                " ({} hidden pre-activations at a ReLU kink, where central differences average \
                 two slopes{worst})",
                c.near_kinks
            );
        }
        s
    }
}

/// Rate-limited progress for long loops ("epoch 37/100"), at most one line per `every`.
#[derive(Debug)]
pub struct Progress {
    last: Instant,
    every: Duration,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            last: Instant::now(),
            every: Duration::from_secs(5),
        }
    }
}

impl Progress {
    /// Calls `report` with a line when `every` has passed since the last one.
    pub fn tick(&mut self, reporter: &Reporter, line: impl FnOnce() -> String) {
        if self.last.elapsed() >= self.every {
            self.last = Instant::now();
            reporter.progress(&line());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunReport {
        RunReport {
            run: "init-he".into(),
            data: vec!["make_circles".into()],
            unit: "iteration",
            cost_at: vec![0, 1000],
            costs: vec![0.88, 0.68],
            train_acc: 0.99,
            test_acc: None,
            checks: vec![AutodiffCheck {
                update: 0,
                grad_norm: 0.3,
                vs_hand: Some(1e-16),
                max_abs_vs_hand: Some(1e-17),
                relative_meaningful: true,
                examples: 300,
                batch_examples: 300,
                near_kinks: 0,
                vs_numerical: 1e-9,
                max_abs_vs_numerical: 1e-10,
                per_param_vs_numerical: vec![("W1".into(), 1e-9)],
                worst: vec![Component {
                    param: "b2".into(),
                    index: vec![1, 0],
                    autodiff: 0.5,
                    hand_derived: Some(0.5),
                    numerical: 0.5000001,
                }],
            }],
            hvp_checks: vec![],
            test_acc_curve: vec![],
            plots: vec![],
            seconds: 1.5,
        }
    }

    #[test]
    fn json_has_the_documented_fields_and_omits_a_missing_test_set() {
        let v: serde_json::Value = serde_json::to_value(sample()).unwrap();
        assert_eq!(v["run"], "init-he");
        assert_eq!(v["costs"], serde_json::json!([0.88, 0.68]));
        assert_eq!(v["train_acc"], 0.99);
        assert!(v["test_acc"].is_null());
        assert_eq!(v["checks"][0]["worst"][0]["param"], "b2");
        assert_eq!(v["checks"][0]["worst"][0]["hand_derived"], 0.5);
        assert_eq!(v["checks"][0]["per_param_vs_numerical"][0][0], "W1");
        // Runs without them still carry the keys, empty.
        assert_eq!(v["hvp_checks"], serde_json::json!([]));
        assert_eq!(v["test_acc_curve"], serde_json::json!([]));
        let mut with_test = sample();
        with_test.test_acc = Some(0.96);
        let v = serde_json::to_value(with_test).unwrap();
        assert_eq!(v["test_acc"], 0.96);
        // One line: JSON Lines.
        assert!(!serde_json::to_string(&sample()).unwrap().contains('\n'));
    }

    #[test]
    fn summary_names_the_run_and_its_accuracies() {
        let mut r = sample();
        r.test_acc = Some(0.96);
        r.train_acc = 1.0;
        let s = summary(&r);
        // Python's repr of the accuracies: 1.0, not Rust's 1.
        assert!(s.starts_with("init-he: train accuracy 1.0, test accuracy 0.96"));
        assert!(s.contains("vs hand-derived backprop 1.00e-16"), "{s}");
        r.checks[0].vs_hand = None;
        assert!(!summary(&r).contains("hand-derived"));
    }

    #[test]
    fn a_check_on_part_of_the_batch_says_so_and_how_to_check_all() {
        let mut r = sample();
        assert!(!summary(&r).contains("of the batch's"));
        r.checks[0].examples = 41;
        r.checks[0].batch_examples = 4000;
        let s = summary(&r);
        assert!(
            s.contains("[on the first 41 of the batch's 4000 examples; --check full for all]"),
            "{s}"
        );
    }
}
