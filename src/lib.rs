//! Workspace-level crate: re-exports the engine and nn for the top-level tests and benchmarks.
pub use engine;
pub use nn;
