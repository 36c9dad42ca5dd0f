//! The graph and reverse-mode autodiff: accumulation when a tensor is used several times,
//! `no_grad`, `detach`, freeing of graphs (counted live nodes), and higher-order derivatives
//! (closed-form second derivatives, a Hessian-vector product, gradgradcheck).

use crate::common::{check, randn, TOLERANCE};
use ferrograd::engine::autograd::{graph_memory, live_nodes};
use ferrograd::engine::gradcheck::{gradgradcheck, GradcheckConfig};
use ferrograd::engine::{backward_with, grad, loss, no_grad, BackwardOptions, Tensor};

/// A scalar function of several tensors, as gradgradcheck takes.
type ScalarFn = dyn Fn(&[Tensor<f64>]) -> Tensor<f64>;

/// A named function and the point to check it at.
type Case = (&'static str, Box<ScalarFn>, Vec<Tensor<f64>>);

const CREATE_GRAPH: BackwardOptions = BackwardOptions { create_graph: true };

fn param(values: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::parameter(values.to_vec(), shape)
}

#[track_caller]
fn assert_close(got: &[f64], want: &[f64], tolerance: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tolerance * w.abs().max(1.0),
            "{got:?}\n   vs {want:?}"
        );
    }
}

// ----- accumulation ------------------------------------------------------------------------------

#[test]
fn a_tensor_used_twice_gets_both_contributions() {
    let x = param(&[1.5, -2.0, 0.25], &[3]);
    (&x * &x).sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![3.0, -4.0, 0.5]);
}

#[test]
fn diamond_sums_both_branches() {
    // y = e^x feeds two branches: z = 2y + sin y, so dz/dx = e^x (2 + cos e^x).
    let values = [0.3, -1.1, 0.8];
    let x = param(&values, &[3]);
    let y = x.exp();
    (&y * 2.0 + y.sin()).sum().backward();
    let want: Vec<f64> = values
        .iter()
        .map(|v: &f64| v.exp() * (2.0 + v.exp().cos()))
        .collect();
    assert_close(&x.grad().unwrap().to_vec(), &want, 1e-14);
}

#[test]
fn shared_weights_accumulate_across_layers() {
    // The same W in two layers: f(W) = Σ u ⊙ W·tanh(W·v).
    let w = randn(&[3, 3], 1);
    let v = randn(&[3, 2], 2);
    let u = randn(&[3, 2], 3);
    let f = |w: &Tensor<f64>| (w.matmul(&w.matmul(&v).tanh()) * &u).sum();
    check("shared weights", |x| f(&x[0]), std::slice::from_ref(&w));
    // `.grad` after backward equals what `grad` returns, which the check above validated.
    let leaf = w.to_leaf();
    f(&leaf).backward();
    let via_grad = grad(&f(&leaf), &[&leaf], BackwardOptions::default());
    assert_eq!(leaf.grad().unwrap().to_vec(), via_grad[0].to_vec());
}

#[test]
fn backward_adds_into_grad_until_zero_grad() {
    let x = param(&[2.0], &[1]);
    (&x * 3.0).sum().backward();
    (&x * 3.0).sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![6.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
    x.square().sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![4.0]);
}

#[test]
fn grad_leaves_dot_grad_untouched_and_gives_zeros_for_unused_inputs() {
    let x = param(&[1.0, 2.0], &[2]);
    let unused = param(&[5.0], &[1]);
    let g = grad(
        &x.square().sum(),
        &[&x, &unused],
        BackwardOptions::default(),
    );
    assert_eq!(g[0].to_vec(), vec![2.0, 4.0]);
    assert_eq!(g[1].to_vec(), vec![0.0]);
    assert!(x.grad().is_none() && unused.grad().is_none());
}

