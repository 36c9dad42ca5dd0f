//! Optimizers: plain gradient descent, momentum, RMSProp and Adam with bias correction as the
//! course writes them, and AdamW (decoupled weight decay, PyTorch's formula); parameter groups,
//! gradient clipping ([`clip_grad_norm`], [`clip_grad_value`]) and the state a checkpoint keeps.
//!
//! Each works on the [`Param`]s of a model: [`Optimizer::step`] reads every parameter's
//! accumulated gradient ([`engine::Tensor::grad`]) and updates its values in place;
//! [`Optimizer::zero_grad`] clears the gradients before the next backward pass. Parameters
//! without a gradient, and frozen ones ([`Param::freeze`]), are left alone. Per-parameter state
//! (velocities, squared averages) is keyed by the parameter's full name, so that it can be
//! saved and loaded into a fresh optimizer ([`Optimizer::state`], [`Optimizer::load_state`],
//! and [`crate::checkpoint::save_training`]) and training resumed bit for bit.
//!
//! Updates are computed elementwise in the order the course's NumPy code writes them (for
//! example Adam's `W - lr * v_corrected / np.sqrt(s_corrected + eps)`), so that with the same
//! gradients the parameters agree with the course's to the last bit.
//!
//! # Where things live
//!
//! Each optimizer's file (`gd.rs`, `momentum.rs`, `rmsprop.rs`, `adam.rs`, `adamw.rs`) holds its
//! hyperparameters and its update rule, written for one element with the course's names (`v`,
//! `s`, `β`, `α`, `ε`), so a rule can be audited against its formula without reading anything
//! else. This file holds what they share: the [`Optimizer`] trait, the loop over the parameters
//! that have a gradient (with weight decay and parameter groups), the per-parameter state
//! buffers and their export, and the learning-rate and builder methods common to all of them;
//! `clip.rs` holds gradient clipping.
//!
//! # Weight decay
//!
//! Optional weight decay adds `decay · W` to the gradient of weights (never biases) before the
//! update: the gradient of the L2 penalty `decay/2 · ‖W‖²`. The course's L2 term, `λ/m · W`,
//! is `with_weight_decay(lambda / m)`. [`AdamW`] instead decays the weights directly
//! (`W := W - α·decay·W`, decoupled from the adaptive step).
//!
//! # Parameter groups
//!
//! A [`ParamGroup`] gives the parameters whose names start with one of its prefixes their own
//! learning rate (a factor of the optimizer's, so that a schedule moves every group together)
//! and weight decay; the first group that matches a parameter applies, the optimizer's own
//! settings apply to the rest.
//!
//! ```
//! use engine::Tensor;
//! use nn::module::Param;
//! use nn::optim::{Gd, Optimizer, ParamGroup};
//!
//! let enc = Tensor::<f64>::from_vec(vec![1.0], &[1, 1]).to_leaf();
//! let head = Tensor::<f64>::from_vec(vec![1.0], &[1, 1]).to_leaf();
//! let params = [Param::weight("encoder.w", enc.clone()), Param::weight("head.w", head.clone())];
//! let mut opt = Gd::new(0.5).with_group(ParamGroup::new(&["encoder."]).learning_rate_factor(0.5));
//! enc.set_grad(Some(Tensor::ones(&[1, 1])));
//! head.set_grad(Some(Tensor::ones(&[1, 1])));
//! opt.step(&params);
//! assert_eq!((enc.to_vec()[0], head.to_vec()[0]), (0.75, 0.5));
//! ```
//!
//! # Hyperparameters are checked
//!
//! A learning rate that is negative or not finite, a decay coefficient β outside `[0, 1)`, an
//! ε that is not positive and finite, or a negative weight decay is a programmer error: the
//! constructors and builders panic naming the value (at the caller's line), rather than
//! training into `NaN`. Applications taking these values from users check them first and
//! report a one-line error.
//!
//! # Example
//!
//! ```
//! use engine::Tensor;
//! use nn::module::Param;
//! use nn::optim::{Adam, Optimizer};
//!
//! let w = Tensor::<f64>::from_vec(vec![1.0, -1.0], &[2, 1]).to_leaf();
//! let params = vec![Param::weight("W1", w.clone())];
//! let mut opt = Adam::new(0.1);
//! for _ in 0..3 {
//!     opt.zero_grad(&params);
//!     w.square().sum().backward(); // J = ‖w‖²
//!     opt.step(&params);
//! }
//! assert!(w.to_vec()[0] < 1.0 && w.to_vec()[1] > -1.0);
//! ```

