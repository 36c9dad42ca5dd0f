//! The dynamic computation graph and reverse-mode automatic differentiation.
//!
//! - [`rules`]: the [`Op`] enum (what each node did) and, in one `match`, every derivative
//!   rule, each written once for both modes (see there how to add an operation).
//! - [`custom`]: user-defined operations ([`CustomOp`]) with their own rules.
//! - [`backward`](mod@backward): the traversal that visits each node once in reverse
//!   topological order and accumulates gradients.
//! - [`dot`]: Graphviz export and node counts, for studying a graph.
//! - [`forward`]: forward mode's driver, the Jacobian-vector product of one node from `rules`;
//!   [`tangent`]: the tangent pass over a recorded graph, `jvp`, `jacobian`, `hessian`.
//! - [`hooks`]: post-accumulate hooks and the hook semantics.
//! - [`observer`]: the interface debugging tools (anomaly mode, traces, first-use checks of
//!   custom ops) subscribe to; autograd calls no tool directly.
//! - this module: grad mode (`no_grad`), graph nodes, and live-node accounting.
//!
//! Ownership is what frees graphs: a node owns its inputs, a tensor owns the node that produced
//! it, and nothing points back. Dropping the last handle to a loss frees its whole graph.

pub mod backward;
pub mod custom;
pub mod dot;
pub mod forward;
pub mod hooks;
pub mod observer;
pub mod rules;
pub mod tangent;

use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use smallvec::SmallVec;

pub use backward::{backward, backward_with, grad, grad_with, BackwardOptions};
pub use custom::CustomOp;
pub use rules::Op;

use crate::{Float, Tensor};

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static STATS: Arc<GraphStats> = Arc::new(GraphStats::default());
}

/// Whether operations on this thread currently record graph nodes.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Restores the previous grad mode when dropped; see [`no_grad_guard`].
pub struct GradModeGuard {
    previous: bool,
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Sets grad mode for the current thread until the guard is dropped.
pub fn set_grad_enabled(enabled: bool) -> GradModeGuard {
    let previous = GRAD_ENABLED.with(|g| g.replace(enabled));
    GradModeGuard { previous }
}

/// Disables recording until the returned guard is dropped.
pub fn no_grad_guard() -> GradModeGuard {
    set_grad_enabled(false)
}

/// Runs `f` without recording any graph (evaluation, parameter updates).
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = no_grad_guard();
    f()
}

/// Live graph nodes and the bytes their outputs hold, for the current thread's graphs.
#[derive(Default, Debug)]
pub struct GraphStats {
    nodes: AtomicUsize,
    bytes: AtomicUsize,
}

/// A snapshot of [`GraphStats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphMemory {
    /// Graph nodes alive (created on this thread, not yet freed).
    pub live_nodes: usize,
    /// Bytes of the buffers those nodes produced and keep alive (views of an input's buffer
    /// count nothing: they hold no memory of their own).
    pub live_bytes: usize,
}

/// Nodes created on this thread that are still alive, and the bytes they hold. A training loop
/// whose count grows from step to step is keeping graphs alive.
pub fn graph_memory() -> GraphMemory {
    STATS.with(|s| GraphMemory {
        live_nodes: s.nodes.load(Ordering::Relaxed),
        live_bytes: s.bytes.load(Ordering::Relaxed),
    })
}

/// Shorthand for `graph_memory().live_nodes`.
pub fn live_nodes() -> usize {
    graph_memory().live_nodes
}

/// Gradients for a node's inputs (`None` where an input needs none), as backward rules return
/// them.
pub type InputGrads<T> = SmallVec<[Option<Tensor<T>>; 2]>;

/// Observes or replaces a gradient as it flows through a tensor during backward: return
/// `Some(g)` to replace it, `None` to keep it.
pub type GradHook<T> = Arc<dyn Fn(&Tensor<T>) -> Option<Tensor<T>> + Send + Sync>;

/// The record of one operation: what it did, its inputs, and where in the caller's code it ran.
pub struct Node<T: Float> {
    pub(crate) op: Op<T>,
    pub(crate) inputs: SmallVec<[Tensor<T>; 2]>,
    pub(crate) location: &'static Location<'static>,
    /// The inputs' versions when the operation ran (see [`Tensor::version`]).
    input_versions: SmallVec<[u64; 2]>,
    stats: Arc<GraphStats>,
    bytes: usize,
}

impl<T: Float> Node<T> {
    /// The operation this node recorded.
    pub fn op(&self) -> &Op<T> {
        &self.op
    }

    /// The operation's inputs.
    pub fn inputs(&self) -> &[Tensor<T>] {
        &self.inputs
    }

