//! Reductions over one axis or over everything, with `keepdim`: sum, mean, max, min, var, and
//! argmax (no gradient).

use crate::autograd::{record, Op};
use crate::kernels::{self, pairwise_sum};
use crate::layout::Shape;
use crate::ops::{resolve_axis, Axis};
use crate::{Float, Tensor};

/// `max(a, b)` that propagates NaN (NumPy's `np.max`), and otherwise is `T::max` exactly.
fn max_nan<T: Float>(a: T, b: T) -> T {
    if a.is_nan() {
        a
    } else if b.is_nan() {
        b
    } else {
        a.max(b)
    }
}

/// `min(a, b)` that propagates NaN (NumPy's `np.min`), and otherwise is `T::min` exactly.
fn min_nan<T: Float>(a: T, b: T) -> T {
    if a.is_nan() {
        a
    } else if b.is_nan() {
        b
    } else {
        a.min(b)
    }
}

/// Whether `v` beats the current best `best` for argmax: larger, or the first NaN (NumPy's
/// `np.argmax` returns the first NaN's position).
fn argmax_beats<T: Float>(v: T, best: T) -> bool {
    !best.is_nan() && (v > best || v.is_nan())
}

impl<T: Float> Tensor<T> {
    #[track_caller]
    fn check_axis(&self, op: &str, axis: impl Axis) -> usize {
        resolve_axis(op, axis, self.shape())
    }

    fn reduced_shape(&self, axis: usize, keepdim: bool) -> Shape {
        let mut shape = self.shape_vec();
        if keepdim {
            shape[axis] = 1;
        } else {
            shape.remove(axis);
        }
        shape
    }

    /// Sum of all elements (a 0-dimensional tensor), by pairwise summation.
    #[track_caller]
    pub fn sum(&self) -> Tensor<T> {
        let total = self.with_data(pairwise_sum);
        record(
            Op::Sum {
                axis: None,
                keepdim: false,
            },
            &[self],
            vec![total],
            &[],
        )
    }

    /// Sum over `axis`; with `keepdim` the axis stays with size 1 (NumPy's `keepdims=True`).
    #[track_caller]
    pub fn sum_axis(&self, axis: impl Axis, keepdim: bool) -> Tensor<T> {
        let axis = self.check_axis("sum_axis", axis);
        let data = kernels::reduce_axis(self, axis, T::zero(), |a, b| a + b);
        record(
            Op::Sum {
                axis: Some(axis),
                keepdim,
            },
            &[self],
            data,
            &self.reduced_shape(axis, keepdim),
        )
    }

    /// Mean of all elements.
    #[track_caller]
    pub fn mean(&self) -> Tensor<T> {
        let n = T::from_f64(self.numel() as f64);
        let total = self.with_data(pairwise_sum) / n;
        record(
            Op::Mean {
                axis: None,
                keepdim: false,
            },
            &[self],
            vec![total],
            &[],
        )
    }

    /// Mean over `axis`.
    #[track_caller]
    pub fn mean_axis(&self, axis: impl Axis, keepdim: bool) -> Tensor<T> {
        let axis = self.check_axis("mean_axis", axis);
        let n = T::from_f64(self.shape()[axis] as f64);
        let data = kernels::reduce_axis(self, axis, T::zero(), |a, b| a + b)
            .into_iter()
            .map(|s| s / n)
            .collect();
        record(
            Op::Mean {
                axis: Some(axis),
                keepdim,
            },
            &[self],
            data,
            &self.reduced_shape(axis, keepdim),
        )
    }

    /// Largest element.
    ///
    /// NaN: propagates, as NumPy's `np.max`: any NaN makes the result NaN. The gradient is then
    /// NaN for every element, as PyTorch's `amax` (the maximum is not attained by any number).
    #[track_caller]
    pub fn max(&self) -> Tensor<T> {
        assert!(
            self.numel() > 0,
            "max: empty tensor of shape {:?}",
            self.shape()
        );
        let m = self.with_data(|d| d.iter().copied().fold(T::neg_infinity(), max_nan));
        record(
            Op::Max {
                axis: None,
                keepdim: false,
            },
            &[self],
            vec![m],
            &[],
        )
    }

