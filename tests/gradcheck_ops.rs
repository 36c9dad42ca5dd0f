//! Every differentiable operation gradient-checked in f64 (central differences, eq. 6.56,
//! against autodiff; relative difference eq. 6.57 below 1e-7), on several shapes: broadcasting
//! in both directions, size-1 and non-square dimensions, 0-d scalars.

mod common;

use common::{away_from_zero, check, randn, uniform};
use ferrograd::engine::{loss, Tensor};

/// Operand shape pairs for binary ops: same shape, each side broadcast, both sides broadcast,
/// rank promotion, scalars and size-1 dimensions.
const PAIRS: &[(&[usize], &[usize])] = &[
    (&[3, 4], &[3, 4]),
    (&[3, 4], &[4]),
    (&[4], &[3, 4]),
    (&[3, 1], &[1, 4]),
    (&[5, 1], &[5, 7]),
    (&[2, 1, 5], &[3, 1]),
    (&[], &[2, 3]),
    (&[2, 3], &[]),
    (&[1], &[1, 1]),
    (&[4, 3], &[1, 1]),
];

const UNARY_SHAPES: &[&[usize]] = &[&[], &[1], &[7], &[3, 4], &[1, 5], &[2, 3, 4]];

fn binary_case(
    name: &str,
    op: impl Fn(&Tensor<f64>, &Tensor<f64>) -> Tensor<f64>,
    a: impl Fn(&[usize], u64) -> Tensor<f64>,
    b: impl Fn(&[usize], u64) -> Tensor<f64>,
) {
    for (k, (sa, sb)) in PAIRS.iter().enumerate() {
        let inputs = [a(sa, 2 * k as u64), b(sb, 2 * k as u64 + 1)];
        check(
            &format!("{name} {sa:?} {sb:?}"),
            |v| op(&v[0], &v[1]),
            &inputs,
        );
    }
}

#[test]
fn add_sub_mul_broadcast_every_way() {
    binary_case("add", |a, b| a + b, randn, randn);
    binary_case("sub", |a, b| a - b, randn, randn);
    binary_case("mul", |a, b| a * b, randn, randn);
}

#[test]
fn div_broadcasts_every_way() {
    binary_case(
        "div",
        |a, b| a / b,
        randn,
        |s, seed| away_from_zero(s, 0.5, 2.0, seed),
    );
}

#[test]
fn pow_broadcasts_every_way() {
    // Positive bases: the exponent's gradient a^b·ln a needs them.
    binary_case(
        "pow",
        |a, b| a.pow(b),
        |s, seed| uniform(s, 0.5, 2.0, seed),
        randn,
    );
}

#[test]
fn maximum_minimum_broadcast_every_way() {
    binary_case("maximum", |a, b| a.maximum(b), randn, randn);
    binary_case("minimum", |a, b| a.minimum(b), randn, randn);
}

#[test]
fn operators_on_references_values_and_scalars() {
    let inputs = [randn(&[3, 4], 1), randn(&[4], 2)];
    check(
        "operators",
        |v| {
            let (a, b) = (&v[0], &v[1]);
            let t = a * 2.0 + 1.5 - b / 3.0;
            let u = 2.0 * &t - (0.5 - b) * a.clone() + -a;
            (u / 4.0) * (3.0 / (b * b + 1.0))
        },
        &inputs,
    );
}

fn unary_case(
    name: &str,
    op: impl Fn(&Tensor<f64>) -> Tensor<f64>,
    x: impl Fn(&[usize], u64) -> Tensor<f64>,
) {
    for (k, shape) in UNARY_SHAPES.iter().enumerate() {
        check(
            &format!("{name} {shape:?}"),
            |v| op(&v[0]),
            &[x(shape, k as u64)],
        );
    }
}

#[test]
fn unary_maths() {
    unary_case("neg", Tensor::neg, randn);
    unary_case("exp", Tensor::exp, randn);
    unary_case("log", Tensor::log, |s, k| uniform(s, 0.2, 3.0, k));
    unary_case("sqrt", Tensor::sqrt, |s, k| uniform(s, 0.2, 3.0, k));
    unary_case("abs", Tensor::abs, |s, k| away_from_zero(s, 0.1, 2.0, k));
    unary_case("square", Tensor::square, randn);
    unary_case("powf 3", |x| x.powf(3.0), randn);
    unary_case(
        "powf -1.5",
        |x| x.powf(-1.5),
        |s, k| uniform(s, 0.3, 2.0, k),
    );
    unary_case("sin", Tensor::sin, randn);
    unary_case("cos", Tensor::cos, randn);
}

