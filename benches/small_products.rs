//! The eight matrix products of one training step of the course's `[2, 10, 5, 1]` network on 300
//! examples (forward `W·A`, backward `dZ·Aᵀ` and `Wᵀ·dZ`), with the operand layouts the graph
//! hands to `matmul`: the data as the transposed view `MiniBatches` gives, weight gradients
//! against transposed activations. Every one of them goes to the engine's direct small-product
//! kernel (`engine/src/kernels/small_gemm.rs`), so this benchmark follows that kernel's speed on
//! the shapes where the course's small networks spend their product time. Times include the
//! engine's fixed cost of a `matmul` call (shape checks, the result's buffer), measured apart as
//! `fixed_1x1x1`.
//!
//! `cargo bench --bench small_products -- --warm-up-time 1 --measurement-time 2`

mod common;

use std::time::Duration;

use common::ThreadCpuTime;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ferrograd::engine::{Float, Tensor};

fn values<T: Float>(rows: usize, cols: usize) -> Tensor<T> {
    let data: Vec<f64> = (0..rows * cols)
        .map(|i| ((i * 31 % 97) as f64 - 48.0) / 97.0)
        .collect();
    Tensor::from_f64_slice(&data, &[rows, cols])
}

fn bench_type<T: Float>(c: &mut Criterion<ThreadCpuTime>) {
    let m = 300;
    // Example-major data (`MiniBatches` keeps it so), seen as `X = (2, m)` through a transpose.
    let xt = values::<T>(m, 2);
    let (w1, w2, w3) = (values::<T>(10, 2), values::<T>(5, 10), values::<T>(1, 5));
    let (a1, a2) = (values::<T>(10, m), values::<T>(5, m));
    let (dz1, dz2, dz3) = (values::<T>(10, m), values::<T>(5, m), values::<T>(1, m));
    let one = values::<T>(1, 1);
    let products: [(&str, Tensor<T>, Tensor<T>); 9] = [
        ("fixed_1x1x1", one.clone(), one.clone()),
        ("forward_W1.X_10x2x300", w1.clone(), xt.t()),
        ("forward_W2.A1_5x10x300", w2.clone(), a1.clone()),
        ("forward_W3.A2_1x5x300", w3.clone(), a2.clone()),
        ("dW3=dZ3.A2t_1x300x5", dz3.clone(), a2.t()),
        ("dW2=dZ2.A1t_5x300x10", dz2.clone(), a1.t()),
        ("dW1=dZ1.Xt_10x300x2", dz1, xt.clone()),
        ("dA1=W2t.dZ2_10x5x300", w2.t(), dz2),
        ("dA2=W3t.dZ3_5x1x300", w3.t(), dz3),
    ];
    let mut group = c.benchmark_group(format!("small_products_{}", T::NAME));
    for (name, a, b) in &products {
        group.bench_function(*name, |bench| bench.iter(|| black_box(a.matmul(b))));
    }
    group.finish();
}

fn benches(c: &mut Criterion<ThreadCpuTime>) {
    bench_type::<f64>(c);
    bench_type::<f32>(c);
}

criterion_group! {
    name = small_products;
    config = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(small_products);
