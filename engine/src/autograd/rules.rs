//! Every backward rule of the engine, in one place.
//!
//! [`Op`] names what a graph node did; [`backward_rule`] says, rule by rule, how the gradient
//! of the output (`g`, same shape as the output `y`) becomes gradients of the inputs. Each rule
//! cites its formula and is written with engine operations, so when backward runs with
//! `create_graph` the rules themselves are recorded and can be differentiated again.
//!
//! Conventions: inputs are `x` (unary) or `a`, `b` (binary); broadcast operands get their
//! gradient summed back to their own shape with `sum_to` (the reverse of broadcasting).
//! Comparisons, `argmax` and masks produce constants and have no rule.

use std::fmt;
use std::sync::Arc;

use smallvec::{smallvec, SmallVec};

use crate::layout::Shape;
use crate::ops::custom::CustomOp;
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
    /// A user-defined operation.
    Custom(Arc<dyn CustomOp<T>>),

    // ----- ops for modern architectures (issue 11); kernels and derivatives live in
    // `ops::conv` and `ops::activation_ext`.
    /// Images `(m, C, H, W)` unfolded into the column matrix of a sliding window.
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

/// Gradients for a node's inputs (`None` where an input needs none).
pub type InputGrads<T> = SmallVec<[Option<Tensor<T>>; 2]>;

/// The gradient with respect to one operand of a binary op, from both operands.
type BinaryPartial<'a, T> = dyn Fn(&Tensor<T>, &Tensor<T>) -> Tensor<T> + 'a;