mod adam;
mod adamw;
mod clip;
mod gd;
mod momentum;
mod rmsprop;

pub use adam::Adam;
pub use adamw::AdamW;
pub use clip::{clip_grad_norm, clip_grad_value};
pub use gd::Gd;
pub use momentum::Momentum;
pub use rmsprop::RmsProp;

use std::collections::HashMap;
use std::fmt;

use engine::Float;

use crate::module::{Param, ParamKind};

/// Updates parameters from their gradients.
pub trait Optimizer<T: Float> {
    /// One update of every parameter that has a gradient and is not frozen.
    ///
    /// Panics if a gradient's shape differs from its parameter's.
    #[track_caller]
    fn step(&mut self, params: &[Param<T>]);

    /// Clears the gradients of `params` (backward adds into them).
    fn zero_grad(&self, params: &[Param<T>]) {
        for p in params {
            p.tensor.zero_grad();
        }
    }

    /// The current learning rate α.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate (used by [`crate::schedule`]); the optimizers of this module
    /// panic on a negative or non-finite one.
    fn set_learning_rate(&mut self, learning_rate: f64);

    /// Steps taken so far (Adam's `t`).
    fn step_count(&self) -> u64;

    /// Everything a resumed training needs: the kind of optimizer, the step count, the
    /// learning rate and the per-parameter buffers by name.
    fn state(&self) -> OptimizerState<T>;

    /// Restores what [`Optimizer::state`] returned (replacing any state held). Fails, changing
    /// nothing, if the state is another optimizer's or names unknown buffers.
    fn load_state(&mut self, state: OptimizerState<T>) -> Result<(), String>;
}

/// The saved state of an optimizer (see [`Optimizer::state`]).
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<T: Float> {
    /// Which optimizer (`"adam"`, `"momentum"`, ...): state only loads into the same kind.
    pub kind: String,
    /// Steps taken.
    pub step: u64,
    /// The learning rate when saved (a schedule sets it again on resumption).
    pub learning_rate: f64,
    /// Buffers as `("<buffer>/<parameter name>", values)`, e.g. `("v/encoder.l1.weight", ..)`,
    /// sorted by key.
    pub buffers: Vec<(String, Vec<T>)>,
}

/// Where Adam and RMSProp add ε.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EpsilonPlacement {
    /// `v / sqrt(s + ε)`: the course's equations and its code (`np.sqrt(s_corrected +
    /// epsilon)`); the reference numbers of the optimization runs
    /// (`data/reference/seed_numbers.json`, `opt.adam`) were produced this way.
    #[default]
    InsideSqrt,
    /// `v / (sqrt(s) + ε)`: the course notebook's and PyTorch's form.
    OutsideSqrt,
}

impl EpsilonPlacement {
    /// `numerator / sqrt(s + eps)` or `numerator / (sqrt(s) + eps)`.
    #[inline]
    fn divide<T: Float>(self, numerator: T, s: T, eps: T) -> T {
        match self {
            EpsilonPlacement::InsideSqrt => numerator / (s + eps).sqrt(),
            EpsilonPlacement::OutsideSqrt => numerator / (s.sqrt() + eps),
        }
    }
}

/// Settings for the parameters whose full names start with one of `prefixes`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamGroup {
    /// Name prefixes (`"encoder."`); `""` matches every parameter.
    pub prefixes: Vec<String>,
    /// The group's learning rate is this times the optimizer's.
    pub learning_rate_factor: f64,
    /// The group's weight decay (the optimizer's when `None`); as everywhere, it applies to
    /// the group's weights ([`ParamKind::Weight`]) only.
    pub weight_decay: Option<f64>,
}

