//! One training step (forward, backward, SGD update) of a [784, 30, 20, 10] network with ReLU
//! hidden layers and a softmax cross-entropy output, at batch 32 and 256, f32 and f64:
//!
//! - `engine`: written as a user would, with tensors (`matmul_add` for `W·A + b`, as
//!   `nn::Dense` does), `backward` and `update_data`;
//! - `hand`: the same mathematics written by hand with `matrixmultiply` and plain loops into
//!   preallocated buffers, with no graph (the course's hand-derived backprop).
//!
//! The measured steps apply their SGD update with a learning rate of 0, so every step starts
//! from the same state: repeating SGD on one batch would drive the softmax to exactly 0/1, and
//! f32 subnormals would then slow both sides by amounts that depend on how many iterations
//! criterion happened to run. The arithmetic is the same as for any other rate. Before timing,
//! both implementations take three real steps (rate 0.05) and must agree on every cost.
//!
//! Time is the benchmark thread's CPU time (see `common`), so other processes on a shared
//! machine do not inflate either side.
//!
//! The ratio engine / hand is the cost of the graph. Targets (issue 2): at most 1.3× at batch
//! 256 and 2× at batch 32. Examples are columns: `X` is `(784, m)`, `W[l]` is `(n_out, n_in)`.

mod common;

use std::time::Duration;

use common::ThreadCpuTime;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use ferrograd::engine::{loss, Float, Tensor};

const SIZES: [usize; 4] = [784, 30, 20, 10];
const LEARNING_RATE: f64 = 0.05;

/// `matrixmultiply`'s sgemm/dgemm on strided operands: `C = A·B` with `A` `m×k` and `B` `k×n`.
trait RawGemm: Float {
    #[allow(clippy::too_many_arguments)]
    fn raw_gemm(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        a_strides: (isize, isize),
        b: &[Self],
        b_strides: (isize, isize),
        c: &mut [Self],
    );
}

