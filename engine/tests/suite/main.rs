//! `engine`'s integration tests, one module per subject, built as one test binary.
//!
//! One binary instead of one per file: each integration-test binary instantiates and optimises
//! the generic engine code it uses anew, so about twenty binaries cost the suite minutes of
//! compiling. Tests that change process-wide state stay binaries of their own beside this
//! one: `buffer_reuse.rs` (a counting global allocator), `panic_locations.rs` (a panic hook)
//! and `custom_op_first_use.rs` (the process-wide first-use check of custom ops).

mod support;

mod anomaly;
mod api;
mod architecture;
mod bce_probabilities;
mod conv_pool;
mod custom_ops;
mod forward_mode;
mod fused_rules;
mod hooks_and_accumulation;
mod loss_extremes;
mod memory;
mod nan_propagation;
mod new_ops;
mod numpy_rng;
mod observer;
mod op_table;
mod shape_overflow;
mod smoke;
mod three_way_check;
mod trace;