impl ParamGroup {
    /// A group of the parameters whose names start with one of `prefixes`, with the
    /// optimizer's settings until changed.
    pub fn new(prefixes: &[&str]) -> Self {
        ParamGroup {
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            learning_rate_factor: 1.0,
            weight_decay: None,
        }
    }

    /// Multiplies the optimizer's learning rate by `factor` for this group; panics unless
    /// `factor` is finite and `>= 0`.
    #[track_caller]
    pub fn learning_rate_factor(mut self, factor: f64) -> Self {
        assert!(
            factor.is_finite() && factor >= 0.0,
            "ParamGroup::learning_rate_factor: the factor must be finite and >= 0, got {factor}"
        );
        self.learning_rate_factor = factor;
        self
    }

    /// Sets this group's weight decay (0 turns it off); panics unless `decay` is finite and
    /// `>= 0`.
    #[track_caller]
    pub fn weight_decay(mut self, decay: f64) -> Self {
        assert!(
            decay.is_finite() && decay >= 0.0,
            "ParamGroup::weight_decay: the decay must be finite and >= 0, got {decay}"
        );
        self.weight_decay = Some(decay);
        self
    }

    fn matches(&self, name: &str) -> bool {
        self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }
}

/// The learning rate and weight decay of one parameter, after its group.
#[derive(Clone, Copy, Debug)]
struct Rates<T> {
    /// α for this parameter.
    lr: T,
    /// The weight-decay coefficient, 0 for parameters that are not weights.
    decay: T,
}

/// The optimizer-wide settings [`update_elements`] resolves per parameter.
struct Settings<'a> {
    learning_rate: f64,
    weight_decay: f64,
    groups: &'a [ParamGroup],
}

impl Settings<'_> {
    fn rates<T: Float>(&self, p: &Param<T>) -> (Rates<T>, bool) {
        let group = self.groups.iter().find(|g| g.matches(&p.name));
        // A factor of exactly 1 leaves α as given: the course's runs are reproduced bit for bit.
        let lr = match group {
            Some(g) if g.learning_rate_factor != 1.0 => self.learning_rate * g.learning_rate_factor,
            _ => self.learning_rate,
        };
        let decay = group
            .and_then(|g| g.weight_decay)
            .unwrap_or(self.weight_decay);
        let decays = decay != 0.0 && p.kind == ParamKind::Weight;
        let rates = Rates {
            lr: T::from_f64(lr),
            decay: if decays {
                T::from_f64(decay)
            } else {
                T::zero()
            },
        };
        (rates, decays)
    }
}

// ----- what the update rules share ----------------------------------------------------------
//
// A rule is written for one element, `rule(w, g, state, rates)`: `g` is the gradient (with
// coupled weight decay included), `state` the element's entries in the optimizer's
// per-parameter buffers, `rates` the parameter's learning rate and decay.

/// `N` buffers per parameter, keyed by the parameter's full name and created as zeros on the
/// parameter's first step (the course's `v = 0`, `s = 0`): momentum's velocity (`N = 1`),
/// RMSProp's squared average (`N = 1`), Adam's two moments (`N = 2`).
#[derive(Clone)]
struct ParamState<T: Float, const N: usize> {
    /// The buffers' names in checkpoints (`v`, `s`).
    names: [&'static str; N],
    buffers: HashMap<String, [Vec<T>; N]>,
}

impl<T: Float, const N: usize> ParamState<T, N> {
    fn new(names: [&'static str; N]) -> Self {
        ParamState {
            names,
            buffers: HashMap::new(),
        }
    }

    /// Buffer `k` of `param`, once a step has created it.
    fn get(&self, param: &Param<T>, k: usize) -> Option<&[T]> {
        self.buffers.get(&param.name).map(|b| b[k].as_slice())
    }
}

impl<T: Float, const N: usize> fmt::Debug for ParamState<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The buffers are as large as the model: say how many parameters have state.
        write!(f, "{} parameters with state", self.buffers.len())
    }
}

