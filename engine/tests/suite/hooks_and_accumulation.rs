//! Accumulation semantics (engine/src/autograd/backward.rs module docs), intermediate gradients
//! and hooks. Expected gradients are derived by hand in the comments, never taken from the
//! engine.

use std::sync::{Arc, Mutex};

use engine::{grad, BackwardOptions, Tensor};

fn w() -> Tensor<f64> {
    Tensor::parameter(vec![1.0, -2.0, 0.5], &[3])
}

fn x() -> Tensor<f64> {
    Tensor::from_vec(vec![3.0, 4.0, -1.0], &[3])
}

/// loss = Σ w²·x, so d loss / dw = 2·w·x = [6, -16, -1].
fn loss(w: &Tensor<f64>, x: &Tensor<f64>) -> Tensor<f64> {
    (w.square() * x).sum()
}

const DW: [f64; 3] = [6.0, -16.0, -1.0];

fn scaled(k: f64) -> Vec<f64> {
    DW.iter().map(|g| g * k).collect()
}

#[test]
fn backward_adds_into_leaf_grads() {
    let (w, x) = (w(), x());
    let l = loss(&w, &x);
    l.backward();
    assert_eq!(w.grad().unwrap().to_vec(), scaled(1.0));
    // The graph is not consumed: a second backward on the same loss adds again.
    l.backward();
    assert_eq!(w.grad().unwrap().to_vec(), scaled(2.0));
    // A backward through a new graph adds too.
    loss(&w, &x).backward();
    assert_eq!(w.grad().unwrap().to_vec(), scaled(3.0));
}

#[test]
fn zero_grad_resets_one_tensor_to_none() {
    let (w, x) = (w(), x());
    let v = Tensor::<f64>::parameter(vec![2.0], &[1]);
    let l = loss(&w, &x) + (&v * 5.0).sum();
    l.backward();
    w.zero_grad();
    assert!(w.grad().is_none(), "zero_grad leaves None, not zeros");
    assert_eq!(
        v.grad().unwrap().to_vec(),
        vec![5.0],
        "other tensors untouched"
    );
    l.backward();
    assert_eq!(w.grad().unwrap().to_vec(), scaled(1.0), "the sum restarts");
    assert_eq!(v.grad().unwrap().to_vec(), vec![10.0]);
}

#[test]
fn constants_and_unretained_intermediates_store_nothing() {
    let (w, x) = (w(), x());
    let h = w.square();
    (&h * &x).sum().backward();
    assert!(h.grad().is_none(), "non-leaf without retain_grad");
    assert!(x.grad().is_none(), "data that does not require gradients");
    assert!(w.grad().is_some());
}

#[test]
fn retained_intermediate_gradients_accumulate_like_leaves() {
    let (w, x) = (w(), x());
    let h = w.square();
    h.retain_grad();
    let l = (&h * &x).sum();
    // d l / dh = x.
    l.backward();
    assert_eq!(h.grad().unwrap().to_vec(), x.to_vec());
    l.backward();
    assert_eq!(h.grad().unwrap().to_vec(), vec![6.0, 8.0, -2.0]);
    h.zero_grad();
    assert!(h.grad().is_none());
}

#[test]
fn grad_returns_intermediate_gradients_and_stores_nothing() {
    let (w, x) = (w(), x());
    let h = w.square();
    h.retain_grad();
    let l = (&h * &x).sum();
    let gs = grad(&l, &[&h, &w], BackwardOptions::default());
    assert_eq!(gs[0].to_vec(), x.to_vec());
    assert_eq!(gs[1].to_vec(), scaled(1.0));
    assert!(w.grad().is_none() && h.grad().is_none());
}

#[test]
fn hook_observes_the_incoming_gradient() {
    let (w, x) = (w(), x());
    let h = w.square();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    h.register_hook(move |g| {
        sink.lock().unwrap().push(g.to_vec());
        None
    });
    loss(&w, &x).backward(); // h here is another tensor: its hook must not run
    assert!(seen.lock().unwrap().is_empty());
    (&h * &x).sum().backward();
    assert_eq!(*seen.lock().unwrap(), vec![x.to_vec()]);
    assert_eq!(
        w.grad().unwrap().to_vec(),
        scaled(2.0),
        "observing changes nothing"
    );
}

#[test]
fn hook_replacement_is_stored_and_propagated() {
    let (w, x) = (w(), x());
    let h = w.square();
    h.retain_grad();
    // Replace dl/dh = x by 2x: then dl/dw = 2w·2x, twice the true gradient.
    h.register_hook(|g| Some(g * 2.0));
    (&h * &x).sum().backward();
    assert_eq!(h.grad().unwrap().to_vec(), vec![6.0, 8.0, -2.0]);
    assert_eq!(w.grad().unwrap().to_vec(), scaled(2.0));
}

#[test]
fn hooks_chain_in_registration_order_and_run_in_grad() {
    let (w, x) = (w(), x());
    w.register_hook(|g| Some(g + 1.0));
    w.register_hook(|g| Some(g * 10.0));
    let gs = grad(&loss(&w, &x), &[&w], BackwardOptions::default());
    let expected: Vec<f64> = DW.iter().map(|g| (g + 1.0) * 10.0).collect();
    assert_eq!(gs[0].to_vec(), expected);
    w.clear_hooks();
    let gs = grad(&loss(&w, &x), &[&w], BackwardOptions::default());
    assert_eq!(gs[0].to_vec(), scaled(1.0));
}

#[test]
fn post_accumulate_hook_sees_the_updated_total() {
    let (w, x) = (w(), x());
    let totals = Arc::new(Mutex::new(Vec::new()));
    let log = totals.clone();
    w.register_post_accumulate_hook(move |leaf| {
        log.lock().unwrap().push(leaf.grad().unwrap().to_vec());
    });
    // w appears twice in this graph; the hook runs once, after both paths have been summed.
    let l = loss(&w, &x) + (&w * 2.0).sum();
    l.backward();
    let once: Vec<f64> = DW.iter().map(|g| g + 2.0).collect();
    assert_eq!(*totals.lock().unwrap(), vec![once.clone()]);
    l.backward();
    let twice: Vec<f64> = once.iter().map(|g| 2.0 * g).collect();
    assert_eq!(*totals.lock().unwrap(), vec![once, twice]);
    // grad() stores nothing, so there is nothing to report.
    grad(&l, &[&w], BackwardOptions::default());
    assert_eq!(totals.lock().unwrap().len(), 2);
}

#[test]
fn post_accumulate_hook_can_step_the_parameter() {
    // A per-parameter SGD step run as soon as the gradient is final, then cleared.
    let (w, x) = (w(), x());
    w.register_post_accumulate_hook(|leaf| {
        let g = leaf.grad().unwrap().to_vec();
        leaf.update_data(|d| d.iter_mut().zip(&g).for_each(|(v, g)| *v -= 0.1 * g));
        leaf.zero_grad();
    });
    loss(&w, &x).backward();
    assert!(w.grad().is_none());
    let expected: Vec<f64> = [1.0, -2.0, 0.5]
        .iter()
        .zip(DW)
        .map(|(v, g)| v - 0.1 * g)
        .collect();
    for (a, b) in w.to_vec().iter().zip(&expected) {
        assert!((a - b).abs() < 1e-15, "{a} vs {b}");
    }
}

#[test]
#[should_panic(expected = "needs a leaf")]
fn post_accumulate_hook_refuses_non_leaves() {
    w().square().register_post_accumulate_hook(|_| {});
}
