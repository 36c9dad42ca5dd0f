//! Workspace-level crate: re-exports the engine and nn for the top-level tests and benchmarks.
pub use engine;
pub use nn;

/// The code blocks of `README.md` (the first look, a first model, verifying gradients),
/// compiled and run as doc tests so the front page cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;

/// `docs/build_your_own_model.md` (a custom module with a residual block and batch norm,
/// trained with AdamW, checked with `check_module`, saved and resumed), compiled and run as a
/// doc test so the page cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../docs/build_your_own_model.md")]
pub struct BuildYourOwnModel;

/// `docs/verifying.md` (checking gradients three ways, custom ops, forward mode, hooks, backward
/// traces, anomaly mode, DOT export, memory), compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/verifying.md")]
pub struct VerifyingExamples;

/// `docs/architectures.md` (a convolutional network checked by parameter name; a tiny causal
/// transformer with its causality, gradients and a Hessian-vector product checked), compiled
/// and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/architectures.md")]
pub struct ArchitecturesExamples;
