//! Workspace-level crate: re-exports the engine and nn for the top-level tests and benchmarks.
pub use engine;
pub use nn;

/// The code blocks of `docs/verifying.md` ("Verifying gradients", "Looking inside the graph"),
/// compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/verifying.md")]
pub struct VerifyingGuide;
