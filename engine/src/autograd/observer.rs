//! Observers: how debugging tools watch autograd without autograd knowing them.
//!
//! Autograd announces three moments to whatever [`Observer`]s are installed: an operation
//! produced its output ([`Observer::on_record`]), backward is about to run a node's rule
//! ([`Observer::before_rule`]), and backward has visited a tensor, with the gradients its rule
//! gave ([`Observer::after_rule`]); plus the application of a user-defined op
//! ([`Observer::on_custom_op`]). Anomaly mode (`crate::anomaly`), backward traces
//! (`crate::trace`) and the first-use checks of custom ops (`crate::check`) are observers: they
//! depend on autograd, autograd depends on none of them.
//!
//! Observers are installed for one element type, on the current thread ([`observe`], removed
//! when its guard drops) or for the whole process ([`observe_globally`], custom-op events only,
//! as those settings are process-wide). With none installed, each announcement costs one
//! thread-local flag test.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::autograd::InputGrads;
use crate::autograd::{CustomOp, Node, Op};
use crate::{Float, Tensor};

/// An operation's output, as announced to [`Observer::on_record`].
pub struct Recorded<'a, T: Float> {
    /// The operation.
    pub op: &'a Op<T>,
    /// Its inputs.
    pub inputs: &'a [&'a Tensor<T>],
    /// Its output (a handle without graph node).
    pub output: &'a Tensor<T>,
    /// The line of user code that called it.
    pub location: &'static Location<'static>,
    /// Whether it ran inside a backward rule (the rule's own arithmetic, not user code).
    pub in_backward_rule: bool,
}

/// Something that watches autograd; every method does nothing unless overridden.
pub trait Observer<T: Float> {
    /// An operation produced its output (whether or not a graph node is recorded).
    fn on_record(&self, event: &Recorded<'_, T>) {
        let _ = event;
    }

    /// Backward is about to run the rule of `node`, whose output `output` receives `grad`.
    fn before_rule(&self, node: &Node<T>, output: &Tensor<T>, grad: &Tensor<T>) {
        let _ = (node, output, grad);
    }

    /// Backward visited `tensor` with gradient `grad`: for a node, after its rule gave
    /// `input_grads`; for a leaf (`input_grads` is `None`), before accumulating.
    fn after_rule(
        &self,
        tensor: &Tensor<T>,
        grad: &Tensor<T>,
        input_grads: Option<&InputGrads<T>>,
    ) {
        let _ = (tensor, grad, input_grads);
    }

    /// A user-defined op computed `output` from `inputs`, before it is recorded.
    fn on_custom_op(&self, op: &dyn CustomOp<T>, inputs: &[&Tensor<T>], output: &Tensor<T>) {
        let _ = (op, inputs, output);
    }
}

/// A type-erased installed observer: an `Rc<dyn Observer<T>>` (thread) or an
/// `Arc<dyn Observer<T> + Send + Sync>` (process), with its id.
type Entry = (u64, Box<dyn Any>);
type GlobalEntry = (u64, Box<dyn Any + Send + Sync>);

thread_local! {
    static ANY_LOCAL: Cell<bool> = const { Cell::new(false) };
    static LOCAL: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
    static IN_RULE: Cell<bool> = const { Cell::new(false) };
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
}

static ANY_GLOBAL: AtomicBool = AtomicBool::new(false);
static GLOBAL: RwLock<Vec<GlobalEntry>> = RwLock::new(Vec::new());

