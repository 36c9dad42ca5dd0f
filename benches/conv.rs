//! Convolution throughput at LeNet shapes (batch 64, f32): `conv2d` forward + backward against
//! the engine's `matmul` running the same gemms (forward `W·cols`, filter gradient `g·colsᵀ`,
//! and, when the images need a gradient, column gradient `Wᵀ·g`) on plain tensors. As in
//! training, the first layer's images are data (no input gradient, so no `Wᵀ·g` and no
//! `col2im`); the second layer's input gradient is computed.
//! Throughput is counted in floating-point operations (2·C_out·K·m·OH·OW per gemm), so criterion's
//! "elem/s" reads as FLOP/s for both, and the ratio of the two rates is the share of the
//! matrix-product rate that convolution keeps after im2col, col2im, the output permutation,
//! the bias and the graph.
//!
//! Target (issue 11): conv ≥ 50% of the matmul rate on the same FLOPs.

mod common;

use std::time::Duration;

use common::ThreadCpuTime;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrograd::engine::ops::conv::Conv2dOptions;
use ferrograd::engine::{grad, BackwardOptions, Tensor};

fn values(shape: &[usize], seed: usize) -> Tensor<f32> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| (((i * 31 + seed * 17) % 97) as f32 - 48.0) / 97.0)
        .collect();
    Tensor::from_vec(data, shape)
}

struct Case {
    name: &'static str,
    images: [usize; 4],
    filters: [usize; 4],
    padding: usize,
    input_grad: bool,
}

fn benches(c: &mut Criterion<ThreadCpuTime>) {
    // Criterion counts this thread's CPU time: the engine's own threads would go uncounted, so
    // both sides run on this one thread.
    ferrograd::engine::set_num_threads(1);
    let cases = [
        Case {
            name: "conv1 1->6 5x5 pad 2, 28x28",
            images: [64, 1, 28, 28],
            filters: [6, 1, 5, 5],
            padding: 2,
            input_grad: false,
        },
        Case {
            name: "conv2 6->16 5x5, 14x14",
            images: [64, 6, 14, 14],
            filters: [16, 6, 5, 5],
            padding: 0,
            input_grad: true,
        },
    ];
    let mut group = c.benchmark_group("conv2d_lenet_f32");
    group.sample_size(20);
    for case in cases {
        let [m, _, h, w] = case.images;
        let [c_out, c_in, kh, kw] = case.filters;
        let (oh, ow) = (h + 2 * case.padding - kh + 1, w + 2 * case.padding - kw + 1);
        let (k, l) = (c_in * kh * kw, m * oh * ow);
        let gemms = if case.input_grad { 3 } else { 2 };
        let flops = gemms * 2 * (c_out * k * l) as u64;
        group.throughput(Throughput::Elements(flops));

        let x = values(&case.images, 1);
        let x = if case.input_grad { x.to_leaf() } else { x };
        let wt = values(&case.filters, 2).to_leaf();
        let b = values(&[c_out], 3).to_leaf();
        let opts = Conv2dOptions::new().padding(case.padding);
        let g = values(&[m, c_out, oh, ow], 4);
        group.bench_with_input(
            BenchmarkId::new("conv2d_fwd_bwd", case.name),
            &(),
            |bench, _| {
                bench.iter(|| {
                    let y = x.conv2d(&wt, Some(&b), opts);
                    black_box(grad(
                        &(&y * &g).sum(),
                        &[&x, &wt, &b],
                        BackwardOptions::default(),
                    ))
                })
            },
        );

        let (wm, cols, gm) = (
            values(&[c_out, k], 5),
            values(&[k, l], 6),
            values(&[c_out, l], 7),
        );
        group.bench_with_input(
            BenchmarkId::new("matmul_same_gemms", case.name),
            &(),
            |bench, _| {
                bench.iter(|| {
                    black_box(wm.matmul(&cols));
                    black_box(gm.matmul(&cols.t()));
                    if case.input_grad {
                        black_box(wm.t().matmul(&gm));
                    }
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = conv;
    config = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(conv);
