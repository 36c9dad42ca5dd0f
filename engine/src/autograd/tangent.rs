//! Forward mode: a tangent pass over the recorded graph, and the Jacobian and Hessian helpers
//! built on it.
//!
//! The graph a forward computation records is walked once more, inputs before outputs, and
//! every node applies its rule from [`forward`](super::forward) to turn its inputs' tangents
//! into its output's: the result is the Jacobian-vector product `J·u` for the directions `u`
//! given at the inputs (the *seeds*). One pass costs about one forward evaluation, whatever
//! the number of outputs, so forward mode suits functions with few inputs and many outputs,
//! as reverse mode suits the opposite (a scalar loss of many parameters).
//!
//! - [`jvp`]: `f(x)` and `J·u` for a function of tensors.
//! - [`jvp_graph`]: the tangent pass on a graph you already recorded.
//! - [`jacobian`] (one tangent pass per input element) and [`jacobian_reverse`] (one backward
//!   pass per output element): the full Jacobian, shaped `output.shape ++ input.shape`.
//! - [`hvp`] (of several inputs) and [`hessian`]: forward-over-reverse: the gradient is computed with
//!   `create_graph` and the tangent pass runs over the recorded backward computation.
//!
//! The tangents are computed without recording (they are values, not graphs).
//!
//! ```
//! use engine::autograd::tangent::{hessian, jacobian, jvp};
//! use engine::Tensor;
//!
//! // f(x) = x ⊙ x: J = diag(2x), so J·u = 2x ⊙ u.
//! let x = Tensor::<f64>::from_vec(vec![1.0, -2.0, 3.0], &[3]);
//! let u = Tensor::<f64>::from_vec(vec![1.0, 1.0, 0.5], &[3]);
//! let (y, ju) = jvp(|v| &v[0] * &v[0], &[x.clone()], &[u]);
//! assert_eq!(y.to_vec(), vec![1.0, 4.0, 9.0]);
//! assert_eq!(ju.to_vec(), vec![2.0, -4.0, 3.0]);
//!
//! let j = jacobian(|x| x.square(), &x);
//! assert_eq!(j.shape(), &[3, 3]);
//! assert_eq!(j.to_vec(), vec![2.0, 0.0, 0.0, 0.0, -4.0, 0.0, 0.0, 0.0, 6.0]);
//!
//! // Σ x³ has Hessian diag(6x).
//! let h = hessian(|x| x.powf(3.0).sum(), &x);
//! assert_eq!(h.to_vec(), vec![6.0, 0.0, 0.0, 0.0, -12.0, 0.0, 0.0, 0.0, 18.0]);
//! ```

use std::collections::HashMap;

use crate::autograd::backward::reverse_topological;
use crate::autograd::forward::jvp_rule;
use crate::autograd::{grad, grad_with, set_grad_enabled, BackwardOptions};
use crate::tensor::TensorId;
use crate::{Float, Tensor};

/// The tangent of `output` when each seed tensor moves along its direction: `J·u`, shaped like
/// `output` (zeros when `output` does not depend on the seeds). Seeds are tensors of the graph
/// that produced `output` and that require gradients (parameters, or intermediate results);
/// each direction has its seed's shape.
#[track_caller]
pub fn jvp_graph<T: Float>(output: &Tensor<T>, seeds: &[(&Tensor<T>, &Tensor<T>)]) -> Tensor<T> {
    let seeded: HashMap<TensorId, Tensor<T>> = seeds
        .iter()
        .map(|(t, u)| {
            assert!(
                t.shape() == u.shape(),
                "jvp: a direction of shape {:?} for a tensor of shape {:?}",
                u.shape(),
                t.shape()
            );
            (t.id(), (*u).clone())
        })
        .collect();
    let _values_only = set_grad_enabled(false);
    let mut tangents: HashMap<TensorId, Tensor<T>> = HashMap::new();
    // reverse_topological lists the output first; the tangent pass needs inputs first.
    for t in reverse_topological(output).into_iter().rev() {
        if let Some(u) = seeded.get(&t.id()) {
            tangents.insert(t.id(), u.clone());
            continue;
        }
        let Some(node) = t.grad_fn() else { continue };
        let input_tangents: Vec<Option<Tensor<T>>> = node
            .inputs()
            .iter()
            .map(|i| tangents.get(&i.id()).cloned())
            .collect();
        if let Some(dy) = jvp_rule(node.op(), node.inputs(), &t, &input_tangents) {
            tangents.insert(t.id(), dy);
        }
    }
    tangents
        .remove(&output.id())
        .unwrap_or_else(|| Tensor::zeros(output.shape()))
}