fn next_id() -> u64 {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

/// Removes its observer when dropped.
#[must_use = "the observer is removed when the guard drops"]
pub struct ObserverGuard {
    id: u64,
    global: bool,
}

impl Drop for ObserverGuard {
    fn drop(&mut self) {
        if self.global {
            let mut all = GLOBAL.write().unwrap_or_else(|e| e.into_inner());
            all.retain(|(id, _)| *id != self.id);
            ANY_GLOBAL.store(!all.is_empty(), Ordering::Relaxed);
        } else {
            // Thread-local storage may already be gone when a guard drops at thread exit.
            let _ = LOCAL.try_with(|l| {
                let mut l = l.borrow_mut();
                l.retain(|(id, _)| *id != self.id);
                ANY_LOCAL.with(|a| a.set(!l.is_empty()));
            });
        }
    }
}

/// Installs `observer` for tensors of type `T` on the current thread until the guard drops.
pub fn observe<T: Float>(observer: Rc<dyn Observer<T>>) -> ObserverGuard {
    let id = next_id();
    LOCAL.with(|l| l.borrow_mut().push((id, Box::new(observer))));
    ANY_LOCAL.with(|a| a.set(true));
    ObserverGuard { id, global: false }
}

/// Installs `observer` for tensors of type `T` on every thread until the guard drops. Only
/// [`Observer::on_custom_op`] is announced to process-wide observers.
pub fn observe_globally<T: Float>(observer: Arc<dyn Observer<T> + Send + Sync>) -> ObserverGuard {
    // Ids of global guards live in their own range so they never meet a thread's.
    let id = u64::MAX / 2 + next_id();
    let mut all = GLOBAL.write().unwrap_or_else(|e| e.into_inner());
    all.push((id, Box::new(observer)));
    ANY_GLOBAL.store(true, Ordering::Relaxed);
    ObserverGuard { id, global: true }
}

/// Calls `f` on every observer of type `T` installed on this thread. Observers are cloned out
/// of the registry first, so one may install or remove observers.
fn each_local<T: Float>(f: impl Fn(&dyn Observer<T>)) {
    if !ANY_LOCAL.with(Cell::get) {
        return;
    }
    let observers: Vec<Rc<dyn Observer<T>>> = LOCAL.with(|l| {
        l.borrow()
            .iter()
            .filter_map(|(_, o)| o.downcast_ref::<Rc<dyn Observer<T>>>().cloned())
            .collect()
    });
    for o in observers {
        f(o.as_ref());
    }
}

/// Marks the evaluation of a backward rule (see [`Recorded::in_backward_rule`]) until dropped.
pub(crate) struct RuleScope {
    previous: Option<bool>,
}

impl Drop for RuleScope {
    fn drop(&mut self) {
        if let Some(previous) = self.previous {
            IN_RULE.with(|r| r.set(previous));
        }
    }
}

/// Announces that backward runs the rule of `node`; the rule's own operations are marked as
/// such until the returned scope drops (also when the rule panics).
pub(crate) fn begin_rule<T: Float>(
    node: &Node<T>,
    output: &Tensor<T>,
    grad: &Tensor<T>,
) -> RuleScope {
    if !ANY_LOCAL.with(Cell::get) {
        return RuleScope { previous: None };
    }
    each_local::<T>(|o| o.before_rule(node, output, grad));
    RuleScope {
        previous: Some(IN_RULE.with(|r| r.replace(true))),
    }
}

/// Announces an operation's output (see [`Observer::on_record`]).
pub(crate) fn recorded<T: Float>(
    op: &Op<T>,
    inputs: &[&Tensor<T>],
    output: impl FnOnce() -> Tensor<T>,
    location: &'static Location<'static>,
) {
    if !ANY_LOCAL.with(Cell::get) {
        return;
    }
    let output = output();
    let event = Recorded {
        op,
        inputs,
        output: &output,
        location,
        in_backward_rule: IN_RULE.with(Cell::get),
    };
    each_local::<T>(|o| o.on_record(&event));
}

/// Announces a visit of backward (see [`Observer::after_rule`]).
pub(crate) fn visited<T: Float>(
    tensor: &Tensor<T>,
    grad: &Tensor<T>,
    input_grads: Option<&InputGrads<T>>,
) {
    each_local::<T>(|o| o.after_rule(tensor, grad, input_grads));
}

/// Announces the application of a custom op, to this thread's and the process's observers.
pub(crate) fn custom_op<T: Float>(op: &dyn CustomOp<T>, inputs: &[&Tensor<T>], output: &Tensor<T>) {
    each_local::<T>(|o| o.on_custom_op(op, inputs, output));
    if !ANY_GLOBAL.load(Ordering::Relaxed) {
        return;
    }
    let observers: Vec<Arc<dyn Observer<T> + Send + Sync>> = GLOBAL
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(|(_, o)| {
            o.downcast_ref::<Arc<dyn Observer<T> + Send + Sync>>()
                .cloned()
        })
        .collect();
    for o in observers {
        o.on_custom_op(op, inputs, output);
    }
}
