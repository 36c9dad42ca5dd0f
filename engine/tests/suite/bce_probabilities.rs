//! `loss::binary_cross_entropy` of a recorded sigmoid computes the loss from the logits (stable),
//! and the probabilities it skips still get their gradient: hooks see it, `retain_grad` stores
//! it, `grad` returns it, and a hook that replaces it changes what reaches the logits.
//!
//! Expected values are written from the formulas (`∂J/∂p = ((1-y)/(1-p) - y/p)/m` and
//! `∂J/∂z = (σ(z) - y)/m`), evaluated in plain f64 where nothing saturates.

use std::sync::{Arc, Mutex};

use engine::{grad, loss, BackwardOptions, Float, Tensor};

const LOGITS: [f64; 5] = [-3.0, -0.5, 0.2, 2.0, 5.0];
const TARGETS: [f64; 5] = [0.0, 1.0, 1.0, 0.0, 1.0];
const M: f64 = 5.0;

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `∂J/∂p` of the mean loss, from the probabilities (nothing saturates at `LOGITS`).
fn expected_probs_grad() -> Vec<f64> {
    LOGITS
        .iter()
        .zip(TARGETS)
        .map(|(&z, y)| {
            let p = sigmoid(z);
            ((1.0 - y) / (1.0 - p) - y / p) / M
        })
        .collect()
}

/// `∂J/∂z = (σ(z) - y)/m`.
fn expected_logits_grad() -> Vec<f64> {
    LOGITS
        .iter()
        .zip(TARGETS)
        .map(|(&z, y)| (sigmoid(z) - y) / M)
        .collect()
}

/// Largest relative difference, elementwise, against the larger magnitude.
fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(f64::MIN_POSITIVE))
        .fold(0.0, |m, d| if d.is_nan() { f64::NAN } else { m.max(d) })
}

fn as_f64<T: Float>(t: &Tensor<T>) -> Vec<f64> {
    t.to_vec().into_iter().map(T::as_f64).collect()
}

/// A hook on `t` that records each gradient it sees.
fn recorder<T: Float>(t: &Tensor<T>) -> Arc<Mutex<Vec<Vec<f64>>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    t.register_hook(move |g| {
        sink.lock().unwrap().push(as_f64(g));
        None
    });
    seen
}

fn setup<T: Float>() -> (Tensor<T>, Tensor<T>, Tensor<T>) {
    let z = Tensor::<T>::from_vec(LOGITS.map(T::from_f64).to_vec(), &[1, 5]).to_leaf();
    let y = Tensor::<T>::from_vec(TARGETS.map(T::from_f64).to_vec(), &[1, 5]);
    let p = z.sigmoid();
    (z, y, p)
}

fn hooks_see_the_probabilities_gradient<T: Float>(tolerance: f64) {
    let (z, y, p) = setup::<T>();
    let seen = recorder(&p);
    loss::binary_cross_entropy(&p, &y).backward();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "the hook runs once per backward");
    let d = rel_diff(&seen[0], &expected_probs_grad());
    assert!(
        d < tolerance,
        "{} hook saw {:?}, rel. diff {d:e}",
        T::NAME,
        seen[0]
    );
    let dz = rel_diff(&as_f64(&z.grad().unwrap()), &expected_logits_grad());
    assert!(dz < tolerance, "{} logits' gradient off by {dz:e}", T::NAME);
}

#[test]
fn hooks_on_probabilities_see_their_gradient_f32_f64() {
    // Rounding: a few ulps of each type (the formulas above are evaluated in f64).
    hooks_see_the_probabilities_gradient::<f64>(1e-14);
    hooks_see_the_probabilities_gradient::<f32>(1e-5);
}

#[test]
fn an_observing_hook_leaves_the_logits_gradient_bit_identical() {
    let (z, y, p) = setup::<f64>();
    loss::binary_cross_entropy(&p, &y).backward();
    let plain = z.grad().unwrap().to_vec();
    let (z, y, p) = setup::<f64>();
    let _seen = recorder(&p);
    p.retain_grad();
    loss::binary_cross_entropy(&p, &y).backward();
    assert_eq!(z.grad().unwrap().to_vec(), plain);
}

#[test]
fn retain_grad_stores_and_grad_returns_the_probabilities_gradient() {
    let (z, y, p) = setup::<f64>();
    p.retain_grad();
    let cost = loss::binary_cross_entropy(&p, &y);
    cost.backward();
    let stored = p.grad().expect("retained gradient").to_vec();
    assert!(
        rel_diff(&stored, &expected_probs_grad()) < 1e-14,
        "{stored:?}"
    );

    let found = grad(&cost, &[&p, &z], BackwardOptions::default());
    assert_eq!(found[0].to_vec(), stored, "grad() and retain_grad agree");
    assert!(rel_diff(&found[1].to_vec(), &expected_logits_grad()) < 1e-14);
}

