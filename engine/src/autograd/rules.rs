//! Every derivative rule of the engine, in one place, each written once for both modes.
//!
//! [`Op`] names what a graph node did; [`with_rule`] gives, in one exhaustive `match`, the
//! derivative of each operation as a [`Rule`]. Reverse mode ([`backward_rule`]) and forward mode
//! ([`jvp_rule`](super::forward::jvp_rule)) both read it, so no formula is written twice:
//!
//! - [`Rule::Elementwise`] / [`Rule::Elementwise2`]: the Jacobian is diagonal (up to
//!   broadcasting), so one *local derivative* `s ↦ ∂y/∂x ⊙ s` serves both modes: applied to the
//!   incoming gradient `g` it is the vector-Jacobian product (then summed back to the operand's
//!   shape with `sum_to`, the reverse of broadcasting); applied to a tangent `dx` it is the
//!   Jacobian-vector product.
//! - [`Rule::SelfAdjoint`]: a symmetric Jacobian (softmax), so the same map serves both modes.
//! - [`Rule::Linear`]: the operation is linear in its inputs (reshape, permute, broadcast,
//!   sums, slicing, indexing, concatenation); forward mode applies the operation itself to the
//!   tangents and reverse mode applies its *transpose*, the one formula given.
//! - [`Rule::Special`]: a hand-written pair where the two directions genuinely differ
//!   (matrix products, log-softmax, extrema with ties).
//! - [`Rule::Custom`]: a user-defined [`CustomOp`]'s own backward (and optional JVP).
//!
//! Each rule cites its formula and is written with engine operations, so when backward runs with
//! `create_graph` the rules themselves are recorded and can be differentiated again.
//! Conventions: inputs are `x` (unary) or `a`, `b` (binary), the output is `y`, and `s` is what a
//! local derivative is applied to (`g` in reverse mode, `dx` in forward mode). Piecewise rules
//! make one choice at kinks and ties (the same in both modes, since it is one formula).
//! Comparisons, `argmax` and masks produce constants and have no rule.
//!
//! # Adding an operation
//!
//! 1. a variant of [`Op`] (with whatever its rule needs besides inputs and output) and its
//!    name in [`Op::name`];
//! 2. its forward computation in `ops/`, ending in `autograd::record` (or `record_view`);
//! 3. its arm in [`with_rule`]: prefer `Elementwise`/`Elementwise2` (one local derivative) or
//!    `Linear` (the op applied to a tangent, and its transpose); `Special` only when the two
//!    directions differ;
//! 4. a row in the op table (`engine/tests/suite/op_table/rows.rs`), which runs first- and
//!    second-order gradient checks, forward mode against central differences and reverse mode,
//!    f32 against f64, `create_graph` consistency and the value against a naive loop
//!    (`reference.rs`). The table lists every variant in `op_variants!` (`main.rs`): without
//!    that line the test file does not compile, and without a row recording the op its
//!    coverage test fails.
//!
//! Nothing else: forward mode, `create_graph`, the backward trace's broadcast report and the
//! mutation-test configuration (`.cargo/mutants.toml`) all read these rules.

use std::fmt;
use std::sync::Arc;

use smallvec::smallvec;

use crate::autograd::custom::CustomOp;
use crate::layout::Shape;
use crate::{Float, Tensor};

