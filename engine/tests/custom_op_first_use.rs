//! Checking custom ops at their first use. The setting is process-wide, so this file holds a
//! single test (each test file is its own process).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use engine::autograd::rules::InputGrads;
use engine::autograd::CustomOp;
use engine::check::{custom_op_checking, set_custom_op_checking, FirstUseCheck};
use engine::Tensor;

/// 2x with a backward that is right (×2) or wrong (×3); counts its backward calls.
struct Double {
    name: &'static str,
    factor: f64,
    backward_calls: Arc<AtomicUsize>,
}

impl CustomOp<f64> for Double {
    fn name(&self) -> &'static str {
        self.name
    }
    fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
        x[0] * 2.0
    }
    fn backward(&self, _x: &[Tensor<f64>], _y: &Tensor<f64>, g: &Tensor<f64>) -> InputGrads<f64> {
        self.backward_calls.fetch_add(1, Ordering::Relaxed);
        vec![Some(g * self.factor)].into()
    }
}

fn op(name: &'static str, factor: f64) -> (Arc<dyn CustomOp<f64>>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let op = Double {
        name,
        factor,
        backward_calls: calls.clone(),
    };
    (Arc::new(op), calls)
}

#[test]
fn first_use_checks() {
    let x = Tensor::<f64>::parameter(vec![1.0, -2.0, 3.0], &[3]);

    // Off by default: a wrong op runs unchecked.
    assert_eq!(custom_op_checking(), FirstUseCheck::Off);
    let (wrong, calls) = op("double_wrong_unchecked", 3.0);
    Tensor::apply_custom(wrong, &[&x]);
    assert_eq!(calls.load(Ordering::Relaxed), 0);

    set_custom_op_checking(FirstUseCheck::Always);

    // A correct op is checked once, at its first use only.
    let (right, calls) = op("double", 2.0);
    Tensor::apply_custom(right.clone(), &[&x]);
    let after_first = calls.load(Ordering::Relaxed);
    assert!(after_first > 0, "the check ran the backward");
    Tensor::apply_custom(right, &[&x]);
    assert_eq!(
        calls.load(Ordering::Relaxed),
        after_first,
        "not checked twice"
    );

    // A wrong backward stops the first use, naming the op.
    let (wrong, _) = op("double_wrong", 3.0);
    let caught = catch_unwind(AssertUnwindSafe(|| Tensor::apply_custom(wrong, &[&x])));
    let payload = caught.expect_err("a wrong backward must be caught at first use");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("custom op `double_wrong` failed its first-use gradient check"),
        "{message}"
    );

    // DebugBuilds checks exactly when debug assertions are on.
    set_custom_op_checking(FirstUseCheck::DebugBuilds);
    let (wrong, _) = op("double_wrong_debug", 3.0);
    let caught = catch_unwind(AssertUnwindSafe(|| Tensor::apply_custom(wrong, &[&x])));
    assert_eq!(caught.is_err(), cfg!(debug_assertions));

    set_custom_op_checking(FirstUseCheck::Off);
}