/// The backward rule of `op`: given its `inputs`, its `output` `y` and the gradient `g` of the
/// final result with respect to `y`, returns the gradient with respect to each input.
pub fn backward_rule<T: Float>(
    op: &Op<T>,
    inputs: &[Tensor<T>],
    y: &Tensor<T>,
    g: &Tensor<T>,
) -> InputGrads<T> {
    let need = |i: usize| inputs[i].requires_grad_flag();
    // Only the inputs that require gradients get one; `grad_if` skips the others' work.
    let grad_if = |i: usize, f: &dyn Fn() -> Tensor<T>| if need(i) { Some(f()) } else { None };
    let unary = |f: &dyn Fn(&Tensor<T>) -> Tensor<T>| -> InputGrads<T> {
        smallvec![grad_if(0, &|| f(&inputs[0]))]
    };
    let binary = |fa: &BinaryPartial<'_, T>, fb: &BinaryPartial<'_, T>| -> InputGrads<T> {
        let (a, b) = (&inputs[0], &inputs[1]);
        smallvec![
            grad_if(0, &|| fa(a, b).sum_to(a.shape())),
            grad_if(1, &|| fb(a, b).sum_to(b.shape())),
        ]
    };
    let c = |v: f64| T::from_f64(v);

    match op {
        // d(a + b) = da + db
        Op::Add => binary(&|_, _| g.clone(), &|_, _| g.clone()),
        // d(a - b) = da - db
        Op::Sub => binary(&|_, _| g.clone(), &|_, _| -g),
        // d(a·b) = b·da + a·db
        Op::Mul => binary(&|_, b| g * b, &|a, _| g * a),
        // d(a/b) = da/b - a/b²·db
        Op::Div => binary(&|_, b| g / b, &|a, b| -(g * a) / b.square()),
        // d(a^b) = b·a^(b-1)·da + a^b·ln(a)·db
        Op::Pow => binary(&|a, b| g * b * a.pow(&(b - c(1.0))), &|a, _| {
            g * y * a.log()
        }),
        // d max(a, b) goes to the larger operand; ties split it evenly. The masks are
        // [not a < b] - [a = b]/2, which is [a > b] + [a = b]/2 except where an operand is NaN:
        // there both operands get all of dy, as PyTorch's maximum rule gives.
        Op::Maximum => binary(&|a, b| g * not_less_half_ties(a, b), &|a, b| {
            g * not_less_half_ties(b, a)
        }),
        // d min(a, b) goes to the smaller operand; ties split it evenly (NaN: as maximum).
        Op::Minimum => binary(&|a, b| g * not_less_half_ties(b, a), &|a, b| {
            g * not_less_half_ties(a, b)
        }),
        // d(-x) = -dx
        Op::Neg => unary(&|_| -g),
        // d e^x = e^x dx = y dx
        Op::Exp => unary(&|_| g * y),
        // d ln x = dx / x
        Op::Log => unary(&|x| g / x),
        // d √x = dx / (2√x) = dx / (2y)
        Op::Sqrt => unary(&|_| g / (y * c(2.0))),
        // d|x| = sign(x) dx (0 at 0)
        Op::Abs => unary(&|x| g * (x.gt_scalar(T::zero()) - x.lt_scalar(T::zero()))),
        // d x² = 2x dx
        Op::Square => unary(&|x| g * x * c(2.0)),
        // d x^p = p·x^(p-1) dx
        Op::PowScalar(p) => unary(&|x| g * x.powf(*p - T::one()) * *p),
        // d sin x = cos x dx
        Op::Sin => unary(&|x| g * x.cos()),
        // d cos x = -sin x dx
        Op::Cos => unary(&|x| -(g * x.sin())),
        // d relu(x) = [x > 0] dx, written as the course's relu_backward, dZ[Z <= 0] = 0, i.e.
        // [not x <= 0]: the same for every number, and at NaN it passes dy on, as that code
        // and PyTorch's threshold_backward do.
        Op::Relu => unary(&|x| g * not_le_zero(x)),
        // d leaky_relu(x) = ([x > 0] + slope·[x <= 0]) dx
        Op::LeakyRelu(slope) => unary(&|x| {
            let pos = x.gt_scalar(T::zero());
            g * (&pos + (-&pos + c(1.0)) * *slope)
        }),
        // d σ(x) = σ(x)(1 - σ(x)) dx = y(1 - y) dx (seed 001, eq. 6.1.2's sigmoid_backward)
        Op::Sigmoid => unary(&|_| g * y * (-y + c(1.0))),
        // d tanh x = (1 - tanh² x) dx = (1 - y²) dx
        Op::Tanh => unary(&|_| g * (-y.square() + c(1.0))),
        // d clamp(x, lo, hi) = [lo <= x <= hi] dx
        Op::Clamp(lo, hi) => unary(&|x| g * (x.ge_scalar(*lo) * x.le_scalar(*hi))),
        // Y = A·B: dA = dY·Bᵀ, dB = Aᵀ·dY (summed over broadcast batch dimensions)
        Op::MatMul => binary(&|_, b| g.matmul(&b.transpose(-2, -1)), &|a, _| {
            a.transpose(-2, -1).matmul(g)
        }),
        // Reshape and permute move elements without changing them: undo the move.
        Op::Reshape { from } => unary(&|_| g.reshape(from)),
        Op::Permute { dims } => unary(&|_| {
            let mut inverse: Shape = smallvec![0; dims.len()];
            for (i, &d) in dims.iter().enumerate() {
                inverse[d] = i;
            }
            g.permute(&inverse)
        }),
        // Broadcasting copies each element to many places; their gradients add up.
        Op::BroadcastTo { from } => unary(&|_| g.sum_to(from)),
        // The reverse: every summed element receives the sum's gradient.
        Op::SumTo { from } => unary(&|_| g.broadcast_to(from)),
        // y = Σ x: dx = dy, broadcast back over the summed axis.
        Op::Sum { axis, keepdim } => {
            unary(&|x| restore_reduced(g, x.shape(), *axis, *keepdim).broadcast_to(x.shape()))
        }
        // y = (1/n) Σ x: dx = dy / n.
        Op::Mean { axis, keepdim } => unary(&|x| {
            let n = axis.map_or(x.numel(), |a| x.shape()[a]);
            restore_reduced(g, x.shape(), *axis, *keepdim).broadcast_to(x.shape()) / c(n as f64)
        }),
        // y = max x: dx goes to the maximal elements, shared evenly between ties.
        Op::Max { axis, keepdim } | Op::Min { axis, keepdim } => unary(&|x| {
            let y_full = restore_reduced(&y.detach(), x.shape(), *axis, *keepdim);
            let winners = x.eq_mask(&y_full);
            let count = match axis {
                Some(a) => winners.sum_axis(*a, true),
                None => winners.sum(),
            };
            restore_reduced(g, x.shape(), *axis, *keepdim) * (winners / count)
        }),
        // y = softmax(x): dx = y ⊙ (dy - Σ_axis dy ⊙ y)
        Op::Softmax { axis } => unary(&|_| y * (g - (g * y).sum_axis(*axis, true))),
        // y = log softmax(x): dx = dy - softmax(x) ⊙ Σ_axis dy, with softmax(x) = e^y
        Op::LogSoftmax { axis } => unary(&|_| g - y.exp() * g.sum_axis(*axis, true)),
        // Concatenation: each input gets its own slice of dy.
        Op::Concat { axis } => {
            let mut start = 0;
            inputs
                .iter()
                .map(|x| {
                    let len = x.shape()[*axis];
                    let part = x.requires_grad_flag().then(|| g.narrow(*axis, start, len));
                    start += len;
                    part
                })
                .collect()
        }
        // Narrow: dy lands in the taken range, zeros elsewhere.
        Op::Narrow { axis, start } => unary(&|x| {
            let len = g.shape()[*axis];
            let pad = |n: usize| {
                let mut s: Shape = x.shape().into();
                s[*axis] = n;
                Tensor::zeros(&s)
            };
            let after = x.shape()[*axis] - start - len;
            Tensor::concat(&[&pad(*start), g, &pad(after)], *axis)
        }),
        // index_select and index_add are each other's adjoints.
        Op::IndexSelect { axis, indices } => {
            unary(&|x| g.index_add(*axis, indices, x.shape()[*axis]))
        }
        Op::IndexAdd { axis, indices, .. } => unary(&|_| g.index_select(*axis, indices)),
        // gather and scatter_add are each other's adjoints.
        Op::Gather { axis, index } => unary(&|x| g.scatter_add(*axis, index, x.shape())),
        Op::ScatterAdd { axis, index, .. } => unary(&|x| g.gather(*axis, index, x.shape())),
        // mask ? a : b routes dy to a where the mask is 1 and to b where it is 0.
        Op::Where { mask } => {
            let zeros = Tensor::zeros(&[]);
            binary(&|_, _| Tensor::where_mask(mask, g, &zeros), &|_, _| {
                Tensor::where_mask(mask, &zeros, g)
            })
        }
        // l = max(z,0) - z·y + log(1 + e^-|z|): dl/dz = σ(z) - y, dl/dy = -z
        Op::BceWithLogits => binary(&|z, t| g * (z.sigmoid() - t), &|z, _| -(g * z)),
        Op::Custom(custom) => custom.backward(inputs, y, g),
        // im2col and col2im are linear and each other's adjoint.
        Op::Im2Col { window } => unary(&|_| g.col2im(window)),
        Op::Col2Im { window } => unary(&|_| g.im2col(window)),
        // y = f(x) elementwise: dx = f'(x)·dy, f' written once in ops::activation_ext.
        Op::Erf
        | Op::Erfc
        | Op::Log1p
        | Op::Expm1
        | Op::Rsqrt
        | Op::Softplus
        | Op::Silu
        | Op::Gelu
        | Op::GeluTanh => unary(&|x| g * crate::ops::activation_ext::derivative(op, x, y)),
    }
}

/// The constant mask `[not a < b] - [a = b]/2`: 1 where `a > b`, 1/2 on ties, 0 where `a < b`,
/// and 1 where either is NaN (the gradient mask of `maximum` for `a`).
pub(crate) fn not_less_half_ties<T: Float>(a: &Tensor<T>, b: &Tensor<T>) -> Tensor<T> {
    -a.lt(b) + T::one() - a.eq_mask(b) * T::from_f64(0.5)
}

/// The constant mask `[not x <= 0]`: `[x > 0]`, and 1 at NaN (relu's gradient mask).
pub(crate) fn not_le_zero<T: Float>(x: &Tensor<T>) -> Tensor<T> {
    -x.le_scalar(T::zero()) + T::one()
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
