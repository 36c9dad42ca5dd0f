//! The course assignments (see README).
