//! Matrix product throughput: the engine's `matmul` (allocation of the result, layout checks and
//! the gemm call) against calling `matrixmultiply` directly into a preallocated buffer. Sizes
//! 64, 256 and 1024, f32 and f64; throughput is counted in floating-point operations (2n³ per
//! product), so criterion's "elem/s" reads as FLOP/s.
//!
//! Target (issue 2): the engine within 5% of raw `matrixmultiply` from size 256 up.

mod common;

use std::time::Duration;

use common::ThreadCpuTime;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrograd::engine::{Float, Tensor};

/// The two `matrixmultiply` entry points behind one name.
trait RawGemm: Float {
    /// `C = A·B` for dense row-major square matrices of side `n`.
    fn raw_gemm(n: usize, a: &[Self], b: &[Self], c: &mut [Self]);
}

impl RawGemm for f32 {
    fn raw_gemm(n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
        let s = n as isize;
        // SAFETY: gemm reads n*n elements of `a` and `b` and writes n*n of `c`, row-major
        // (asserted), and `c` is a distinct `&mut` slice.
        assert!(a.len() >= n * n && b.len() >= n * n && c.len() >= n * n);
        unsafe {
            matrixmultiply::sgemm(
                n,
                n,
                n,
                1.0,
                a.as_ptr(),
                s,
                1,
                b.as_ptr(),
                s,
                1,
                0.0,
                c.as_mut_ptr(),
                s,
                1,
            )
        }
    }
}

impl RawGemm for f64 {
    fn raw_gemm(n: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
        let s = n as isize;
        // SAFETY: as for f32.
        assert!(a.len() >= n * n && b.len() >= n * n && c.len() >= n * n);
        unsafe {
            matrixmultiply::dgemm(
                n,
                n,
                n,
                1.0,
                a.as_ptr(),
                s,
                1,
                b.as_ptr(),
                s,
                1,
                0.0,
                c.as_mut_ptr(),
                s,
                1,
            )
        }
    }
}

fn values<T: Float>(n: usize, seed: usize) -> Vec<T> {
    (0..n * n)
        .map(|i| T::from_f64((((i * 31 + seed * 17) % 97) as f64 - 48.0) / 97.0))
        .collect()
}

fn bench_type<T: RawGemm>(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group(format!("matmul_{}", T::NAME));
    for n in [64usize, 256, 1024] {
        group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        if n == 1024 {
            group.sample_size(10);
        } else {
            group.sample_size(50);
        }
        let (va, vb) = (values::<T>(n, 1), values::<T>(n, 2));
        let (ta, tb) = (
            Tensor::from_vec(va.clone(), &[n, n]),
            Tensor::from_vec(vb.clone(), &[n, n]),
        );
        group.bench_with_input(BenchmarkId::new("engine", n), &n, |bench, _| {
            bench.iter(|| black_box(ta.matmul(&tb)))
        });
        let mut out = vec![T::zero(); n * n];
        group.bench_with_input(BenchmarkId::new("matrixmultiply", n), &n, |bench, _| {
            bench.iter(|| {
                T::raw_gemm(n, &va, &vb, &mut out);
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion<ThreadCpuTime>) {
    bench_type::<f32>(c);
    bench_type::<f64>(c);
}

criterion_group! {
    name = matmul;
    config = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(matmul);
