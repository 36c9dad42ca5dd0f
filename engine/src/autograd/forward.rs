//! Every forward-mode rule of the engine, in one place: the mirror of [`rules`](super::rules).
//!
//! Forward mode pushes *tangents* from the inputs to the output: given a direction `dx` for
//! each input of a node, [`jvp_rule`] returns the output's tangent `dy = J·dx`, the
//! Jacobian-vector product. The tangent pass over a recorded graph (in
//! [`tangent`](super::tangent)) applies these rules node by node, inputs before outputs.
//!
//! Conventions: inputs are `x` (unary) or `a`, `b` (binary) with tangents `dx` or `da`, `db`;
//! `y` is the node's output. A missing tangent (`None`) is zero, and terms with a zero tangent
//! are skipped, so constants cost nothing. Tangents of broadcast operands are broadcast to the
//! output's shape (the forward image of the reverse rules' `sum_to`). Each rule is written with
//! engine operations and cites its formula; piecewise rules make the same choices at kinks and
//! ties as their reverse counterparts, so forward and reverse mode agree exactly there too.

use crate::autograd::rules::{not_le_zero, not_less_half_ties, Op};
use crate::autograd::{grad, set_grad_enabled, BackwardOptions};
use crate::{Float, Tensor};

/// Sums the present terms; `None` when there are none (a zero tangent).
fn sum_terms<T: Float>(terms: impl IntoIterator<Item = Option<Tensor<T>>>) -> Option<Tensor<T>> {
    terms.into_iter().flatten().reduce(|acc, t| acc + t)
}

