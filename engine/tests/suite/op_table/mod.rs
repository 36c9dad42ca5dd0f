//! The op table's generated tests: every row of [`rows::rows`] (one per differentiable
//! operation, plus compositions) through every check that applies.
//!
//! - first order: reverse-mode gradients against central differences;
//! - second order: gradients of gradients (through `create_graph`) against central differences
//!   of the gradient, on `Σ w ⊙ f(x)³` so that linear ops (and square roots) have a non-zero
//!   second derivative;
//! - forward mode: `J·u` against central differences along `u` and against reverse mode
//!   (`⟨v, J·u⟩ = ⟨Jᵀv, u⟩`);
//! - f32: values and gradients in f32 follow the f64 ones;
//! - values against a naive loop reference (`reference.rs`);
//! - `create_graph` gives bit-identical first-order gradients;
//! - coverage: every `Op` variant is recorded by some row's sample.
//!
//! Outputs are reduced to a scalar with fixed irregular weights `w`, not a plain sum, so every
//! output component counts differently: a gradient routed to the wrong place, or an op whose
//! plain sum is constant (softmax), cannot pass. Each test gathers every failing row and sample
//! before failing, so one run lists them all. To add an operation, see `rows.rs`.

mod reference;
mod rows;

use std::collections::BTreeSet;

use engine::autograd::Op;
use engine::check::{
    check_jvp, gradcheck, gradgradcheck, relative_difference, CheckConfig, JvpCheckConfig,
};
use engine::{grad, BackwardOptions, Float, Tensor};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use reference::Arr;
use rows::{rows, Domain, Row, Sample};

/// Lists every `Op` variant by name. The match has no wildcard, so adding a variant to `Op`
/// stops this file compiling until the variant is listed here; the coverage test then fails
/// until a row records it.
macro_rules! op_variants {
    ($($pattern:pat => $name:literal,)*) => {
        fn variant_name(op: &Op<f64>) -> &'static str {
            match op {
                $($pattern => $name,)*
            }
        }
        const VARIANTS: &[&str] = &[$($name),*];
    };
}

op_variants! {
    Op::Add => "Add",
    Op::Sub => "Sub",
    Op::Mul => "Mul",
    Op::Div => "Div",
    Op::Pow => "Pow",
    Op::Maximum => "Maximum",
    Op::Minimum => "Minimum",
    Op::Neg => "Neg",
    Op::Exp => "Exp",
    Op::Log => "Log",
    Op::Sqrt => "Sqrt",
    Op::Abs => "Abs",
    Op::Square => "Square",
    Op::PowScalar(_) => "PowScalar",
    Op::Sin => "Sin",
    Op::Cos => "Cos",
    Op::Relu => "Relu",
    Op::LeakyRelu(_) => "LeakyRelu",
    Op::Sigmoid => "Sigmoid",
    Op::Tanh => "Tanh",
    Op::Clamp(..) => "Clamp",
    Op::MatMul => "MatMul",
    Op::MatMulAdd => "MatMulAdd",
    Op::Reshape { .. } => "Reshape",
    Op::Permute { .. } => "Permute",
    Op::BroadcastTo { .. } => "BroadcastTo",
    Op::SumTo { .. } => "SumTo",
    Op::Sum { .. } => "Sum",
    Op::Mean { .. } => "Mean",
    Op::Max { .. } => "Max",
    Op::Min { .. } => "Min",
    Op::Softmax { .. } => "Softmax",
    Op::LogSoftmax { .. } => "LogSoftmax",
    Op::Concat { .. } => "Concat",
    Op::Narrow { .. } => "Narrow",
    Op::IndexSelect { .. } => "IndexSelect",
    Op::IndexAdd { .. } => "IndexAdd",
    Op::Gather { .. } => "Gather",
    Op::ScatterAdd { .. } => "ScatterAdd",
    Op::Where { .. } => "Where",
    Op::BceWithLogits => "BceWithLogits",
    Op::BceOfSigmoid { .. } => "BceOfSigmoid",
    Op::SoftmaxCrossEntropy { .. } => "SoftmaxCrossEntropy",
    Op::Custom(_) => "Custom",
    Op::Im2Col { .. } => "Im2Col",
    Op::Col2Im { .. } => "Col2Im",
    Op::Erf => "Erf",
    Op::Erfc => "Erfc",
    Op::Log1p => "Log1p",
    Op::Expm1 => "Expm1",
    Op::Rsqrt => "Rsqrt",
    Op::Softplus => "Softplus",
    Op::Silu => "Silu",
    Op::Gelu => "Gelu",
    Op::GeluTanh => "GeluTanh",
}

