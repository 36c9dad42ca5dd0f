//! Multi-head self-attention throughput (issue 11's attention block: batch 32, sequence 16,
//! width 64, 4 heads, f32, causal): forward + backward with respect to the inputs and every
//! projection, against the engine's `matmul` on the projections' shape `(m·T, d)·(d, d)`.
//! Throughput is counted in floating-point operations (forward `8·m·T·d² + 4·m·T²·d`: four
//! projections, scores and weighted values; backward twice that), so criterion's "elem/s"
//! reads as FLOP/s for both and their ratio is the share of the matrix-product rate the block
//! keeps after softmax, masking, reshapes and the graph.

mod common;

use std::time::Duration;

use common::ThreadCpuTime;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrograd::engine::{grad, BackwardOptions, Tensor};
use ferrograd::nn::attention::MultiHeadAttention;
use ferrograd::nn::Module;
use rand::SeedableRng;

fn values(shape: &[usize], seed: usize) -> Tensor<f32> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| (((i * 31 + seed * 17) % 97) as f32 - 48.0) / 97.0)
        .collect();
    Tensor::from_vec(data, shape)
}

fn benches(c: &mut Criterion<ThreadCpuTime>) {
    // Criterion counts this thread's CPU time: the engine's own threads would go uncounted, so
    // both sides run on this one thread.
    ferrograd::engine::set_num_threads(1);
    let (m, t, d, heads) = (32usize, 16usize, 64usize, 4usize);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mha = MultiHeadAttention::<f32>::new(d, heads, true, &mut rng);
    let params: Vec<Tensor<f32>> = mha.parameters().into_iter().map(|p| p.tensor).collect();
    let x = values(&[m, t, d], 2).to_leaf();
    let g = values(&[m, t, d], 3);
    let forward = 8 * m * t * d * d + 4 * m * t * t * d;
    let mut group = c.benchmark_group("attention_b32_t16_d64_f32");
    group.sample_size(30);
    group.throughput(Throughput::Elements(3 * forward as u64));
    group.bench_with_input(
        BenchmarkId::new("mha_fwd_bwd", "causal, 4 heads"),
        &(),
        |bench, _| {
            bench.iter(|| {
                let y = mha.forward(&x);
                let mut wrt: Vec<&Tensor<f32>> = vec![&x];
                wrt.extend(params.iter());
                black_box(grad(&(&y * &g).sum(), &wrt, BackwardOptions::default()))
            })
        },
    );
    let (a, w) = (values(&[m * t, d], 4), values(&[d, d], 5));
    group.throughput(Throughput::Elements(2 * (m * t * d * d) as u64));
    group.bench_with_input(
        BenchmarkId::new("matmul", "(512, 64)·(64, 64)"),
        &(),
        |bench, _| bench.iter(|| black_box(a.matmul(&w))),
    );
    group.finish();
}

criterion_group! {
    name = attention;
    config = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(attention);