/// The forward-mode rule of `op`: given its `inputs`, its output `y` and a tangent per input
/// (`None` for zero), returns the output's tangent `J·dx` (`None` when it is zero).
pub fn jvp_rule<T: Float>(
    op: &Op<T>,
    inputs: &[Tensor<T>],
    y: &Tensor<T>,
    tangents: &[Option<Tensor<T>>],
) -> Option<Tensor<T>> {
    if tangents.iter().all(Option::is_none) {
        return None;
    }
    let c = |v: f64| T::from_f64(v);
    let x = &inputs[0];
    let dx = tangents[0].as_ref();
    // Unary rules: dy = f'(x)·dx.
    let unary = |f: &dyn Fn(&Tensor<T>) -> Tensor<T>| dx.map(f);
    // Binary rules: dy = ∂y/∂a·da + ∂y/∂b·db, each term only when its tangent is present.
    let binary = |fa: &dyn Fn(&Tensor<T>) -> Tensor<T>, fb: &dyn Fn(&Tensor<T>) -> Tensor<T>| {
        sum_terms([
            tangents[0].as_ref().map(fa),
            tangents.get(1).and_then(Option::as_ref).map(fb),
        ])
    };
    let (a, b) = (&inputs[0], inputs.get(1).unwrap_or(&inputs[0]));

    let dy = match op {
        // d(a + b) = da + db
        Op::Add => binary(&|da| da.clone(), &|db| db.clone()),
        // d(a − b) = da − db
        Op::Sub => binary(&|da| da.clone(), &|db| -db),
        // d(a·b) = da·b + a·db
        Op::Mul => binary(&|da| da * b, &|db| a * db),
        // d(a/b) = da/b − a·db/b² = da/b − y·db/b
        Op::Div => binary(&|da| da / b, &|db| -(y * db) / b),
        // d(a^b) = b·a^(b−1)·da + a^b·ln(a)·db
        Op::Pow => binary(&|da| da * b * a.pow(&(b - c(1.0))), &|db| db * y * a.log()),
        // d max(a, b): the larger operand's tangent; ties take the mean of both.
        Op::Maximum => binary(&|da| da * not_less_half_ties(a, b), &|db| {
            db * not_less_half_ties(b, a)
        }),
        // d min(a, b): the smaller operand's tangent; ties take the mean of both.
        Op::Minimum => binary(&|da| da * not_less_half_ties(b, a), &|db| {
            db * not_less_half_ties(a, b)
        }),
        // d(−x) = −dx
        Op::Neg => unary(&|dx| -dx),
        // d eˣ = eˣ dx = y dx
        Op::Exp => unary(&|dx| dx * y),
        // d ln x = dx / x
        Op::Log => unary(&|dx| dx / x),
        // d √x = dx / (2√x) = dx / (2y)
        Op::Sqrt => unary(&|dx| dx / (y * c(2.0))),
        // d|x| = sign(x) dx (0 at 0)
        Op::Abs => unary(&|dx| dx * (x.gt_scalar(T::zero()) - x.lt_scalar(T::zero()))),
        // d x² = 2x dx
        Op::Square => unary(&|dx| dx * x * c(2.0)),
        // d xᵖ = p·xᵖ⁻¹ dx
        Op::PowScalar(p) => unary(&|dx| dx * x.powf(*p - T::one()) * *p),
        // d sin x = cos x dx
        Op::Sin => unary(&|dx| dx * x.cos()),
        // d cos x = −sin x dx
        Op::Cos => unary(&|dx| -(dx * x.sin())),
        // d relu(x) = [x > 0] dx
        Op::Relu => unary(&|dx| dx * not_le_zero(x)),
        // d leaky_relu(x) = ([x > 0] + slope·[x ≤ 0]) dx
        Op::LeakyRelu(slope) => unary(&|dx| {
            let pos = x.gt_scalar(T::zero());
            dx * (&pos + (-&pos + c(1.0)) * *slope)
        }),
        // d σ(x) = σ(x)(1 − σ(x)) dx = y(1 − y) dx
        Op::Sigmoid => unary(&|dx| dx * y * (-y + c(1.0))),
        // d tanh x = (1 − tanh² x) dx = (1 − y²) dx
        Op::Tanh => unary(&|dx| dx * (-y.square() + c(1.0))),
        // d clamp(x, lo, hi) = [lo ≤ x ≤ hi] dx
        Op::Clamp(lo, hi) => unary(&|dx| dx * (x.ge_scalar(*lo) * x.le_scalar(*hi))),
        // d(A·B) = dA·B + A·dB
        Op::MatMul => binary(&|da| da.matmul(b), &|db| a.matmul(db)),
        // Shape ops are linear: apply the same move to the tangent.
        Op::Reshape { .. } => unary(&|dx| dx.reshape(y.shape())),
        Op::Permute { dims } => unary(&|dx| dx.permute(dims)),
        Op::BroadcastTo { .. } => unary(&|dx| dx.broadcast_to(y.shape())),
        Op::SumTo { .. } => unary(&|dx| dx.sum_to(y.shape())),
        // y = Σ x: dy = Σ dx (same axis)
        Op::Sum { axis, keepdim } => unary(&|dx| match axis {
            Some(a) => dx.sum_axis(*a, *keepdim),
            None => dx.sum(),
        }),
        // y = (1/n) Σ x: dy = (1/n) Σ dx
        Op::Mean { axis, keepdim } => unary(&|dx| match axis {
            Some(a) => dx.mean_axis(*a, *keepdim),
            None => dx.mean(),
        }),
        // y = max x: dy = the tangent of the maximal element, the mean over ties.
        Op::Max { axis, keepdim } | Op::Min { axis, keepdim } => unary(&|dx| {
            let y_full = match (axis, keepdim) {
                (Some(a), false) => y.detach().unsqueeze(*a),
                (None, _) => y.detach().reshape(&vec![1; x.ndim()]),
                (Some(_), true) => y.detach(),
            };
            let winners = x.eq_mask(&y_full);
            match axis {
                Some(a) => (dx * &winners).sum_axis(*a, *keepdim) / winners.sum_axis(*a, *keepdim),
                None => (dx * &winners).sum() / winners.sum(),
            }
        }),
        // y = softmax(x): dy = y ⊙ (dx − Σ_axis y ⊙ dx)
        Op::Softmax { axis } => unary(&|dx| y * (dx - (y * dx).sum_axis(*axis, true))),
        // y = log softmax(x): dy = dx − Σ_axis softmax(x) ⊙ dx, with softmax(x) = e^y
        Op::LogSoftmax { axis } => unary(&|dx| dx - (y.exp() * dx).sum_axis(*axis, true)),
        // Concatenation: the tangents side by side (zeros for inputs without one).
        Op::Concat { axis } => {
            let parts: Vec<Tensor<T>> = inputs
                .iter()
                .zip(tangents)
                .map(|(x, t)| t.clone().unwrap_or_else(|| Tensor::zeros(x.shape())))
                .collect();
            let refs: Vec<&Tensor<T>> = parts.iter().collect();
            Some(Tensor::concat(&refs, *axis))
        }
        // Indexing and slicing are linear: index the tangent the same way.
        Op::Narrow { axis, start } => unary(&|dx| dx.narrow(*axis, *start, y.shape()[*axis])),
        Op::IndexSelect { axis, indices } => unary(&|dx| dx.index_select(*axis, indices)),
        Op::IndexAdd {
            axis,
            indices,
            size,
        } => unary(&|dx| dx.index_add(*axis, indices, *size)),
        Op::Gather { axis, index } => unary(&|dx| dx.gather(*axis, index, y.shape())),
        Op::ScatterAdd { axis, index, shape } => unary(&|dx| dx.scatter_add(*axis, index, shape)),
        // mask ? a : b: dy = mask ? da : db
        Op::Where { mask } => {
            let zero = Tensor::zeros(&[]);
            let da = tangents[0].clone().unwrap_or_else(|| zero.clone());
            let db = tangents[1].clone().unwrap_or(zero);
            Some(Tensor::where_mask(mask, &da, &db))
        }
        // l = max(z,0) − z·t + log(1 + e^−|z|): dl = (σ(z) − t)·dz − z·dt
        Op::BceWithLogits => binary(&|dz| dz * (a.sigmoid() - b), &|dt| -(dt * a)),
        Op::Custom(custom) => Some(custom.jvp(inputs, y, tangents).unwrap_or_else(|| {
            custom_jvp_from_backward(custom.name(), inputs, y, tangents, &|i, o, v| {
                custom.backward(i, o, v)
            })
        })),
        // im2col and col2im are linear: apply them to the tangent.
        Op::Im2Col { window } => unary(&|dx| dx.im2col(window)),
        Op::Col2Im { window } => unary(&|dx| dx.col2im(window)),
        // y = f(x) elementwise: dy = f'(x)·dx, f' written once in ops::activation_ext.
        Op::Erf
        | Op::Erfc
        | Op::Log1p
        | Op::Expm1
        | Op::Rsqrt
        | Op::Softplus
        | Op::Silu
        | Op::Gelu
        | Op::GeluTanh => unary(&|dx| dx * crate::ops::activation_ext::derivative(op, x, y)),
    }?;
    Some(if dy.shape() == y.shape() {
        dy
    } else {
        dy.broadcast_to(y.shape())
    })
}

