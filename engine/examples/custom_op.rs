//! A user-defined operation with its own forward and backward, checked before use.
//!
//! `cargo run -p engine --example custom_op`
//!
//! Two ops are defined: `softplus(x) = log(1 + eˣ)` (derivative σ(x)) and
//! `hypot(a, b) = √(a² + b²)` (partials a/h and b/h). A third, `softplus` with a deliberately
//! wrong backward (it forgets to multiply by the incoming gradient), is caught by the check.

use std::sync::Arc;

use engine::autograd::rules::InputGrads;
use engine::check::{check_custom_op, set_custom_op_checking, CustomOpCheck, FirstUseCheck};
use engine::ops::custom::CustomOp;
use engine::Tensor;

/// `log(1 + eˣ) = max(x, 0) + log(1 + e^−|x|)`, which never overflows.
struct Softplus;

impl CustomOp<f64> for Softplus {
    fn name(&self) -> &'static str {
        "softplus"
    }
    fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
        x[0].relu() + ((-x[0].abs()).exp() + 1.0).log()
    }
    // d softplus(x) = σ(x) dx
    fn backward(&self, x: &[Tensor<f64>], _y: &Tensor<f64>, g: &Tensor<f64>) -> InputGrads<f64> {
        vec![Some(g * x[0].sigmoid())].into()
    }
}

/// The same op with the classic mistake: the incoming gradient `g` is dropped.
struct SoftplusForgetsG;

impl CustomOp<f64> for SoftplusForgetsG {
    fn name(&self) -> &'static str {
        "softplus_forgets_g"
    }
    fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
        Softplus.forward(x)
    }
    fn backward(&self, x: &[Tensor<f64>], _y: &Tensor<f64>, _g: &Tensor<f64>) -> InputGrads<f64> {
        vec![Some(x[0].sigmoid())].into()
    }
}

/// `√(a² + b²)` elementwise: ∂h/∂a = a/h, ∂h/∂b = b/h.
struct Hypot;

impl CustomOp<f64> for Hypot {
    fn name(&self) -> &'static str {
        "hypot"
    }
    fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
        (x[0].square() + x[1].square()).sqrt()
    }
    fn backward(&self, x: &[Tensor<f64>], h: &Tensor<f64>, g: &Tensor<f64>) -> InputGrads<f64> {
        vec![Some(g * &x[0] / h), Some(g * &x[1] / h)].into()
    }
}

fn main() {
    // 1. Check each op on random inputs before using it.
    let good = check_custom_op(&Softplus, &[&[4, 3]], CustomOpCheck::default());
    println!("{good}");
    let two = check_custom_op(&Hypot, &[&[2, 5], &[2, 5]], CustomOpCheck::default());
    println!("{two}");
    let bad = check_custom_op(&SoftplusForgetsG, &[&[4, 3]], CustomOpCheck::default());
    println!("{bad}");
    assert!(good.passed() && two.passed() && !bad.passed());

    // 2. Use an op in a graph like any built-in one.
    let w = Tensor::<f64>::parameter(vec![0.5, -1.0, 2.0], &[3]);
    let loss = Tensor::apply_custom(Arc::new(Softplus), &[&w]).sum();
    loss.backward();
    println!("d Σ softplus(w) / dw = σ(w) = {}", w.grad().unwrap());

    // 3. Or opt in to a check at every op's first use (here in every build; `DebugBuilds`
    //    would skip it in release builds).
    set_custom_op_checking(FirstUseCheck::Always);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Tensor::apply_custom(Arc::new(SoftplusForgetsG), &[&w]);
    }));
    assert!(caught.is_err(), "the wrong backward is caught at first use");
    println!("softplus_forgets_g was stopped at its first use (message above)");
}