/// The operation a graph node recorded, with whatever its backward rule needs besides the
/// inputs and the output.
#[derive(Clone)]
pub enum Op<T: Float> {
    /// `a + b` (broadcasting).
    Add,
    /// `a - b` (broadcasting).
    Sub,
    /// `a * b` elementwise (broadcasting).
    Mul,
    /// `a / b` elementwise (broadcasting).
    Div,
    /// `a ^ b` elementwise (broadcasting).
    Pow,
    /// Elementwise maximum (broadcasting).
    Maximum,
    /// Elementwise minimum (broadcasting).
    Minimum,
    /// `-x`.
    Neg,
    /// `e^x`.
    Exp,
    /// Natural logarithm.
    Log,
    /// Square root.
    Sqrt,
    /// `|x|`.
    Abs,
    /// `x²`.
    Square,
    /// `x^p` for a constant exponent.
    PowScalar(T),
    /// `sin x`.
    Sin,
    /// `cos x`.
    Cos,
    /// `max(x, 0)`.
    Relu,
    /// `x` for `x > 0`, `slope·x` otherwise.
    LeakyRelu(T),
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// `x` limited to `[lo, hi]`.
    Clamp(T, T),
    /// Matrix product, batched over broadcast leading dimensions.
    MatMul,
    /// `a·b + c`: a matrix product plus `c` broadcast to its shape, in one node (a dense
    /// layer's `W·X + b`).
    MatMulAdd,
    /// Same elements, new shape (`from` is the input's).
    Reshape {
        /// The input's shape.
        from: Shape,
    },
    /// Dimensions reordered: output dimension `i` is input dimension `dims[i]`.
    Permute {
        /// The permutation.
        dims: Shape,
    },
    /// Stretched to a larger shape by NumPy broadcasting.
    BroadcastTo {
        /// The input's shape.
        from: Shape,
    },
    /// Summed down to a shape the input broadcasts from (the reverse of `BroadcastTo`).
    SumTo {
        /// The input's shape.
        from: Shape,
    },
    /// Sum over one axis (or all when `None`).
    Sum {
        /// The reduced axis.
        axis: Option<usize>,
        /// Whether the reduced axis was kept with size 1.
        keepdim: bool,
    },
    /// Mean over one axis (or all when `None`).
    Mean {
        /// The reduced axis.
        axis: Option<usize>,
        /// Whether the reduced axis was kept with size 1.
        keepdim: bool,
    },
    /// Maximum over one axis (or all when `None`).
    Max {
        /// The reduced axis.
        axis: Option<usize>,
        /// Whether the reduced axis was kept with size 1.
        keepdim: bool,
    },
    /// Minimum over one axis (or all when `None`).
    Min {
        /// The reduced axis.
        axis: Option<usize>,
        /// Whether the reduced axis was kept with size 1.
        keepdim: bool,
    },
    /// Softmax along an axis.
    Softmax {
        /// The normalised axis.
        axis: usize,
    },
    /// Log-softmax along an axis.
    LogSoftmax {
        /// The normalised axis.
        axis: usize,
    },
    /// Concatenation along an axis.
    Concat {
        /// The joined axis.
        axis: usize,
    },
    /// The range `start..start + len` of an axis.
    Narrow {
        /// The sliced axis.
        axis: usize,
        /// First index taken.
        start: usize,
    },
    /// Slices picked along an axis by index.
    IndexSelect {
        /// The indexed axis.
        axis: usize,
        /// The picked indices.
        indices: Arc<[usize]>,
    },
    /// Zeros of length `size` along `axis` with the input's slices added at `indices`.
    IndexAdd {
        /// The indexed axis.
        axis: usize,
        /// Where each input slice goes.
        indices: Arc<[usize]>,
        /// Output length along `axis`.
        size: usize,
    },
    /// `y[o, j, i] = x[o, index[o, j, i], i]` along `axis`.
    Gather {
        /// The indexed axis.
        axis: usize,
        /// Row-major indices, shaped like the output.
        index: Arc<[usize]>,
    },
    /// Zeros of `shape` with the input's elements added at `index` (reverse of `Gather`).
    ScatterAdd {
        /// The indexed axis.
        axis: usize,
        /// Row-major indices, shaped like the input.
        index: Arc<[usize]>,
        /// Output shape.
        shape: Shape,
    },
    /// `mask ? a : b` for a constant 0/1 mask (broadcasting).
    Where {
        /// The constant selector.
        mask: Tensor<T>,
    },
    /// Elementwise binary cross-entropy from logits `z` and targets `y`:
    /// `max(z, 0) - z·y + log(1 + e^-|z|)`.
    BceWithLogits,
    /// `BceWithLogits` of `σ(z)`'s logits `z`, recorded by
    /// [`binary_cross_entropy`](crate::loss::binary_cross_entropy) when its probabilities are the
    /// output of a recorded sigmoid. The loss is computed from `z` for stability, so the node's
    /// inputs are `z` and the targets and its rule is `BceWithLogits`'s; `probs` is the sigmoid's
    /// output that the rule skips, which still receives its gradient `∂l/∂p` for hooks,
    /// `retain_grad` and [`grad`](crate::grad) ([`skipped_gradient`]).
    BceOfSigmoid {
        /// The probabilities `σ(z)` the user passed.
        probs: Tensor<T>,
    },
    /// The mean softmax cross-entropy `-1/m Σ [y ≠ 0]·y·log softmax(z)` of logits `z` against
    /// targets `y` of the same shape, classes along `axis` and `m` the number of the other
    /// positions (examples): [`softmax_cross_entropy`](crate::loss::softmax_cross_entropy) as
    /// one operation, so that a training step records one node and runs one backward rule
    /// where the formula's seven operations would each record theirs.
    SoftmaxCrossEntropy {
        /// The classes' axis.
        axis: usize,
        /// `log softmax(z)` along `axis`, as the value computed it: the gradient's rule reads
        /// it instead of computing it again (backward refuses to run a node whose inputs
        /// were modified in place since, so it is never stale).
        log_softmax: Tensor<T>,
    },
    /// A user-defined operation.
    Custom(Arc<dyn CustomOp<T>>),
    /// Images `(m, C, H, W)` unfolded into the column matrix of a sliding window (the kernel
    /// and its adjoint live in `ops::conv`).
    Im2Col {
        /// The window.
        window: crate::ops::conv::Window2d,
    },
    /// A column matrix folded back into images, overlaps added (the adjoint of `Im2Col`).
    Col2Im {
        /// The window.
        window: crate::ops::conv::Window2d,
    },
    /// The error function.
    Erf,
    /// The complementary error function `1 - erf x`.
    Erfc,
    /// `log(1 + x)`.
    Log1p,
    /// `e^x - 1`.
    Expm1,
    /// `1/√x`.
    Rsqrt,
    /// `log(1 + e^x)`.
    Softplus,
    /// `x·σ(x)`.
    Silu,
    /// `x·Φ(x)` (exact GELU).
    Gelu,
    /// `x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))`.
    GeluTanh,
}

