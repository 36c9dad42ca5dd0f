//! Pooling layers live with the convolutions in [`conv`](crate::conv); this module re-exports
//! them under the name users look for.

pub use crate::conv::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
