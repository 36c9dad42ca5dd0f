//! Layers, initializers, losses, optimizers and data utilities built on `engine`.
pub mod datasets;