#[test]
fn explicit_output_gradient_and_retained_intermediate() {
    let x = param(&[1.0, 2.0, 3.0], &[3]);
    let y = x.square();
    y.retain_grad();
    let seed = Tensor::from_vec(vec![1.0, 0.5, -1.0], &[3]);
    backward_with(&y, &seed, BackwardOptions::default());
    assert_eq!(y.grad().unwrap().to_vec(), seed.to_vec());
    assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 2.0, -6.0]);
}

#[test]
fn constants_get_no_gradient_and_skip_work() {
    let w = param(&[1.0, 2.0], &[1, 2]);
    let x = Tensor::from_vec(vec![3.0, 4.0], &[2, 1]);
    w.matmul(&x).sum().backward();
    assert!(x.grad().is_none());
    assert!(!x.requires_grad());
    assert_eq!(w.grad().unwrap().to_vec(), vec![3.0, 4.0]);
}

// ----- no_grad, detach, in-place updates --------------------------------------------------------

#[test]
fn no_grad_records_nothing() {
    let w = param(&[1.0, -2.0], &[2]);
    let before = live_nodes();
    let y = no_grad(|| (&w * 3.0).exp().sum());
    assert!(!y.requires_grad());
    assert!(y.grad_fn().is_none());
    assert_eq!(y.graph_node_count(), 0);
    assert_eq!(live_nodes(), before);
    // Recording resumes after the scope, also after nested scopes.
    let z = no_grad(|| no_grad(|| &w * 1.0));
    assert!(!z.requires_grad());
    let r = &w * 1.0;
    assert!(r.requires_grad());
    let summary = r.graph_summary();
    assert_eq!(
        (
            summary.operations,
            summary.parameters,
            summary.constants,
            summary.edges
        ),
        (1, 1, 1, 2)
    );
}

#[test]
fn detach_stops_the_gradient_and_shares_the_buffer() {
    let values = [0.5, -1.5, 2.0];
    let x = param(&values, &[3]);
    let d = x.detach();
    assert!(!d.requires_grad() && d.is_leaf());
    assert_eq!(d.to_vec(), x.to_vec());
    // d(c·x)/dx = c where c = detach(x): only the tracked factor contributes.
    (&d * &x).sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), values.to_vec());
}

#[test]
#[should_panic(expected = "backward: input 0 (shape [1], \"w\") of square")]
fn backward_refuses_a_graph_whose_parameter_was_updated_in_place() {
    let w = param(&[2.0], &[1]).named("w");
    let y = w.square().sum();
    w.update_data(|d| d[0] = 100.0);
    // The graph saw w = 2; differentiating at w = 100 would be silently wrong.
    y.backward();
}