/// Where [`update_elements`] finds a parameter's state buffers: a [`ParamState`], or `()` for
/// gradient descent, which keeps none.
trait StateStore<T: Float, const N: usize> {
    /// The buffers of `param`, each as long as the parameter.
    fn buffers(&mut self, param: &Param<T>) -> [&mut [T]; N];
    /// Every buffer as `("<buffer>/<parameter>", values)`, sorted.
    fn export(&self) -> Vec<(String, Vec<T>)>;
    /// Replaces the buffers with `entries` (as [`StateStore::export`] writes them).
    fn import(&mut self, entries: Vec<(String, Vec<T>)>) -> Result<(), String>;
}

impl<T: Float> StateStore<T, 0> for () {
    fn buffers(&mut self, _: &Param<T>) -> [&mut [T]; 0] {
        []
    }
    fn export(&self) -> Vec<(String, Vec<T>)> {
        Vec::new()
    }
    fn import(&mut self, entries: Vec<(String, Vec<T>)>) -> Result<(), String> {
        match entries.first() {
            None => Ok(()),
            Some((key, _)) => Err(format!("unexpected optimizer buffer {key:?}")),
        }
    }
}

impl<T: Float, const N: usize> StateStore<T, N> for ParamState<T, N> {
    fn buffers(&mut self, param: &Param<T>) -> [&mut [T]; N] {
        if !self.buffers.contains_key(&param.name) {
            let zeros = std::array::from_fn(|_| vec![T::zero(); param.tensor.numel()]);
            self.buffers.insert(param.name.clone(), zeros);
        }
        let entry = self.buffers.get_mut(&param.name).expect("inserted above");
        assert!(
            entry[0].len() == param.tensor.numel(),
            "Optimizer::step: state of {} holds {} values, the parameter has shape {:?}",
            param.name,
            entry[0].len(),
            param.tensor.shape()
        );
        entry.each_mut().map(Vec::as_mut_slice)
    }

