//! The op table: one row per differentiable operation (and a few compositions), with the
//! sample inputs it is checked on and the checks that apply. The tests in `main.rs` run every
//! row through every check; the coverage test fails while an `Op` variant has no row.
//!
//! Adding an operation: write one [`Row`] below (the function, in `f!` so it exists for f64
//! and f32; samples covering broadcasting, size-1 and 0-d shapes and a non-contiguous view
//! where they apply; the input domains that keep central differences away from kinks and
//! poles; a naive loop reference in `reference.rs` when the op computes new values), and add
//! the variant's name to `op_variants!` in `main.rs` (the compiler points there).

use std::sync::Arc;

use engine::autograd::rules::InputGrads;
use engine::autograd::CustomOp;
use engine::ops::conv::{Conv2dOptions, Pool2dOptions, Window2d};
use engine::ops::embedding::{CrossEntropyOptions, Reduction};
use engine::{loss, Float, Tensor};

use super::reference::{self as r, Arr};

/// Where a sample input's values are drawn from.
#[derive(Clone, Debug)]
pub enum Domain {
    /// Uniform in `[-2, 2)`.
    Real,
    /// Uniform in `[0.3, 2.5)`: logarithms, roots, negative and real powers.
    Positive,
    /// Uniform in `[0.05, 0.95)`: probabilities and soft targets.
    Unit,
    /// Uniform in `[-2, 2)` but at least 0.1 from each listed point: the kinks of abs, relu,
    /// clamp, where central differences straddle two pieces.
    AwayFrom(&'static [f64]),
    /// Distinct values at least 0.1 apart, in random order: extrema without ties.
    Distinct,
    /// Uniform in `[-10, 10)`: where smooth activations saturate (their tails must stay
    /// accurate, not just their middle).
    Wide,
}

/// One input of a sample: its shape and domain.
#[derive(Clone, Debug)]
pub struct Input {
    /// The shape the operation sees.
    pub shape: Vec<usize>,
    /// Where its values come from.
    pub domain: Domain,
}

/// One set of inputs for a row.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The inputs.
    pub inputs: Vec<Input>,
    /// Inputs of two or more dimensions are given to the operation as transposed views
    /// (stored with the last two dimensions swapped): a non-contiguous layout.
    pub transposed: bool,
}

impl Sample {
    /// The same inputs, handed over as non-contiguous (transposed) views.
    pub fn t(mut self) -> Sample {
        self.transposed = true;
        self
    }
}

/// A sample of inputs given as `(shape, domain)` pairs.
pub fn s(inputs: &[(&[usize], Domain)]) -> Sample {
    Sample {
        inputs: inputs
            .iter()
            .map(|(shape, domain)| Input {
                shape: shape.to_vec(),
                domain: domain.clone(),
            })
            .collect(),
        transposed: false,
    }
}

/// The row's function, for each element type.
pub struct Fns {
    /// In f64 (every check).
    pub f64: fn(&[Tensor<f64>]) -> Tensor<f64>,
    /// In f32 (checked against the f64 values and gradients).
    pub f32: fn(&[Tensor<f32>]) -> Tensor<f32>,
}

/// Writes a row's function once, for f64 and f32.
macro_rules! f {
    (|$v:ident| $body:expr) => {
        Fns {
            f64: |$v: &[Tensor<f64>]| -> Tensor<f64> { $body },
            f32: |$v: &[Tensor<f32>]| -> Tensor<f32> { $body },
        }
    };
}

/// A naive loop recomputing the row's values in f64.
pub type Reference = fn(&[Arr]) -> Arr;

/// One row of the table.
pub struct Row {
    /// What the row checks (the op's name, with its settings).
    pub name: &'static str,
    /// The function of the inputs.
    pub f: Fns,
    /// The inputs it is checked on.
    pub samples: Vec<Sample>,
    /// Naive loop reference of the values, when the row computes new values.
    pub reference: Option<Reference>,
    /// Whether second-order checks (gradgradcheck) apply: false for rules whose derivative is
    /// not itself differentiable at the samples.
    pub second_order: bool,
}

fn row(name: &'static str, f: Fns, samples: Vec<Sample>) -> Row {
    Row {
        name,
        f,
        samples,
        reference: None,
        second_order: true,
    }
}

impl Row {
    fn reference(mut self, reference: Reference) -> Row {
        self.reference = Some(reference);
        self
    }
}

use Domain::{AwayFrom, Distinct, Positive, Real, Unit, Wide};

