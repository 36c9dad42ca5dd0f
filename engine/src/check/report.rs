//! The one report of every gradient check ([`GradientCheckReport`]) and its settings
//! ([`CheckConfig`]): per parameter (or input), the gradient under test against central
//! differences (and against a hand-written one when given), as an
//! [`Agreement`](super::Agreement) judged by the settings' [`Tolerance`], with the worst
//! components listed; and the same over all parameters concatenated.

use std::fmt;

use crate::check::tolerance::{unravel, Agreement, Tolerance};
use crate::Float;

/// Settings of a gradient check ([`check_gradients`](super::check_gradients),
/// [`gradcheck`](super::gradcheck), [`gradgradcheck`](super::gradgradcheck)).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckConfig {
    /// Step ε of the central differences.
    pub epsilon: f64,
    /// What passes (see [`Tolerance`]).
    pub tolerance: Tolerance,
    /// How many of the worst components to list per parameter.
    pub worst: usize,
}

impl Default for CheckConfig {
    /// For f64: ε = 1e-7 and [`Tolerance::default`] (relative 1e-7, absolute 1e-8); five
    /// worst components.
    fn default() -> Self {
        CheckConfig {
            epsilon: 1e-7,
            tolerance: Tolerance::default(),
            worst: 5,
        }
    }
}

impl CheckConfig {
    /// Settings suited to the element type: [`CheckConfig::default`] for f64; for f32, whose
    /// 24-bit mantissa makes a 1e-7 step meaningless, ε = 1e-3 with
    /// [`Tolerance::for_type`] (relative 1e-2, absolute 1e-3).
    pub fn for_type<T: Float>() -> Self {
        CheckConfig {
            epsilon: if Tolerance::single_precision::<T>() {
                1e-3
            } else {
                1e-7
            },
            tolerance: Tolerance::for_type::<T>(),
            worst: 5,
        }
    }

    /// The same settings with step `epsilon`.
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// The same settings with relative tolerance `relative`.
    pub fn relative(mut self, relative: f64) -> Self {
        self.tolerance.relative = relative;
        self
    }
}

/// One component of one parameter's gradient, as each method computed it.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentValues {
    /// Multi-index within the parameter.
    pub index: Vec<usize>,
    /// Reverse-mode autodiff.
    pub autodiff: f64,
    /// The hand-written backward, when given.
    pub hand_written: Option<f64>,
    /// Central differences.
    pub numerical: f64,
}

impl ComponentValues {
    /// The largest absolute difference between any two of the values (NaN is the largest).
    pub fn spread(&self) -> f64 {
        let mut values = vec![self.autodiff, self.numerical];
        values.extend(self.hand_written);
        if values.iter().any(|v| v.is_nan()) {
            return f64::INFINITY;
        }
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        max - min
    }
}

/// The comparison for one named parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamCheck {
    /// The parameter's name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Autodiff against central differences.
    pub autodiff_vs_numerical: Agreement,
    /// The hand-written backward against central differences.
    pub hand_vs_numerical: Option<Agreement>,
    /// Autodiff against the hand-written backward.
    pub autodiff_vs_hand: Option<Agreement>,
    /// The components where the methods disagree most, worst first.
    pub worst: Vec<ComponentValues>,
    /// The full gradients, row-major: autodiff, hand-written, numerical.
    pub autodiff: Vec<f64>,
    /// See `autodiff`.
    pub hand_written: Option<Vec<f64>>,
    /// See `autodiff`.
    pub numerical: Vec<f64>,
}

impl ParamCheck {
    /// The comparisons made, labelled.
    pub fn comparisons(&self) -> Vec<(&'static str, Agreement)> {
        let mut out = vec![("autodiff vs numerical", self.autodiff_vs_numerical)];
        out.extend(
            self.hand_vs_numerical
                .map(|a| ("hand-written vs numerical", a)),
        );
        out.extend(
            self.autodiff_vs_hand
                .map(|a| ("autodiff vs hand-written", a)),
        );
        out
    }
}

