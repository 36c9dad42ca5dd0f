//! The reverse-mode traversal: orders the graph once, visits every node exactly once from the
//! output back to the leaves, and sums the gradients of tensors used more than once.
//!
//! # Accumulation semantics (what users can rely on)
//!
//! - **`.grad` is a running sum.** [`backward`] *adds* `d output / d t` into the [`Tensor::grad`]
//!   of every leaf `t` that requires gradients. A second `backward` (on a new graph, or again on
//!   the same one: the graph is not consumed) adds again, so calling it twice on the same loss
//!   doubles the gradients. Clear between steps with [`Tensor::zero_grad`] (optimizers do).
//! - **`zero_grad` clears one tensor**: it resets that tensor's `.grad` to `None` (not to a zero
//!   tensor); the next backward starts the sum afresh. It touches no other tensor and no graph.
//! - **Intermediate (non-leaf) tensors store nothing** by default: their gradient flows through
//!   and is dropped. After [`Tensor::retain_grad`] (called before backward) a non-leaf's `.grad`
//!   follows the leaf rule above: it is added into, until `zero_grad`. Intermediate gradients are
//!   also available without storing anything through [`grad`] with the intermediate among its
//!   inputs, or observed with [`Tensor::register_hook`].
//! - **[`grad`] stores nothing**: it returns the gradients of the tensors asked for and leaves
//!   every `.grad` untouched (post-accumulate hooks do not run; gradient hooks do).
//! - **Hooks**: a gradient hook's replacement is what is stored and propagated; post-accumulate
//!   hooks see the updated total (see [`hooks`](super::hooks)).
//! - Tensors that do not require gradients (data, constants) never receive one.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use smallvec::SmallVec;

use crate::autograd::rules::{backward_rule, skipped, skipped_gradient};
use crate::autograd::{observer, set_grad_enabled};
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

thread_local! {
    /// [`ordered_graph`]'s position map, reused from one backward pass to the next.
    static POSITIONS: Cell<IdMap<usize>> = Cell::new(IdMap::default());
}

/// The largest position map a thread keeps (entries): one huge graph does not pin its map.
const KEPT_POSITIONS: usize = 1 << 16;

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
pub(crate) fn reverse_topological<T: Float>(root: &Tensor<T>) -> Vec<Tensor<T>> {
    ordered_graph(root).0.into_iter().cloned().collect()
}

/// No position: an input that does not require gradients, hence not in the ordered graph.
const NOT_IN_GRAPH: usize = usize::MAX;

