//! Backward traces: order, shapes, gradient norms (derived by hand) and the axes summed to undo
//! broadcasting.

use engine::trace::{broadcast_axes, trace_backward};
use engine::{grad, BackwardOptions, Tensor};

#[test]
fn steps_come_in_reverse_topological_order_with_the_output_first() {
    let w = Tensor::<f64>::parameter(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).named("W");
    let h = w.exp();
    let loss = (h.matmul(&h) + &w).sum();
    let trace = loss.backward_traced();
    assert_eq!(trace.steps[0].id, loss.id());
    assert_eq!(trace.steps[0].op.as_deref(), Some("sum"));
    // Every tensor is visited once, after every tensor computed from it.
    let position = |id| trace.steps.iter().position(|s| s.id == id).unwrap();
    for s in &trace.steps {
        for i in &s.inputs {
            assert!(
                position(i.id) > s.step,
                "{} visited before its consumer",
                i.label
            );
        }
    }
    let ids: std::collections::HashSet<_> = trace.steps.iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), trace.steps.len());
    // sum, add, matmul, exp, W: five tensors.
    assert_eq!(trace.steps.len(), 5);
    let leaf = trace.steps.last().unwrap();
    assert_eq!((leaf.label.as_str(), leaf.op.as_deref()), ("W", None));
}

#[test]
fn gradient_norms_and_shapes_match_the_hand_derivation() {
    // loss = mean(w ⊙ x) over 4 elements: d loss / d(w ⊙ x) = 1/4 everywhere (norm 1/2),
    // d loss / dw = x / 4.
    let w = Tensor::<f64>::parameter(vec![1.0, -1.0, 2.0, 0.5], &[1, 4]).named("w");
    let x = Tensor::<f64>::from_vec(vec![3.0, 4.0, 0.0, 0.0], &[1, 4]).named("x");
    let loss = (&w * &x).mean();
    let trace = loss.backward_traced();
    let mean = &trace.steps[0];
    assert_eq!((mean.shape.clone(), mean.grad_norm), (vec![], 1.0));
    assert_eq!(mean.inputs[0].grad_norm, Some(0.5));
    let mul = &trace.steps[1];
    assert_eq!(mul.op.as_deref(), Some("mul"));
    assert_eq!(mul.grad_shape, vec![1, 4]);
    assert_eq!(mul.inputs[0].label, "w");
    assert_eq!(mul.inputs[0].grad_norm, Some(5.0 / 4.0)); // ‖x‖/4 = 5/4
    assert_eq!(mul.inputs[1].label, "x");
    assert_eq!(mul.inputs[1].grad_norm, None, "data gets no gradient");
    let leaf = trace.steps.iter().find(|s| s.label == "w").unwrap();
    assert_eq!(leaf.grad_norm, 1.25);
    assert_eq!(w.grad().unwrap().to_vec(), vec![0.75, 1.0, 0.0, 0.0]);
}

#[test]
fn broadcast_operands_list_the_summed_axes() {
    let z = Tensor::<f64>::parameter(vec![0.5; 12], &[3, 4]);
    let b = Tensor::<f64>::parameter(vec![0.1, 0.2, 0.3], &[3, 1]).named("b");
    let row = Tensor::<f64>::parameter(vec![1.0; 4], &[4]).named("row");
    let s = Tensor::<f64>::parameter(vec![2.0], &[]).named("s");
    let batch = Tensor::<f64>::parameter(vec![0.1; 24], &[2, 3, 4]).named("A");
    let m = Tensor::<f64>::parameter(vec![0.2; 20], &[4, 5]).named("M");
    let loss = ((&z + &b) * &row - &s).sum() + batch.matmul(&m).sum();
    let trace = loss.backward_traced();
    let inputs: Vec<_> = trace.steps.iter().flat_map(|s| s.inputs.clone()).collect();
    let axes = |label: &str| {
        inputs
            .iter()
            .find(|i| i.label == label)
            .unwrap()
            .summed_axes
            .clone()
    };
    assert_eq!(axes("b"), vec![1]);
    assert_eq!(axes("row"), vec![0]);
    assert_eq!(axes("s"), vec![0, 1]);
    assert_eq!(axes("A"), Vec::<usize>::new());
    assert_eq!(axes("M"), vec![0], "the batch axis M was broadcast along");
    let text = trace.to_string();
    assert!(
        text.contains("summed over axes [1] of [3, 4] to undo broadcasting"),
        "{text}"
    );
}