#[test]
fn activations() {
    // The first element positive, so the 0-d case has a gradient to check.
    let one_positive = |s: &[usize], k| {
        let mut v = away_from_zero(s, 0.05, 2.0, k).to_vec();
        v[0] = v[0].abs();
        Tensor::from_vec(v, s)
    };
    unary_case("relu", Tensor::relu, one_positive);
    unary_case(
        "leaky_relu",
        |x| x.leaky_relu(0.1),
        |s, k| away_from_zero(s, 0.05, 2.0, k),
    );
    unary_case("sigmoid", Tensor::sigmoid, |s, k| randn(s, k) * 3.0);
    unary_case("tanh", Tensor::tanh, randn);
    // Values on both sides of both bounds, none within 0.05 of them.
    let x = Tensor::from_vec(
        vec![-1.3, -0.7, -0.45, -0.1, 0.0, 0.2, 0.44, 0.56, 0.9, 2.0],
        &[2, 5],
    );
    check("clamp", |v| v[0].clamp(-0.5, 0.5), &[x]);
}

#[test]
fn matmul_shapes() {
    let cases: &[(&[usize], &[usize])] = &[
        (&[1, 1], &[1, 1]),
        (&[1, 5], &[5, 1]),
        (&[5, 1], &[1, 4]),
        (&[7, 13], &[13, 5]),
        (&[2, 3, 4], &[2, 4, 5]),
        (&[2, 1, 3, 4], &[3, 4, 2]),
        (&[3, 4], &[2, 4, 5]),
    ];
    for (k, (sa, sb)) in cases.iter().enumerate() {
        let inputs = [randn(sa, k as u64), randn(sb, 100 + k as u64)];
        check(
            &format!("matmul {sa:?} {sb:?}"),
            |v| v[0].matmul(&v[1]),
            &inputs,
        );
    }
    // Transposed operands are strided views.
    let inputs = [randn(&[13, 7], 1), randn(&[5, 13], 2)];
    check(
        "matmul of transposes",
        |v| v[0].t().matmul(&v[1].t()),
        &inputs,
    );
}

#[test]
fn shape_operations() {
    let x = randn(&[2, 3, 4], 7);
    check(
        "reshape",
        |v| v[0].reshape(&[4, 6]),
        std::slice::from_ref(&x),
    );
    check(
        "permute",
        |v| v[0].permute(&[2, 0, 1]),
        std::slice::from_ref(&x),
    );
    check(
        "transpose then reshape (copy of a strided view)",
        |v| v[0].transpose(0, 2).reshape(&[12, 2]),
        std::slice::from_ref(&x),
    );
    check("flatten", |v| v[0].flatten(), std::slice::from_ref(&x));
    check(
        "contiguous",
        |v| v[0].transpose(-1, -2).contiguous(),
        std::slice::from_ref(&x),
    );
    check("t", |v| v[0].t(), &[randn(&[3, 5], 1)]);
    check("squeeze", |v| v[0].squeeze(1), &[randn(&[3, 1, 2], 2)]);
    check("unsqueeze", |v| v[0].unsqueeze(1), &[randn(&[3, 2], 3)]);
    check(
        "broadcast_to",
        |v| v[0].broadcast_to(&[2, 3, 4]),
        &[randn(&[3, 1], 4)],
    );
    check("sum_to", |v| v[0].sum_to(&[3, 1]), std::slice::from_ref(&x));
    check(
        "sum_to row",
        |v| v[0].sum_to(&[4]),
        std::slice::from_ref(&x),
    );
    check(
        "concat",
        |v| Tensor::concat(&[&v[0], &v[1], &v[2]], 1),
        &[
            randn(&[2, 1, 4], 5),
            randn(&[2, 3, 4], 6),
            randn(&[2, 2, 4], 7),
        ],
    );
    check(
        "concat axis 0",
        |v| Tensor::concat(&[&v[0], &v[1]], 0),
        &[randn(&[1, 3], 5), randn(&[2, 3], 6)],
    );
    check("narrow", |v| v[0].narrow(2, 1, 2), std::slice::from_ref(&x));
    check(
        "index_select with repeats",
        |v| v[0].index_select(1, &[2, 0, 2, 1]),
        std::slice::from_ref(&x),
    );
    check(
        "index_add",
        |v| v[0].index_add(0, &[3, 0, 3], 5),
        &[randn(&[3, 2], 8)],
    );
    let index = [2, 0, 1, 1, 0, 0, 2, 1];
    check(
        "gather",
        |v| v[0].gather(0, &index, &[2, 4]),
        &[randn(&[3, 4], 9)],
    );
    check(
        "scatter_add",
        |v| v[0].scatter_add(0, &index, &[3, 4]),
        &[randn(&[2, 4], 10)],
    );
    let mask = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[4]);
    check(
        "where",
        |v| Tensor::where_mask(&mask, &v[0], &v[1]),
        &[randn(&[3, 4], 11), randn(&[3, 1], 12)],
    );
}

