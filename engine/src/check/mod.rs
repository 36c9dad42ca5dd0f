//! Verifying gradients: everything that compares a gradient with another.
//!
//! - [`check_gradients`] (in [`three_way`]): autodiff vs your hand-written backward vs central
//!   differences, per named parameter, in the course's relative difference (seed 001,
//!   eq. 6.57) and the largest absolute error, with the worst components listed.
//! - [`check_custom_op`] (in [`custom`]): a user-defined op's backward against central
//!   differences on random inputs; [`set_custom_op_checking`] checks every op at first use.
//! - [`check_jvp`] (in [`jvp`]): forward mode's `J·u` against central differences and against
//!   reverse mode (`⟨v, J·u⟩ = ⟨Jᵀv, u⟩`).
//! - [`NamedTensors`] (in [`named`]): parameters and gradients under names, like the course's
//!   `parameters` and `grads` dictionaries.
//!
//! The building blocks (central differences, the metric, `gradcheck` on a function of tensors,
//! `gradgradcheck`) are in [`gradcheck`](crate::gradcheck).

pub mod custom;
pub mod jvp;
pub mod named;
pub mod three_way;

pub use custom::{
    check_custom_op, custom_op_checking, set_custom_op_checking, CustomOpCheck, CustomOpReport,
    FirstUseCheck,
};
pub use jvp::{check_jvp, JvpCheck, JvpCheckConfig};
pub use named::NamedTensors;
pub use three_way::{
    check_gradients, Agreement, CheckConfig, ComponentValues, GradientCheckReport, HandWritten,
    ParamCheck,
};
