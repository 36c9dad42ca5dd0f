//! `nn`'s integration tests, one module per subject, built as one test binary (each
//! integration-test binary compiles the generic engine and `nn` code it uses anew).

mod arch_layers;
mod arch_modules;
mod checkpoint_files;
mod course_reference;
mod datasets;
mod fuzz_loaders;
mod optim_validation;
mod resume;
