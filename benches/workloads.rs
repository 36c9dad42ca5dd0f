//! Whole training steps of the course-shaped networks through the library's public API (nn
//! layers, `nn::optim`, `nn::data::MiniBatches` through `nn::train::Trainer`, the losses), the
//! data path included: the workloads W1-W5 of the performance table in `docs/performance.md`.
//!
//! `tools/workload_ratios.py` runs this benchmark and the course-style NumPy version of every
//! workload on the same data and initial weights in one session, and prints the ratio table.
//!
//! Data and weights come from the NumPy-compatible generator, so that the NumPy script builds
//! the same arrays: generator seeded 1 draws `X` (`rand(n0, m)`, mapped to `[-1, 1]` for W1-W3)
//! then the labels (`rand(1, m) < 0.5`, or `floor(10 · rand(m))` one-hot for W4-W5); seeded 2
//! it draws He-uniform weights layer by layer; seeded 3 it shuffles the mini-batches. Biases
//! start at zero. The dropout masks come from the library's fast generator
//! ([`engine::random::FastRng`]), so they differ from NumPy's (the cost check skips them).
//!
//! Every workload is warmed up, then timed over whole epochs, three repetitions, median. Time
//! is the thread's CPU time for one-thread workloads (so other processes on a shared machine do
//! not count), wall-clock time for threaded ones (CPU time would count every thread's work).
//! Each result is printed as a `RESULT {json}` line with the cost of the last warm-up step,
//! which the NumPy side must reproduce.
//!
//! Threaded workloads set [`engine::set_num_threads`]; the others run on one thread. The
//! benchmark also times matrixmultiply's `sgemm`/`dgemm` on a 1024³ product (one thread, and
//! two threads through the engine's blocked product) as the peak rate the steps are held to.
//!
//! Select workloads with `FERROGRAD_WORKLOADS=W1,W4_f64` (prefixes match, a name ending in `$`
//! matches exactly, as `W5_f32$`; `peak` for the gemm rates).

// Only the CPU clock is used here, not the criterion measurement.
#[allow(dead_code)]
mod common;

use std::time::Instant;

use ferrograd::engine::random::NumpyRng;
use ferrograd::engine::{Float, Tensor};
use ferrograd::nn::data::{one_hot, MiniBatches};
use ferrograd::nn::init::Init;
use ferrograd::nn::optim::{Adam, Gd, Optimizer};
use ferrograd::nn::train::Trainer;
use ferrograd::nn::{loss, Activation, Dense, Dropout, Module, Param, Sequential};

#[derive(Clone, Copy)]
enum Opt {
    Gd,
    Adam,
}

struct Spec {
    name: &'static str,
    dims: &'static [usize],
    m: usize,
    batch: usize,
    f32: bool,
    learning_rate: f64,
    opt: Opt,
    l2: Option<f64>,
    keep_prob: Option<f64>,
    threads: usize,
    /// Epochs (of `m / batch` steps) per warm-up and per timed repetition.
    warmup_epochs: usize,
    epochs: usize,
}

const SPECS: &[Spec] = &[
    Spec {
        name: "W1",
        dims: &[2, 10, 5, 1],
        m: 300,
        batch: 300,
        f32: false,
        learning_rate: 0.01,
        opt: Opt::Gd,
        l2: None,
        keep_prob: None,
        threads: 1,
        warmup_epochs: 10,
        epochs: 4000,
    },
    Spec {
        name: "W2",
        dims: &[2, 20, 5, 1],
        m: 211,
        batch: 211,
        f32: false,
        learning_rate: 0.3,
        opt: Opt::Gd,
        l2: None,
        keep_prob: None,
        threads: 1,
        warmup_epochs: 10,
        epochs: 4000,
    },
    Spec {
        name: "W2_l2",
        dims: &[2, 20, 5, 1],
        m: 211,
        batch: 211,
        f32: false,
        learning_rate: 0.3,
        opt: Opt::Gd,
        l2: Some(0.7),
        keep_prob: None,
        threads: 1,
        warmup_epochs: 10,
        epochs: 4000,
    },
    Spec {
        name: "W2_dropout",
        dims: &[2, 20, 5, 1],
        m: 211,
        batch: 211,
        f32: false,
        learning_rate: 0.3,
        opt: Opt::Gd,
        l2: None,
        keep_prob: Some(0.86),
        threads: 1,
        warmup_epochs: 10,
        epochs: 3000,
    },
    Spec {
        name: "W3",
        dims: &[2, 5, 2, 1],
        m: 300,
        batch: 64,
        f32: false,
        learning_rate: 0.0007,
        opt: Opt::Adam,
        l2: None,
        keep_prob: None,
        threads: 1,
        warmup_epochs: 1,
        epochs: 1500,
    },
    Spec {
        name: "W4_f64",
        dims: &[784, 30, 20, 10],
        m: 10000,
        batch: 32,
        f32: false,
        learning_rate: 0.001,
        opt: Opt::Gd,
        l2: None,
        keep_prob: None,
        threads: 1,
        warmup_epochs: 1,
        epochs: 3,
    },
    Spec {
        name: "W4_f32",
        dims: &[784, 30, 20, 10],
        m: 10000,
        batch: 32,
        f32: true,
        learning_rate: 0.001,
        opt: Opt::Gd,
        l2: None,
        keep_prob: None,
        threads: 1,
        warmup_epochs: 1,
        epochs: 3,
    },
    Spec {
        name: "W5_f32_1t",
        dims: &[784, 1024, 1024, 10],
        m: 12800,
        batch: 256,
        f32: true,
        learning_rate: 0.01,
        opt: Opt::Gd,
        l2: None,
        keep_prob: None,
        threads: 1,
        warmup_epochs: 1,
        epochs: 1,
    },
    Spec {
        name: "W5_f32",
        dims: &[784, 1024, 1024, 10],
        m: 12800,
        batch: 256,
        f32: true,
        learning_rate: 0.01,
        opt: Opt::Gd,
        l2: None,
        keep_prob: None,
        threads: 2,
        warmup_epochs: 1,
        epochs: 1,
    },
];

