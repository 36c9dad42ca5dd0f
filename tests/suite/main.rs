//! The workspace's integration tests through the public API, one module per subject, built as
//! one test binary (each integration-test binary compiles the generic engine code it uses
//! anew). `threads_determinism.rs`, which sets the process-wide thread count, stays a binary
//! of its own.

mod common;

mod autograd;
mod graphviz;
mod losses;
mod matmul;
mod shape_errors;
mod tensor;
mod three_way_seed_backprop;