impl<T: Float> Op<T> {
    /// Short name of the operation, as shown in graph exports and traces.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Pow => "pow",
            Op::Maximum => "maximum",
            Op::Minimum => "minimum",
            Op::Neg => "neg",
            Op::Exp => "exp",
            Op::Log => "log",
            Op::Sqrt => "sqrt",
            Op::Abs => "abs",
            Op::Square => "square",
            Op::PowScalar(_) => "powf",
            Op::Sin => "sin",
            Op::Cos => "cos",
            Op::Relu => "relu",
            Op::LeakyRelu(_) => "leaky_relu",
            Op::Sigmoid => "sigmoid",
            Op::Tanh => "tanh",
            Op::Clamp(..) => "clamp",
            Op::MatMul => "matmul",
            Op::MatMulAdd => "matmul_add",
            Op::Reshape { .. } => "reshape",
            Op::Permute { .. } => "permute",
            Op::BroadcastTo { .. } => "broadcast_to",
            Op::SumTo { .. } => "sum_to",
            Op::Sum { .. } => "sum",
            Op::Mean { .. } => "mean",
            Op::Max { .. } => "max",
            Op::Min { .. } => "min",
            Op::Softmax { .. } => "softmax",
            Op::LogSoftmax { .. } => "log_softmax",
            Op::Concat { .. } => "concat",
            Op::Narrow { .. } => "narrow",
            Op::IndexSelect { .. } => "index_select",
            Op::IndexAdd { .. } => "index_add",
            Op::Gather { .. } => "gather",
            Op::ScatterAdd { .. } => "scatter_add",
            Op::Where { .. } => "where",
            Op::BceWithLogits => "bce_with_logits",
            Op::BceOfSigmoid { .. } => "bce_of_sigmoid",
            Op::SoftmaxCrossEntropy { .. } => "softmax_cross_entropy",
            Op::Custom(op) => op.name(),
            Op::Im2Col { .. } => "im2col",
            Op::Col2Im { .. } => "col2im",
            Op::Erf => "erf",
            Op::Erfc => "erfc",
            Op::Log1p => "log1p",
            Op::Expm1 => "expm1",
            Op::Rsqrt => "rsqrt",
            Op::Softplus => "softplus",
            Op::Silu => "silu",
            Op::Gelu => "gelu",
            Op::GeluTanh => "gelu_tanh",
        }
    }
}

impl<T: Float> fmt::Debug for Op<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub use crate::autograd::InputGrads;

/// A local derivative `s ↦ ∂y/∂x ⊙ s` (or a self-adjoint Jacobian applied to `s`).
pub type Partial<'r, T> = dyn Fn(&Tensor<T>) -> Tensor<T> + 'r;

/// A map of all the inputs' tangents (absent ones as zeros) to the output's.
pub type Apply<'r, T> = dyn Fn(&[Tensor<T>]) -> Tensor<T> + 'r;

/// For input `i`, the gradient `g` of the output mapped to that input's gradient.
pub type PerInput<'r, T> = dyn Fn(usize, &Tensor<T>) -> Tensor<T> + 'r;

/// Forward mode of a hand-written rule: the inputs' tangents (`None` for zero) to the output's.
pub type Tangent<'r, T> = dyn Fn(&[Option<Tensor<T>>]) -> Option<Tensor<T>> + 'r;

/// How an operation's derivative is given (see the [module docs](self)).
pub enum Rule<'r, T: Float> {
    /// One input, diagonal Jacobian: the local derivative `s ↦ f'(x) ⊙ s`.
    Elementwise(&'r Partial<'r, T>),
    /// Two broadcast inputs, elementwise: `s ↦ ∂y/∂a ⊙ s` and `s ↦ ∂y/∂b ⊙ s`.
    Elementwise2(&'r Partial<'r, T>, &'r Partial<'r, T>),
    /// One input, symmetric Jacobian `J = Jᵀ`: the same map gives `J·dx` and `Jᵀ·g`.
    SelfAdjoint(&'r Partial<'r, T>),
    /// Linear in its inputs: `apply` is the operation on tangents (forward mode), `transpose`
    /// its adjoint for input `i` (reverse mode).
    Linear {
        /// The operation applied to the tangents: `J·dx`.
        apply: &'r Apply<'r, T>,
        /// The transpose for input `i`: `Jᵢᵀ·g`.
        transpose: &'r PerInput<'r, T>,
    },
    /// Hand-written vector-Jacobian and Jacobian-vector products.
    Special {
        /// `Jᵢᵀ·g` for input `i`, already shaped like that input.
        vjp: &'r PerInput<'r, T>,
        /// `J·dx` from the inputs' tangents.
        jvp: &'r Tangent<'r, T>,
    },
    /// A user-defined operation's own rules.
    Custom(&'r dyn CustomOp<T>),
}

