//! The reverse-mode traversal: orders the graph once, visits every node exactly once from the
//! output back to the leaves, and sums the gradients of tensors used more than once.
//!
//! Accumulation semantics (what users can rely on):
//! - [`backward`] *adds* into each leaf's [`Tensor::grad`]; a second backward on a new graph adds
//!   again, so clear with [`Tensor::zero_grad`] between steps (optimizers do).
//! - Non-leaf tensors keep no gradient unless [`Tensor::retain_grad`] was called before backward;
//!   then theirs is stored too (and overwritten, not added, by the next backward).
//! - [`grad`] returns gradients for chosen tensors and leaves every `.grad` untouched.
//! - The graph is not consumed: backward can run again on the same output.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::autograd::rules::backward_rule;
use crate::autograd::set_grad_enabled;
use crate::tensor::TensorId;
use crate::{Float, Tensor};

/// Tensor ids are unique counters, so a multiplicative hash spreads them well; SipHash's
/// protection against adversarial keys buys nothing here and costs on every node of every
/// backward pass.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by tensor id.
type IdMap<V> = HashMap<TensorId, V, BuildHasherDefault<IdHasher>>;

/// Options for a backward pass.
#[derive(Clone, Copy, Debug, Default)]
pub struct BackwardOptions {
    /// Record the backward computation itself, so the resulting gradients can be differentiated
    /// again (gradients of gradients, Hessian-vector products).
    pub create_graph: bool,
}

/// Backpropagates from a scalar `output`, adding `d output / d leaf` into every leaf's `.grad`.
#[track_caller]
pub fn backward<T: Float>(output: &Tensor<T>) {
    assert!(
        output.numel() == 1,
        "backward: needs a scalar output or an explicit gradient, got shape {:?}",
        output.shape()
    );
    backward_with(
        output,
        &Tensor::ones(output.shape()),
        BackwardOptions::default(),
    );
}

/// Backpropagates `output_grad` (shaped like `output`) into every leaf's `.grad`.
#[track_caller]
pub fn backward_with<T: Float>(
    output: &Tensor<T>,
    output_grad: &Tensor<T>,
    options: BackwardOptions,
) {
    check_output_grad(output, output_grad);
    run(output, output_grad, options, &[]);
}

/// `d output / d inputs` for a scalar output, without touching any `.grad`.
#[track_caller]
pub fn grad<T: Float>(
    output: &Tensor<T>,
    inputs: &[&Tensor<T>],
    options: BackwardOptions,
) -> Vec<Tensor<T>> {
    assert!(
        output.numel() == 1,
        "grad: needs a scalar output or an explicit gradient, got shape {:?}",
        output.shape()
    );
    grad_with(output, &Tensor::ones(output.shape()), inputs, options)
}

/// Vector-Jacobian product `output_gradᵀ · J` for each of `inputs`, without touching `.grad`.
/// Inputs the output does not depend on get zeros.
#[track_caller]
pub fn grad_with<T: Float>(
    output: &Tensor<T>,
    output_grad: &Tensor<T>,
    inputs: &[&Tensor<T>],
    options: BackwardOptions,
) -> Vec<Tensor<T>> {
    check_output_grad(output, output_grad);
    let found = run(output, output_grad, options, inputs);
    inputs
        .iter()
        .map(|t| {
            found
                .get(&t.id())
                .cloned()
                .unwrap_or_else(|| Tensor::zeros(t.shape()))
        })
        .collect()
}

#[track_caller]
fn check_output_grad<T: Float>(output: &Tensor<T>, output_grad: &Tensor<T>) {
    assert!(
        output.shape() == output_grad.shape(),
        "backward: output gradient of shape {:?} does not match output shape {:?}",
        output_grad.shape(),
        output.shape()
    );
}

/// Tensors reachable from `root` through nodes, ordered so every tensor comes after all the
/// tensors computed from it (reverse topological order). Iterative: deep graphs cannot overflow
/// the stack.
fn reverse_topological<T: Float>(root: &Tensor<T>) -> Vec<Tensor<T>> {
    let mut order = Vec::new();
    let mut visited: IdMap<()> = IdMap::default();
    // (tensor, whether its inputs have been pushed)
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if visited.insert(t.id(), ()).is_some() {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(node) = t.node() {
            for input in node.inputs.iter().rev() {
                if input.requires_grad_flag() && !visited.contains_key(&input.id()) {
                    stack.push((input.clone(), false));
                }
            }
        }
    }
    order.reverse();
    order
}

/// The shared traversal. With `capture` empty, leaf gradients are accumulated into `.grad`;
/// otherwise the gradients of the captured tensors are returned and no `.grad` changes.
fn run<T: Float>(
    output: &Tensor<T>,
    output_grad: &Tensor<T>,
    options: BackwardOptions,
    capture: &[&Tensor<T>],
) -> IdMap<Tensor<T>> {
    let _mode = set_grad_enabled(options.create_graph);
    let accumulate = capture.is_empty();
    let mut captured = IdMap::default();
    if !output.requires_grad_flag() {
        return captured;
    }
    let mut pending: IdMap<Tensor<T>> = IdMap::default();
    pending.insert(output.id(), output_grad.clone());

    for t in reverse_topological(output) {
        let Some(mut g) = pending.remove(&t.id()) else {
            continue;
        };
        for hook in t.0.hooks.lock().unwrap().clone() {
            if let Some(replacement) = hook(&g) {
                g = replacement;
            }
        }
        if capture.iter().any(|c| c.id() == t.id()) {
            captured.insert(t.id(), g.clone());
        }
        let Some(node) = t.node() else {
            if accumulate && t.requires_grad_flag() {
                let mut slot = t.0.grad.lock().unwrap();
                *slot = Some(match slot.take() {
                    Some(previous) => &previous + &g,
                    None => g,
                });
            }
            continue;
        };
        if accumulate && t.0.retains_grad.load(std::sync::atomic::Ordering::Relaxed) {
            t.set_grad(Some(g.clone()));
        }
        node.check_inputs_unmodified();
        let input_grads = backward_rule(&node.op, &node.inputs, &t, &g);
        crate::anomaly::check_backward(node, &input_grads);
        for (input, ig) in node.inputs.iter().zip(input_grads) {
            let Some(ig) = ig else { continue };
            debug_assert_eq!(
                ig.shape(),
                input.shape(),
                "rule for {} gave a wrongly shaped gradient",
                node.op.name()
            );
            pending
                .entry(input.id())
                .and_modify(|acc| *acc = &*acc + &ig)
                .or_insert(ig);
        }
    }
    captured
}