/// [`reverse_topological`]'s order, and for each tensor in it the positions of its node's
/// inputs in that order ([`NOT_IN_GRAPH`] for inputs that need no gradient), so that backward
/// keeps its pending gradients in a vector indexed by position instead of a map keyed by id.
///
/// A tensor a node's rule [`skipped`] counts as one more input (its position follows the
/// inputs'): it is then ordered after the node, whose rule delivers part of its gradient.
///
/// The tensors are borrowed from the graph (which `root` keeps alive) rather than cloned: a
/// clone and its drop are two atomic operations per tensor, which a small network's backward
/// pass notices.
fn ordered_graph<T: Float>(root: &Tensor<T>) -> (Vec<&Tensor<T>>, Vec<SmallVec<[usize; 2]>>) {
    // Post-order (inputs first), then reversed; `position` holds post-order indices. The map
    // is the thread's, kept between passes: a training step's backward then neither allocates
    // it nor grows it again.
    let mut position = POSITIONS.take();
    position.clear();
    let mut post = Vec::new();
    // (tensor, whether its inputs have been pushed)
    let mut stack = vec![(root, false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            position.insert(t.id(), post.len());
            post.push(t);
            continue;
        }
        if position.contains_key(&t.id()) {
            continue;
        }
        // Marks the tensor as entered (its final index is set when it is finished).
        position.insert(t.id(), NOT_IN_GRAPH);
        stack.push((t, true));
        if let Some(node) = t.node() {
            for input in node.inputs.iter().rev().chain(skipped(&node.op)) {
                if input.requires_grad() && !position.contains_key(&input.id()) {
                    stack.push((input, false));
                }
            }
        }
    }
    let last = post.len().wrapping_sub(1);
    let inputs = post
        .iter()
        .rev()
        .map(|t| match t.node() {
            Some(node) => node
                .inputs
                .iter()
                .chain(skipped(&node.op))
                .map(|input| {
                    if input.requires_grad() {
                        position
                            .get(&input.id())
                            .map_or(NOT_IN_GRAPH, |&p| last - p)
                    } else {
                        NOT_IN_GRAPH
                    }
                })
                .collect(),
            None => SmallVec::new(),
        })
        .collect();
    post.reverse();
    if position.capacity() <= KEPT_POSITIONS {
        POSITIONS.set(position);
    }
    (post, inputs)
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
    if !output.requires_grad() {
        return captured;
    }
    let (order, input_positions) = ordered_graph(output);
    // Gradients waiting for their tensor's turn, by position in `order` (the output is first).
    let mut pending: Vec<Option<Tensor<T>>> = vec![None; order.len()];
    pending[0] = Some(output_grad.clone());

    // Gradients that rules sent to a tensor they skip (by position), already delivered to
    // the rule's inputs: the tensor's hooks see them, its node does not pass them on again.
    let mut delivered: Vec<(usize, Tensor<T>)> = Vec::new();

    for (i, t) in order.iter().enumerate() {
        let around = delivered
            .iter()
            .position(|&(j, _)| j == i)
            .map(|k| delivered.swap_remove(k).1);
        // `own` (what this tensor's consumers sent) is kept apart only when a rule also
        // delivered around it; the common case moves the pending gradient as it is.
        let (mut g, own) = match (pending[i].take(), &around) {
            (Some(own), None) => (own, None),
            (Some(own), Some(around)) => (&own + around, Some(own)),
            (None, Some(around)) => (around.clone(), None),
            (None, None) => continue,
        };
        let mut replaced = false;
        if let Some(extras) = t.extras_if_any() {
            let hooks = extras.hooks.lock().unwrap().clone();
            for hook in hooks {
                if let Some(replacement) = hook(&g) {
                    g = replacement;
                    replaced = true;
                }
            }
        }
        if capture.iter().any(|c| c.id() == t.id()) {
            captured.insert(t.id(), g.clone());
        }
        let Some(node) = t.node() else {
            observer::visited(t, &g, None);
            if accumulate && t.requires_grad() {
                accumulate_grad(t, g);
                crate::autograd::hooks::run_post_accumulate_hooks(t);
            }
            continue;
        };
        if accumulate && t.0.retains_grad.load(std::sync::atomic::Ordering::Relaxed) {
            accumulate_grad(t, g.clone());
        }
        // What flows on through the node: without the part already delivered around it, but
        // with whatever a hook changed.
        if let Some(around) = &around {
            g = match (replaced, own) {
                (true, _) => &g - around,
                (false, Some(own)) => own,
                (false, None) => continue,
            };
        }
        node.check_inputs_unmodified();
        let input_grads = {
            let _rule = observer::begin_rule(node, t, &g);
            backward_rule(&node.op, &node.inputs, t, &g)
        };
        observer::visited(t, &g, Some(&input_grads));
        if let Some(probs) = skipped(&node.op) {
            let j = input_positions[i][node.inputs.len()];
            if j != NOT_IN_GRAPH && wants_gradient(probs, capture, accumulate) {
                delivered.push((j, skipped_gradient(&node.inputs, &g)));
            }
        }
        for ((input, ig), &j) in node.inputs.iter().zip(input_grads).zip(&input_positions[i]) {
            let Some(ig) = ig else { continue };
            debug_assert_eq!(
                ig.shape(),
                input.shape(),
                "rule for {} gave a wrongly shaped gradient",
                node.op.name()
            );
            if j == NOT_IN_GRAPH {
                continue;
            }
            pending[j] = Some(match pending[j].take() {
                Some(acc) => &acc + &ig,
                None => ig,
            });
        }
    }
    captured
}

/// Whether anything will look at the gradient of `t` itself: its hooks, its retained `.grad`
/// or a [`grad`] call asking for it. A skipped tensor's gradient is computed only then.
fn wants_gradient<T: Float>(t: &Tensor<T>, capture: &[&Tensor<T>], accumulate: bool) -> bool {
    let hooked = t
        .extras_if_any()
        .is_some_and(|extras| !extras.hooks.lock().unwrap().is_empty());
    let retained = accumulate && t.0.retains_grad.load(std::sync::atomic::Ordering::Relaxed);
    hooked || retained || capture.iter().any(|c| c.id() == t.id())
}

/// `t.grad += g` (or `t.grad = g` when empty). The lock is released before hooks run.
fn accumulate_grad<T: Float>(t: &Tensor<T>, g: Tensor<T>) {
    let mut slot = t.0.grad.lock().unwrap();
    *slot = Some(match slot.take() {
        Some(previous) => &previous + &g,
        None => g,
    });
}
