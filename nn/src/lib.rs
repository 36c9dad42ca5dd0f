//! Layers, initializers, losses, optimizers and data utilities built on `engine`, following
//! seed 001 (chapter 6) and the course notebooks.
//!
//! Layout (the course's): examples are columns. A batch `X` is `(n_features, m)`, a dense
//! layer's `W` is `(n_out, n_in)` and its `b` is `(n_out, 1)`, and `Z = W·A + b` broadcasts `b`
//! along the examples.
//!
//! Where things live:
//! - [`module`]: the [`Module`] trait, named [`Param`]eters, shared samplers.
//! - layers: [`Dense`], [`Activation`], [`Dropout`], [`BatchNorm`], [`Sequential`].
//! - [`init`]: initializers reproducing the course's NumPy expressions bit for bit.
//! - [`loss`]: losses from logits and the L2/L1 weight penalties.
//! - [`optim`]: gradient descent, momentum, RMSProp, Adam; [`schedule`]: learning-rate decay.
//! - [`data`]: mini-batches, standardization, stratified splits, k-fold.
//! - [`train`]: an optional training loop with history and evaluation hook.
//! - [`checkpoint`]: save/load named parameters as safetensors, atomically.
//! - modern architectures: [`conv`] (`Conv2d`, pooling, `Flatten` the image/column seam),
//!   [`layernorm`] (`LayerNorm`, `BatchNorm2d`), [`embedding`], [`attention`]
//!   (`MultiHeadAttention`, `TransformerBlock`).
//! - [`datasets`]: circles and moons (scikit-learn's, draw for draw), `.mat` and MNIST loaders.

#![warn(missing_docs)]

pub mod activation;
pub mod batchnorm;
pub mod checkpoint;
pub mod data;
pub mod datasets;
pub mod dense;
pub mod dropout;
pub mod init;
pub mod loss;
pub mod module;
pub mod optim;
pub mod schedule;
pub mod sequential;
pub mod train;

// Layers for modern architectures (issue 11): plain structs with `forward(&self, x)` and
// `parameters()`; images are batch-first (m, C, H, W), sequences (m, T, d).
pub mod attention;
pub mod conv;
pub mod embedding;
pub mod layernorm;
pub mod pool;

pub use activation::Activation;
pub use batchnorm::BatchNorm;
pub use dense::Dense;
pub use dropout::Dropout;
pub use init::Init;
pub use module::{Module, Param, ParamKind, SharedSampler};
pub use optim::Optimizer;
pub use sequential::Sequential;
