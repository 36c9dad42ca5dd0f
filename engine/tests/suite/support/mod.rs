//! Inputs and helpers shared by the value tests of the architecture ops (`conv_pool.rs`,
//! `new_ops.rs`). Their derivatives are checked by the op table (`op_table/rows.rs`).

#![allow(dead_code)]

use engine::Tensor;

/// Deterministic, irregular values in about [-1.5, 1.5]: no ties, no zeros.
pub fn t(shape: &[usize], k: f64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| ((i as f64 + 1.0) * 1.618_033_9 + k).sin() * 1.5 + 0.013 * i as f64)
        .collect();
    Tensor::from_vec(data, shape)
}

/// Fixed irregular weights that turn an op's output into a scalar whose gradient exercises
/// every output element differently.
pub fn weights(shape: &[usize]) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| ((i as f64 * 0.754_877_666 + 0.3).fract() - 0.45) * 2.0)
        .collect();
    Tensor::from_vec(data, shape)
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "max_abs_diff: lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}
