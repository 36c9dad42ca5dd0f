//! Layers, initializers, losses, optimizers and data utilities built on `engine`, following
//! the course's notebooks, and the tools to build, train, check and resume models of your own.
//!
//! Layout (the course's): examples are columns. A batch `X` is `(n_features, m)`, a dense
//! layer's `W` is `(n_out, n_in)` and its `b` is `(n_out, 1)`, and `Z = W·A + b` broadcasts `b`
//! along the examples.
//!
//! Where things live:
//! - [`module`]: the [`Module`] trait (`forward(&self, x)` and `visit`), the [`Visitor`] that
//!   gives parameters unique hierarchical names (`encoder.l1.weight`), named [`Param`]eters,
//!   the train/eval [`Mode`], freezing, shared samplers. Its docs argue the design.
//! - layers: [`Dense`], [`Activation`], [`Dropout`], [`BatchNorm`], [`Sequential`] (the
//!   course's `W1`, `b1`, ... numbering).
//! - [`init`]: initializers reproducing the course's NumPy expressions bit for bit.
//! - [`loss`]: losses from logits and the L2/L1 weight penalties.
//! - [`optim`]: gradient descent, momentum, RMSProp, Adam, AdamW; parameter groups; state by
//!   parameter name; gradient clipping. [`schedule`]: the course's learning-rate decays, step
//!   decays, warmup + cosine.
//! - [`data`]: mini-batches, standardization, stratified splits, k-fold.
//! - [`train`]: an optional training loop with history and evaluation hook.
//! - [`check`]: [`check::check_module`], the three-way gradient check of any module by
//!   parameter name, without rebuilding it.
//! - [`checkpoint`]: save/load named parameters as safetensors, atomically; whole training runs
//!   (model, buffers, optimizer state, schedule position) for bit-identical resumption.
//! - modern architectures: [`conv`] (`Conv2d`, pooling, `Flatten` the image/column seam),
//!   [`layernorm`] (`LayerNorm`, `BatchNorm2d`), [`embedding`], [`attention`]
//!   (`MultiHeadAttention`, `TransformerBlock`).
//! - [`datasets`]: circles and moons (scikit-learn's, draw for draw), `.mat` and MNIST loaders.
//!
//! `docs/build_your_own_model.md` at the repository's root walks through a custom model end to
//! end; `examples/custom_model.rs` runs it with progress output.

#![warn(missing_docs)]

pub mod activation;
pub mod batchnorm;
pub mod check;
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

// Layers for modern architectures (issue 11), `Module`s like the rest; images are batch-first
// (m, C, H, W), sequences (m, T, d).
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
pub use module::{Entry, Mode, Module, Param, ParamKind, SharedSampler, Visitor};
pub use optim::Optimizer;
pub use sequential::Sequential;
