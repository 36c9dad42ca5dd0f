//! The course assignments (see README).

pub mod backprop;