/// Operand shape pairs for binary elementwise ops: same shape, each side broadcast, both sides
/// broadcast, rank promotion, 0-d scalars and size-1 dimensions, and a non-contiguous pair.
fn pairs(da: Domain, db: Domain) -> Vec<Sample> {
    let shapes: &[(&[usize], &[usize])] = &[
        (&[3, 4], &[3, 4]),
        (&[3, 4], &[4]),
        (&[4], &[3, 4]),
        (&[3, 1], &[1, 4]),
        (&[2, 1, 5], &[3, 1]),
        (&[], &[2, 3]),
        (&[2, 3], &[]),
        (&[1], &[1, 1]),
    ];
    let mut out: Vec<Sample> = shapes
        .iter()
        .map(|(a, b)| s(&[(a, da.clone()), (b, db.clone())]))
        .collect();
    out.push(s(&[(&[3, 4], da), (&[3, 4], db)]).t());
    out
}

/// Shapes for unary elementwise ops: 0-d, size 1, vectors, matrices, 3-d, and a
/// non-contiguous view.
/// `−(1/m) Σ y·log softmax(z)`, classes along `axis`, `m` the number of the other positions.
fn softmax_cross_entropy_reference(x: &[Arr], axis: usize) -> Arr {
    let terms = r::zip(&x[1], &r::log_softmax(&x[0], axis), |y, l| y * l);
    let per_example = r::reduce(&terms, Some(axis), false, |a, b| a + b);
    r::map(&r::mean(&per_example, None, false), |v| -v)
}

fn unary(d: Domain) -> Vec<Sample> {
    let shapes: &[&[usize]] = &[&[], &[1], &[7], &[3, 4], &[1, 5], &[2, 3, 4]];
    let mut out: Vec<Sample> = shapes.iter().map(|sh| s(&[(sh, d.clone())])).collect();
    out.push(s(&[(&[3, 4], d)]).t());
    out
}

/// One input of `shape` from `d`, plain and as a transposed view.
fn one(shape: &[usize], d: Domain) -> Vec<Sample> {
    let sample = s(&[(shape, d)]);
    if shape.len() >= 2 {
        vec![sample.clone(), sample.t()]
    } else {
        vec![sample]
    }
}

/// softplus(x) = log(1 + eˣ) as a user-defined op, its backward written with engine ops.
pub struct Softplus;