/// Step of the central differences in f64: small enough that the O(ε²) truncation error is
/// about 1e-12, large enough that rounding (about 1e-16/ε) stays near 1e-10.
const EPSILON: f64 = 1e-6;
/// First-order relative difference ‖a−b‖/(‖a‖+‖b‖) every row must stay under: with the ε above
/// agreement is about 1e-10, and a wrong rule (a sign, a factor, a misplaced element) gives
/// differences of order 1e-1.
const FIRST_ORDER: f64 = 1e-7;
/// Second order differentiates the gradient numerically, which carries the first order's
/// rounding divided by ε once more: about 1e-8 at worst here.
const SECOND_ORDER: f64 = 1e-6;

/// Sample input values, reproducible from `seed`.
fn values(shape: &[usize], domain: &Domain, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    match domain {
        Domain::Real => (0..n).map(|_| rng.random_range(-2.0..2.0)).collect(),
        Domain::Positive => (0..n).map(|_| rng.random_range(0.3..2.5)).collect(),
        Domain::Unit => (0..n).map(|_| rng.random_range(0.05..0.95)).collect(),
        Domain::AwayFrom(points) => (0..n)
            .map(|_| loop {
                let v: f64 = rng.random_range(-2.0..2.0);
                if points.iter().all(|p| (v - p).abs() >= 0.1) {
                    break v;
                }
            })
            .collect(),
        Domain::Wide => (0..n).map(|_| rng.random_range(-10.0..10.0)).collect(),
        Domain::Distinct => {
            let mut v: Vec<f64> = (0..n)
                .map(|k| -1.5 + 0.13 * k as f64 + rng.random_range(0.0..0.02))
                .collect();
            v.shuffle(&mut rng);
            v
        }
    }
}

/// The stored inputs of sample `k` of row `r` (transposed samples store the last two
/// dimensions swapped; [`view`] turns them back).
fn inputs(r: usize, k: usize, sample: &Sample) -> Vec<Tensor<f64>> {
    sample
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let mut shape = input.shape.clone();
            let n = shape.len();
            if sample.transposed && n >= 2 {
                shape.swap(n - 2, n - 1);
            }
            let seed = (r * 1000 + k * 10 + i) as u64;
            Tensor::from_vec(values(&shape, &input.domain, seed), &shape)
        })
        .collect()
}

/// The inputs as the operation sees them: transposed views for a transposed sample.
fn view<T: Float>(sample: &Sample, v: &[Tensor<T>]) -> Vec<Tensor<T>> {
    v.iter()
        .map(|x| {
            if sample.transposed && x.ndim() >= 2 {
                x.transpose(-2, -1)
            } else {
                x.clone()
            }
        })
        .collect()
}

/// Fixed irregular weights of `shape`, in `[-0.9, 1.1)`.
fn weights<T: Float>(shape: &[usize]) -> Tensor<T> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|k| T::from_f64(((k as f64 + 1.0) * 0.754_877_666).fract() * 2.0 - 0.9))
        .collect();
    Tensor::from_vec(data, shape)
}

/// `Σ w ⊙ out`.
fn weighted<T: Float>(out: Tensor<T>) -> Tensor<T> {
    (&out * &weights(out.shape())).sum()
}

