//! Forward mode's driver: the Jacobian-vector product of one node, from the rules in
//! [`rules`](super::rules).
//!
//! Forward mode pushes *tangents* from the inputs to the output: given a direction `dx` for
//! each input of a node, [`jvp_rule`] returns the output's tangent `dy = J·dx`. It writes no
//! derivative of its own: elementwise ops apply their local derivative to the tangent, linear
//! ops apply themselves, self-adjoint ones their symmetric Jacobian, and hand-written pairs
//! their forward half (see [`Rule`]). The tangent pass over a recorded graph (in
//! [`tangent`](super::tangent)) applies it node by node, inputs before outputs.
//!
//! A missing tangent (`None`) is zero, and terms with a zero tangent are skipped, so constants
//! cost nothing. Tangents of broadcast operands are broadcast to the output's shape (the forward
//! image of the reverse rules' `sum_to`).

use crate::autograd::rules::{sum_terms, with_rule, Op, Rule};
use crate::autograd::{grad, set_grad_enabled, BackwardOptions};
use crate::{Float, Tensor};

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
    let dy = with_rule(op, inputs, y, |rule| match rule {
        Rule::Elementwise(f) | Rule::SelfAdjoint(f) => tangents[0].as_ref().map(f),
        Rule::Elementwise2(fa, fb) => sum_terms([
            tangents[0].as_ref().map(fa),
            tangents.get(1).and_then(Option::as_ref).map(fb),
        ]),
        // A linear map's tangent is the map applied to the tangents (zeros where absent).
        Rule::Linear { apply, .. } => {
            let filled: Vec<Tensor<T>> = inputs
                .iter()
                .zip(tangents)
                .map(|(x, t)| t.clone().unwrap_or_else(|| Tensor::zeros(x.shape())))
                .collect();
            Some(apply(&filled))
        }
        Rule::Special { jvp, .. } => jvp(tangents),
        Rule::Custom(custom) => Some(custom.jvp(inputs, y, tangents).unwrap_or_else(|| {
            custom_jvp_from_backward(custom.name(), inputs, y, tangents, &|i, o, v| {
                custom.backward(i, o, v)
            })
        })),
    })?;
    Some(if dy.shape() == y.shape() {
        dy
    } else {
        dy.broadcast_to(y.shape())
    })
}

/// Type of a custom op's backward, as a closure.
type Vjp<'a, T> =
    dyn Fn(&[Tensor<T>], &Tensor<T>, &Tensor<T>) -> crate::autograd::InputGrads<T> + 'a;

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
    let v = Tensor::zeros(y.shape()).to_leaf();
    let constants: Vec<Tensor<T>> = inputs.iter().map(Tensor::detach).collect();
    let grads = backward(&constants, &y.detach(), &v);
    let mut total = Tensor::scalar(T::zero());
    let (mut any, mut recorded) = (false, false);
    for (g, u) in grads.iter().zip(tangents) {
        if let (Some(g), Some(u)) = (g, u) {
            any = true;
            recorded |= g.requires_grad();
            total = total + (g * u).sum();
        }
    }
    if !any {
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
