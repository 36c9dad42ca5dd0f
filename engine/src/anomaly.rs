//! Anomaly mode: find the operation that first produced a NaN or an infinity.
//!
//! Every graph node remembers where in the user's code it was created (operations are
//! `#[track_caller]`). With anomaly mode on, each operation's output and each backward rule's
//! gradients are checked, and the first non-finite value stops the program with a message that
//! names the operation, that source location, and statistics of the inputs.

use std::cell::Cell;
use std::panic::Location;
use std::sync::Arc;

use crate::autograd::rules::InputGrads;
use crate::autograd::{Node, Op};
use crate::layout::{for_each_offset, Layout};
use crate::{Float, Tensor};

thread_local! {
    static ANOMALY: Cell<bool> = const { Cell::new(false) };
}

/// Restores the previous anomaly setting when dropped.
pub struct AnomalyGuard {
    previous: bool,
}

impl Drop for AnomalyGuard {
    fn drop(&mut self) {
        ANOMALY.with(|a| a.set(self.previous));
    }
}

/// Turns anomaly detection on (or off) for this thread until the guard is dropped.
pub fn detect_anomaly(enabled: bool) -> AnomalyGuard {
    AnomalyGuard {
        previous: ANOMALY.with(|a| a.replace(enabled)),
    }
}

/// Whether anomaly detection is on for this thread.
pub fn is_anomaly_enabled() -> bool {
    ANOMALY.with(Cell::get)
}

/// Summary statistics of a tensor, for anomaly messages.
pub fn describe<T: Float>(t: &Tensor<T>) -> String {
    let v = t.to_vec();
    let finite: Vec<f64> = v
        .iter()
        .filter(|x| x.is_finite())
        .map(|x| x.as_f64())
        .collect();
    let nan = v.iter().filter(|x| x.is_nan()).count();
    let inf = v.iter().filter(|x| x.is_infinite()).count();
    let (min, max) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    format!(
        "shape {:?}, {} NaN, {} inf, finite range [{min:.6e}, {max:.6e}]",
        t.shape(),
        nan,
        inf
    )
}

pub(crate) fn check_forward<T: Float>(
    op: &Op<T>,
    inputs: &[&Tensor<T>],
    storage: &Arc<Vec<T>>,
    layout: &Layout,
    location: &'static Location<'static>,
) {
    if !is_anomaly_enabled() {
        return;
    }
    let mut bad = false;
    for_each_offset(layout, |o| bad |= !storage[o].is_finite());
    if bad
        && inputs
            .iter()
            .all(|t| t.to_vec().iter().all(|x| x.is_finite()))
    {
        let stats: Vec<String> = inputs.iter().map(|t| describe(t)).collect();
        panic!(
            "anomaly: {} produced a non-finite value in forward, at {location}\n  inputs: {}",
            op.name(),
            stats.join("\n          ")
        );
    }
}

pub(crate) fn check_backward<T: Float>(node: &Node<T>, grads: &InputGrads<T>) {
    if !is_anomaly_enabled() {
        return;
    }
    for (i, g) in grads.iter().enumerate() {
        if let Some(g) = g {
            if g.to_vec().iter().any(|x| !x.is_finite()) {
                let stats: Vec<String> = node.inputs.iter().map(describe).collect();
                panic!(
                    "anomaly: the backward rule of {} (created at {}) produced a non-finite gradient for input {i}\n  inputs: {}",
                    node.op.name(),
                    node.location,
                    stats.join("\n          ")
                );
            }
        }
    }
}