/// Fresh leaves holding `values`, recorded from (grad mode on while the guard lives).
fn leaves<T: Float>(values: &[Tensor<T>]) -> Vec<Tensor<T>> {
    values.iter().map(Tensor::to_leaf).collect()
}

/// Evaluates `f` at `primals` and pushes `tangents` (one per primal, same shapes) through it:
/// returns `(f(x), J·u)`.
#[track_caller]
pub fn jvp<T: Float>(
    f: impl Fn(&[Tensor<T>]) -> Tensor<T>,
    primals: &[Tensor<T>],
    tangents: &[Tensor<T>],
) -> (Tensor<T>, Tensor<T>) {
    assert!(
        primals.len() == tangents.len(),
        "jvp: {} primals and {} tangents",
        primals.len(),
        tangents.len()
    );
    let _recording = set_grad_enabled(true);
    let xs = leaves(primals);
    let y = f(&xs);
    let seeds: Vec<(&Tensor<T>, &Tensor<T>)> = xs.iter().zip(tangents).collect();
    let ju = jvp_graph(&y, &seeds);
    (y.detach(), ju)
}

/// Evaluates `f` at `primals` and pulls `cotangent` (shaped like the output) back: returns
/// `(f(x), [vᵀ·∂f/∂xᵢ])`, the reverse-mode counterpart of [`jvp`].
#[track_caller]
pub fn vjp<T: Float>(
    f: impl Fn(&[Tensor<T>]) -> Tensor<T>,
    primals: &[Tensor<T>],
    cotangent: &Tensor<T>,
) -> (Tensor<T>, Vec<Tensor<T>>) {
    let _recording = set_grad_enabled(true);
    let xs = leaves(primals);
    let y = f(&xs);
    let refs: Vec<&Tensor<T>> = xs.iter().collect();
    let grads = grad_with(&y, cotangent, &refs, BackwardOptions::default());
    (y.detach(), grads)
}

fn basis<T: Float>(shape: &[usize], k: usize) -> Tensor<T> {
    let mut e = Tensor::zeros(shape).to_vec();
    e[k] = T::one();
    Tensor::from_vec(e, shape)
}

fn joined(a: &[usize], b: &[usize]) -> Vec<usize> {
    a.iter().chain(b).copied().collect()
}

/// The Jacobian of `f` at `x` by forward mode (one tangent pass per element of `x`), shaped
/// `f(x).shape ++ x.shape`: element `[i.., j..]` is `∂f(x)[i..] / ∂x[j..]`.
pub fn jacobian<T: Float>(f: impl Fn(&Tensor<T>) -> Tensor<T>, x: &Tensor<T>) -> Tensor<T> {
    let _recording = set_grad_enabled(true);
    let leaf = x.to_leaf();
    let y = f(&leaf);
    let (m, n) = (y.numel(), x.numel());
    let mut data = vec![T::zero(); m * n];
    for j in 0..n {
        let column = jvp_graph(&y, &[(&leaf, &basis(x.shape(), j))]).to_vec();
        for (i, v) in column.into_iter().enumerate() {
            data[i * n + j] = v;
        }
    }
    Tensor::from_vec(data, &joined(y.shape(), x.shape()))
}