/// `Xᵀ` `(m, n0)` and `Yᵀ` `(m, classes)`, example-major, holding the draws NumPy's `X`
/// (`rand(n0, m)`, row-major) and labels get; converted to `T` as they are drawn, so that the
/// data set exists once in memory.
fn data<T: Float>(spec: &Spec) -> (Tensor<T>, Tensor<T>) {
    let mut rng = NumpyRng::new(1);
    let (n0, m) = (spec.dims[0], spec.m);
    let binary = spec.dims[spec.dims.len() - 1] == 1;
    let mut xt = vec![T::zero(); n0 * m];
    for f in 0..n0 {
        for i in 0..m {
            let u = rng.random_f64();
            xt[i * n0 + f] = T::from_f64(if binary { u * 2.0 - 1.0 } else { u });
        }
    }
    let xt = Tensor::from_vec(xt, &[m, n0]);
    if binary {
        let y: Vec<T> = (0..m)
            .map(|_| T::from_f64(f64::from(u8::from(rng.random_f64() < 0.5))))
            .collect();
        (xt, Tensor::from_vec(y, &[m, 1]))
    } else {
        let classes = spec.dims[spec.dims.len() - 1];
        let labels: Vec<usize> = (0..m)
            .map(|_| (rng.random_f64() * classes as f64) as usize)
            .collect();
        (xt, one_hot::<T>(&labels, classes).t().contiguous())
    }
}

/// The network: Dense, ReLU (and Dropout) for hidden layers, logits out.
fn model<T: Float>(spec: &Spec) -> Sequential<T> {
    let mut init = NumpyRng::new(2);
    let masks = ferrograd::nn::module::shared(ferrograd::engine::random::FastRng::new(4));
    let mut layers: Vec<Box<dyn Module<T>>> = Vec::new();
    let last = spec.dims.len() - 1;
    for l in 1..=last {
        layers.push(Box::new(Dense::new(
            spec.dims[l - 1],
            spec.dims[l],
            &Init::HeUniform,
            &mut init,
        )));
        if l < last {
            layers.push(Box::new(Activation::Relu));
            if let Some(keep_prob) = spec.keep_prob {
                layers.push(Box::new(Dropout::new(keep_prob, masks.clone())));
            }
        }
    }
    Sequential::new(layers)
}

fn now(threads: usize) -> f64 {
    match common::cpu_nanos() {
        Some(ns) if threads == 1 => ns as f64,
        _ => {
            static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
            START.get_or_init(Instant::now).elapsed().as_nanos() as f64
        }
    }
}