    /// Largest element along `axis`. NaN: as [`Tensor::max`], per reduced slice.
    #[track_caller]
    pub fn max_axis(&self, axis: impl Axis, keepdim: bool) -> Tensor<T> {
        let axis = self.check_axis("max_axis", axis);
        let data = kernels::reduce_axis(self, axis, T::neg_infinity(), max_nan);
        record(
            Op::Max {
                axis: Some(axis),
                keepdim,
            },
            &[self],
            data,
            &self.reduced_shape(axis, keepdim),
        )
    }

    /// Smallest element. NaN: propagates, as NumPy's `np.min` (see [`Tensor::max`]).
    #[track_caller]
    pub fn min(&self) -> Tensor<T> {
        assert!(
            self.numel() > 0,
            "min: empty tensor of shape {:?}",
            self.shape()
        );
        let m = self.with_data(|d| d.iter().copied().fold(T::infinity(), min_nan));
        record(
            Op::Min {
                axis: None,
                keepdim: false,
            },
            &[self],
            vec![m],
            &[],
        )
    }

    /// Smallest element along `axis`. NaN: as [`Tensor::max`], per reduced slice.
    #[track_caller]
    pub fn min_axis(&self, axis: impl Axis, keepdim: bool) -> Tensor<T> {
        let axis = self.check_axis("min_axis", axis);
        let data = kernels::reduce_axis(self, axis, T::infinity(), min_nan);
        record(
            Op::Min {
                axis: Some(axis),
                keepdim,
            },
            &[self],
            data,
            &self.reduced_shape(axis, keepdim),
        )
    }

    /// Variance over `axis`: mean squared deviation, divided by `n - 1` instead of `n` when
    /// `unbiased`. Composed of differentiable operations, so its gradient (and higher
    /// derivatives) follow from theirs.
    #[track_caller]
    pub fn var_axis(&self, axis: impl Axis, keepdim: bool, unbiased: bool) -> Tensor<T> {
        let axis = self.check_axis("var_axis", axis);
        let n = self.shape()[axis];
        let centered = self - &self.mean_axis(axis, true);
        let denom = if unbiased { n.saturating_sub(1) } else { n };
        centered.square().sum_axis(axis, keepdim) / T::from_f64(denom as f64)
    }

    /// [`Tensor::var_axis`] with named options instead of two booleans:
    /// `x.var_axis_with(0, VarOptions { unbiased: true, ..VarOptions::default() })`.
    #[track_caller]
    pub fn var_axis_with(&self, axis: impl Axis, options: VarOptions) -> Tensor<T> {
        self.var_axis(axis, options.keepdim, options.unbiased)
    }

    /// Variance of all elements (see [`Tensor::var_axis`]).
    #[track_caller]
    pub fn var(&self, unbiased: bool) -> Tensor<T> {
        let n = self.numel();
        let centered = self - &self.mean();
        let denom = if unbiased { n.saturating_sub(1) } else { n };
        centered.square().sum() / T::from_f64(denom as f64)
    }

    /// Row-major position of the largest element (the first on ties). Not differentiable.
    /// NaN: the position of the first NaN, as NumPy's `np.argmax`.
    #[track_caller]
    pub fn argmax(&self) -> usize {
        assert!(
            self.numel() > 0,
            "argmax: empty tensor of shape {:?}",
            self.shape()
        );
        self.with_data(|d| {
            let mut best = 0;
            for (k, &v) in d.iter().enumerate() {
                if argmax_beats(v, d[best]) {
                    best = k;
                }
            }
            best
        })
    }

    /// Index of the largest element along `axis` (the first on ties), for every position of the
    /// other axes in row-major order. Not differentiable. NaN: as [`Tensor::argmax`].
    #[track_caller]
    pub fn argmax_axis(&self, axis: impl Axis) -> Vec<usize> {
        let axis = self.check_axis("argmax_axis", axis);
        let (outer, n, inner) = kernels::split_at_axis(self.shape(), axis);
        self.with_data(|d| {
            let mut out = Vec::with_capacity(outer * inner);
            for o in 0..outer {
                for i in 0..inner {
                    let mut best = 0;
                    for k in 1..n {
                        if argmax_beats(d[(o * n + k) * inner + i], d[(o * n + best) * inner + i]) {
                            best = k;
                        }
                    }
                    out.push(best);
                }
            }
            out
        })
    }
}

/// Options of [`Tensor::var_axis_with`]; the default is the population variance (divided by
/// `n`) with the axis removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VarOptions {
    /// Keep the reduced axis with size 1.
    pub keepdim: bool,
    /// Divide by `n - 1` (the unbiased, sample variance) instead of `n`.
    pub unbiased: bool,
}
