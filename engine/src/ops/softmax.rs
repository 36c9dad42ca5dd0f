//! Softmax and log-softmax along an axis, shifted by the maximum so they never overflow.

use crate::autograd::{record, Op};
use crate::kernels;
use crate::ops::{resolve_axis, Axis};
use crate::{Float, Tensor};

impl<T: Float> Tensor<T> {
    /// `e^x / Σ e^x` along `axis` (negative counts from the end). In the course's layout the
    /// classes are axis 0 of a `(classes, m)` matrix.
    ///
    /// Infinities and NaN, per slice along `axis`: a NaN makes the whole slice NaN; one `+inf`
    /// gives 1 there and 0 elsewhere (the limit); several `+inf` give NaN at them (the limit
    /// depends on how they grow) and 0 elsewhere; `-inf` entries give 0.
    #[track_caller]
    pub fn softmax(&self, axis: impl Axis) -> Tensor<T> {
        let axis = resolve_axis("softmax", axis, self.shape());
        let data = kernels::softmax_axis(self, axis, false);
        record(Op::Softmax { axis }, &[self], data, self.shape())
    }

    /// `x - log Σ e^x` along `axis`, computed without forming `e^x` for large `x`.
    /// Infinities and NaN as [`Tensor::softmax`], in logs: one `+inf` gives 0 there and `-inf`
    /// elsewhere; `-inf` entries give `-inf`.
    #[track_caller]
    pub fn log_softmax(&self, axis: impl Axis) -> Tensor<T> {
        let axis = resolve_axis("log_softmax", axis, self.shape());
        let data = kernels::softmax_axis(self, axis, true);
        record(Op::LogSoftmax { axis }, &[self], data, self.shape())
    }
}