impl<T: Float> CustomOp<T> for Softplus {
    fn name(&self) -> &'static str {
        "softplus"
    }
    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].relu() + ((-x[0].abs()).exp() + T::one()).log()
    }
    fn backward(&self, x: &[Tensor<T>], _: &Tensor<T>, g: &Tensor<T>) -> InputGrads<T> {
        // d softplus(x) = σ(x) dx
        [Some(g * x[0].sigmoid())].into_iter().collect()
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The window the im2col/col2im rows slide: a 2x3 kernel with stride (2, 1), padding 1 and
/// dilation (2, 1) over images (2, 3, 5, 6), so every geometric setting is off its default.
fn window() -> Window2d {
    Window2d::new("op table", &[2, 3, 5, 6], (2, 3), (2, 1), (1, 1), (2, 1))
}

/// Convolution settings with every option off its default.
const CONV_EVERYTHING: Conv2dOptions = Conv2dOptions {
    stride: (2, 3),
    padding: (2, 1),
    dilation: (1, 2),
    groups: 2,
};

/// A strictly upper triangular 4x4 mask (1 above the diagonal): a causal attention mask.
fn causal<T: Float>() -> Tensor<T> {
    Tensor::from_vec(
        (0..16)
            .map(|k| if k % 4 > k / 4 { T::one() } else { T::zero() })
            .collect(),
        &[4, 4],
    )
}

/// Every row. Composite rows (losses, a small network, operator sugar) come last.
pub fn rows() -> Vec<Row> {
    let away0 = || AwayFrom(&[0.0]);
    vec![
        // ----- binary elementwise, broadcasting every way
        row("add", f!(|v| &v[0] + &v[1]), pairs(Real, Real))
            .reference(|x| r::zip(&x[0], &x[1], |a, b| a + b)),
        row("sub", f!(|v| &v[0] - &v[1]), pairs(Real, Real))
            .reference(|x| r::zip(&x[0], &x[1], |a, b| a - b)),
        row("mul", f!(|v| &v[0] * &v[1]), pairs(Real, Real))
            .reference(|x| r::zip(&x[0], &x[1], |a, b| a * b)),
        row("div", f!(|v| &v[0] / &v[1]), pairs(Real, Positive))
            .reference(|x| r::zip(&x[0], &x[1], |a, b| a / b)),
        // Positive bases: the exponent's derivative a^b·ln a needs them.
        row("pow", f!(|v| v[0].pow(&v[1])), pairs(Positive, Real))
            .reference(|x| r::zip(&x[0], &x[1], f64::powf)),
        row("maximum", f!(|v| v[0].maximum(&v[1])), pairs(Real, Real))
            .reference(|x| r::zip(&x[0], &x[1], f64::max)),
        row("minimum", f!(|v| v[0].minimum(&v[1])), pairs(Real, Real))
            .reference(|x| r::zip(&x[0], &x[1], f64::min)),
        // A constant operand larger than the input: the input's tangent must be broadcast to
        // the output's shape in forward mode.
        row(
            "add a larger constant",
            f!(|v| &v[0] + &Tensor::ones(&[3, 4])),
            vec![s(&[(&[4], Real)]), s(&[(&[], Real)]), s(&[(&[3, 1], Real)])],
        )
        .reference(|x| r::zip(&x[0], &Arr::from_fn(&[3, 4], |_| 1.0), |a, b| a + b)),
        row(
            "where",
            f!(|v| Tensor::where_mask(
                &Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[4]),
                &v[0],
                &v[1]
            )),
            vec![
                s(&[(&[3, 4], Real), (&[3, 1], Real)]),
                s(&[(&[4], Real), (&[], Real)]),
                s(&[(&[4, 4], Real), (&[4, 4], Real)]).t(),
            ],
        )
        .reference(|x| {
            let mask = Arr {
                shape: vec![4],
                data: vec![1.0, 0.0, 0.0, 1.0],
            };
            let shape = r::broadcast_shape(&r::broadcast_shape(&[4], &x[0].shape), &x[1].shape);
            Arr::from_fn(&shape, |i| {
                if mask.get_broadcast(i) == 1.0 {
                    x[0].get_broadcast(i)
                } else {
                    x[1].get_broadcast(i)
                }
            })
        }),
        row(
            "bce_with_logits",
            f!(|v| v[0].bce_with_logits(&v[1])),
            vec![
                s(&[(&[1, 6], Real), (&[1, 6], Unit)]),
                s(&[(&[], Real), (&[], Unit)]),
                s(&[(&[3, 4], Real), (&[3, 4], Unit)]).t(),
            ],
        )
        .reference(|x| {
            // −(t log σ(z) + (1 − t) log(1 − σ(z)))
            r::zip(&x[0], &x[1], |z, t| {
                -(t * sigmoid(z).ln() + (1.0 - t) * (1.0 - sigmoid(z)).ln())
            })
        }),
        row(
            "softmax_cross_entropy classes axis 0",
            f!(|v| loss::softmax_cross_entropy(&v[0], &v[1], 0)),
            vec![
                s(&[(&[3, 4], Real), (&[3, 4], Unit)]),
                s(&[(&[3, 4], Wide), (&[3, 4], Unit)]),
                s(&[(&[3, 4], Real), (&[3, 4], Unit)]).t(),
            ],
        )
        .reference(|x| softmax_cross_entropy_reference(x, 0)),
        row(
            "softmax_cross_entropy classes axis -1",
            f!(|v| loss::softmax_cross_entropy(&v[0], &v[1], -1)),
            vec![s(&[(&[2, 3, 4], Real), (&[2, 3, 4], Unit)])],
        )
        .reference(|x| softmax_cross_entropy_reference(x, 2)),
        // ----- unary maths and activations
        row("neg", f!(|v| -&v[0]), unary(Real)).reference(|x| r::map(&x[0], |a| -a)),
        row("exp", f!(|v| v[0].exp()), unary(Real)).reference(|x| r::map(&x[0], f64::exp)),
        row("log", f!(|v| v[0].log()), unary(Positive)).reference(|x| r::map(&x[0], f64::ln)),
        row("sqrt", f!(|v| v[0].sqrt()), unary(Positive)).reference(|x| r::map(&x[0], f64::sqrt)),
        row("abs", f!(|v| v[0].abs()), unary(away0())).reference(|x| r::map(&x[0], f64::abs)),
        row("square", f!(|v| v[0].square()), unary(Real)).reference(|x| r::map(&x[0], |a| a * a)),
        row("powf 3", f!(|v| v[0].powf(3.0)), unary(Real))
            .reference(|x| r::map(&x[0], |a| a * a * a)),
        row("powf -1.5", f!(|v| v[0].powf(-1.5)), unary(Positive))
            .reference(|x| r::map(&x[0], |a| a.powf(-1.5))),
        row("sin", f!(|v| v[0].sin()), unary(Real)).reference(|x| r::map(&x[0], f64::sin)),
        row("cos", f!(|v| v[0].cos()), unary(Real)).reference(|x| r::map(&x[0], f64::cos)),
        row("relu", f!(|v| v[0].relu()), unary(away0()))
            .reference(|x| r::map(&x[0], |a| a.max(0.0))),
        row(
            "leaky_relu 0.1",
            f!(|v| v[0].leaky_relu(0.1)),
            unary(away0()),
        )
        .reference(|x| r::map(&x[0], |a| if a > 0.0 { a } else { 0.1 * a })),
        row("sigmoid", f!(|v| v[0].sigmoid()), unary(Real)).reference(|x| r::map(&x[0], sigmoid)),
        row("tanh", f!(|v| v[0].tanh()), unary(Real)).reference(|x| r::map(&x[0], f64::tanh)),
        row(
            "clamp -0.5 0.5",
            f!(|v| v[0].clamp(-0.5, 0.5)),
            unary(AwayFrom(&[-0.5, 0.5])),
        )
        .reference(|x| r::map(&x[0], |a| a.clamp(-0.5, 0.5))),
        // ----- matrix products
        row(
            "matmul",
            f!(|v| v[0].matmul(&v[1])),
            vec![
                s(&[(&[1, 1], Real), (&[1, 1], Real)]),
                s(&[(&[1, 5], Real), (&[5, 1], Real)]),
                s(&[(&[5, 1], Real), (&[1, 4], Real)]),
                s(&[(&[7, 6], Real), (&[6, 5], Real)]),
                s(&[(&[2, 3, 4], Real), (&[2, 4, 5], Real)]),
                s(&[(&[2, 1, 3, 4], Real), (&[3, 4, 2], Real)]),
                s(&[(&[3, 4], Real), (&[2, 4, 5], Real)]),
                s(&[(&[7, 6], Real), (&[6, 5], Real)]).t(),
            ],
        )
        .reference(|x| r::matmul(&x[0], &x[1])),
        row(
            "matmul_add",
            f!(|v| v[0].matmul_add(&v[1], &v[2])),
            vec![
                // a dense layer: W·X + b with a bias column
                s(&[(&[3, 4], Real), (&[4, 5], Real), (&[3, 1], Real)]),
                s(&[(&[1, 1], Real), (&[1, 1], Real), (&[1, 1], Real)]),
                s(&[(&[7, 6], Real), (&[6, 5], Real), (&[7, 5], Real)]),
                // a bias row, a scalar, and one broadcast over batched products
                s(&[(&[5, 1], Real), (&[1, 4], Real), (&[4], Real)]),
                s(&[(&[2, 3], Real), (&[3, 2], Real), (&[], Real)]),
                s(&[(&[2, 3, 4], Real), (&[2, 4, 5], Real), (&[3, 1], Real)]),
                s(&[(&[7, 6], Real), (&[6, 5], Real), (&[7, 5], Real)]).t(),
            ],
        )
        .reference(|x| r::zip(&r::matmul(&x[0], &x[1]), &x[2], |p, c| p + c)),
        // ----- shape operations (linear: one transpose rule gives both modes)
        row(
            "reshape",
            f!(|v| v[0].reshape(&[4, 6])),
            one(&[2, 3, 4], Real),
        )
        .reference(|x| r::reshape(&x[0], &[4, 6])),
        row("flatten", f!(|v| v[0].flatten()), one(&[2, 3, 4], Real))
            .reference(|x| r::reshape(&x[0], &[24])),
        row(
            "permute",
            f!(|v| v[0].permute(&[2, 0, 1])),
            one(&[2, 3, 4], Real),
        )
        .reference(|x| r::permute(&x[0], &[2, 0, 1])),
        row(
            "transpose",
            f!(|v| v[0].transpose(0, 2)),
            one(&[2, 3, 4], Real),
        )
        .reference(|x| r::permute(&x[0], &[2, 1, 0])),
        row("t", f!(|v| v[0].t()), one(&[3, 5], Real)).reference(|x| r::permute(&x[0], &[1, 0])),
        row(
            "contiguous",
            f!(|v| v[0].transpose(-1, -2).contiguous()),
            one(&[2, 3, 4], Real),
        )
        .reference(|x| r::permute(&x[0], &[0, 2, 1])),
        row("squeeze", f!(|v| v[0].squeeze(1)), one(&[3, 1, 2], Real))
            .reference(|x| r::reshape(&x[0], &[3, 2])),
        row("unsqueeze", f!(|v| v[0].unsqueeze(1)), one(&[3, 2], Real))
            .reference(|x| r::reshape(&x[0], &[3, 1, 2])),
        row(
            "broadcast_to",
            f!(|v| v[0].broadcast_to(&[2, 3, 4])),
            vec![s(&[(&[3, 1], Real)]), s(&[(&[], Real)]), s(&[(&[4], Real)])],
        )
        .reference(|x| r::broadcast_to(&x[0], &[2, 3, 4])),
        row(
            "sum_to (3, 1)",
            f!(|v| v[0].sum_to(&[3, 1])),
            vec![s(&[(&[2, 3, 4], Real)]), s(&[(&[3, 4], Real)])],
        )
        .reference(|x| r::sum_to(&x[0], &[3, 1])),
        row(
            "sum_to (4,)",
            f!(|v| v[0].sum_to(&[4])),
            one(&[2, 3, 4], Real),
        )
        .reference(|x| r::sum_to(&x[0], &[4])),
        row(
            "concat axis 1",
            f!(|v| Tensor::concat(&[&v[0], &v[1], &v[2]], 1)),
            vec![s(&[
                (&[2, 1, 4], Real),
                (&[2, 3, 4], Real),
                (&[2, 2, 4], Real),
            ])],
        )
        .reference(|x| r::concat(x, 1)),
        row(
            "concat axis 0",
            f!(|v| Tensor::concat(&[&v[0], &v[1]], 0)),
            vec![
                s(&[(&[1, 3], Real), (&[2, 3], Real)]),
                s(&[(&[2, 3], Real), (&[4, 3], Real)]).t(),
            ],
        )
        .reference(|x| r::concat(x, 0)),
        row(
            "narrow",
            f!(|v| v[0].narrow(2, 1, 2)),
            one(&[2, 3, 4], Real),
        )
        .reference(|x| r::narrow(&x[0], 2, 1, 2)),
        row(
            "index_select with repeats",
            f!(|v| v[0].index_select(1, &[2, 0, 2, 1])),
            one(&[2, 3, 4], Real),
        )
        .reference(|x| r::index_select(&x[0], 1, &[2, 0, 2, 1])),
        row(
            "index_add",
            f!(|v| v[0].index_add(0, &[3, 0, 3], 5)),
            one(&[3, 2], Real),
        )
        .reference(|x| r::index_add(&x[0], 0, &[3, 0, 3], 5)),
        row(
            "gather",
            f!(|v| v[0].gather(0, &[2, 0, 1, 1, 0, 0, 2, 1], &[2, 4])),
            one(&[3, 4], Real),
        )
        .reference(|x| r::gather(&x[0], 0, &[2, 0, 1, 1, 0, 0, 2, 1], &[2, 4])),
        row(
            "scatter_add",
            f!(|v| v[0].scatter_add(0, &[2, 0, 1, 1, 0, 0, 2, 1], &[3, 4])),
            one(&[2, 4], Real),
        )
        .reference(|x| r::scatter_add(&x[0], 0, &[2, 0, 1, 1, 0, 0, 2, 1], &[3, 4])),
        // ----- reductions
        row("sum", f!(|v| v[0].sum()), unary(Real))
            .reference(|x| r::reduce(&x[0], None, false, |a, b| a + b)),
        row(
            "sum_axis 1",
            f!(|v| v[0].sum_axis(1, false)),
            one(&[2, 3, 4], Real),
        )
        .reference(|x| r::reduce(&x[0], Some(1), false, |a, b| a + b)),
        row(
            "sum_axis 0 keepdim",
            f!(|v| v[0].sum_axis(0, true)),
            one(&[3, 4], Real),
        )
        .reference(|x| r::reduce(&x[0], Some(0), true, |a, b| a + b)),
        row(
            "sum_axis of a size-1 axis",
            f!(|v| v[0].sum_axis(1, false)),
            vec![s(&[(&[3, 1], Real)])],
        )
        .reference(|x| r::reduce(&x[0], Some(1), false, |a, b| a + b)),
        row("mean", f!(|v| v[0].mean()), unary(Real)).reference(|x| r::mean(&x[0], None, false)),
        row(
            "mean_axis 2",
            f!(|v| v[0].mean_axis(2, false)),
            one(&[2, 3, 4], Real),
        )
        .reference(|x| r::mean(&x[0], Some(2), false)),
        row(
            "mean_axis 0 keepdim",
            f!(|v| v[0].mean_axis(0, true)),
            one(&[3, 4], Real),
        )
        .reference(|x| r::mean(&x[0], Some(0), true)),
        row("max", f!(|v| v[0].max()), unary(Distinct))
            .reference(|x| r::reduce(&x[0], None, false, f64::max)),
        row(
            "max_axis 1",
            f!(|v| v[0].max_axis(1, false)),
            one(&[2, 3, 4], Distinct),
        )
        .reference(|x| r::reduce(&x[0], Some(1), false, f64::max)),
        row(
            "max_axis 0 keepdim",
            f!(|v| v[0].max_axis(0, true)),
            one(&[3, 4], Distinct),
        )
        .reference(|x| r::reduce(&x[0], Some(0), true, f64::max)),
        row("min", f!(|v| v[0].min()), unary(Distinct))
            .reference(|x| r::reduce(&x[0], None, false, f64::min)),
        row(
            "min_axis 2",
            f!(|v| v[0].min_axis(2, false)),
            one(&[2, 3, 4], Distinct),
        )
        .reference(|x| r::reduce(&x[0], Some(2), false, f64::min)),
        row(
            "min_axis 1 keepdim",
            f!(|v| v[0].min_axis(1, true)),
            one(&[3, 4], Distinct),
        )
        .reference(|x| r::reduce(&x[0], Some(1), true, f64::min)),
        // ----- softmax and log-softmax
        row(
            "softmax axis 0",
            f!(|v| v[0].softmax(0)),
            one(&[3, 4], Real),
        )
        .reference(|x| r::softmax(&x[0], 0)),
        row(
            "softmax axis -1",
            f!(|v| v[0].softmax(-1)),
            one(&[2, 3, 4], Real),
        )
        .reference(|x| r::softmax(&x[0], 2)),
        row(
            "softmax (1, 5) axis 1",
            f!(|v| v[0].softmax(1)),
            one(&[1, 5], Real),
        )
        .reference(|x| r::softmax(&x[0], 1)),
        row(
            "log_softmax axis 1",
            f!(|v| v[0].log_softmax(1)),
            one(&[3, 4], Real),
        )
        .reference(|x| r::log_softmax(&x[0], 1)),
        row(
            "log_softmax axis -2",
            f!(|v| v[0].log_softmax(-2)),
            one(&[2, 3, 4], Real),
        )
        .reference(|x| r::log_softmax(&x[0], 1)),
        // ----- user-defined ops
        row(
            "custom (softplus)",
            f!(|v| Tensor::apply_custom(Arc::new(Softplus), &[&v[0]])),
            unary(Real),
        )
        .reference(|x| r::map(&x[0], |a| (1.0 + a.exp()).ln())),
        // ----- smooth activations (the derivative beside each kernel in ops::activation_ext)
        row("erf", f!(|v| v[0].erf()), unary(Real)).reference(|x| r::map(&x[0], r::erf)),
        row("erfc", f!(|v| v[0].erfc()), unary(Real))
            .reference(|x| r::map(&x[0], |a| 1.0 - r::erf(a))),
        row("log1p", f!(|v| v[0].log1p()), unary(Positive))
            .reference(|x| r::map(&x[0], |a| (1.0 + a).ln())),
        row("expm1", f!(|v| v[0].expm1()), unary(Real))
            .reference(|x| r::map(&x[0], |a| a.exp() - 1.0)),
        row("rsqrt", f!(|v| v[0].rsqrt()), unary(Positive))
            .reference(|x| r::map(&x[0], |a| 1.0 / a.sqrt())),
        row("softplus", f!(|v| v[0].softplus()), unary(Real))
            .reference(|x| r::map(&x[0], |a| (1.0 + a.exp()).ln())),
        row("softplus, saturating", f!(|v| v[0].softplus()), unary(Wide))
            .reference(|x| r::map(&x[0], |a| (1.0 + a.exp()).ln())),
        row("silu", f!(|v| v[0].silu()), unary(Real))
            .reference(|x| r::map(&x[0], |a| a * sigmoid(a))),
        row("silu, saturating", f!(|v| v[0].silu()), unary(Wide))
            .reference(|x| r::map(&x[0], |a| a * sigmoid(a))),
        // gelu(x) = x·Φ(x), Φ(x) = (1 + erf(x/√2))/2
        row("gelu", f!(|v| v[0].gelu()), unary(Real)).reference(|x| {
            r::map(&x[0], |a| {
                a * 0.5 * (1.0 + r::erf(a / std::f64::consts::SQRT_2))
            })
        }),
        row("gelu, saturating", f!(|v| v[0].gelu()), unary(Wide)),
        row("gelu_tanh", f!(|v| v[0].gelu_tanh()), unary(Real)).reference(|x| {
            let k = (2.0 / std::f64::consts::PI).sqrt();
            r::map(&x[0], |a| {
                0.5 * a * (1.0 + (k * (a + 0.044715 * a * a * a)).tanh())
            })
        }),
        // ----- convolution and pooling: values are checked against a 7-loop convolution and
        // window scans in conv_pool.rs; here, their derivatives.
        row(
            "im2col",
            f!(|v| v[0].im2col(&window())),
            one(&[2, 3, 5, 6], Real),
        ),
        row(
            "col2im",
            f!(|v| v[0].col2im(&window())),
            one(&window().cols_shape(), Real),
        ),
        row(
            "conv2d 3x3 with bias",
            f!(|v| v[0].conv2d(&v[1], Some(&v[2]), Conv2dOptions::new())),
            vec![s(&[
                (&[2, 3, 7, 6], Real),
                (&[4, 3, 3, 3], Real),
                (&[4], Real),
            ])],
        ),
        row(
            "conv2d stride 2, padding 1",
            f!(|v| v[0].conv2d(&v[1], None, Conv2dOptions::new().stride(2).padding(1))),
            vec![s(&[(&[2, 3, 7, 6], Real), (&[5, 3, 3, 3], Real)])],
        ),
        row(
            "conv2d depthwise",
            f!(|v| v[0].conv2d(&v[1], None, Conv2dOptions::new().groups(3).stride(2))),
            vec![s(&[(&[1, 3, 5, 5], Real), (&[3, 1, 3, 3], Real)])],
        ),
        row(
            "conv2d stride, padding, dilation and groups",
            f!(|v| v[0].conv2d(&v[1], Some(&v[2]), CONV_EVERYTHING)),
            vec![s(&[
                (&[2, 4, 8, 7], Real),
                (&[4, 2, 3, 2], Real),
                (&[4], Real),
            ])],
        ),
        // The op sees transposed images and a permuted filter bank.
        row(
            "conv2d of views",
            f!(|v| v[0].transpose(2, 3).conv2d(
                &v[1].permute(&[3, 0, 1, 2]),
                None,
                Conv2dOptions::new().padding(1).groups(2)
            )),
            vec![s(&[(&[2, 4, 6, 5], Real), (&[2, 3, 3, 4], Real)])],
        ),
        row(
            "conv_transpose2d stride 2, output padding 1",
            f!(|v| v[0].conv_transpose2d(
                &v[1],
                Some(&v[2]),
                Conv2dOptions::new().stride(2).padding(1),
                (1, 1)
            )),
            vec![s(&[
                (&[2, 4, 3, 4], Real),
                (&[4, 3, 3, 3], Real),
                (&[3], Real),
            ])],
        ),
        row(
            "conv_transpose2d groups 2, dilation 2",
            f!(|v| v[0].conv_transpose2d(
                &v[1],
                None,
                Conv2dOptions::new().groups(2).dilation(2),
                (0, 1)
            )),
            vec![s(&[(&[1, 4, 4, 3], Real), (&[4, 1, 2, 3], Real)])],
        ),
        row(
            "max_pool2d 2x2",
            f!(|v| v[0].max_pool2d((2, 2), (2, 2), (0, 0))),
            one(&[2, 3, 6, 4], Distinct),
        ),
        row(
            "max_pool2d 3x2, stride (1, 3), padding (1, 0)",
            f!(|v| v[0].max_pool2d((3, 2), (1, 3), (1, 0))),
            one(&[2, 1, 5, 8], Distinct),
        ),
        row(
            "max_pool2d dilation (2, 3)",
            f!(|v| v[0].max_pool2d_with(Pool2dOptions::new((2, 2)).dilation((2, 3)))),
            one(&[1, 2, 7, 8], Distinct),
        ),
        row(
            "avg_pool2d padding left out of the average",
            f!(|v| v[0].avg_pool2d_with(
                Pool2dOptions::new((3, 2))
                    .stride((1, 3))
                    .padding((1, 1))
                    .count_include_pad(false)
            )),
            one(&[1, 2, 5, 8], Real),
        ),
        row(
            "adaptive_avg_pool2d 7x5 to 3x2 (uneven bins)",
            f!(|v| v[0].adaptive_avg_pool2d((3, 2))),
            one(&[2, 1, 7, 5], Real),
        ),
        row(
            "avg_pool2d 3x3, stride 2, padding 1",
            f!(|v| v[0].avg_pool2d((3, 3), (2, 2), (1, 1))),
            one(&[1, 2, 7, 7], Real),
        ),
        row(
            "adaptive_avg_pool2d 1x1",
            f!(|v| v[0].adaptive_avg_pool2d((1, 1))),
            one(&[2, 3, 6, 4], Real),
        ),
        row(
            "adaptive_avg_pool2d 3x2",
            f!(|v| v[0].adaptive_avg_pool2d((3, 2))),
            one(&[2, 3, 6, 4], Real),
        ),
        // ----- reductions over several axes and shape utilities (compositions of the ops above)
        row(
            "sum_axes",
            f!(|v| v[0].sum_axes(&[0, -1], false)),
            one(&[3, 4, 5], Real),
        ),
        row(
            "mean_axes keepdim",
            f!(|v| v[0].mean_axes(&[2, 1], true)),
            one(&[3, 4, 5], Real),
        ),
        row(
            "var_axes unbiased",
            f!(|v| v[0].var_axes(&[0, 2], false, true)),
            one(&[3, 4, 5], Real),
        ),
        row(
            "max_axes",
            f!(|v| v[0].max_axes(&[1, 2], false)),
            one(&[3, 4, 5], Distinct),
        ),
        row(
            "min_axes keepdim",
            f!(|v| v[0].min_axes(&[0, 2], true)),
            one(&[3, 4, 5], Distinct),
        ),
        row(
            "logsumexp_axes",
            f!(|v| v[0].logsumexp_axes(&[0, 2], false)),
            one(&[3, 4, 5], Real),
        ),
        row(
            "stack",
            f!(|v| Tensor::stack(&[&v[0], &v[1].t()], 2)),
            vec![s(&[(&[2, 3], Real), (&[3, 2], Real)])],
        ),
        row(
            "pad",
            f!(|v| v[0].pad(&[(2, 1), (0, 3)], 0.5)),
            one(&[3, 2], Real),
        ),
        row("repeat", f!(|v| v[0].repeat(&[2, 3])), one(&[3, 2], Real)),
        row(
            "expand",
            f!(|v| v[0].reshape(&[2, 1, 3]).expand(&[2, 4, 3])),
            one(&[2, 3], Real),
        ),
        row(
            "flatten_dims",
            f!(|v| v[0].reshape(&[1, 2, 3]).flatten_dims(0, 1)),
            one(&[2, 3], Real),
        ),
        // A large finite fill rather than -inf: central differences need finite values.
        row(
            "masked_fill (causal) + softmax",
            f!(|v| v[0].masked_fill(&causal(), -1e9).softmax(-1)),
            vec![s(&[(&[2, 4, 4], Real)])],
        ),
        row(
            "embedding with repeated ids",
            f!(|v| v[0].embedding(&[4, 1, 1, 0, 4, 4], &[2, 3])),
            one(&[5, 3], Real),
        ),
        row(
            "cross_entropy_indices, ignore_index and label smoothing",
            f!(|v| v[0].cross_entropy_indices(
                &[4, 0, 2, 1, 9, 3],
                1,
                CrossEntropyOptions {
                    ignore_index: Some(9),
                    label_smoothing: 0.1,
                    reduction: Reduction::Mean,
                }
            )),
            vec![s(&[(&[2, 5, 3], Real)])],
        ),
        row(
            "cross_entropy_indices, classes last",
            f!(|v| v[0].cross_entropy_indices(
                &[1, 0, 2, 2],
                -1,
                CrossEntropyOptions {
                    label_smoothing: 0.05,
                    ..Default::default()
                }
            )),
            one(&[4, 3], Real),
        ),
        // ----- compositions: losses, statistics, operator sugar, a small network
        row("var", f!(|v| v[0].var(false)), unary(Real)),
        row(
            "var_axis unbiased",
            f!(|v| v[0].var_axis(1, true, true)),
            one(&[3, 4], Real),
        ),
        row(
            "binary_cross_entropy_with_logits",
            f!(|v| loss::binary_cross_entropy_with_logits(&v[0], &v[1])),
            vec![s(&[(&[1, 6], Real), (&[1, 6], Unit)])],
        ),
        row(
            "binary_cross_entropy from probabilities",
            f!(|v| loss::binary_cross_entropy(&v[0], &v[1])),
            vec![s(&[(&[1, 6], Unit), (&[1, 6], Unit)])],
        ),
        row(
            "binary_cross_entropy of a sigmoid",
            f!(|v| loss::binary_cross_entropy(&v[0].sigmoid(), &v[1])),
            vec![
                s(&[(&[1, 6], Real), (&[1, 6], Unit)]),
                s(&[(&[1, 6], Wide), (&[1, 6], Unit)]),
                s(&[(&[3, 4], Real), (&[3, 4], Unit)]).t(),
            ],
        )
        .reference(|x| {
            // −1/n Σ (t log σ(z) + (1 − t) log(1 − σ(z)))
            let terms = r::zip(&x[0], &x[1], |z, t| {
                -(t * sigmoid(z).ln() + (1.0 - t) * (1.0 - sigmoid(z)).ln())
            });
            r::mean(&terms, None, false)
        }),
        row(
            "softmax_cross_entropy one-hot",
            f!(|v| loss::softmax_cross_entropy(
                &v[0],
                &Tensor::from_vec(
                    vec![
                        0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0,
                        1.0, 0.0, 0.0, 1.0, 0.0
                    ],
                    &[4, 5]
                ),
                0
            )),
            one(&[4, 5], Real),
        ),
        row(
            "softmax_cross_entropy indices",
            f!(|v| loss::softmax_cross_entropy_indices(&v[0], &[3, 0, 1, 3, 2])),
            one(&[4, 5], Real),
        ),
        row(
            "mse",
            f!(|v| loss::mse(&v[0], &v[1])),
            vec![s(&[(&[3, 4], Real), (&[3, 4], Real)])],
        ),
        row(
            "operators on references, values and scalars",
            f!(|v| {
                let (a, b) = (&v[0], &v[1]);
                let t = a * 2.0 + 1.5 - b / 3.0;
                let u = 2.0 * &t - (0.5 - b) * a.clone() + -a;
                (u / 4.0) * (3.0 / (b * b + 1.0))
            }),
            vec![s(&[(&[3, 4], Real), (&[4], Real)])],
        ),
        row(
            "two-layer network",
            f!(|v| {
                let a1 = (v[0].matmul(&v[4]) + &v[1]).tanh();
                let z2 = v[2].matmul(&a1) + &v[3];
                loss::softmax_cross_entropy_indices(&z2, &[0, 2, 1, 1, 0, 2])
            }),
            vec![s(&[
                (&[4, 3], Real),
                (&[4, 1], Real),
                (&[3, 4], Real),
                (&[3, 1], Real),
                (&[3, 6], Real),
            ])],
        ),
    ]
}