/// Runs `check` on every sample of every row, gathering the failures into one panic.
#[track_caller]
fn for_every_sample(
    what: &str,
    applies: impl Fn(&Row) -> bool,
    check: impl Fn(&Row, &Sample, &[Tensor<f64>]) -> Result<(), String>,
) {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (r, row) in rows().iter().enumerate() {
        if !applies(row) {
            continue;
        }
        for (k, sample) in row.samples.iter().enumerate() {
            checked += 1;
            let shapes: Vec<&[usize]> = sample.inputs.iter().map(|i| &i.shape[..]).collect();
            let tag = if sample.transposed {
                " (transposed views)"
            } else {
                ""
            };
            let x = inputs(r, k, sample);
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(row, sample, &x)))
                    .unwrap_or_else(|payload| {
                        let text = payload
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()));
                        Err(format!("panicked: {}", text.unwrap_or_default()))
                    });
            if let Err(message) = outcome {
                failures.push(format!("{} on {shapes:?}{tag}: {message}", row.name));
            }
        }
    }
    assert!(checked > 0, "{what}: no row applies");
    assert!(
        failures.is_empty(),
        "{what}: {} of {checked} samples failed\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_op_variant_is_recorded_by_some_row() {
    let mut seen = BTreeSet::new();
    for (r, row) in rows().iter().enumerate() {
        for (k, sample) in row.samples.iter().enumerate() {
            let leaves: Vec<Tensor<f64>> =
                inputs(r, k, sample).iter().map(Tensor::to_leaf).collect();
            let out = (row.f.f64)(&view(sample, &leaves));
            let mut stack = vec![out];
            while let Some(t) = stack.pop() {
                if let Some(node) = t.grad_fn() {
                    seen.insert(variant_name(node.op()));
                    stack.extend(node.inputs().iter().cloned());
                }
            }
        }
    }
    let missing: Vec<&str> = VARIANTS
        .iter()
        .filter(|v| !seen.contains(*v))
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "no row of the op table records {missing:?}: add one to engine/tests/suite/op_table/rows.rs"
    );
}

#[test]
fn first_order_gradients_match_central_differences() {
    for_every_sample(
        "gradcheck",
        |_| true,
        |row, sample, x| {
            let f = |v: &[Tensor<f64>]| weighted((row.f.f64)(&view(sample, v)));
            let report = gradcheck(
                &f,
                x,
                CheckConfig::default()
                    .epsilon(EPSILON)
                    .relative(FIRST_ORDER),
            );
            if report.passed() {
                Ok(())
            } else {
                Err(report.to_string())
            }
        },
    );
}

#[test]
fn no_row_has_an_identically_zero_gradient() {
    // A gradient check of a function whose gradient is zero everywhere would pass vacuously.
    for (r, row) in rows().iter().enumerate() {
        let nonzero = row.samples.iter().enumerate().any(|(k, sample)| {
            let leaves: Vec<Tensor<f64>> =
                inputs(r, k, sample).iter().map(Tensor::to_leaf).collect();
            let out = weighted((row.f.f64)(&view(sample, &leaves)));
            let refs: Vec<&Tensor<f64>> = leaves.iter().collect();
            grad(&out, &refs, BackwardOptions::default())
                .iter()
                .any(|g| g.to_vec().iter().any(|&v| v != 0.0))
        });
        assert!(
            nonzero,
            "{}: every gradient is zero on every sample",
            row.name
        );
    }
}

#[test]
fn second_order_gradients_match_central_differences() {
    for_every_sample(
        "gradgradcheck",
        |row| row.second_order,
        |row, sample, x| {
            let f = |v: &[Tensor<f64>]| {
                let out = (row.f.f64)(&view(sample, v));
                weighted(&out * &out * &out)
            };
            let report = gradgradcheck(
                &f,
                x,
                CheckConfig::default()
                    .epsilon(EPSILON)
                    .relative(SECOND_ORDER),
            );
            if report.passed() {
                Ok(())
            } else {
                Err(report.to_string())
            }
        },
    );
}

#[test]
fn forward_mode_matches_central_differences_and_reverse_mode() {
    for_every_sample(
        "forward mode",
        |_| true,
        |row, sample, x| {
            let f = |v: &[Tensor<f64>]| (row.f.f64)(&view(sample, v));
            for seed in 0..2 {
                let check = check_jvp(
                    f,
                    x,
                    JvpCheckConfig {
                        seed,
                        ..JvpCheckConfig::default()
                    },
                );
                if !check.passed() {
                    return Err(format!("direction {seed}\n{check}"));
                }
            }
            Ok(())
        },
    );
}

/// f32 carries 24 bits (relative rounding 6e-8); after the handful of operations of a row and
/// the weighted sum, values and gradients stay within a few hundred roundings of the f64 ones.
const F32_TOLERANCE: f64 = 1e-5;

