//! Applying a user-defined operation ([`CustomOp`]), recorded like a built-in one.

use std::sync::Arc;

use crate::autograd::{no_grad, observer, record_view, CustomOp, Op};
use crate::{Float, Tensor};

impl<T: Float> Tensor<T> {
    /// Applies a custom operation, recording it in the graph like a built-in one.
    #[track_caller]
    pub fn apply_custom(op: Arc<dyn CustomOp<T>>, inputs: &[&Tensor<T>]) -> Tensor<T> {
        let out = no_grad(|| op.forward(inputs));
        observer::custom_op(op.as_ref(), inputs, &out);
        record_view(Op::Custom(op), inputs, out.storage(), out.layout().clone())
    }
}