#[test]
fn views_keep_their_values_when_the_parameter_is_updated() {
    let w = param(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let view = w.t();
    w.update_data(|d| d.fill(0.0));
    assert_eq!(view.to_vec(), vec![1.0, 3.0, 2.0, 4.0]);
    assert_eq!(w.version(), 1);
    // A graph recorded after the update differentiates normally.
    w.square().sum().backward();
    assert_eq!(w.grad().unwrap().to_vec(), vec![0.0; 4]);
}

// ----- freeing -----------------------------------------------------------------------------------

fn training_step(params: &[Tensor<f64>], x: &Tensor<f64>, labels: &[usize]) -> f64 {
    let a1 = (params[0].matmul(x) + &params[1]).relu();
    let z2 = params[2].matmul(&a1) + &params[3];
    let cost = loss::softmax_cross_entropy_indices(&z2, labels);
    cost.backward();
    for p in params {
        let g = p.grad().unwrap().to_vec();
        p.update_data(|d| d.iter_mut().zip(&g).for_each(|(v, g)| *v -= 0.1 * g));
        p.zero_grad();
    }
    cost.item()
}

#[test]
fn graphs_are_freed_so_memory_stays_flat_over_many_steps() {
    let params: Vec<Tensor<f64>> = [&[5, 4][..], &[5, 1], &[3, 5], &[3, 1]]
        .iter()
        .enumerate()
        .map(|(k, s)| (randn(s, k as u64) * 0.5).to_leaf())
        .collect();
    let x = randn(&[4, 6], 9);
    let labels = [0, 1, 2, 2, 1, 0];
    let baseline = graph_memory();
    // The counter does see graphs: one forward records nodes and their bytes.
    let probe = (params[0].matmul(&x) + &params[1]).relu();
    assert_eq!(live_nodes(), baseline.live_nodes + 3);
    assert!(graph_memory().live_bytes > baseline.live_bytes);
    drop(probe);
    assert_eq!(graph_memory(), baseline);
    let first = training_step(&params, &x, &labels);
    let mut last = first;
    for _ in 0..20_000 {
        last = training_step(&params, &x, &labels);
        assert_eq!(
            graph_memory(),
            baseline,
            "a training step left graph nodes alive"
        );
    }
    assert!(last < first, "training made progress: {first} -> {last}");
}

#[test]
fn keeping_losses_alive_is_visible_in_the_count() {
    let w = param(&[1.0, 2.0], &[2]);
    let before = live_nodes();
    let kept: Vec<Tensor<f64>> = (0..10).map(|_| (&w * &w).exp().sum()).collect();
    assert_eq!(live_nodes(), before + 30);
    drop(kept);
    assert_eq!(live_nodes(), before);
}

#[test]
fn a_very_deep_graph_runs_backward_and_drops_without_overflowing_the_stack() {
    let x = param(&[1.0], &[1]);
    let mut y = x.clone();
    for _ in 0..200_000 {
        y = &y * 1.000_001;
    }
    y.sum().backward();
    let want = 1.000_001f64.powi(200_000);
    assert!((x.grad().unwrap().item() - want).abs() < 1e-9 * want);
    let before = live_nodes();
    drop(y);
    assert_eq!(live_nodes(), before - 200_000);
}

// ----- higher order ------------------------------------------------------------------------------

/// First and second derivatives of an elementwise `f` at `xs`, by differentiating twice.
fn first_and_second(f: impl Fn(&Tensor<f64>) -> Tensor<f64>, xs: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let x = param(xs, &[xs.len()]);
    let d1 = grad(&f(&x).sum(), &[&x], CREATE_GRAPH).remove(0);
    assert!(d1.requires_grad(), "create_graph records the backward pass");
    let d2 = grad(&d1.sum(), &[&x], BackwardOptions::default()).remove(0);
    (d1.to_vec(), d2.to_vec())
}

const POINTS: [f64; 6] = [-2.5, -0.7, -0.1, 0.3, 1.2, 3.0];

#[test]
fn second_derivative_of_sin() {
    let (d1, d2) = first_and_second(Tensor::sin, &POINTS);
    assert_close(&d1, &POINTS.map(f64::cos), 1e-15);
    assert_close(&d2, &POINTS.map(|x| -x.sin()), 1e-15);
}

#[test]
fn second_derivative_of_tanh() {
    let (d1, d2) = first_and_second(Tensor::tanh, &POINTS);
    let t = POINTS.map(f64::tanh);
    assert_close(&d1, &t.map(|t| 1.0 - t * t), 1e-14);
    assert_close(&d2, &t.map(|t| -2.0 * t * (1.0 - t * t)), 1e-14);
}

#[test]
fn second_derivative_of_sigmoid() {
    let (d1, d2) = first_and_second(Tensor::sigmoid, &POINTS);
    let s = POINTS.map(|x| 1.0 / (1.0 + (-x).exp()));
    assert_close(&d1, &s.map(|s| s * (1.0 - s)), 1e-14);
    assert_close(&d2, &s.map(|s| s * (1.0 - s) * (1.0 - 2.0 * s)), 1e-14);
}

#[test]
fn second_derivative_of_a_cube_three_ways() {
    let want1 = POINTS.map(|x| 3.0 * x * x);
    let want2 = POINTS.map(|x| 6.0 * x);
    for (name, f) in [
        (
            "powf",
            &(|x: &Tensor<f64>| x.powf(3.0)) as &dyn Fn(&Tensor<f64>) -> Tensor<f64>,
        ),
        ("x*x*x", &|x: &Tensor<f64>| x * x * x),
        ("x*square", &|x: &Tensor<f64>| x * x.square()),
    ] {
        let (d1, d2) = first_and_second(f, &POINTS);
        assert_close(&d1, &want1, 1e-14);
        assert_close(&d2, &want2, 1e-14);
        let _ = name;
    }
}

#[test]
fn third_derivative_of_a_cube_is_six() {
    let x = param(&[0.5, -2.0], &[2]);
    let d1 = grad(&x.powf(3.0).sum(), &[&x], CREATE_GRAPH).remove(0);
    let d2 = grad(&d1.sum(), &[&x], CREATE_GRAPH).remove(0);
    let d3 = grad(&d2.sum(), &[&x], BackwardOptions::default()).remove(0);
    assert_close(&d3.to_vec(), &[6.0, 6.0], 1e-14);
}

#[test]
fn hessian_vector_product_matches_the_closed_form() {
    // f(x) = ½ xᵀAx + Σ sin x, so H = (A + Aᵀ)/2 - diag(sin x) and Hv follows by hand.
    let n = 5;
    let a = randn(&[n, n], 1);
    let xs = randn(&[n, 1], 2).to_vec();
    let v = randn(&[n, 1], 3);
    let x = param(&xs, &[n, 1]);
    let f = x.t().matmul(&a.matmul(&x)).sum() * 0.5 + x.sin().sum();
    let g = grad(&f, &[&x], CREATE_GRAPH).remove(0);
    let hv = grad(&(&g * &v).sum(), &[&x], BackwardOptions::default()).remove(0);
    let (av, vv) = (a.to_vec(), v.to_vec());
    let want: Vec<f64> = (0..n)
        .map(|i| {
            let sym: f64 = (0..n)
                .map(|j| 0.5 * (av[i * n + j] + av[j * n + i]) * vv[j])
                .sum();
            sym - xs[i].sin() * vv[i]
        })
        .collect();
    assert_close(&hv.to_vec(), &want, 1e-13);
}

#[test]
fn gradgradcheck_on_composite_functions() {
    let config = GradcheckConfig {
        epsilon: 1e-6,
        worst: 5,
        ..GradcheckConfig::default()
    }
    .relative(TOLERANCE);
    let cases: Vec<Case> = vec![
        (
            "matmul tanh",
            Box::new(|v| (v[0].matmul(&v[1]).tanh() * 1.5).sum()),
            vec![randn(&[3, 4], 1), randn(&[4, 2], 2)],
        ),
        (
            "softmax cross-entropy",
            Box::new(|v| loss::softmax_cross_entropy_indices(&v[0], &[1, 0, 2])),
            vec![randn(&[3, 3], 3)],
        ),
        (
            "sigmoid, div, broadcasting",
            Box::new(|v| ((&v[0] / (v[1].square() + 1.0)).sigmoid() * &v[0]).mean()),
            vec![randn(&[2, 3], 4), randn(&[3], 5)],
        ),
        (
            "log, exp, sqrt, var",
            Box::new(|v| {
                let p = v[0].exp() + 1.0;
                p.log().sum() + p.sqrt().var_axis(1, false, true).sum()
            }),
            vec![randn(&[2, 4], 6)],
        ),
        (
            "bce with logits, log_softmax",
            Box::new(|v| {
                let t = Tensor::from_vec(vec![1.0, 0.0, 1.0], &[1, 3]);
                loss::binary_cross_entropy_with_logits(&v[0], &t)
                    + v[0].log_softmax(1).square().sum()
            }),
            vec![randn(&[1, 3], 7)],
        ),
    ];
    for (name, f, inputs) in cases {
        let report = gradgradcheck(&*f, &inputs, config);
        assert!(report.passed(), "{name}\n{report}");
    }
}
