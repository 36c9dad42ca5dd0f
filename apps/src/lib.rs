//! The course assignments reproduced on ferrograd, one module per assignment, each callable
//! from tests with a shortened run. The `apps` binary (`src/main.rs`) parses the command line
//! ([`cli`]) and calls [`run::run`].
//!
//! - [`backprop`]: the seeds' hand-derived backprop, the independent reference for autodiff.
//! - [`net`]: the course's network on the engine's autodiff; [`checks`]: autodiff vs hand-derived
//!   vs numerical gradients.
//! - [`report`]: what a run reports, as text or JSON Lines; [`plot`]: SVG cost curves and
//!   decision boundaries; [`reference`]: the NumPy reference numbers; [`paths`]: bundled data.

pub mod assignments;
pub mod backprop;
pub mod checks;
pub mod cli;
pub mod data;
pub mod net;
pub mod paths;
pub mod plot;
pub mod reference;
pub mod report;
pub mod run;
pub mod train;