#[test]
fn f32_values_and_gradients_follow_f64() {
    fn run<T: Float>(
        f: fn(&[Tensor<T>]) -> Tensor<T>,
        sample: &Sample,
        x: &[Tensor<T>],
    ) -> (Vec<f64>, Vec<f64>) {
        let leaves: Vec<Tensor<T>> = x.iter().map(Tensor::to_leaf).collect();
        let out = f(&view(sample, &leaves));
        let values = out.to_f64_vec();
        let refs: Vec<&Tensor<T>> = leaves.iter().collect();
        let grads = grad(&weighted(out), &refs, BackwardOptions::default());
        (values, grads.iter().flat_map(Tensor::to_f64_vec).collect())
    }
    for_every_sample(
        "f32 against f64",
        |_| true,
        |row, sample, x| {
            let x32: Vec<Tensor<f32>> = x.iter().map(|t| t.cast()).collect();
            // The f64 reference starts from the same (f32-rounded) inputs.
            let x64: Vec<Tensor<f64>> = x32.iter().map(|t| t.cast()).collect();
            let (v64, g64) = run(row.f.f64, sample, &x64);
            let (v32, g32) = run(row.f.f32, sample, &x32);
            let (dv, dg) = (
                relative_difference(&v32, &v64),
                relative_difference(&g32, &g64),
            );
            if dv < F32_TOLERANCE && dg < F32_TOLERANCE {
                Ok(())
            } else {
                Err(format!("values differ by {dv:.3e}, gradients by {dg:.3e}"))
            }
        },
    );
}

#[test]
fn values_match_a_naive_loop() {
    for_every_sample(
        "naive reference",
        |row| row.reference.is_some(),
        |row, sample, x| {
            let seen = view(sample, x);
            let out = (row.f.f64)(&seen);
            let arrs: Vec<Arr> = seen
                .iter()
                .map(|t| Arr {
                    shape: t.shape().to_vec(),
                    data: t.to_vec(),
                })
                .collect();
            let expected = (row.reference.unwrap())(&arrs);
            if out.shape() != expected.shape.as_slice() {
                return Err(format!(
                    "shape {:?}, the loop gives {:?}",
                    out.shape(),
                    expected.shape
                ));
            }
            // The loop may add in another order than the kernels: allow a few roundings.
            for (k, (a, b)) in out.to_vec().iter().zip(&expected.data).enumerate() {
                if (a - b).abs() > 1e-12 * (1.0 + b.abs()) {
                    return Err(format!("element {k}: {a:e}, the loop gives {b:e}"));
                }
            }
            Ok(())
        },
    );
}

#[test]
fn create_graph_gives_the_same_first_order_gradients() {
    for_every_sample(
        "create_graph",
        |_| true,
        |row, sample, x| {
            let gradients = |create_graph: bool| -> Vec<Vec<f64>> {
                let leaves: Vec<Tensor<f64>> = x.iter().map(Tensor::to_leaf).collect();
                let out = weighted((row.f.f64)(&view(sample, &leaves)));
                let refs: Vec<&Tensor<f64>> = leaves.iter().collect();
                grad(&out, &refs, BackwardOptions { create_graph })
                    .iter()
                    .map(Tensor::to_vec)
                    .collect()
            };
            let (plain, recorded) = (gradients(false), gradients(true));
            if plain == recorded {
                Ok(())
            } else {
                Err(format!(
                    "without create_graph {plain:?}\nwith create_graph {recorded:?}"
                ))
            }
        },
    );
}