    fn export(&self) -> Vec<(String, Vec<T>)> {
        let mut out: Vec<(String, Vec<T>)> = self
            .buffers
            .iter()
            .flat_map(|(param, bufs)| {
                self.names
                    .iter()
                    .zip(bufs)
                    .map(move |(b, v)| (format!("{b}/{param}"), v.clone()))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn import(&mut self, entries: Vec<(String, Vec<T>)>) -> Result<(), String> {
        let mut partial: HashMap<String, [Option<Vec<T>>; N]> = HashMap::new();
        for (key, values) in entries {
            let (buffer, param) = key
                .split_once('/')
                .ok_or_else(|| format!("optimizer buffer {key:?} is not <buffer>/<parameter>"))?;
            let k = self
                .names
                .iter()
                .position(|n| *n == buffer)
                .ok_or_else(|| {
                    format!(
                        "unknown optimizer buffer {key:?} (this optimizer keeps {:?})",
                        self.names
                    )
                })?;
            partial
                .entry(param.to_string())
                .or_insert_with(|| std::array::from_fn(|_| None))[k] = Some(values);
        }
        let mut buffers = HashMap::new();
        for (param, bufs) in partial {
            if bufs.iter().any(Option::is_none) {
                return Err(format!(
                    "optimizer state of {param:?} lacks one of the buffers {:?}",
                    self.names
                ));
            }
            let bufs: [Vec<T>; N] = bufs.map(|b| b.expect("checked above"));
            if bufs.iter().any(|b| b.len() != bufs[0].len()) {
                return Err(format!("optimizer buffers of {param:?} differ in length"));
            }
            buffers.insert(param, bufs);
        }
        self.buffers = buffers;
        Ok(())
    }
}

/// Panics unless `learning_rate` is finite and `>= 0`.
#[track_caller]
pub(crate) fn check_learning_rate(op: &str, learning_rate: f64) {
    assert!(
        learning_rate.is_finite() && learning_rate >= 0.0,
        "{op}: the learning rate must be finite and >= 0, got {learning_rate}"
    );
}

/// Panics unless the decay coefficient `value` (named `name`) is in `[0, 1)`: at 1 the
/// average never moves (and Adam's bias correction divides by zero), above it diverges.
#[track_caller]
pub(crate) fn check_beta(op: &str, name: &str, value: f64) {
    assert!(
        (0.0..1.0).contains(&value),
        "{op}: {name} must be in [0, 1), got {value}"
    );
}

/// Panics unless ε is finite and `> 0` (with ε = 0 a zero gradient divides 0 by 0).
#[track_caller]
pub(crate) fn check_epsilon(op: &str, epsilon: f64) {
    assert!(
        epsilon.is_finite() && epsilon > 0.0,
        "{op}: epsilon must be finite and > 0, got {epsilon}"
    );
}

/// Applies `rule(w, g, state, rates)` to every element of every parameter that has a gradient
/// and is not frozen, in place, and leaves the others alone. With `coupled` decay, a weight's
/// `g` includes weight decay, `g = dW + decay · W` (computed as `dW + (decay · W)` from the
/// value before the update); otherwise the rule applies `rates.decay` itself. `state` holds the
/// element's entries of the parameter's `N` buffers. Large parameters are updated in chunks on
/// the engine's threads ([`engine::threads::for_each_item`]); every element's update is the
/// same whichever chunk and thread runs it.
#[track_caller]
fn update_elements<T: Float, const N: usize>(
    params: &[Param<T>],
    settings: Settings<'_>,
    coupled: bool,
    state: &mut impl StateStore<T, N>,
    rule: impl Fn(&mut T, T, [&mut T; N], Rates<T>) + Sync,
) {
    for p in params {
        if p.is_frozen() {
            continue;
        }
        let Some(grad) = p.tensor.grad() else {
            continue;
        };
        assert!(
            grad.shape() == p.tensor.shape(),
            "Optimizer::step: gradient of shape {:?} for parameter {} of shape {:?}",
            grad.shape(),
            p.name,
            p.tensor.shape()
        );
        let (rates, decays) = settings.rates(p);
        let add_decay = coupled && decays;
        let decay = rates.decay;
        let mut buffers = state.buffers(p);
        // The gradient is read in place; `update_data` copies the values first if they are
        // shared, so the gradient never changes under the update.
        grad.with_data(|g| {
            p.tensor.update_data(|w| {
                let n = w.len();
                let buffers = buffers.each_mut().map(|b| &mut b[..n]);
                let update = |(w, g, buffers): Chunk<'_, T, N>| {
                    // Equal lengths, so that the indexing below compiles to no bounds checks.
                    let n = w.len();
                    let (w, g) = (&mut w[..n], &g[..n]);
                    let mut buffers = buffers.map(|b| &mut b[..n]);
                    if add_decay {
                        for i in 0..n {
                            let gi = g[i] + decay * w[i];
                            rule(&mut w[i], gi, buffers.each_mut().map(|b| &mut b[i]), rates);
                        }
                    } else {
                        for i in 0..n {
                            rule(
                                &mut w[i],
                                g[i],
                                buffers.each_mut().map(|b| &mut b[i]),
                                rates,
                            );
                        }
                    }
                };
                // Each element's update reads and writes that element alone, so a large
                // parameter's chunks can run on the engine's threads with the same result.
                if n >= PARALLEL_UPDATE {
                    let parts = chunks(w, &g[..n], buffers, UPDATE_CHUNK);
                    engine::threads::for_each_item(parts, update);
                } else {
                    update((w, &g[..n], buffers));
                }
            })
        });
    }
}

/// Parameters of at least this many elements are updated in chunks on the engine's threads
/// (below it a hand-off costs more than the update).
const PARALLEL_UPDATE: usize = 1 << 15;
/// Elements per chunk of a parallel update.
const UPDATE_CHUNK: usize = 1 << 13;

/// A run of a parameter's values, its gradient and its optimizer state.
type Chunk<'a, T, const N: usize> = (&'a mut [T], &'a [T], [&'a mut [T]; N]);