/// Calls `k` with the [`Rule`] of `op`, given its `inputs` and its output `y`. This is the one
/// place derivatives are written.
pub fn with_rule<T: Float, R>(
    op: &Op<T>,
    inputs: &[Tensor<T>],
    y: &Tensor<T>,
    k: impl FnOnce(Rule<'_, T>) -> R,
) -> R {
    use Rule::{Elementwise, Elementwise2, Linear, SelfAdjoint, Special};
    if let Op::Custom(custom) = op {
        return k(Rule::Custom(custom.as_ref()));
    }
    let c = |v: f64| T::from_f64(v);
    let x = &inputs[0];
    let (a, b) = (x, inputs.get(1).unwrap_or(x));

    match op {
        // d(a + b) = da + db
        Op::Add => k(Elementwise2(&|s| s.clone(), &|s| s.clone())),
        // d(a - b) = da - db
        Op::Sub => k(Elementwise2(&|s| s.clone(), &|s| -s)),
        // d(a·b) = b·da + a·db
        Op::Mul => k(Elementwise2(&|s| s * b, &|s| s * a)),
        // d(a/b) = da/b - a/b²·db
        Op::Div => k(Elementwise2(&|s| s / b, &|s| -(s * a) / b.square())),
        // d(a^b) = b·a^(b-1)·da + a^b·ln(a)·db
        Op::Pow => k(Elementwise2(&|s| s * b * a.pow(&(b - c(1.0))), &|s| {
            s * y * a.log()
        })),
        // d max(a, b) goes to the larger operand; ties split it evenly. The masks are
        // [not a < b] - [a = b]/2, which is [a > b] + [a = b]/2 except where an operand is NaN:
        // there both operands get all of ds, as PyTorch's maximum rule gives.
        Op::Maximum => k(Elementwise2(&|s| s * not_less_half_ties(a, b), &|s| {
            s * not_less_half_ties(b, a)
        })),
        // d min(a, b) goes to the smaller operand; ties split it evenly (NaN: as maximum).
        Op::Minimum => k(Elementwise2(&|s| s * not_less_half_ties(b, a), &|s| {
            s * not_less_half_ties(a, b)
        })),
        // mask ? a : b routes ds to a where the mask is 1 and to b where it is 0.
        Op::Where { mask } => k(Elementwise2(
            &|s| Tensor::where_mask(mask, s, &Tensor::zeros(&[])),
            &|s| Tensor::where_mask(mask, &Tensor::zeros(&[]), s),
        )),
        // l = max(z,0) - z·t + log(1 + e^-|z|): dl = (σ(z) - t)·dz - z·dt
        // (BceOfSigmoid computes the same loss from the same inputs.)
        Op::BceWithLogits | Op::BceOfSigmoid { .. } => {
            k(Elementwise2(&|s| times_sigmoid_minus(s, a, b), &|s| {
                -(s * a)
            }))
        }
        // l = -(1/m) Σ [y≠0]·y·ls with ls = log softmax(z) along the classes. With
        // s = -(g/m) where y ≠ 0 (0 where y = 0) and u = s·y, log-softmax's transpose gives
        // dz = u - e^ls ⊙ Σ_axis u, and dy = s·ls; forward, dl = -(1/m) Σ [y≠0]·(y·dls + dy·ls)
        // with dls = dz - Σ_axis e^ls ⊙ dz.
        Op::SoftmaxCrossEntropy { axis, log_softmax } => k(Special {
            vjp: &|i, g| softmax_cross_entropy_vjp(i, g, a, b, *axis, log_softmax),
            jvp: &|t| {
                let ls = a.log_softmax(*axis);
                let from_z = t[0]
                    .as_ref()
                    .map(|dz| b * (dz - (ls.exp() * dz).sum_axis(*axis, true)));
                let from_y = t[1].as_ref().map(|dy| dy * &ls);
                let d = match (from_z, from_y) {
                    (Some(z), Some(y)) => z + y,
                    (z, y) => z.or(y)?,
                };
                let absent = b.eq_mask(&Tensor::scalar(T::zero()));
                let d = Tensor::where_mask(&absent, &Tensor::scalar(T::zero()), &d);
                Some(-d.sum_axis(*axis, false).mean())
            },
        }),
        // d(-x) = -dx
        Op::Neg => k(Elementwise(&|s| -s)),
        // d e^x = e^x dx = y dx
        Op::Exp => k(Elementwise(&|s| s * y)),
        // d ln x = dx / x
        Op::Log => k(Elementwise(&|s| s / x)),
        // d √x = dx / (2√x) = dx / (2y)
        Op::Sqrt => k(Elementwise(&|s| s / (y * c(2.0)))),
        // d|x| = sign(x) dx (0 at 0)
        Op::Abs => k(Elementwise(&|s| {
            s * (x.gt_scalar(T::zero()) - x.lt_scalar(T::zero()))
        })),
        // d x² = 2x dx
        Op::Square => k(Elementwise(&|s| s * x * c(2.0))),
        // d x^p = p·x^(p-1) dx
        Op::PowScalar(p) => k(Elementwise(&|s| s * x.powf(*p - T::one()) * *p)),
        // d sin x = cos x dx
        Op::Sin => k(Elementwise(&|s| s * x.cos())),
        // d cos x = -sin x dx
        Op::Cos => k(Elementwise(&|s| -(s * x.sin()))),
        // d relu(x) = [x > 0] dx, written as relu_backward's dZ[Z <= 0] = 0, i.e. [not x <= 0]:
        // the same for every number, and at NaN it passes ds on, as that code and PyTorch's
        // threshold_backward do.
        Op::Relu => k(Elementwise(&|s| times_relu_mask(s, x))),
        // d leaky_relu(x) = ([x > 0] + slope·[x <= 0]) dx
        Op::LeakyRelu(slope) => k(Elementwise(&|s| {
            let pos = x.gt_scalar(T::zero());
            s * (&pos + (-&pos + c(1.0)) * *slope)
        })),
        // d σ(x) = σ(x)(1 - σ(x)) dx = y(1 - y) dx, in the order sigmoid_backward computes it
        Op::Sigmoid => k(Elementwise(&|s| s * y * (-y + c(1.0)))),
        // d tanh x = (1 - tanh² x) dx = (1 - y²) dx
        Op::Tanh => k(Elementwise(&|s| s * (-y.square() + c(1.0)))),
        // d clamp(x, lo, hi) = [lo <= x <= hi] dx
        Op::Clamp(lo, hi) => k(Elementwise(&|s| s * (x.ge_scalar(*lo) * x.le_scalar(*hi)))),
        // y = softmax(x): J = diag(y) - y·yᵀ is symmetric, J·s = y ⊙ (s - Σ_axis s ⊙ y)
        Op::Softmax { axis } => k(SelfAdjoint(&|s| y * (s - (s * y).sum_axis(*axis, true)))),
        // Y = A·B: dY = dA·B + A·dB; reverse: dA = dY·Bᵀ, dB = Aᵀ·dY (summed over broadcast
        // batch dimensions)
        Op::MatMul => k(Special {
            vjp: &|i, g| match i {
                0 => times_transposed(g, b, Side::Right).sum_to(a.shape()),
                _ => times_transposed(a, g, Side::Left).sum_to(b.shape()),
            },
            jvp: &|t| {
                sum_terms([
                    t[0].as_ref().map(|da| da.matmul(b)),
                    t[1].as_ref().map(|db| a.matmul(db)),
                ])
            },
        }),
        // Y = A·B + C: dY = dA·B + A·dB + dC; reverse: matmul's two products, and dC = dY
        // summed back to C's shape (as `Add` does for a broadcast operand)
        Op::MatMulAdd => k(Special {
            vjp: &|i, g| match i {
                0 => times_transposed(g, b, Side::Right).sum_to(a.shape()),
                1 => times_transposed(a, g, Side::Left).sum_to(b.shape()),
                _ => g.sum_to(inputs[2].shape()),
            },
            jvp: &|t| {
                sum_terms([
                    t[0].as_ref().map(|da| da.matmul(b)),
                    t[1].as_ref().map(|db| a.matmul(db)),
                    t[2].as_ref().map(|dc| dc.broadcast_to(y.shape())),
                ])
            },
        }),
        // y = log softmax(x) = x - log Σ e^x, with softmax(x) = e^y:
        // forward dy = dx - Σ_axis e^y ⊙ dx; reverse dx = g - e^y ⊙ Σ_axis g
        Op::LogSoftmax { axis } => k(Special {
            vjp: &|_, g| g - y.exp() * g.sum_axis(*axis, true),
            jvp: &|t| {
                let dx = t[0].as_ref()?;
                Some(dx - (y.exp() * dx).sum_axis(*axis, true))
            },
        }),
        // y = max x: the gradient goes to the maximal elements, shared evenly between ties;
        // the tangent is the mean tangent of the ties (the same choice, so the modes agree).
        Op::Max { axis, keepdim } | Op::Min { axis, keepdim } => {
            let winners = || {
                let y_full = restore_reduced(&y.detach(), x.shape(), *axis, *keepdim);
                x.eq_mask(&y_full)
            };
            k(Special {
                vjp: &|_, g| {
                    let winners = winners();
                    let count = match axis {
                        Some(a) => winners.sum_axis(*a, true),
                        None => winners.sum(),
                    };
                    restore_reduced(g, x.shape(), *axis, *keepdim) * (winners / count)
                },
                jvp: &|t| {
                    let dx = t[0].as_ref()?;
                    let winners = winners();
                    Some(match axis {
                        Some(a) => {
                            (dx * &winners).sum_axis(*a, *keepdim) / winners.sum_axis(*a, *keepdim)
                        }
                        None => (dx * &winners).sum() / winners.sum(),
                    })
                },
            })
        }
        // Reshape and permute move elements without changing them: the transpose undoes the move.
        Op::Reshape { from } => k(Linear {
            apply: &|t| t[0].reshape(y.shape()),
            transpose: &|_, g| g.reshape(from),
        }),
        Op::Permute { dims } => k(Linear {
            apply: &|t| t[0].permute(dims),
            transpose: &|_, g| {
                let mut inverse: Shape = smallvec![0; dims.len()];
                for (i, &d) in dims.iter().enumerate() {
                    inverse[d] = i;
                }
                g.permute(&inverse)
            },
        }),
        // Broadcasting copies each element to many places; their gradients add up.
        Op::BroadcastTo { from } => k(Linear {
            apply: &|t| t[0].broadcast_to(y.shape()),
            transpose: &|_, g| g.sum_to(from),
        }),
        // The reverse: every summed element receives the sum's gradient.
        Op::SumTo { from } => k(Linear {
            apply: &|t| t[0].sum_to(y.shape()),
            transpose: &|_, g| g.broadcast_to(from),
        }),
        // y = Σ x: the transpose broadcasts dy back over the summed axis.
        Op::Sum { axis, keepdim } => k(Linear {
            apply: &|t| match axis {
                Some(a) => t[0].sum_axis(*a, *keepdim),
                None => t[0].sum(),
            },
            transpose: &|_, g| {
                restore_reduced(g, x.shape(), *axis, *keepdim).broadcast_to(x.shape())
            },
        }),
        // y = (1/n) Σ x: the transpose is dy / n, broadcast back.
        Op::Mean { axis, keepdim } => k(Linear {
            apply: &|t| match axis {
                Some(a) => t[0].mean_axis(*a, *keepdim),
                None => t[0].mean(),
            },
            transpose: &|_, g| {
                let n = axis.map_or(x.numel(), |a| x.shape()[a]);
                restore_reduced(g, x.shape(), *axis, *keepdim).broadcast_to(x.shape()) / c(n as f64)
            },
        }),
        // Concatenation: each input's transpose is its own slice of dy.
        Op::Concat { axis } => k(Linear {
            apply: &|t| Tensor::concat(&t.iter().collect::<Vec<_>>(), *axis),
            transpose: &|i, g| {
                let start = inputs[..i].iter().map(|x| x.shape()[*axis]).sum();
                g.narrow(*axis, start, inputs[i].shape()[*axis])
            },
        }),
        // Narrow: the transpose puts dy in the taken range, zeros elsewhere.
        Op::Narrow { axis, start } => k(Linear {
            apply: &|t| t[0].narrow(*axis, *start, y.shape()[*axis]),
            transpose: &|_, g| {
                let len = g.shape()[*axis];
                let pad = |n: usize| {
                    let mut s: Shape = x.shape().into();
                    s[*axis] = n;
                    Tensor::zeros(&s)
                };
                let after = x.shape()[*axis] - start - len;
                Tensor::concat(&[&pad(*start), g, &pad(after)], *axis)
            },
        }),
        // index_select and index_add are each other's transposes.
        Op::IndexSelect { axis, indices } => k(Linear {
            apply: &|t| t[0].index_select(*axis, indices),
            transpose: &|_, g| g.index_add(*axis, indices, x.shape()[*axis]),
        }),
        Op::IndexAdd {
            axis,
            indices,
            size,
        } => k(Linear {
            apply: &|t| t[0].index_add(*axis, indices, *size),
            transpose: &|_, g| g.index_select(*axis, indices),
        }),
        // gather and scatter_add are each other's transposes.
        Op::Gather { axis, index } => k(Linear {
            apply: &|t| t[0].gather(*axis, index, y.shape()),
            transpose: &|_, g| g.scatter_add(*axis, index, x.shape()),
        }),
        Op::ScatterAdd { axis, index, shape } => k(Linear {
            apply: &|t| t[0].scatter_add(*axis, index, shape),
            transpose: &|_, g| g.gather(*axis, index, x.shape()),
        }),
        // im2col copies each image element into every window position that covers it;
        // col2im adds those copies back up: each is the other's transpose.
        Op::Im2Col { window } => k(Linear {
            apply: &|t| t[0].im2col(window),
            transpose: &|_, g| g.col2im(window),
        }),
        Op::Col2Im { window } => k(Linear {
            apply: &|t| t[0].col2im(window),
            transpose: &|_, g| g.im2col(window),
        }),
        // y = f(x) elementwise with f' written once, beside its kernel, in ops::activation_ext:
        // erf' = 2/√π e^(-x²), erfc' = -erf', log1p' = 1/(1+x), expm1' = eˣ,
        // rsqrt' = -y³/2, softplus' = σ(x), silu' = σ(x)(1 + x(1 - σ(x))),
        // gelu' = Φ(x) + xφ(x), and the tanh approximation's derivative.
        Op::Erf
        | Op::Erfc
        | Op::Log1p
        | Op::Expm1
        | Op::Rsqrt
        | Op::Softplus
        | Op::Silu
        | Op::Gelu
        | Op::GeluTanh => k(Elementwise(&|s| {
            s * crate::ops::activation_ext::derivative(op, x, y)
        })),
        Op::Custom(_) => unreachable!("custom ops return above"),
    }
}

/// Sums the present terms; `None` when there are none (a zero tangent).
pub(crate) fn sum_terms<T: Float>(
    terms: impl IntoIterator<Item = Option<Tensor<T>>>,
) -> Option<Tensor<T>> {
    terms.into_iter().flatten().reduce(|acc, t| acc + t)
}

/// The backward rule of `op`: given its `inputs`, its `output` `y` and the gradient `g` of the
/// final result with respect to `y`, returns the gradient with respect to each input. Only the
/// inputs that require gradients get one; the others' work is skipped.
pub fn backward_rule<T: Float>(
    op: &Op<T>,
    inputs: &[Tensor<T>],
    y: &Tensor<T>,
    g: &Tensor<T>,
) -> InputGrads<T> {
    let need = |i: usize| inputs[i].requires_grad();
    let each = |f: &dyn Fn(usize) -> Tensor<T>| -> InputGrads<T> {
        (0..inputs.len()).map(|i| need(i).then(|| f(i))).collect()
    };
    with_rule(op, inputs, y, |rule| match rule {
        Rule::Elementwise(f) | Rule::SelfAdjoint(f) => each(&|_| f(g)),
        // Each operand's share, summed back over the axes it was broadcast along.
        Rule::Elementwise2(fa, fb) => each(&|i| match i {
            0 => fa(g).sum_to(inputs[0].shape()),
            _ => fb(g).sum_to(inputs[1].shape()),
        }),
        Rule::Linear { transpose, .. } => each(&|i| transpose(i, g)),
        Rule::Special { vjp, .. } => each(&|i| vjp(i, g)),
        Rule::Custom(custom) => custom.backward(inputs, y, g),
    })
}

/// The tensor a node's rule skips over, when there is one: a recorded tensor between the node's
/// inputs and its output that the node computes through without using it (only
/// [`Op::BceOfSigmoid`]'s probabilities). Backward delivers it [`skipped_gradient`].
pub(crate) fn skipped<T: Float>(op: &Op<T>) -> Option<&Tensor<T>> {
    match op {
        Op::BceOfSigmoid { probs } => Some(probs),
        _ => None,
    }
}

/// The gradient `g` of a node's output sends to the tensor its rule [`skipped`], `p = σ(z)`
/// for `BceOfSigmoid` with targets `t`:
/// `∂l/∂p = (1-t)/(1-p) - t/p = (1-t)(1 + e^z) - t(1 + e^-z)`, written with `z` so that it stays
/// exact where `p` rounds to 0 or 1, and with each term 0 where its weight is 0 (a saturated
/// `p = 1` with `t = 1` gives -1, where `(p - t)/(p(1-p))` would give 0/0). It is infinite only
/// where `1 + e^±z` overflows, the true value being larger than the type's largest number.
pub(crate) fn skipped_gradient<T: Float>(inputs: &[Tensor<T>], g: &Tensor<T>) -> Tensor<T> {
    let (z, t) = (&inputs[0], &inputs[1]);
    let one = T::one();
    let zero = Tensor::scalar(T::zero());
    let weighted = |weight: &Tensor<T>, reciprocal: Tensor<T>| {
        let absent = weight.eq_mask(&zero);
        Tensor::where_mask(&absent, &zero, &(weight * reciprocal))
    };
    let from_one_minus_p = weighted(&(-t + one), z.exp() + one);
    let from_p = weighted(t, (-z).exp() + one);
    g * (from_one_minus_p - from_p)
}

/// `s · (σ(a) - b)`, the logits' share of a binary cross-entropy's derivative. When nothing is
/// being recorded and the three are dense and of one shape (a training step's backward), it is
/// one pass computing per element what the formula's three operations compute, with the same
/// three roundings (the test `bce_gradient_matches_the_unfused_formula_bit_for_bit` compares
/// them); otherwise it is the formula itself, recorded when a graph is being built.
fn times_sigmoid_minus<T: Float>(s: &Tensor<T>, a: &Tensor<T>, b: &Tensor<T>) -> Tensor<T> {
    if !fusable(&[s, a, b]) {
        return s * (a.sigmoid() - b);
    }
    let sigmoid = crate::ops::elementwise::sigmoid::<T>;
    let data = s.with_data(|s| {
        a.with_data(|a| {
            b.with_data(|b| {
                let mut out = crate::buffers::take(a.len());
                out.extend((s.iter().zip(a).zip(b)).map(|((&s, &a), &b)| s * (sigmoid(a) - b)));
                out
            })
        })
    });
    Tensor::dense(data, a.shape())
}

/// [`Op::SoftmaxCrossEntropy`]'s `Jᵢᵀ·g` for the logits `z` (`i = 0`) and the targets `y`
/// (`i = 1`), as its formula's operations compute it: the mean's `g/m` negated, zero where
/// `y = 0` (`s`), times `y` (`u`), through log-softmax's transpose `u - e^ls ⊙ Σ_axis u` for
/// `z`, and `s·ls` for `y`. A training step's logits gradient (nothing recorded, dense operands
/// of one shape) is one pass per example computing exactly those roundings in that order (the
/// test `softmax_cross_entropy_matches_the_formula_bit_for_bit` compares them); otherwise it
/// is the formula, recorded when a graph is being built.
fn softmax_cross_entropy_vjp<T: Float>(
    i: usize,
    g: &Tensor<T>,
    z: &Tensor<T>,
    y: &Tensor<T>,
    axis: usize,
    log_softmax: &Tensor<T>,
) -> Tensor<T> {
    use crate::kernels::{reduce_axis_of, split_at_axis};
    let (outer, classes, inner) = split_at_axis(z.shape(), axis);
    let m = T::from_f64((outer * inner) as f64);
    // Any layouts: both are read in row-major order (`with_data`), and the shapes are equal
    // (checked when the loss was recorded). A batch's targets are a transposed view.
    if i == 0 && !recording(&[g, z, y]) {
        let s = -(g.item() / m);
        return log_softmax.with_data(|ls| {
            let mut u: Vec<T> = y.with_data(|y| {
                let mut u = crate::buffers::take(y.len());
                u.extend(
                    y.iter()
                        .map(|&y| if y == T::zero() { T::zero() } else { s } * y),
                );
                u
            });
            // Σ_axis u, as `sum_axis` folds it; then u - e^ls ⊙ that sum, in place.
            let totals = reduce_axis_of(&u, (outer, classes, inner), T::zero(), |a, b| a + b);
            for (e, (u, &l)) in u.iter_mut().zip(ls).enumerate() {
                let (o, i) = (e / (classes * inner), e % inner);
                *u -= l.exp() * totals[o * inner + i];
            }
            Tensor::dense(u, z.shape())
        });
    }
    // The formula's own operations, which a graph of the backward differentiates again.
    let ls = z.log_softmax(axis);
    let absent = y.eq_mask(&Tensor::scalar(T::zero()));
    let s = Tensor::where_mask(&absent, &Tensor::zeros(&[]), &(-(g / m)));
    if i == 0 {
        let u = &s * y;
        &u - ls.exp() * u.sum_axis(axis, true)
    } else {
        s * ls
    }
}

/// The constant mask `[not a < b] - [a = b]/2`: 1 where `a > b`, 1/2 on ties, 0 where `a < b`,
/// and 1 where either is NaN (the gradient mask of `maximum` for `a`).
fn not_less_half_ties<T: Float>(a: &Tensor<T>, b: &Tensor<T>) -> Tensor<T> {
    -a.lt(b) + T::one() - a.eq_mask(b) * T::from_f64(0.5)
}

/// `s · [not x <= 0]`, relu's local derivative applied to `s`. Fused as
/// [`times_sigmoid_minus`] is: one pass with no mask tensor, each element the same product by
/// exactly 0 or 1 (the test `relu_gradient_matches_the_unfused_mask_bit_for_bit` compares them).
fn times_relu_mask<T: Float>(s: &Tensor<T>, x: &Tensor<T>) -> Tensor<T> {
    if !fusable(&[s, x]) {
        return s * not_le_zero(x);
    }
    // `zip_map`'s dense path: one pass, on the engine's threads when large.
    let data = crate::kernels::zip_map(s, x, x.shape(), |s, x| {
        s * if x <= T::zero() { T::zero() } else { T::one() }
    });
    Tensor::dense(data, x.shape())
}

/// Whether a fused rule may compute in one pass: nothing is being recorded and the operands
/// are dense and of one shape (the usual case in a training step; broadcasting and views take
/// the formula).
fn fusable<T: Float>(operands: &[&Tensor<T>]) -> bool {
    let shape = operands[0].shape();
    !recording(operands)
        && operands
            .iter()
            .all(|t| t.shape() == shape && t.is_contiguous())
}

/// Whether an operation on `operands` would be recorded: then a rule must use the formula's
/// own operations, which a graph of the backward pass (`create_graph`) differentiates again.
fn recording<T: Float>(operands: &[&Tensor<T>]) -> bool {
    crate::autograd::is_grad_enabled() && operands.iter().any(|t| t.requires_grad())
}

/// Which operand of [`times_transposed`] is transposed.
#[derive(Clone, Copy)]
enum Side {
    /// `x·yᵀ`
    Right,
    /// `xᵀ·y`
    Left,
}

/// `x·yᵀ` or `xᵀ·y`, the products of a matrix product's reverse rule. For plain matrices when
/// nothing is recorded (a training step's backward), the transposed operand is handed to the
/// product kernel as its permuted layout instead of as a view tensor: the same product of the
/// same layouts, so the same bits (the op table's rows and `engine/tests/suite/fused_rules.rs` check it),
/// without making a tensor per transpose.
fn times_transposed<T: Float>(x: &Tensor<T>, y: &Tensor<T>, side: Side) -> Tensor<T> {
    if x.ndim() != 2 || y.ndim() != 2 || recording(&[x, y]) {
        return match side {
            Side::Right => x.matmul(&y.transpose(-2, -1)),
            Side::Left => x.transpose(-2, -1).matmul(y),
        };
    }
    let (sx, sy) = (x.storage(), y.storage());
    let swapped = |t: &Tensor<T>| t.layout().permute(&[1, 0]);
    let (xs, ys) = (x.shape(), y.shape());
    let (data, shape) = match side {
        Side::Right => {
            let yt = swapped(y);
            let mkn = [xs[0], xs[1], ys[0]];
            let data = crate::kernels::matmul_views((&sx, x.layout()), (&sy, &yt), &[], mkn);
            (data, [xs[0], ys[0]])
        }
        Side::Left => {
            let xt = swapped(x);
            let mkn = [xs[1], xs[0], ys[1]];
            let data = crate::kernels::matmul_views((&sx, &xt), (&sy, y.layout()), &[], mkn);
            (data, [xs[1], ys[1]])
        }
    };
    Tensor::dense(data, &shape)
}

/// The constant mask `[not x <= 0]`: `[x > 0]`, and 1 at NaN (relu's gradient mask). One pass
/// over `x`, the same values as `-x.le_scalar(0) + 1` (the test
/// `relu_gradient_matches_the_unfused_mask_bit_for_bit` compares them).
pub(crate) fn not_le_zero<T: Float>(x: &Tensor<T>) -> Tensor<T> {
    let mask = crate::kernels::map(x, |v| if v <= T::zero() { T::zero() } else { T::one() });
    Tensor::dense(mask, x.shape())
}

/// Re-inserts a reduced axis (size 1) into `g` so it broadcasts against the reduction's input.
fn restore_reduced<T: Float>(
    g: &Tensor<T>,
    input_shape: &[usize],
    axis: Option<usize>,
    keepdim: bool,
) -> Tensor<T> {
    match (axis, keepdim) {
        (Some(a), false) => g.unsqueeze(a),
        (None, _) => g.reshape(&vec![1; input_shape.len()]),
        (Some(_), true) => g.clone(),
    }
}
