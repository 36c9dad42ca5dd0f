//! Workspace-level crate: re-exports the engine and nn for the top-level tests and benchmarks.
pub use engine;
pub use nn;

/// The code blocks of `README.md` (the first look, "Verifying gradients", "Looking inside the
/// graph"), compiled and run as doc tests so the README cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
