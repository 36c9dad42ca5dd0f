//! User-defined operations with their own forward and backward, like PyTorch's
//! `autograd.Function`.
//!
//! Check a new op's backward with [`check_custom_op`](crate::check::check_custom_op) (random
//! inputs, every component), or opt in to an automatic check at each op's first use with
//! [`set_custom_op_checking`](crate::check::set_custom_op_checking). Forward mode works through
//! custom ops too: see [`CustomOp::jvp`]. `Tensor::apply_custom` (in `ops`) applies one.

use crate::autograd::InputGrads;
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

    /// Forward mode: the Jacobian-vector product `J·(u₀, u₁, ...)`, shaped like the output,
    /// given one tangent per input (`None` where an input's tangent is zero). The default
    /// returns `None`, and forward mode then derives the product from [`CustomOp::backward`]
    /// by differentiating the linear map `v ↦ Jᵀv` once more, which works whenever `backward`
    /// is written with engine operations.
    fn jvp(
        &self,
        inputs: &[Tensor<T>],
        output: &Tensor<T>,
        tangents: &[Option<Tensor<T>>],
    ) -> Option<Tensor<T>> {
        let _ = (inputs, output, tangents);
        None
    }
}
