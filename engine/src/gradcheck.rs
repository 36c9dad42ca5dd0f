//! Gradient checking of functions of tensors, kept at this path for existing callers: it is
//! the [`check`](crate::check) module's `gradcheck` part, with its one configuration
//! ([`CheckConfig`], also named [`GradcheckConfig`] here) and its one report
//! ([`GradientCheckReport`], also named [`GradcheckReport`]).

pub use crate::check::gradcheck::*;
pub use crate::check::{relative_difference, CheckConfig, GradientCheckReport};

/// The settings of [`gradcheck`]: [`CheckConfig`].
pub type GradcheckConfig = CheckConfig;

/// The report of [`gradcheck`]: [`GradientCheckReport`].
pub type GradcheckReport = GradientCheckReport;