#[test]
fn matmul_add_lists_the_bias_and_batch_axes_it_summed() {
    // A bias column over the columns of a batched product, whose right operand is shared
    // across the batch: the bias is summed over the batch axis and the columns, M over the
    // batch axis, A over nothing.
    let a = Tensor::<f64>::parameter(vec![0.1; 24], &[2, 3, 4]).named("A");
    let m = Tensor::<f64>::parameter(vec![0.2; 20], &[4, 5]).named("M");
    let b = Tensor::<f64>::parameter(vec![0.1, 0.2, 0.3], &[3, 1]).named("b");
    let loss = a.matmul_add(&m, &b).sum();
    let trace = loss.backward_traced();
    let step = trace
        .steps
        .iter()
        .find(|s| s.op.as_deref() == Some("matmul_add"))
        .unwrap();
    let axes: Vec<_> = step.inputs.iter().map(|i| i.summed_axes.clone()).collect();
    assert_eq!(axes, vec![vec![], vec![0], vec![0, 2]]);
}

#[test]
fn broadcast_axes_follow_numpy_alignment() {
    assert_eq!(broadcast_axes(&[3, 1], &[3, 4]), vec![1]);
    assert_eq!(broadcast_axes(&[4], &[2, 3, 4]), vec![0, 1]);
    assert_eq!(broadcast_axes(&[1, 1], &[1, 5]), vec![1]);
    assert_eq!(broadcast_axes(&[2, 3], &[2, 3]), Vec::<usize>::new());
}

#[test]
fn the_trace_names_the_users_lines() {
    let w = Tensor::<f64>::parameter(vec![0.3, 0.7], &[2]);
    let line = line!() + 1;
    let loss = w.tanh().sum();
    let trace = loss.backward_traced();
    let loc = trace.steps[0].location.unwrap();
    assert!(
        loc.file().ends_with("trace.rs") && loc.line() == line,
        "{loc}"
    );
    assert!(trace.to_string().contains(&format!("trace.rs:{line}")));
}

#[test]
fn tracing_changes_no_gradient_and_records_only_inside() {
    let make = || Tensor::<f64>::parameter(vec![0.3, -0.7, 1.1], &[3]);
    let (a, b) = (make(), make());
    let f = |w: &Tensor<f64>| (w.sin() * w).sum();
    f(&a).backward();
    f(&b).backward_traced();
    assert_eq!(a.grad().unwrap().to_vec(), b.grad().unwrap().to_vec());
    // grad() is recorded too; nothing outside the closure is.
    let (gs, trace) = trace_backward(|| grad(&f(&a), &[&a], BackwardOptions::default()));
    assert_eq!(gs.len(), 1);
    assert_eq!(trace.steps[0].op.as_deref(), Some("sum"));
    let (_, empty) = trace_backward(|| f(&a));
    assert!(empty.steps.is_empty());
}

#[test]
fn dot_export_carries_gradient_norms() {
    // loss = Σ 3w: the gradient reaching w is [3, 3, 3, 3], norm 6.
    let w = Tensor::<f64>::parameter(vec![1.0; 4], &[4]).named("w");
    let loss = (&w * 3.0).sum();
    let trace = loss.backward_traced();
    assert_eq!(trace.grad_norm_of(w.id()), Some(6.0));
    let dot = trace.to_dot(&loss);
    assert!(dot.starts_with("digraph"));
    assert!(dot.contains("w\\n[4]\\n‖grad‖ = 6.000e0"), "{dot}");
}