/// Type of a custom op's backward, as a closure.
type Vjp<'a, T> =
    dyn Fn(&[Tensor<T>], &Tensor<T>, &Tensor<T>) -> crate::autograd::rules::InputGrads<T> + 'a;

/// `J·u` for a custom op without its own rule: the backward `v ↦ Jᵀv` is linear in `v`, so
/// the gradient of `⟨Jᵀv, u⟩` with respect to `v` is `J·u`. Needs a backward written with
/// engine operations (so that it is recorded).
fn custom_jvp_from_backward<T: Float>(
    name: &str,
    inputs: &[Tensor<T>],
    y: &Tensor<T>,
    tangents: &[Option<Tensor<T>>],
    backward: &Vjp<'_, T>,
) -> Tensor<T> {
    let _recording = set_grad_enabled(true);
    let v = Tensor::zeros(y.shape()).requires_grad();
    let constants: Vec<Tensor<T>> = inputs.iter().map(Tensor::detach).collect();
    let grads = backward(&constants, &y.detach(), &v);
    let mut total = Tensor::scalar(T::zero());
    let (mut pairs, mut recorded) = (0, false);
    for (g, u) in grads.iter().zip(tangents) {
        if let (Some(g), Some(u)) = (g, u) {
            pairs += 1;
            recorded |= g.requires_grad_flag();
            total = total + (g * u).sum();
        }
    }
    if pairs == 0 {
        // No input with a tangent has a gradient: the op is constant along the direction.
        return Tensor::zeros(y.shape());
    }
    assert!(
        recorded,
        "forward mode through custom op `{name}`: its backward is not written with engine \
         operations on the incoming gradient, so J·u cannot be derived from it; implement \
         CustomOp::jvp"
    );
    let _off = set_grad_enabled(false);
    grad(&total, &[&v], BackwardOptions::default()).remove(0)
}