/// The result of a gradient check; `Display` prints a table for the terminal.
#[derive(Clone, Debug, PartialEq)]
pub struct GradientCheckReport {
    /// The settings used.
    pub config: CheckConfig,
    /// Per parameter, in the order given.
    pub params: Vec<ParamCheck>,
    /// Over all parameters concatenated into one vector, as the course's gradient check computes it.
    pub overall: ParamCheck,
}

impl GradientCheckReport {
    /// Whether every comparison of every parameter, and overall, passes.
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    /// `(parameter, comparison, agreement)` for each comparison that does not pass.
    pub fn failures(&self) -> Vec<(&str, &'static str, Agreement)> {
        self.params
            .iter()
            .chain(std::iter::once(&self.overall))
            .flat_map(|p| {
                p.comparisons()
                    .into_iter()
                    .filter(|(_, a)| !a.passes(&self.config.tolerance))
                    .map(move |(what, a)| (p.name.as_str(), what, a))
            })
            .collect()
    }

    /// The check of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&ParamCheck> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Panics with the printed report unless [`GradientCheckReport::passed`].
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "gradient check failed\n{self}");
    }

    /// The overall relative difference of the gradient under test (autodiff) and central
    /// differences, all parameters concatenated.
    pub fn relative_difference(&self) -> f64 {
        self.overall.autodiff_vs_numerical.relative_difference
    }

    /// Names of the parameters with a failing comparison.
    pub fn failing_params(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for (name, _, _) in self.failures() {
            if name != self.overall.name && !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

/// The report comparing, per parameter, the gradient under test (`autodiff`), an optional
/// second one (`hand_written`) and the reference (`numerical`), each flattened row-major; and
/// all parameters concatenated, as one vector.
pub(crate) fn build_report(
    config: CheckConfig,
    names: &[String],
    shapes: &[Vec<usize>],
    autodiff: Vec<Vec<f64>>,
    hand_written: Option<Vec<Vec<f64>>>,
    numerical: Vec<Vec<f64>>,
) -> GradientCheckReport {
    let checks: Vec<ParamCheck> = (0..names.len())
        .map(|i| {
            compare(
                &names[i],
                &shapes[i],
                autodiff[i].clone(),
                hand_written.as_ref().map(|h| h[i].clone()),
                numerical[i].clone(),
                config.worst,
            )
        })
        .collect();
    let concat =
        |f: &dyn Fn(&ParamCheck) -> Vec<f64>| -> Vec<f64> { checks.iter().flat_map(f).collect() };
    let total: usize = checks.iter().map(|c| c.numerical.len()).sum();
    let overall = compare(
        "all",
        &[total],
        concat(&|c| c.autodiff.clone()),
        hand_written
            .as_ref()
            .map(|_| concat(&|c| c.hand_written.clone().unwrap())),
        concat(&|c| c.numerical.clone()),
        0,
    );
    GradientCheckReport {
        config,
        params: checks,
        overall,
    }
}

fn compare(
    name: &str,
    shape: &[usize],
    autodiff: Vec<f64>,
    hand_written: Option<Vec<f64>>,
    numerical: Vec<f64>,
    worst: usize,
) -> ParamCheck {
    let mut components: Vec<ComponentValues> = (0..numerical.len())
        .map(|k| ComponentValues {
            index: unravel(k, shape),
            autodiff: autodiff[k],
            hand_written: hand_written.as_ref().map(|h| h[k]),
            numerical: numerical[k],
        })
        .collect();
    components.sort_by(|a, b| b.spread().total_cmp(&a.spread()));
    components.truncate(worst);
    ParamCheck {
        name: name.to_string(),
        shape: shape.to_vec(),
        autodiff_vs_numerical: Agreement::between(&autodiff, &numerical),
        hand_vs_numerical: hand_written
            .as_ref()
            .map(|h| Agreement::between(h, &numerical)),
        autodiff_vs_hand: hand_written
            .as_ref()
            .map(|h| Agreement::between(&autodiff, h)),
        worst: components,
        autodiff,
        hand_written,
        numerical,
    }
}

impl fmt::Display for GradientCheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let with_hand = self.overall.hand_written.is_some();
        writeln!(
            f,
            "gradient check, relative difference ‖a−b‖/(‖a‖+‖b‖)\n\
             central differences with ε = {:e}; pass: rel. diff < {:e} or max |err| ≤ {:e}; \
             NaN fails",
            c.epsilon, c.tolerance.relative, c.tolerance.absolute
        )?;
        let shape_of = |p: &ParamCheck| {
            if std::ptr::eq(p, &self.overall) {
                format!("{} values", p.numerical.len())
            } else {
                format!("{:?}", p.shape)
            }
        };
        let all_rows = || self.params.iter().chain(std::iter::once(&self.overall));
        let name_w = all_rows().map(|p| p.name.len()).max().unwrap_or(0).max(5);
        let shape_w = all_rows()
            .map(|p| shape_of(p).len())
            .max()
            .unwrap_or(0)
            .max(5);
        let titles: Vec<&str> = self.overall.comparisons().iter().map(|c| c.0).collect();
        let mut line = format!("{:name_w$}  {:shape_w$}", "", "");
        for t in &titles {
            line += &format!("  {t:^26}");
        }
        writeln!(f, "{}", line.trim_end())?;
        let mut line = format!("{:<name_w$}  {:<shape_w$}", "param", "shape");
        for _ in &titles {
            line += &format!("  {:>10}  {:>10}    ", "rel. diff", "max |err|");
        }
        writeln!(f, "{}", line.trim_end())?;
        for p in all_rows() {
            write!(f, "{:<name_w$}  {:<shape_w$}", p.name, shape_of(p))?;
            for (_, a) in p.comparisons() {
                let mark = if a.passes(&c.tolerance) { "ok" } else { "!!" };
                write!(
                    f,
                    "  {:>10.3e}  {:>10.3e}  {mark}",
                    a.relative_difference, a.max_abs_error
                )?;
            }
            writeln!(f)?;
        }
        if self.passed() {
            writeln!(f, "PASSED")?;
        } else {
            writeln!(f, "FAILED:")?;
            for p in all_rows() {
                let bad: Vec<String> = p
                    .comparisons()
                    .into_iter()
                    .filter(|(_, a)| !a.passes(&c.tolerance))
                    .map(|(what, a)| format!("{what} {:.3e}", a.relative_difference))
                    .collect();
                if !bad.is_empty() {
                    writeln!(f, "  {}: {}", p.name, bad.join(", "))?;
                }
            }
        }
        // Worst components: those of the failing parameters, or the worst overall if none fails.
        let failing: Vec<&ParamCheck> = self
            .params
            .iter()
            .filter(|p| p.comparisons().iter().any(|(_, a)| !a.passes(&c.tolerance)))
            .collect();
        let mut rows: Vec<(&str, &ComponentValues)> = if failing.is_empty() {
            self.params
                .iter()
                .flat_map(|p| p.worst.iter().map(move |w| (p.name.as_str(), w)))
                .collect()
        } else {
            failing
                .iter()
                .flat_map(|p| p.worst.iter().map(move |w| (p.name.as_str(), w)))
                .collect()
        };
        if failing.is_empty() {
            rows.sort_by(|a, b| b.1.spread().total_cmp(&a.1.spread()));
            rows.truncate(c.worst);
        }
        if rows.is_empty() {
            return Ok(());
        }
        writeln!(f, "worst components (largest disagreement first):")?;
        let index_w = rows
            .iter()
            .map(|(_, r)| format!("{:?}", r.index).len())
            .max()
            .unwrap_or(5)
            .max(5);
        write!(
            f,
            "{:<name_w$}  {:<index_w$}  {:>17}",
            "param", "index", "autodiff"
        )?;
        if with_hand {
            write!(f, "  {:>17}", "hand-written")?;
        }
        writeln!(f, "  {:>17}", "numerical")?;
        for (name, r) in rows {
            let index = format!("{:?}", r.index);
            write!(
                f,
                "{name:<name_w$}  {index:<index_w$}  {:>17.9e}",
                r.autodiff
            )?;
            if let Some(h) = r.hand_written {
                write!(f, "  {h:>17.9e}")?;
            }
            writeln!(f, "  {:>17.9e}", r.numerical)?;
        }
        Ok(())
    }
}
