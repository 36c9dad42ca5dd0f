//! Anomaly mode: find the operation that first produced a NaN or an infinity.
//!
//! Every graph node remembers where in the user's code it was created: operations are
//! `#[track_caller]` all the way down, so the location is the line of *your* code that called
//! `x.log()` or wrote `a / b`, not a line inside the engine. With anomaly mode on
//! ([`detect_anomaly`]), each operation's output and each backward rule's gradients are checked,
//! and the first non-finite value stops the program with an [`Anomaly`] report naming the
//! operation, that location, and statistics (min/max/mean, NaN and infinity counts) of the
//! operation's inputs and of the offending result.
//!
//! Only the *origin* is reported: a NaN that arrives in an operation's inputs is not blamed on
//! that operation (the one that made it was reported when it ran, if anomaly mode was on then).
//!
//! The report is raised as a panic (so it stops a training loop wherever it is); tests and
//! tools that want it as a value use [`catch_anomaly`].
//!
//! ```
//! use engine::anomaly::{catch_anomaly, detect_anomaly, Phase};
//! use engine::Tensor;
//!
//! let _on = detect_anomaly(true);
//! let x = Tensor::<f64>::parameter(vec![1.0, 0.0, 4.0], &[3]);
//! let anomaly = catch_anomaly(|| {
//!     let y = x.sqrt(); // finite: [1, 0, 2]
//!     y.sum().backward(); // d√x = 1/(2√x) is infinite at 0
//! })
//! .unwrap_err();
//! assert_eq!(anomaly.phase, Phase::Backward);
//! assert_eq!(anomaly.op, "sqrt");
//! assert_eq!(anomaly.location.line(), line!() - 6); // the line calling x.sqrt()
//! assert_eq!(anomaly.inputs[0].min, 0.0);
//! assert_eq!(anomaly.result.pos_inf, 1);
//! println!("{anomaly}");
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::Rc;

use crate::autograd::observer::{observe, Observer, ObserverGuard, Recorded};
use crate::autograd::InputGrads;
use crate::{Float, Tensor};

thread_local! {
    static ANOMALY: Cell<bool> = const { Cell::new(false) };
    static LAST: RefCell<Option<Box<Anomaly>>> = const { RefCell::new(None) };
}

/// Restores the previous anomaly setting when dropped.
pub struct AnomalyGuard {
    previous: bool,
    _observers: Option<(ObserverGuard, ObserverGuard)>,
}

impl Drop for AnomalyGuard {
    fn drop(&mut self) {
        ANOMALY.with(|a| a.set(self.previous));
    }
}

/// Turns anomaly detection on (or off) for this thread until the guard is dropped.
pub fn detect_anomaly(enabled: bool) -> AnomalyGuard {
    // Anomaly mode is an autograd observer, installed only while it is on.
    let observers = enabled.then(|| {
        (
            observe::<f32>(Rc::new(AnomalyObserver)),
            observe::<f64>(Rc::new(AnomalyObserver)),
        )
    });
    AnomalyGuard {
        previous: ANOMALY.with(|a| a.replace(enabled)),
        _observers: observers,
    }
}

/// Whether anomaly detection is on for this thread.
pub fn is_anomaly_enabled() -> bool {
    ANOMALY.with(Cell::get)
}

/// Summary statistics of a tensor's values, for anomaly reports. `min`, `max` and `mean` are
/// over the finite values only (NaN when there are none), so they show what the rest of the
/// tensor looks like: a `min` of exactly 0 before a `log`, say.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorStats {
    /// The tensor's name, if it has one (a parameter's full name, `encoder.l1.weight`).
    pub name: Option<String>,
    /// The tensor's shape.
    pub shape: Vec<usize>,
    /// Smallest finite value.
    pub min: f64,
    /// Largest finite value.
    pub max: f64,
    /// Mean of the finite values.
    pub mean: f64,
    /// How many values are finite.
    pub finite: usize,
    /// How many are NaN.
    pub nan: usize,
    /// How many are `+inf`.
    pub pos_inf: usize,
    /// How many are `-inf`.
    pub neg_inf: usize,
}

impl TensorStats {
    /// Statistics of `t`'s values.
    pub fn of<T: Float>(t: &Tensor<T>) -> Self {
        let mut s = TensorStats {
            name: t.name().map(|n| n.to_string()),
            shape: t.shape().to_vec(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            mean: 0.0,
            finite: 0,
            nan: 0,
            pos_inf: 0,
            neg_inf: 0,
        };
        let mut sum = 0.0;
        t.with_data(|d| {
            for &x in d {
                let x = x.as_f64();
                if x.is_nan() {
                    s.nan += 1;
                } else if x == f64::INFINITY {
                    s.pos_inf += 1;
                } else if x == f64::NEG_INFINITY {
                    s.neg_inf += 1;
                } else {
                    s.finite += 1;
                    s.min = s.min.min(x);
                    s.max = s.max.max(x);
                    sum += x;
                }
            }
        });
        if s.finite == 0 {
            (s.min, s.max, s.mean) = (f64::NAN, f64::NAN, f64::NAN);
        } else {
            s.mean = sum / s.finite as f64;
        }
        s
    }

    /// NaN and infinite values together.
    pub fn non_finite(&self) -> usize {
        self.nan + self.pos_inf + self.neg_inf
    }
}

impl fmt::Display for TensorStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.name {
            write!(f, "{name}, ")?;
        }
        write!(
            f,
            "shape {:?}: min {:.4e}, max {:.4e}, mean {:.4e} over {} finite; {} NaN, {} +inf, {} -inf",
            self.shape,
            self.min,
            self.max,
            self.mean,
            self.finite,
            self.nan,
            self.pos_inf,
            self.neg_inf
        )
    }
}

