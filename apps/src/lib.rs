//! The course assignments reproduced on ferrograd, one module per assignment, each callable
//! from tests with a shortened run. The `apps` binary (`src/main.rs`) parses the command line
//! ([`cli`]) and calls [`run::run`]. "Chapter 6.x" in these docs is a section of the course's
//! book chapter "Practical Considerations in Neural Networks".
//!
//! The apps are written with the library's public API: networks are `nn` layers
//! ([`model`]: `Sequential`, `Dense`, `Activation`, `Dropout`, `BatchNorm`, initializers from
//! `nn::init`), costs come from `nn::loss`, training is `nn::train::Trainer` over
//! `nn::data::MiniBatches` with `nn::optim` ([`train`]), and gradients are verified with the
//! engine's three-way check `engine::check` ([`checks`]).
//!
//! - [`backprop`]: the seeds' hand-derived backprop, the independent reference for autodiff.
//! - [`report`]: what a run reports, as text or JSON Lines; [`pyfmt`]: floats printed as Python
//!   prints them; [`plot`]: SVG cost curves and decision boundaries; [`reference`](mod@reference): the NumPy
//!   reference numbers; [`data`], [`paths`]: the bundled data.

pub mod assignments;
pub mod backprop;
pub mod backprop_cnn;
pub mod checks;
pub mod cli;
pub mod data;
pub mod model;
pub mod paths;
pub mod plot;
pub mod pyfmt;
pub mod reference;
pub mod report;
pub mod run;
pub mod train;
