//! ferrograd's engine: N-dimensional tensors, a define-by-run computation graph and
//! reverse-mode automatic differentiation.
//!
//! Layout convention (the course's): examples are columns, so a data matrix `X` is
//! `(n_features, m)`, a dense layer's `W` is `(n_out, n_in)`, its `b` is `(n_out, 1)`, and
//! `Z = W·A + b` broadcasts `b` along the examples.

pub mod float;
pub mod tensor;

pub use float::Float;
pub use tensor::Tensor;