macro_rules! raw_gemm {
    ($t:ty, $f:path) => {
        impl RawGemm for $t {
            fn raw_gemm(
                m: usize,
                k: usize,
                n: usize,
                a: &[$t],
                (rsa, csa): (isize, isize),
                b: &[$t],
                (rsb, csb): (isize, isize),
                c: &mut [$t],
            ) {
                assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
                // SAFETY: the asserts above bound every element the strides can reach (callers
                // pass dense row-major or transposed-dense strides); `c` is a distinct buffer.
                unsafe {
                    $f(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        rsa,
                        csa,
                        b.as_ptr(),
                        rsb,
                        csb,
                        0.0,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            }
        }
    };
}
raw_gemm!(f32, matrixmultiply::sgemm);
raw_gemm!(f64, matrixmultiply::dgemm);

/// Deterministic small weights and a data set with one-hot targets.
struct Problem<T: Float> {
    weights: Vec<Vec<T>>,
    biases: Vec<Vec<T>>,
    x: Vec<T>,
    labels: Vec<usize>,
    m: usize,
}

fn problem<T: Float>(m: usize) -> Problem<T> {
    let pseudo =
        |i: usize, salt: usize| (((i * 7919 + salt * 104_729) % 1000) as f64 / 1000.0) - 0.5;
    let weights = (0..3)
        .map(|l| {
            let scale = (2.0 / SIZES[l] as f64).sqrt();
            (0..SIZES[l + 1] * SIZES[l])
                .map(|i| T::from_f64(pseudo(i, l + 1) * scale))
                .collect()
        })
        .collect();
    let biases = (0..3)
        .map(|l| {
            (0..SIZES[l + 1])
                .map(|i| T::from_f64(pseudo(i, l + 7) * 0.1))
                .collect()
        })
        .collect();
    let x = (0..SIZES[0] * m)
        .map(|i| T::from_f64(pseudo(i, 11) + 0.5))
        .collect();
    let labels = (0..m).map(|j| (j * 7) % 10).collect();
    Problem {
        weights,
        biases,
        x,
        labels,
        m,
    }
}

// ----- the engine, as a user writes it -----------------------------------------------------------

struct EngineNet<T: Float> {
    params: Vec<Tensor<T>>,
    x: Tensor<T>,
    y: Tensor<T>,
    learning_rate: T,
}

fn engine_params<T: Float>(p: &Problem<T>) -> Vec<Tensor<T>> {
    let mut params = Vec::new();
    for l in 0..3 {
        params.push(Tensor::parameter(
            p.weights[l].clone(),
            &[SIZES[l + 1], SIZES[l]],
        ));
        params.push(Tensor::parameter(p.biases[l].clone(), &[SIZES[l + 1], 1]));
    }
    params
}

impl<T: Float> EngineNet<T> {
    fn new(p: &Problem<T>) -> Self {
        let params = engine_params(p);
        let mut one_hot = vec![T::zero(); 10 * p.m];
        for (j, &c) in p.labels.iter().enumerate() {
            one_hot[c * p.m + j] = T::one();
        }
        EngineNet {
            params,
            x: Tensor::from_vec(p.x.clone(), &[SIZES[0], p.m]),
            y: Tensor::from_vec(one_hot, &[10, p.m]),
            learning_rate: T::from_f64(LEARNING_RATE),
        }
    }

    fn step(&self) -> T {
        let p = &self.params;
        // `W·A + b` as one operation, as `nn::Dense` computes it (the bias added into the
        // product's buffer, as the hand-written step does).
        let a1 = p[0].matmul_add(&self.x, &p[1]).relu();
        let a2 = p[2].matmul_add(&a1, &p[3]).relu();
        let z3 = p[4].matmul_add(&a2, &p[5]);
        let cost = loss::softmax_cross_entropy(&z3, &self.y, 0);
        cost.backward();
        let value = cost.item();
        drop(cost);
        let lr = self.learning_rate;
        for w in p {
            let g = w.grad().expect("every parameter gets a gradient");
            g.with_data(|g| {
                w.update_data(|d| {
                    for (v, &gv) in d.iter_mut().zip(g) {
                        *v -= lr * gv;
                    }
                })
            });
            w.zero_grad();
        }
        value
    }
}

// ----- the same step by hand ---------------------------------------------------------------------

struct HandNet<T: Float> {
    w: Vec<Vec<T>>,
    b: Vec<Vec<T>>,
    x: Vec<T>,
    labels: Vec<usize>,
    m: usize,
    /// Pre-activations `Z[l]` and activations `A[l]` (A[2] holds the softmax output).
    z: Vec<Vec<T>>,
    a: Vec<Vec<T>>,
    dz: Vec<Vec<T>>,
    da: Vec<Vec<T>>,
    dw: Vec<Vec<T>>,
    db: Vec<Vec<T>>,
    learning_rate: T,
}

impl<T: RawGemm> HandNet<T> {
    fn new(p: &Problem<T>) -> Self {
        let m = p.m;
        let per_layer = |f: &dyn Fn(usize) -> usize| -> Vec<Vec<T>> {
            (0..3).map(|l| vec![T::zero(); f(l)]).collect()
        };
        HandNet {
            w: p.weights.clone(),
            b: p.biases.clone(),
            x: p.x.clone(),
            labels: p.labels.clone(),
            m,
            z: per_layer(&|l| SIZES[l + 1] * m),
            a: per_layer(&|l| SIZES[l + 1] * m),
            dz: per_layer(&|l| SIZES[l + 1] * m),
            da: per_layer(&|l| SIZES[l + 1] * m),
            dw: per_layer(&|l| SIZES[l + 1] * SIZES[l]),
            db: per_layer(&|l| SIZES[l + 1]),
            learning_rate: T::from_f64(LEARNING_RATE),
        }
    }

    fn step(&mut self) -> T {
        let m = self.m;
        let ms = m as isize;
        // Forward: Z = W·A_prev + b; ReLU on hidden layers, softmax on the output.
        for l in 0..3 {
            let (n_out, n_in) = (SIZES[l + 1], SIZES[l]);
            let input = if l == 0 { &self.x } else { &self.a[l - 1] };
            T::raw_gemm(
                n_out,
                n_in,
                m,
                &self.w[l],
                (n_in as isize, 1),
                input,
                (ms, 1),
                &mut self.z[l],
            );
            for (i, row) in self.z[l].chunks_mut(m).enumerate() {
                let bias = self.b[l][i];
                for v in row {
                    *v += bias;
                }
            }
            if l < 2 {
                for (a, &z) in self.a[l].iter_mut().zip(&self.z[l]) {
                    *a = if z > T::zero() { z } else { T::zero() };
                }
            }
        }
        // Softmax over the classes (rows) of each column, and the mean cross-entropy.
        let classes = SIZES[3];
        let mut cost = T::zero();
        for j in 0..m {
            let mut max = T::neg_infinity();
            for c in 0..classes {
                max = max.max(self.z[2][c * m + j]);
            }
            let mut sum = T::zero();
            for c in 0..classes {
                let e = (self.z[2][c * m + j] - max).exp();
                self.a[2][c * m + j] = e;
                sum += e;
            }
            for c in 0..classes {
                self.a[2][c * m + j] /= sum;
            }
            cost -= (self.z[2][self.labels[j] * m + j] - max) - sum.ln();
        }
        let inv_m = T::one() / T::from_f64(m as f64);
        cost *= inv_m;
        // Backward: dZ3 = (P - Y)/m; dW = dZ·A_prevᵀ; db = row sums; dA_prev = Wᵀ·dZ.
        for (d, &p) in self.dz[2].iter_mut().zip(&self.a[2]) {
            *d = p * inv_m;
        }
        for (j, &c) in self.labels.iter().enumerate() {
            self.dz[2][c * m + j] -= inv_m;
        }
        for l in (0..3).rev() {
            let (n_out, n_in) = (SIZES[l + 1], SIZES[l]);
            let input = if l == 0 { &self.x } else { &self.a[l - 1] };
            // A_prevᵀ through strides: element (j, i) of Aᵀ is A[i, j].
            T::raw_gemm(
                n_out,
                m,
                n_in,
                &self.dz[l],
                (ms, 1),
                input,
                (1, ms),
                &mut self.dw[l],
            );
            for (i, row) in self.dz[l].chunks(m).enumerate() {
                self.db[l][i] = row.iter().copied().sum();
            }
            if l > 0 {
                T::raw_gemm(
                    n_in,
                    n_out,
                    m,
                    &self.w[l],
                    (1, n_in as isize),
                    &self.dz[l],
                    (ms, 1),
                    &mut self.da[l - 1],
                );
                let (dz, _) = self.dz.split_at_mut(l);
                for ((d, &g), &z) in dz[l - 1]
                    .iter_mut()
                    .zip(&self.da[l - 1])
                    .zip(&self.z[l - 1])
                {
                    *d = if z > T::zero() { g } else { T::zero() };
                }
            }
        }
        // SGD update.
        let lr = self.learning_rate;
        for l in 0..3 {
            for (w, &g) in self.w[l].iter_mut().zip(&self.dw[l]) {
                *w -= lr * g;
            }
            for (b, &g) in self.b[l].iter_mut().zip(&self.db[l]) {
                *b -= lr * g;
            }
        }
        cost
    }
}

fn bench_type<T: RawGemm>(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group(format!("mlp_step_{}", T::NAME));
    for m in [32usize, 256] {
        let p = problem::<T>(m);
        let mut engine = EngineNet::new(&p);
        let mut hand = HandNet::new(&p);
        // The two implementations must agree before their speed is compared.
        for _ in 0..3 {
            let (ce, ch) = (engine.step(), hand.step());
            let gap = (ce - ch).abs().as_f64();
            assert!(
                gap <= 1e-4 * ch.abs().as_f64().max(1.0),
                "engine and hand-written steps disagree: {ce} vs {ch}"
            );
        }
        engine.learning_rate = T::zero();
        hand.learning_rate = T::zero();
        group.bench_with_input(BenchmarkId::new("engine", m), &m, |bench, _| {
            bench.iter(|| black_box(engine.step()))
        });
        group.bench_with_input(BenchmarkId::new("hand", m), &m, |bench, _| {
            bench.iter(|| black_box(hand.step()))
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion<ThreadCpuTime>) {
    // Criterion counts this thread's CPU time: the engine's own threads would go uncounted (at
    // batch 256 the first layer's products are large enough to split), so both sides run on
    // this one thread.
    ferrograd::engine::set_num_threads(1);
    bench_type::<f32>(c);
    bench_type::<f64>(c);
}

criterion_group! {
    name = mlp_step;
    config = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(mlp_step);