    /// Where in the user's code the operation was called.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// Panics if an input was updated in place after this operation recorded it: its backward
    /// rule would silently use the new values.
    pub(crate) fn check_inputs_unmodified(&self) {
        for (i, (input, &recorded)) in self.inputs.iter().zip(&self.input_versions).enumerate() {
            let now = input.version();
            assert!(
                now == recorded,
                "backward: input {i} (shape {:?}{}) of {} (created at {}) was updated in place \
                 after the operation recorded it (version {recorded}, now {now}); \
                 update parameters after backward, or recompute the forward pass",
                input.shape(),
                input
                    .name()
                    .map_or_else(String::new, |n| format!(", \"{n}\"")),
                self.op.name(),
                self.location
            );
        }
    }
}

impl<T: Float> Drop for Node<T> {
    fn drop(&mut self) {
        self.stats.nodes.fetch_sub(1, Ordering::Relaxed);
        self.stats.bytes.fetch_sub(self.bytes, Ordering::Relaxed);
        // Free long chains iteratively: dropping a node drops its inputs, whose nodes would
        // otherwise recurse once per layer of the graph and could overflow the stack.
        // Inline room for the usual frontier: dropping a node allocates nothing.
        let mut stack: SmallVec<[Tensor<T>; 8]> = self.inputs.drain(..).collect();
        while let Some(t) = stack.pop() {
            if let Some(mut inner) = Arc::into_inner(t.0) {
                if let Some(node) = inner.node.as_mut() {
                    stack.extend(node.inputs.drain(..));
                }
            }
        }
    }
}

/// Wraps a freshly computed buffer as the output of `op`, recording a node when grad mode is on
/// and any input requires gradients. Every differentiable operation ends here.
#[track_caller]
pub(crate) fn record<T: Float>(
    op: Op<T>,
    inputs: &[&Tensor<T>],
    data: Vec<T>,
    shape: &[usize],
) -> Tensor<T> {
    let layout = crate::layout::Layout::contiguous(shape);
    record_parts(op, inputs, Arc::new(data), layout, false)
}

/// As [`record`], for outputs that are views of an existing buffer.
#[track_caller]
pub(crate) fn record_view<T: Float>(
    op: Op<T>,
    inputs: &[&Tensor<T>],
    storage: Arc<Vec<T>>,
    layout: crate::layout::Layout,
) -> Tensor<T> {
    record_parts(op, inputs, storage, layout, true)
}

/// [`record`] and [`record_view`]: `may_share` says whether `storage` may be an input's buffer
/// (a fresh one cannot, and then no input's buffer is looked at).
#[track_caller]
fn record_parts<T: Float>(
    op: Op<T>,
    inputs: &[&Tensor<T>],
    storage: Arc<Vec<T>>,
    layout: crate::layout::Layout,
    may_share: bool,
) -> Tensor<T> {
    let tracked = is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
    let location = Location::caller();
    observer::recorded(
        &op,
        inputs,
        || Tensor::from_parts(storage.clone(), layout.clone(), None),
        location,
    );
    if !tracked {
        return Tensor::from_parts(storage, layout, None);
    }
    // A view shares its input's buffer, which the node keeps alive anyway: it adds no bytes.
    let is_view = may_share && inputs.iter().any(|t| t.shares_storage(&storage));
    let bytes = if is_view {
        0
    } else {
        storage.len() * std::mem::size_of::<T>()
    };
    let stats = STATS.with(Arc::clone);
    stats.nodes.fetch_add(1, Ordering::Relaxed);
    stats.bytes.fetch_add(bytes, Ordering::Relaxed);
    let node = Node {
        op,
        inputs: inputs.iter().map(|&t| t.clone()).collect(),
        location,
        input_versions: inputs.iter().map(|t| t.version()).collect(),
        stats,
        bytes,
    };
    Tensor::from_parts(storage, layout, Some(node))
}

impl<T: Float> Tensor<T> {
    /// Reverse-mode autodiff from this scalar: accumulates `d self / d leaf` into every leaf's
    /// [`Tensor::grad`]. See [`backward_with`] for an explicit output gradient or
    /// `create_graph`.
    #[track_caller]
    pub fn backward(&self) {
        backward(self)
    }

    /// Registers a hook called with this tensor's gradient during backward, before the gradient
    /// is stored or passed on; it may return a replacement.
    pub fn register_hook(
        &self,
        hook: impl Fn(&Tensor<T>) -> Option<Tensor<T>> + Send + Sync + 'static,
    ) {
        self.extras().hooks.lock().unwrap().push(Arc::new(hook));
    }

    /// The graph node that produced this tensor (`None` for leaves and constants).
    pub fn grad_fn(&self) -> Option<&Node<T>> {
        self.node()
    }
}