/// Cuts values, gradient and state (all of one length) into aligned chunks of `size`.
fn chunks<'a, T, const N: usize>(
    w: &'a mut [T],
    g: &'a [T],
    state: [&'a mut [T]; N],
    size: usize,
) -> Vec<Chunk<'a, T, N>> {
    let mut state = state.map(|s| s.chunks_mut(size));
    w.chunks_mut(size)
        .zip(g.chunks(size))
        .map(|(w, g)| {
            let s = state
                .each_mut()
                .map(|s| s.next().expect("state as long as the values"));
            (w, g, s)
        })
        .collect()
}

/// Writes what all optimizers share around their update rule: the [`Optimizer`] impl, whose
/// `step` counts the step and runs the type's inherent `update`, whose learning rate is its
/// `learning_rate` field and whose state is its `t` and `state` fields, and the builders
/// `with_weight_decay` (field `weight_decay`) and `with_group` (field `groups`). With
/// `epsilon` it also writes `with_epsilon` and `with_epsilon_placement` (fields `epsilon` and
/// `epsilon_placement`).
macro_rules! impl_optimizer {
    ($name:ident $(<$t:ident>)?, $kind:literal $(, $extra:ident)?) => {
        impl<T: ::engine::Float> $crate::optim::Optimizer<T> for $name$(<$t>)? {
            #[track_caller]
            fn step(&mut self, params: &[$crate::module::Param<T>]) {
                self.t += 1;
                self.update(params);
            }

            fn learning_rate(&self) -> f64 {
                self.learning_rate
            }

            #[track_caller]
            fn set_learning_rate(&mut self, learning_rate: f64) {
                $crate::optim::check_learning_rate("set_learning_rate", learning_rate);
                self.learning_rate = learning_rate;
            }

            fn step_count(&self) -> u64 {
                self.t
            }

            fn state(&self) -> $crate::optim::OptimizerState<T> {
                $crate::optim::OptimizerState {
                    kind: $kind.to_string(),
                    step: self.t,
                    learning_rate: self.learning_rate,
                    buffers: {
                        use $crate::optim::StateStore as _;
                        self.state.export()
                    },
                }
            }

            fn load_state(
                &mut self,
                state: $crate::optim::OptimizerState<T>,
            ) -> Result<(), String> {
                if state.kind != $kind {
                    return Err(format!(
                        "optimizer state of {:?} cannot be loaded into {:?}",
                        state.kind, $kind
                    ));
                }
                {
                    use $crate::optim::StateStore as _;
                    self.state.import(state.buffers)?;
                }
                self.t = state.step;
                self.learning_rate = state.learning_rate;
                Ok(())
            }
        }

        impl$(<$t: ::engine::Float>)? $name$(<$t>)? {
            /// Sets the weight-decay coefficient for weights (biases and other parameters are
            /// not decayed); see the [module docs](crate::optim#weight-decay).
            #[track_caller]
            pub fn with_weight_decay(mut self, decay: f64) -> Self {
                assert!(
                    decay.is_finite() && decay >= 0.0,
                    "{}::with_weight_decay: the decay must be finite and >= 0, got {decay}",
                    stringify!($name)
                );
                self.weight_decay = decay;
                self
            }

            /// Adds a parameter group with its own learning-rate factor and weight decay; see
            /// the [module docs](crate::optim#parameter-groups).
            pub fn with_group(mut self, group: $crate::optim::ParamGroup) -> Self {
                self.groups.push(group);
                self
            }

            $($crate::optim::impl_optimizer!(@$extra);)?
        }
    };
    (@epsilon) => {
        /// Sets ε (finite and `> 0`, or this panics).
        #[track_caller]
        pub fn with_epsilon(mut self, epsilon: f64) -> Self {
            $crate::optim::check_epsilon("with_epsilon", epsilon);
            self.epsilon = epsilon;
            self
        }

        /// Sets where ε is added.
        pub fn with_epsilon_placement(mut self, placement: $crate::optim::EpsilonPlacement) -> Self {
            self.epsilon_placement = placement;
            self
        }
    };
}
use impl_optimizer;