#[test]
fn saturated_probabilities_get_exact_gradients() {
    // σ(40) rounds to exactly 1 and σ(-800) to 0 in f64, where (p - y)/(p(1 - p)) is 0/0 or
    // 1/0.
    // ∂J/∂p = ((1-y)(1 + e^z) - y(1 + e^-z))/m, infinite only where 1 + e^±z overflows.
    let logits = [40.0, 40.0, -40.0, -40.0, 800.0, -800.0];
    let targets = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
    let m = 6.0;
    let z = Tensor::<f64>::from_vec(logits.to_vec(), &[1, 6]).to_leaf();
    let y = Tensor::<f64>::from_vec(targets.to_vec(), &[1, 6]);
    let p = z.sigmoid();
    let probs = p.to_vec();
    assert_eq!([probs[0], probs[1], probs[5]], [1.0, 1.0, 0.0]);
    let found = grad(
        &loss::binary_cross_entropy(&p, &y),
        &[&p, &z],
        BackwardOptions::default(),
    );
    let want_p = [
        -1.0 / m,
        (1.0 + 40f64.exp()) / m,
        1.0 / m,
        -(1.0 + 40f64.exp()) / m,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let got_p = found[0].to_vec();
    assert_eq!(got_p[4..], want_p[4..]);
    assert!(rel_diff(&got_p[..4], &want_p[..4]) < 1e-15, "{got_p:?}");
    // The logits' gradient stays the stable (σ(z) - y)/m, finite everywhere.
    let want_z: Vec<f64> = logits
        .iter()
        .zip(targets)
        .map(|(&z, y)| (sigmoid(z) - y) / m)
        .collect();
    let got_z = found[1].to_vec();
    assert!(rel_diff(&got_z, &want_z) < 1e-15, "{got_z:?}");
}

#[test]
fn a_replacing_hook_changes_what_reaches_the_logits() {
    // Doubling ∂J/∂p doubles what flows through σ: ∂J/∂z = 2(σ(z) - y)/m.
    let (z, y, p) = setup::<f64>();
    p.register_hook(|g| Some(g * 2.0));
    p.retain_grad();
    loss::binary_cross_entropy(&p, &y).backward();
    let doubled: Vec<f64> = expected_logits_grad().iter().map(|g| 2.0 * g).collect();
    let d = rel_diff(&z.grad().unwrap().to_vec(), &doubled);
    assert!(d < 1e-14, "rel. diff {d:e}");
    // The replacement is what is stored.
    let want_p: Vec<f64> = expected_probs_grad().iter().map(|g| 2.0 * g).collect();
    assert!(rel_diff(&p.grad().unwrap().to_vec(), &want_p) < 1e-14);
}

#[test]
fn probabilities_used_elsewhere_too_get_one_total_gradient() {
    // J = bce(p, y) + Σ c·p: the hook runs once, with ∂bce/∂p + c, and the logits get
    // (σ(z) - y)/m + c·σ'(z).
    let c = [0.5, -1.0, 2.0, 0.25, -3.0];
    let (z, y, p) = setup::<f64>();
    let seen = recorder(&p);
    let weights = Tensor::from_vec(c.to_vec(), &[1, 5]);
    (loss::binary_cross_entropy(&p, &y) + (&p * &weights).sum()).backward();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "one hook call with the total");
    let want_p: Vec<f64> = expected_probs_grad()
        .iter()
        .zip(c)
        .map(|(g, c)| g + c)
        .collect();
    assert!(rel_diff(&seen[0], &want_p) < 1e-14, "{:?}", seen[0]);
    let want_z: Vec<f64> = expected_logits_grad()
        .iter()
        .zip(LOGITS.iter().zip(c))
        .map(|(g, (&z, c))| g + c * sigmoid(z) * (1.0 - sigmoid(z)))
        .collect();
    let d = rel_diff(&z.grad().unwrap().to_vec(), &want_z);
    assert!(d < 1e-14, "rel. diff {d:e}");
}

#[test]
fn second_order_flows_through_the_skipped_probabilities() {
    // ∂J/∂p recorded with create_graph can be differentiated again:
    // ∂/∂z Σ ∂J/∂p = Σ ∂/∂z ((1-y)(1 + e^z) - y(1 + e^-z))/m = ((1-y)e^z + y e^-z)/m.
    let (z, y, p) = setup::<f64>();
    let cost = loss::binary_cross_entropy(&p, &y);
    let dp = grad(&cost, &[&p], BackwardOptions { create_graph: true }).remove(0);
    let second = grad(&dp.sum(), &[&z], BackwardOptions::default()).remove(0);
    let want: Vec<f64> = LOGITS
        .iter()
        .zip(TARGETS)
        .map(|(&z, y)| ((1.0 - y) * z.exp() + y * (-z).exp()) / M)
        .collect();
    let d = rel_diff(&second.to_vec(), &want);
    assert!(d < 1e-14, "rel. diff {d:e}");
}