/// The Jacobian of `f` at `x` by reverse mode (one backward pass per element of `f(x)`),
/// shaped like [`jacobian`]'s.
pub fn jacobian_reverse<T: Float>(f: impl Fn(&Tensor<T>) -> Tensor<T>, x: &Tensor<T>) -> Tensor<T> {
    let _recording = set_grad_enabled(true);
    let leaf = x.to_leaf();
    let y = f(&leaf);
    let mut data = Vec::with_capacity(y.numel() * x.numel());
    for i in 0..y.numel() {
        let row = grad_with(
            &y,
            &basis(y.shape(), i),
            &[&leaf],
            BackwardOptions::default(),
        );
        data.extend(row[0].to_vec());
    }
    Tensor::from_vec(data, &joined(y.shape(), x.shape()))
}

/// The gradient of the scalar `f` at `x`, recorded (with `create_graph`) so that it can be
/// differentiated again, together with the leaf it depends on.
#[track_caller]
fn recorded_gradient<T: Float>(
    f: &impl Fn(&Tensor<T>) -> Tensor<T>,
    x: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    let leaf = x.to_leaf();
    let y = f(&leaf);
    assert!(
        y.numel() == 1,
        "hessian: the function must return a scalar, got shape {:?}",
        y.shape()
    );
    let g = grad(&y, &[&leaf], BackwardOptions { create_graph: true }).remove(0);
    (leaf, g)
}

/// Hessian-vector products of the scalar `f` of several tensors at `xs`, along directions `vs`
/// (one per input, same shapes): returns, per input `i`, `Σⱼ ∂²f/∂xᵢ∂xⱼ · vⱼ`. By
/// forward-over-reverse: the gradient is recorded (with `create_graph`) and a tangent pass
/// along `vs` runs over it.
///
/// ```
/// use engine::{hvp, Tensor};
/// // f(a, b) = Σ a² b: H·(u, w) = (2b·u + 2a·w, 2a·u).
/// let a = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]);
/// let b = Tensor::<f64>::from_vec(vec![3.0, -1.0], &[2]);
/// let u = Tensor::<f64>::ones(&[2]);
/// let w = Tensor::<f64>::zeros(&[2]);
/// let hv = hvp(|v| (v[0].square() * &v[1]).sum(), &[a, b], &[u, w]);
/// assert_eq!(hv[0].to_vec(), vec![6.0, -2.0]);
/// assert_eq!(hv[1].to_vec(), vec![2.0, 4.0]);
/// ```
#[track_caller]
pub fn hvp<T: Float>(
    f: impl Fn(&[Tensor<T>]) -> Tensor<T>,
    xs: &[Tensor<T>],
    vs: &[Tensor<T>],
) -> Vec<Tensor<T>> {
    assert!(
        xs.len() == vs.len(),
        "hvp: {} inputs and {} directions",
        xs.len(),
        vs.len()
    );
    let _recording = set_grad_enabled(true);
    let leaves = leaves(xs);
    let y = f(&leaves);
    assert!(
        y.numel() == 1,
        "hvp: the function must return a scalar, got shape {:?}",
        y.shape()
    );
    let refs: Vec<&Tensor<T>> = leaves.iter().collect();
    let gradients = grad(&y, &refs, BackwardOptions { create_graph: true });
    let seeds: Vec<(&Tensor<T>, &Tensor<T>)> = leaves.iter().zip(vs).collect();
    gradients.iter().map(|g| jvp_graph(g, &seeds)).collect()
}

/// The Hessian of the scalar `f` at `x`, shaped `x.shape ++ x.shape`, by forward-over-reverse:
/// the gradient is recorded once, then one tangent pass per element of `x` gives a column.
#[track_caller]
pub fn hessian<T: Float>(f: impl Fn(&Tensor<T>) -> Tensor<T>, x: &Tensor<T>) -> Tensor<T> {
    let _recording = set_grad_enabled(true);
    let (leaf, g) = recorded_gradient(&f, x);
    let n = x.numel();
    let mut data = vec![T::zero(); n * n];
    for j in 0..n {
        let column = jvp_graph(&g, &[(&leaf, &basis(x.shape(), j))]).to_vec();
        for (i, v) in column.into_iter().enumerate() {
            data[i * n + j] = v;
        }
    }
    Tensor::from_vec(data, &joined(x.shape(), x.shape()))
}