#[cfg(test)]
pub(crate) mod test_support {
    use engine::Tensor;

    use crate::module::Param;

    /// A parameter holding `values` whose gradient is set to `grad`.
    pub fn param_with_grad(name: &str, values: &[f64], grad: &[f64]) -> Param<f64> {
        let t = Tensor::from_vec(values.to_vec(), &[values.len(), 1]).to_leaf();
        t.set_grad(Some(Tensor::from_vec(grad.to_vec(), &[grad.len(), 1])));
        Param::weight(name, t)
    }

    pub fn set_grad(p: &Param<f64>, grad: &[f64]) {
        p.tensor
            .set_grad(Some(Tensor::from_vec(grad.to_vec(), &[grad.len(), 1])));
    }

    pub fn assert_close(got: &[f64], expected: &[f64], tol: f64) {
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() <= tol, "got {got:?}, expected {expected:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{param_with_grad, set_grad};
    use super::*;
    use engine::Tensor;

    #[test]
    #[should_panic(
        expected = "Optimizer::step: gradient of shape [3, 1] for parameter W1 of shape [2, 1]"
    )]
    fn a_gradient_of_the_wrong_shape_names_the_parameter_and_both_shapes() {
        let p = param_with_grad("W1", &[1.0, 2.0], &[1.0, 2.0, 3.0]);
        Gd::new(0.1).step(std::slice::from_ref(&p));
    }

    #[test]
    fn a_gradient_sharing_the_parameters_buffer_is_read_before_the_update() {
        // The gradient is read in place while the values are written: with dW = W (the same
        // buffer), every element must see its own pre-update value and the decay term too.
        // Dyadic numbers, so the expected values are exact: g = W + 0.5 W, W := W - 0.5 g.
        let w = Tensor::<f64>::from_vec(vec![2.0, -4.0, 8.0], &[3, 1]).to_leaf();
        w.set_grad(Some(w.detach()));
        let params = [Param::weight("W1", w.clone())];
        Gd::new(0.5).with_weight_decay(0.5).step(&params);
        assert_eq!(w.to_vec(), [0.5, -1.0, 2.0]);
        assert_eq!(w.grad().unwrap().to_vec(), [2.0, -4.0, 8.0]);
    }

    #[test]
    fn groups_set_learning_rate_and_decay_by_name_prefix() {
        // Dyadic numbers, exact. α = 0.5, optimizer decay 0.25; group "enc." has factor 0.5 and
        // decay 0; group "head." keeps α and decays by 0.5. First matching group wins.
        let enc = param_with_grad("enc.w", &[2.0], &[1.0]);
        let head = param_with_grad("head.w", &[2.0], &[1.0]);
        let rest = param_with_grad("other.w", &[2.0], &[1.0]);
        let mut opt = Gd::new(0.5)
            .with_weight_decay(0.25)
            .with_group(
                ParamGroup::new(&["enc."])
                    .learning_rate_factor(0.5)
                    .weight_decay(0.0),
            )
            .with_group(ParamGroup::new(&["head.", "enc."]).weight_decay(0.5));
        opt.step(&[enc.clone(), head.clone(), rest.clone()]);
        assert_eq!(enc.tensor.to_vec(), [2.0 - 0.25 * 1.0]);
        assert_eq!(head.tensor.to_vec(), [2.0 - 0.5 * (1.0 + 0.5 * 2.0)]);
        assert_eq!(rest.tensor.to_vec(), [2.0 - 0.5 * (1.0 + 0.25 * 2.0)]);
        // A schedule moves every group: halving α halves the group's rate too.
        Optimizer::<f64>::set_learning_rate(&mut opt, 0.25);
        set_grad(&enc, &[1.0]);
        opt.step(std::slice::from_ref(&enc));
        assert_eq!(enc.tensor.to_vec(), [1.75 - 0.125]);
    }

    #[test]
    fn a_frozen_parameter_is_not_updated_even_with_a_gradient() {
        let p = param_with_grad("W1", &[1.0], &[1.0]);
        p.tensor.set_requires_grad(false);
        let mut opt = Momentum::new(0.5, 0.5);
        opt.step(std::slice::from_ref(&p));
        assert_eq!(p.tensor.to_vec(), [1.0]);
        assert!(
            opt.velocity(&p).is_none(),
            "no state for a frozen parameter"
        );
    }

    #[test]
    fn state_round_trips_by_name_and_refuses_a_mismatch() {
        let p = param_with_grad("enc.W", &[1.0, 2.0], &[0.5, -0.5]);
        let mut a = Adam::new(0.1);
        a.step(std::slice::from_ref(&p));
        a.step(std::slice::from_ref(&p));
        let state = a.state();
        assert_eq!(state.kind, "adam");
        assert_eq!(state.step, 2);
        let keys: Vec<&str> = state.buffers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["s/enc.W", "v/enc.W"]);
        // A fresh optimizer with the state continues exactly as the original.
        let mut b = Adam::new(0.1);
        b.load_state(state.clone()).unwrap();
        let q = param_with_grad("enc.W", &p.tensor.to_vec(), &[0.5, -0.5]);
        a.step(std::slice::from_ref(&p));
        b.step(std::slice::from_ref(&q));
        assert_eq!(p.tensor.to_vec(), q.tensor.to_vec());
        assert_eq!(b.step_count(), 3);
        // Another optimizer's state, or a buffer it does not keep, is refused.
        let err = Momentum::<f64>::new(0.1, 0.9)
            .load_state(state.clone())
            .unwrap_err();
        assert!(
            err.contains("\"adam\" cannot be loaded into \"momentum\""),
            "{err}"
        );
        let mut wrong = state;
        wrong.kind = "rmsprop".into();
        let err = RmsProp::<f64>::new(0.1, 0.9).load_state(wrong).unwrap_err();
        assert!(
            err.contains("unknown optimizer buffer \"s/enc.W\"") || err.contains("\"v/enc.W\""),
            "{err}"
        );
    }

    #[test]
    fn large_parameters_update_in_chunks_to_the_same_bits() {
        // A parameter above PARALLEL_UPDATE, not a whole number of chunks, updated by Adam with
        // coupled weight decay (state buffers and the decay term both cut into chunks) at 1 and
        // 2 threads; its first and last elements also as small parameters updated unchunked.
        let n = 3 * PARALLEL_UPDATE + 5;
        let values: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let grads = |step: usize| -> Vec<f64> {
            (0..n)
                .map(|i| ((i + 7 * step) as f64 * 0.11).cos())
                .collect()
        };
        let run = |threads: usize, range: std::ops::Range<usize>| -> Vec<u64> {
            engine::set_num_threads(threads);
            let p = param_with_grad("W1", &values[range.clone()], &grads(0)[range.clone()]);
            let mut opt = crate::optim::Adam::new(0.01).with_weight_decay(0.1);
            for step in 0..3 {
                set_grad(&p, &grads(step)[range.clone()]);
                opt.step(std::slice::from_ref(&p));
            }
            engine::set_num_threads(0);
            p.tensor.to_vec().iter().map(|v| v.to_bits()).collect()
        };
        let one = run(1, 0..n);
        assert_eq!(one, run(2, 0..n), "1 and 2 threads");
        assert_eq!(one[..100], run(1, 0..100)[..], "first elements, unchunked");
        assert_eq!(
            one[n - 100..],
            run(1, n - 100..n)[..],
            "last elements, unchunked"
        );
        assert!(
            one.iter().zip(&values).all(|(&a, &b)| a != b.to_bits()),
            "every element moved"
        );
    }
}
