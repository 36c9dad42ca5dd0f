//! ferrograd's engine: N-dimensional tensors, a define-by-run computation graph and
//! reverse-mode automatic differentiation, with the tools to check gradients.
//!
//! Layout convention (the course's): examples are columns, so a data matrix `X` is
//! `(n_features, m)`, a dense layer's `W` is `(n_out, n_in)`, its `b` is `(n_out, 1)`, and
//! `Z = W·A + b` broadcasts `b` along the examples.
//!
//! Where things live:
//! - [`tensor`]: the [`Tensor`] handle, constructors, data access; [`layout`]: shapes and
//!   strides; `kernels`: buffer computations (matmul on `matrixmultiply`).
//! - [`ops`]: every public operation; [`loss`]: losses from logits.
//! - [`autograd`]: the graph, `backward`, and in [`autograd::rules`] every derivative rule
//!   (one per op, read by both reverse and forward mode);
//!   [`autograd::dot`]: Graphviz export and node counts of any graph.
//! - printing: `{}` prints a tensor exactly as NumPy's `str(array)` does, `{:?}` adds shape
//!   and type.
//! - [`check`]: every gradient check, with one tolerance, one comparison, one report and one
//!   NaN rule: `gradcheck`/`gradgradcheck` of a function, the three-way check (autodiff,
//!   hand-written, numerical) per named parameter, checks of user-defined ops and of forward
//!   mode. [`gradcheck`] keeps the first of these at its former path.
//! - [`anomaly`]: NaN/Inf detection that names the operation and the caller's line.
//! - [`trace`]: a node-by-node account of a backward pass; [`memory`]: what graphs hold, and
//!   a leak check for training loops.
//! - [`random`]: the [`random::Sampler`] trait behind every random draw (initializers, dropout).

pub mod anomaly;
pub mod autograd;
mod buffers;
pub mod check;
mod display;
pub mod float;
pub mod gradcheck;
mod kernels;
mod kernels_conv;
pub mod layout;
pub mod loss;
pub mod memory;
pub mod ops;
pub mod random;
pub mod tensor;
pub mod threads;
pub mod trace;

pub use autograd::tangent::{hessian, hvp, jacobian, jacobian_reverse, jvp, jvp_graph, vjp};
pub use autograd::{backward, backward_with, grad, grad_with, no_grad, BackwardOptions};
pub use float::Float;
pub use ops::reduce::VarOptions;
pub use ops::Axis;
pub use tensor::Tensor;
pub use threads::{num_threads, set_num_threads};

/// The test command (`cargo test --workspace --profile checked`) must run with overflow checks
/// and debug assertions: the workspace's Cargo.toml turns both on for its own crates in the
/// `checked` profile. Under `--release` (no checks) these are skipped; `.ci/run` also runs them
/// with `--include-ignored`, so they fail there if the setting is lost.
#[cfg(test)]
mod build_checks {
    #[test]
    #[cfg_attr(
        not(debug_assertions),
        ignore = "built without the checks: the test command is `cargo test --workspace --profile checked`"
    )]
    fn debug_assertions_are_on() {
        let caught = std::panic::catch_unwind(|| debug_assert!(std::hint::black_box(false)));
        assert!(
            caught.is_err(),
            "debug_assert! did not fire: engine was built without debug assertions"
        );
    }

    #[test]
    #[cfg_attr(
        not(debug_assertions),
        ignore = "built without the checks: the test command is `cargo test --workspace --profile checked`"
    )]
    fn overflow_checks_are_on() {
        let max = std::hint::black_box(usize::MAX);
        let caught = std::panic::catch_unwind(|| max + std::hint::black_box(1));
        assert!(
            caught.is_err(),
            "usize::MAX + 1 wrapped around: engine was built without overflow checks"
        );
    }
}
