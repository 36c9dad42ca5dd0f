//! The public operations on tensors. Each computes its result with `kernels` and records a graph
//! node through `autograd::record`; the matching backward rule is in `autograd::rules`.
//!
//! - [`elementwise`]: arithmetic with NumPy broadcasting, unary maths, activations,
//!   comparisons (constant masks) and `where`, plus operator overloading.
//! - [`linalg`]: matrix products.
//! - [`shape`]: reshape, permute/transpose, broadcast, squeeze, concat, narrow, indexing.
//! - [`reduce`]: sums, means, extrema, variance, argmax.
//! - [`softmax`]: softmax and log-softmax.
//! - [`custom`]: user-defined operations with their own backward.
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

// Ops for modern architectures (issue 11): convolution and pooling, smooth activations,
// multi-axis reductions and shape utilities, embedding and cross-entropy from indices.
pub mod activation_ext;
pub mod conv;
pub mod embedding;
pub mod reduce_ext;

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
