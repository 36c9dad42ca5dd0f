//! `apps`' integration tests (the command line, attention, bounds), built as one test binary
//! (each integration-test binary compiles the generic code it uses anew).
//! `reproduction.rs`, the course's numbers, stays a binary of its own: it is the one to run
//! alone (`cargo test --release -p apps --test reproduction`).

mod attention;
mod bounds;
mod cli;
