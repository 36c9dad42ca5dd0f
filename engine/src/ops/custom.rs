//! User-defined operations with their own forward and backward, like PyTorch's
//! `autograd.Function`.

use std::sync::Arc;

use crate::autograd::rules::InputGrads;
use crate::autograd::{no_grad, record_view, Op};
use crate::{Float, Tensor};

/// An operation whose forward and backward the user writes.
///
/// `forward` runs with recording off and returns the output values; `backward` receives the
/// inputs, the output and the output's gradient and returns one gradient per input (`None` for
/// inputs that need none), written with engine operations so that higher-order gradients work.
pub trait CustomOp<T: Float>: Send + Sync + 'static {
    /// Name shown in graph exports, traces and reports.
    fn name(&self) -> &'static str;
    /// Computes the output.
    fn forward(&self, inputs: &[&Tensor<T>]) -> Tensor<T>;
    /// The vector-Jacobian product for each input.
    fn backward(&self, inputs: &[Tensor<T>], output: &Tensor<T>, grad: &Tensor<T>)
        -> InputGrads<T>;
}

impl<T: Float> Tensor<T> {
    /// Applies a custom operation, recording it in the graph like a built-in one.
    #[track_caller]
    pub fn apply_custom(op: Arc<dyn CustomOp<T>>, inputs: &[&Tensor<T>]) -> Tensor<T> {
        let out = no_grad(|| op.forward(inputs));
        record_view(Op::Custom(op), inputs, out.storage(), out.layout().clone())
    }
}
