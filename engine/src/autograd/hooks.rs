//! Hooks: your code, run by `backward` at two moments.
//!
//! - [`Tensor::register_hook`] (any tensor that requires gradients): called with the gradient
//!   flowing into the tensor, *before* it is stored (leaves, retained tensors) or passed on to the
//!   operation that produced it. Return `None` to only observe it, `Some(g)` to replace it: the
//!   replacement is what gets stored and propagated. Hooks of one tensor run in registration
//!   order, each seeing the previous one's result. They run in [`grad`](crate::grad) too.
//! - [`Tensor::register_post_accumulate_hook`] (leaves): called with the leaf itself *after*
//!   its [`Tensor::grad`] has been updated by `backward`, so `leaf.grad()` inside the hook is the
//!   new accumulated total. This is where a per-parameter optimizer step or gradient logging can
//!   run as soon as that parameter's gradient is final. Not called by [`grad`](crate::grad),
//!   which stores nothing.
//!
//! A hook must not call `backward` on the graph being traversed.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use engine::Tensor;
//!
//! let w = Tensor::<f64>::parameter(vec![1.0, 2.0], &[2]);
//! let h = w.square(); // h = w², dh/dw = 2w
//! // Observe the gradient reaching the intermediate h ...
//! let seen = Arc::new(Mutex::new(None));
//! let sink = seen.clone();
//! h.register_hook(move |g| {
//!     *sink.lock().unwrap() = Some(g.to_vec());
//!     None
//! });
//! // ... and clip the one reaching w (replacing it).
//! w.register_hook(|g| Some(g.clamp(-3.0, 3.0)));
//! h.sum().backward();
//! assert_eq!(seen.lock().unwrap().clone(), Some(vec![1.0, 1.0]));
//! assert_eq!(w.grad().unwrap().to_vec(), vec![2.0, 3.0]); // 2w = [2, 4], clipped at 3
//! ```

use std::sync::Arc;

use crate::{Float, Tensor};

/// Called with a leaf after `backward` has accumulated into its `.grad`.
pub type PostAccumulateHook<T> = Arc<dyn Fn(&Tensor<T>) + Send + Sync>;

impl<T: Float> Tensor<T> {
    /// Registers a hook called with this leaf after `backward` has added into its
    /// [`Tensor::grad`] (so `leaf.grad()` in the hook is the updated total).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use engine::Tensor;
    ///
    /// let w = Tensor::<f64>::parameter(vec![3.0], &[1]);
    /// let totals = Arc::new(Mutex::new(Vec::new()));
    /// let log = totals.clone();
    /// w.register_post_accumulate_hook(move |leaf| {
    ///     log.lock().unwrap().push(leaf.grad().unwrap().item());
    /// });
    /// (&w * 2.0).sum().backward();
    /// (&w * 2.0).sum().backward();
    /// assert_eq!(*totals.lock().unwrap(), vec![2.0, 4.0]); // accumulated: 2, then 2 + 2
    /// ```
    #[track_caller]
    pub fn register_post_accumulate_hook(&self, hook: impl Fn(&Tensor<T>) + Send + Sync + 'static) {
        assert!(
            self.is_leaf() && self.requires_grad(),
            "register_post_accumulate_hook: needs a leaf that requires gradients (shape {:?})",
            self.shape()
        );
        self.extras()
            .post_accumulate_hooks
            .lock()
            .unwrap()
            .push(Arc::new(hook));
    }

    /// Removes every hook registered on this tensor (gradient hooks and post-accumulate hooks).
    pub fn clear_hooks(&self) {
        if let Some(extras) = self.extras_if_any() {
            extras.hooks.lock().unwrap().clear();
            extras.post_accumulate_hooks.lock().unwrap().clear();
        }
    }
}

/// Runs `t`'s post-accumulate hooks; called by backward once `t.grad` holds the new total.
pub(crate) fn run_post_accumulate_hooks<T: Float>(t: &Tensor<T>) {
    // Cloned out of the lock so a hook may register or clear hooks.
    let Some(extras) = t.extras_if_any() else {
        return;
    };
    let hooks = extras.post_accumulate_hooks.lock().unwrap().clone();
    for hook in hooks {
        hook(t);
    }
}
