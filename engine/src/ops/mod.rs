//! The public operations on tensors. Each computes its result with `kernels` and records a graph
//! node through `autograd::record`; the matching backward rule is in `autograd::rules`.
//!
//! - [`elementwise`]: arithmetic with NumPy broadcasting, unary maths, activations,
//!   comparisons (constant masks) and `where`, plus operator overloading.
//! - [`linalg`]: matrix products.
//! - [`shape`]: reshape, permute/transpose, broadcast, squeeze, concat, narrow, indexing.
//! - [`reduce`]: sums, means, extrema, variance, argmax.
//! - [`softmax`]: softmax and log-softmax.

pub mod elementwise;
pub mod linalg;
pub mod reduce;
pub mod shape;
pub mod softmax;

/// Resolves a possibly negative axis (`-1` is the last) against `ndim`, panicking with the
/// operation's name when it is out of range.
#[track_caller]
pub(crate) fn resolve_axis(op: &str, axis: isize, shape: &[usize]) -> usize {
    let nd = shape.len() as isize;
    let a = if axis < 0 { axis + nd } else { axis };
    assert!(
        (0..nd).contains(&a),
        "{op}: axis {axis} out of range for shape {shape:?}"
    );
    a as usize
}