#[test]
fn reductions() {
    let x = randn(&[2, 3, 4], 21);
    let one = std::slice::from_ref(&x);
    check("sum", |v| v[0].sum(), one);
    check("mean", |v| v[0].mean(), one);
    check("max", |v| v[0].max(), one);
    check("min", |v| v[0].min(), one);
    check("var", |v| v[0].var(false), one);
    check("var unbiased", |v| v[0].var(true), one);
    for axis in 0..3 {
        for keepdim in [false, true] {
            let tag = format!("axis {axis} keepdim {keepdim}");
            check(&format!("sum {tag}"), |v| v[0].sum_axis(axis, keepdim), one);
            check(
                &format!("mean {tag}"),
                |v| v[0].mean_axis(axis, keepdim),
                one,
            );
            check(&format!("max {tag}"), |v| v[0].max_axis(axis, keepdim), one);
            check(&format!("min {tag}"), |v| v[0].min_axis(axis, keepdim), one);
            check(
                &format!("var {tag}"),
                |v| v[0].var_axis(axis, keepdim, axis == 1),
                one,
            );
        }
    }
    // Size-1 reduced axis.
    check(
        "sum of size-1 axis",
        |v| v[0].sum_axis(1, false),
        &[randn(&[3, 1], 22)],
    );
}

#[test]
fn softmax_and_log_softmax() {
    for (k, (shape, axis)) in [
        (&[3usize, 4][..], 0isize),
        (&[3, 4], 1),
        (&[2, 3, 4], -1),
        (&[2, 3, 4], 1),
        (&[1, 5], 1),
    ]
    .iter()
    .enumerate()
    {
        let x = [randn(shape, 30 + k as u64) * 2.0];
        check(
            &format!("softmax {shape:?} axis {axis}"),
            |v| v[0].softmax(*axis),
            &x,
        );
        check(
            &format!("log_softmax {shape:?} axis {axis}"),
            |v| v[0].log_softmax(*axis),
            &x,
        );
    }
}

#[test]
fn losses() {
    let logits = randn(&[1, 6], 40) * 2.0;
    let targets = Tensor::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0, 0.0], &[1, 6]);
    let soft_targets = uniform(&[1, 6], 0.0, 1.0, 41);
    check(
        "bce_with_logits (logits and targets)",
        |v| v[0].bce_with_logits(&v[1]),
        &[logits.clone(), soft_targets.clone()],
    );
    check(
        "binary_cross_entropy_with_logits",
        |v| loss::binary_cross_entropy_with_logits(&v[0], &targets),
        std::slice::from_ref(&logits),
    );
    check(
        "binary_cross_entropy from probabilities",
        |v| loss::binary_cross_entropy(&v[0], &targets),
        &[uniform(&[1, 6], 0.1, 0.9, 42)],
    );
    check(
        "binary_cross_entropy of a sigmoid",
        |v| loss::binary_cross_entropy(&v[0].sigmoid(), &targets),
        std::slice::from_ref(&logits),
    );
    let z = randn(&[4, 5], 43);
    let classes = [3, 0, 1, 3, 2];
    let mut one_hot = vec![0.0; 20];
    for (j, &c) in classes.iter().enumerate() {
        one_hot[c * 5 + j] = 1.0;
    }
    let one_hot = Tensor::from_vec(one_hot, &[4, 5]);
    check(
        "softmax_cross_entropy one-hot",
        |v| loss::softmax_cross_entropy(&v[0], &one_hot, 0),
        std::slice::from_ref(&z),
    );
    check(
        "softmax_cross_entropy indices",
        |v| loss::softmax_cross_entropy_indices(&v[0], &classes),
        std::slice::from_ref(&z),
    );
    check(
        "mse",
        |v| loss::mse(&v[0], &v[1]),
        &[randn(&[3, 4], 44), randn(&[3, 4], 45)],
    );
}

#[test]
fn a_small_network_end_to_end() {
    // Two layers in the course's layout, bias broadcast over the examples, softmax output.
    let inputs = [
        randn(&[4, 3], 50) * 0.5,
        randn(&[4, 1], 51),
        randn(&[3, 4], 52) * 0.5,
        randn(&[3, 1], 53),
        randn(&[3, 6], 54),
    ];
    let labels = [0, 2, 1, 1, 0, 2];
    check(
        "two-layer network",
        |v| {
            let a1 = (v[0].matmul(&v[4]) + &v[1]).tanh();
            let z2 = v[2].matmul(&a1) + &v[3];
            loss::softmax_cross_entropy_indices(&z2, &labels)
        },
        &inputs,
    );
}
