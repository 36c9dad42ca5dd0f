//! The public operations on tensors. Each computes its result with `kernels` and records a graph
//! node through `autograd::record`; the matching derivative rule (used by backward and forward
//! mode alike) is in `autograd::rules`. Every axis argument accepts negative values ([`Axis`]).
//!
//! - [`elementwise`]: arithmetic with NumPy broadcasting, unary maths, activations,
//!   comparisons (constant masks) and `where`, plus operator overloading.
//! - [`linalg`]: matrix products.
//! - [`shape`]: reshape, permute/transpose, broadcast, squeeze, concat, narrow, indexing.
//! - [`reduce`]: sums, means, extrema, variance, argmax.
//! - [`softmax`]: softmax and log-softmax.
//! - [`custom`]: applying a user-defined operation.
//! - [`conv`]: convolution, transposed convolution and pooling on `(m, C, H, W)` images;
//!   [`activation_ext`]: erf, GELU, SiLU, softplus, log1p, expm1, rsqrt;
//!   [`reduce_ext`]: reductions over several axes, stack, pad, masked_fill, repeat;
//!   [`embedding`]: embedding lookups and cross-entropy from class indices.
//!
//! NaN is never hidden: arithmetic, unary maths, sums and products propagate it by IEEE rules,
//! and the operations that compare (`relu`, `maximum`, `clamp`, `max`, `argmax`, softmax...)
//! give NumPy's values, NaN included; each says in its documentation what it does with NaN,
//! and what its gradient is there (PyTorch's rule). Results on numbers are unchanged by this.

pub mod custom;
pub mod elementwise;
pub mod linalg;
pub mod reduce;
pub mod shape;
pub mod softmax;

pub mod activation_ext;
pub mod conv;
pub mod embedding;
pub mod reduce_ext;

/// An axis argument, accepted by every operation that takes one: an unsigned index counts from
/// the front, a signed one may be negative and count from the end (`-1` is the last axis), as
/// in NumPy and PyTorch. An axis out of range panics naming the operation, the axis and the
/// shape.
///
/// ```
/// use engine::Tensor;
/// let x = Tensor::<f64>::ones(&[2, 3]);
/// assert_eq!(x.sum_axis(-1, false).shape(), &[2]);
/// assert_eq!(x.sum_axis(1usize, false).shape(), &[2]);
/// ```
pub trait Axis: Copy + std::fmt::Display {
    /// The axis as a signed position (negative counts from the end).
    fn position(self) -> isize;
}

impl Axis for usize {
    fn position(self) -> isize {
        isize::try_from(self).unwrap_or(isize::MAX)
    }
}

impl Axis for isize {
    fn position(self) -> isize {
        self
    }
}

impl Axis for i32 {
    fn position(self) -> isize {
        self as isize
    }
}

impl Axis for i64 {
    fn position(self) -> isize {
        isize::try_from(self).unwrap_or(isize::MAX)
    }
}

/// Resolves a possibly negative axis (`-1` is the last) against `shape`, panicking with the
/// operation's name, the axis and the shape when it is out of range.
#[track_caller]
pub(crate) fn resolve_axis(op: &str, axis: impl Axis, shape: &[usize]) -> usize {
    resolve_in(op, axis, shape, shape.len())
}

/// Resolves an insertion position (`0..=ndim`; `-1` is after the last axis).
#[track_caller]
pub(crate) fn resolve_position(op: &str, axis: impl Axis, shape: &[usize]) -> usize {
    resolve_in(op, axis, shape, shape.len() + 1)
}

#[track_caller]
fn resolve_in(op: &str, axis: impl Axis, shape: &[usize], count: usize) -> usize {
    let n = count as isize;
    let p = axis.position();
    let a = if p < 0 { p.saturating_add(n) } else { p };
    assert!(
        (0..n).contains(&a),
        "{op}: axis {axis} out of range for shape {shape:?}"
    );
    a as usize
}