/// Summary statistics of a tensor as one line (see [`TensorStats`]).
pub fn describe<T: Float>(t: &Tensor<T>) -> String {
    TensorStats::of(t).to_string()
}

/// Whether the anomaly appeared computing values or gradients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// An operation's output.
    Forward,
    /// A backward rule's gradient for one of the operation's inputs.
    Backward,
}

/// Where and how a NaN or infinity first appeared.
#[derive(Clone, Debug)]
pub struct Anomaly {
    /// Forward value or backward gradient.
    pub phase: Phase,
    /// The operation's name (`"log"`, `"matmul"`, a custom op's name ...).
    pub op: String,
    /// The line of the user's code that called the operation.
    pub location: &'static Location<'static>,
    /// Statistics of each of the operation's inputs (forward values).
    pub inputs: Vec<TensorStats>,
    /// Backward only: the gradient arriving at the operation's output.
    pub incoming_grad: Option<TensorStats>,
    /// Backward only: which input's gradient went non-finite.
    pub input_index: Option<usize>,
    /// The offending result: the output (forward) or that input's gradient (backward).
    pub result: TensorStats,
    /// Set when the non-finite gradient was already there on arrival: it did not come from a
    /// backward rule but from a gradient hook or the output gradient given to `backward_with`.
    pub arrived_non_finite: bool,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.phase, self.arrived_non_finite) {
            (Phase::Forward, _) => writeln!(
                f,
                "anomaly: `{}` produced a non-finite value in forward\n  at {} (where it was called)",
                self.op, self.location
            )?,
            (Phase::Backward, false) => writeln!(
                f,
                "anomaly: the backward rule of `{}` produced a non-finite gradient for input {}\n  the op was called at {}",
                self.op,
                self.input_index.unwrap_or(0),
                self.location
            )?,
            (Phase::Backward, true) => writeln!(
                f,
                "anomaly: the gradient reaching the output of `{}` is already non-finite (set by a \
                 gradient hook or by the output gradient given to backward_with)\n  the op was called at {}",
                self.op, self.location
            )?,
        }
        for (i, s) in self.inputs.iter().enumerate() {
            let mark = if self.input_index == Some(i) {
                " <-"
            } else {
                ""
            };
            writeln!(f, "  input {i}: {s}{mark}")?;
        }
        if let Some(g) = &self.incoming_grad {
            writeln!(f, "  incoming gradient: {g}")?;
        }
        let what = match self.phase {
            Phase::Forward => "output",
            Phase::Backward => "gradient",
        };
        write!(f, "  {what}: {}", self.result)
    }
}

/// Runs `f`, turning an anomaly-mode stop into `Err(anomaly)`; other panics pass through.
pub fn catch_anomaly<R>(f: impl FnOnce() -> R) -> Result<R, Box<Anomaly>> {
    LAST.with(|l| l.borrow_mut().take());
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Ok(r),
        Err(payload) => match LAST.with(|l| l.borrow_mut().take()) {
            Some(anomaly) => Err(anomaly),
            None => panic::resume_unwind(payload),
        },
    }
}

fn raise(anomaly: Anomaly) -> ! {
    let message = anomaly.to_string();
    LAST.with(|l| *l.borrow_mut() = Some(Box::new(anomaly)));
    panic!("{message}");
}

fn all_finite<T: Float>(t: &Tensor<T>) -> bool {
    t.with_data(|d| d.iter().all(|x| x.is_finite()))
}

/// Checks every operation's output and every backward rule's gradients while anomaly mode is on.
struct AnomalyObserver;

impl<T: Float> Observer<T> for AnomalyObserver {
    fn on_record(&self, event: &Recorded<'_, T>) {
        // A backward rule's own arithmetic is judged by the gradients it returns.
        if !is_anomaly_enabled() || event.in_backward_rule {
            return;
        }
        if !all_finite(event.output) && event.inputs.iter().all(|t| all_finite(t)) {
            raise(Anomaly {
                phase: Phase::Forward,
                op: event.op.name().to_string(),
                location: event.location,
                inputs: event.inputs.iter().map(|t| TensorStats::of(t)).collect(),
                incoming_grad: None,
                input_index: None,
                result: TensorStats::of(event.output),
                arrived_non_finite: false,
            });
        }
    }

    fn after_rule(&self, tensor: &Tensor<T>, incoming: &Tensor<T>, grads: Option<&InputGrads<T>>) {
        if !is_anomaly_enabled() {
            return;
        }
        let (Some(node), Some(grads)) = (tensor.grad_fn(), grads) else {
            return;
        };
        for (i, g) in grads.iter().enumerate() {
            let Some(g) = g else { continue };
            if all_finite(g) {
                continue;
            }
            raise(Anomaly {
                phase: Phase::Backward,
                op: node.op().name().to_string(),
                location: node.location(),
                inputs: node.inputs().iter().map(TensorStats::of).collect(),
                incoming_grad: Some(TensorStats::of(incoming)),
                input_index: Some(i),
                result: TensorStats::of(g),
                arrived_non_finite: !all_finite(incoming),
            });
        }
    }
}