/// Median µs per step, the cost after warm-up, and (threaded runs) the process's CPU µs per
/// step, all threads together.
fn run<T: Float>(spec: &Spec) -> (f64, f64, f64) {
    let (xt, yt) = data::<T>(spec);
    let classes = yt.shape()[1];
    let data = MiniBatches::from_rows(xt, yt, spec.batch);
    let mut net = model::<T>(spec);
    let mut opt: Box<dyn Optimizer<T>> = match spec.opt {
        Opt::Gd => Box::new(Gd::new(spec.learning_rate)),
        Opt::Adam => Box::new(Adam::new(spec.learning_rate)),
    };
    let full_batch = spec.batch >= spec.m;
    let mut shuffle = NumpyRng::new(3);
    let (l2, m) = (spec.l2, spec.batch.min(spec.m));
    let cost = |out: &Tensor<T>, y: &Tensor<T>, params: &[Param<T>]| -> Tensor<T> {
        let base = if classes == 1 {
            loss::bce_with_logits(out, y)
        } else {
            loss::softmax_cross_entropy(out, y)
        };
        match l2 {
            Some(lambd) => base + loss::l2_penalty(params, lambd, m),
            None => base,
        }
    };
    let mut train = |epochs: usize, net: &mut Sequential<T>, opt: &mut dyn Optimizer<T>| {
        let trainer = Trainer::new(epochs);
        let trainer = if full_batch {
            trainer
        } else {
            trainer.shuffle_with(&mut shuffle)
        };
        trainer.fit(net, opt, &data, cost)
    };
    let history = train(spec.warmup_epochs, &mut net, &mut *opt);
    let check = *history.last_batch_costs().last().unwrap();
    let steps = spec.epochs * data.num_batches();
    let process = || common::process_cpu_nanos().unwrap_or(0) as f64;
    let mut times: Vec<(f64, f64)> = (0..3)
        .map(|_| {
            let (t0, c0) = (now(spec.threads), process());
            train(spec.epochs, &mut net, &mut *opt);
            let per_step = |d: f64| d / 1e3 / steps as f64;
            (per_step(now(spec.threads) - t0), per_step(process() - c0))
        })
        .collect();
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    (times[1].0, check, times[1].1)
}

/// GFLOP/s of `C = A·B`, 1024³, one thread (matrixmultiply called directly, thread CPU time)
/// and `threads` threads (the engine's blocked product, wall-clock time); median of 5.
fn peak<T: Float>(threads: usize) -> (f64, f64) {
    let n = 1024;
    let a: Vec<T> = (0..n * n)
        .map(|i| T::from_f64((i % 7) as f64 * 0.1))
        .collect();
    let b: Vec<T> = (0..n * n)
        .map(|i| T::from_f64((i % 5) as f64 * 0.1))
        .collect();
    let mut c = vec![T::zero(); n * n];
    let flops = 2.0 * (n * n * n) as f64;
    let mut one: Vec<f64> = (0..5)
        .map(|_| {
            let t0 = now(1);
            // SAFETY: all three buffers are n·n, dense row-major; `c` is distinct.
            unsafe {
                T::gemm(
                    n,
                    n,
                    n,
                    T::one(),
                    a.as_ptr(),
                    n as isize,
                    1,
                    b.as_ptr(),
                    n as isize,
                    1,
                    T::zero(),
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                )
            };
            flops / (now(1) - t0)
        })
        .collect();
    one.sort_by(f64::total_cmp);
    ferrograd::engine::set_num_threads(threads);
    let (ta, tb) = (Tensor::from_vec(a, &[n, n]), Tensor::from_vec(b, &[n, n]));
    let mut many: Vec<f64> = (0..5)
        .map(|_| {
            let t0 = now(threads);
            std::hint::black_box(ta.matmul(&tb));
            flops / (now(threads) - t0)
        })
        .collect();
    many.sort_by(f64::total_cmp);
    (one[2], many[2])
}

fn main() {
    let selected: Option<Vec<String>> = std::env::var("FERROGRAD_WORKLOADS")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let wanted = |name: &str| {
        selected.as_ref().is_none_or(|sel| {
            sel.iter().any(|s| match s.strip_suffix('$') {
                Some(exact) => name == exact,
                None => name.starts_with(s.as_str()),
            })
        })
    };
    if wanted("peak") {
        for (name, (one, two)) in [
            ("peak_sgemm", peak::<f32>(2)),
            ("peak_dgemm", peak::<f64>(2)),
        ] {
            println!(
                "RESULT {{\"name\": \"{name}\", \"gflops_1t\": {one:.2}, \"gflops_2t\": {two:.2}}}"
            );
        }
    }
    for spec in SPECS {
        if !wanted(spec.name) {
            continue;
        }
        ferrograd::engine::set_num_threads(spec.threads);
        let (us, check, cpu) = if spec.f32 {
            run::<f32>(spec)
        } else {
            run::<f64>(spec)
        };
        println!(
            "RESULT {{\"name\": \"{}\", \"us_per_step\": {us:.3}, \"check_cost\": {check:.17e}, \
             \"threads\": {}, \"dropout\": {}, \"process_cpu_us_per_step\": {cpu:.3}}}",
            spec.name,
            spec.threads,
            spec.keep_prob.is_some()
        );
    }
}