/// At a tie the extrema rules make a choice central differences cannot check (the function has
/// a kink there): the gradient is shared evenly between the tied operands or elements, in both
/// modes. Exact values, since `0.5` and thirds of small integers are what the rules compute.
#[test]
fn ties_share_the_gradient_evenly() {
    let a = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], &[3]).to_leaf();
    let b = Tensor::<f64>::from_vec(vec![1.0, 0.0, 5.0], &[3]).to_leaf();
    for (name, out) in [("maximum", a.maximum(&b)), ("minimum", a.minimum(&b))] {
        let g = grad(&(&out * 2.0).sum(), &[&a, &b], BackwardOptions::default());
        let larger = name == "maximum";
        // Element 0 ties: each operand gets half of 2; elsewhere the winner gets all of it.
        let (ga, gb) = if larger {
            (vec![1.0, 2.0, 0.0], vec![1.0, 0.0, 2.0])
        } else {
            (vec![1.0, 0.0, 2.0], vec![1.0, 2.0, 0.0])
        };
        assert_eq!((g[0].to_vec(), g[1].to_vec()), (ga, gb), "{name}");
        let ones = Tensor::ones(&[3]);
        let (_, ju) = engine::jvp(
            |v| {
                if larger {
                    v[0].maximum(&v[1])
                } else {
                    v[0].minimum(&v[1])
                }
            },
            &[a.detach(), b.detach()],
            &[ones.clone(), Tensor::zeros(&[3])],
        );
        assert_eq!(
            ju.to_vec(),
            g[0].to_vec().iter().map(|x| x / 2.0).collect::<Vec<_>>()
        );
    }
    let x = Tensor::<f64>::from_vec(vec![3.0, 1.0, 3.0, 3.0, 0.0, 3.0], &[2, 3]).to_leaf();
    for (name, out) in [("max", x.max()), ("min", (-&x).min())] {
        let g = grad(&out, &[&x], BackwardOptions::default());
        let sign = if name == "max" { 1.0 } else { -1.0 };
        let q = 0.25 * sign;
        assert_eq!(g[0].to_vec(), vec![q, 0.0, q, q, 0.0, q], "{name}");
    }
    let g = grad(
        &x.max_axis(1, false).sum(),
        &[&x],
        BackwardOptions::default(),
    );
    assert_eq!(g[0].to_vec(), vec![0.5, 0.0, 0.5, 0.5, 0.0, 0.5]);
    // Forward mode makes the same choice: the tangent of a maximum is the mean tangent of its
    // ties (of the 3s at positions 0, 2, 3 and 5 along u = 1..6).
    let u = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let tangent = |f: fn(&Tensor<f64>) -> Tensor<f64>| {
        engine::jvp(|v| f(&v[0]), &[x.detach()], std::slice::from_ref(&u))
            .1
            .to_vec()
    };
    assert_eq!(tangent(|x| x.max()), vec![3.5]);
    assert_eq!(tangent(|x| -(-x).min()), vec![3.5]);
    assert_eq!(tangent(|x| x.max_axis(1, false)), vec![2.0, 5.0]);
    assert_eq!(tangent(|x| x.max_axis(1, true)), vec![2.0, 5.0]);
}

/// At a kink central differences cannot decide the derivative (they average the two one-sided
/// slopes), so the convention each rule documents is checked here exactly, in both modes:
/// `relu'(0) = 0` and `abs'(0) = 0` (PyTorch's choices), `leaky_relu'(0) = slope`, and `clamp`
/// passes the gradient at its bounds.
#[test]
fn kinks_take_the_documented_subgradient() {
    type Unary = fn(&Tensor<f64>) -> Tensor<f64>;
    let cases: [(&str, Unary, [f64; 5], [f64; 5]); 4] = [
        (
            "relu",
            |x| x.relu(),
            [-1.0, 0.0, 1.0, -0.0, 2.0],
            [0.0, 0.0, 1.0, 0.0, 1.0],
        ),
        (
            "abs",
            |x| x.abs(),
            [-1.0, 0.0, 1.0, -0.0, 2.0],
            [-1.0, 0.0, 1.0, 0.0, 1.0],
        ),
        (
            "leaky_relu 0.1",
            |x| x.leaky_relu(0.1),
            [-1.0, 0.0, 1.0, -0.0, 2.0],
            [0.1, 0.1, 1.0, 0.1, 1.0],
        ),
        (
            "clamp -0.5 0.5",
            |x| x.clamp(-0.5, 0.5),
            [-0.5, 0.5, 0.0, -1.0, 1.0],
            [1.0, 1.0, 1.0, 0.0, 0.0],
        ),
    ];
    for (name, f, at, slopes) in cases {
        let x = Tensor::from_vec(at.to_vec(), &[5]).to_leaf();
        let g = grad(&f(&x).sum(), &[&x], BackwardOptions::default()).remove(0);
        assert_eq!(g.to_vec(), slopes, "{name}: reverse mode");
        let (_, ju) = engine::jvp(|v| f(&v[0]), &[x.detach()], &[Tensor::ones(&[5])]);
        assert_eq!(ju.to_vec(), slopes, "{name}: forward mode");
    }
}
