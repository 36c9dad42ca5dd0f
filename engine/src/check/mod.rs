//! Verifying gradients: everything that compares a gradient with another, with one tolerance
//! type ([`Tolerance`]), one comparison ([`Agreement`]: the relative difference
//! `‖a − b‖/(‖a‖ + ‖b‖)` and the largest absolute error), one rule (below the relative
//! tolerance or within the absolute one; a NaN anywhere fails) and one report
//! ([`GradientCheckReport`]).
//!
//! - [`gradcheck`] and [`gradgradcheck`] (in [`mod@gradcheck`]): autodiff of a function of
//!   tensors against central differences, first and second order; the building blocks
//!   ([`numerical_gradient`], [`relative_difference`]) are there too.
//! - [`check_gradients`] (in [`three_way`]): autodiff vs your hand-written backward vs central
//!   differences, per named parameter, with the worst components listed.
//! - [`check_custom_op`] (in [`custom`]): a user-defined op's backward against central
//!   differences on random inputs; [`set_custom_op_checking`] checks every op at first use.
//! - [`check_jvp`] (in [`jvp`]): forward mode's `J·u` against central differences and against
//!   reverse mode (`⟨v, J·u⟩ = ⟨Jᵀv, u⟩`).
//! - [`NamedTensors`] (in [`named`]): parameters and gradients under names, like the
//!   `parameters` and `grads` dictionaries of the course's NumPy code.

pub mod custom;
pub mod gradcheck;
pub mod jvp;
pub mod named;
pub mod report;
pub mod three_way;
pub mod tolerance;

pub use custom::{
    check_custom_op, custom_op_checking, set_custom_op_checking, CustomOpCheck, CustomOpReport,
    FirstUseCheck,
};
pub use gradcheck::{
    autodiff_gradient, compare_gradients, gradcheck, gradgradcheck, input_name, numerical_gradient,
};
pub use jvp::{check_jvp, JvpCheck, JvpCheckConfig};
pub use named::NamedTensors;
pub use report::{CheckConfig, ComponentValues, GradientCheckReport, ParamCheck};
pub use three_way::{check_gradients, HandWritten};
pub use tolerance::{relative_difference, Agreement, Tolerance};
