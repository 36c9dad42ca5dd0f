//! Graph export for people studying autodiff: DOT text (operation, shape, parameters marked,
//! the gradient path) and node counts.

use ferrograd::engine::autograd::dot::{DotOptions, GraphSummary};
use ferrograd::engine::Tensor;

/// `Σ relu(W·X + b)`: 4 operations, 2 parameters, 1 constant, 6 edges.
fn small_graph() -> (Tensor<f64>, Tensor<f64>, Tensor<f64>) {
    let w = Tensor::parameter(vec![0.5, -1.0, 2.0, 0.25], &[2, 2]).named("W");
    let b = Tensor::parameter(vec![0.1, -0.1], &[2, 1]).named("b");
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).named("X");
    let loss = (w.matmul(&x) + &b).relu().sum();
    (loss, w, b)
}

fn lines_with<'a>(dot: &'a str, needle: &str) -> Vec<&'a str> {
    dot.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn counts_operations_parameters_constants_and_edges() {
    let (loss, w, _) = small_graph();
    assert_eq!(
        loss.graph_summary(),
        GraphSummary {
            operations: 4,
            parameters: 2,
            constants: 1,
            edges: 6
        }
    );
    assert_eq!(loss.graph_node_count(), 4);
    assert_eq!(loss.graph_summary().total(), 7);
    // A leaf is a graph of one tensor; a tensor used twice by one op is one node, two edges.
    assert_eq!(w.graph_summary().parameters, 1);
    let sq = &w * &w;
    assert_eq!(
        sq.graph_summary(),
        GraphSummary {
            operations: 1,
            parameters: 1,
            constants: 0,
            edges: 2
        }
    );
}

#[test]
fn dot_marks_operations_parameters_constants_and_the_gradient_path() {
    let (loss, _, _) = small_graph();
    let dot = loss.to_dot();
    assert!(
        dot.starts_with("digraph ferrograd {\n") && dot.ends_with("}\n"),
        "{dot}"
    );
    // Nodes are numbered depth-first from the output, inputs in order.
    assert!(
        dot.contains("n0 [label=\"sum\\n[]\", style=\"rounded,bold\", peripheries=2];"),
        "{dot}"
    );
    assert!(
        dot.contains("n1 [label=\"relu\\n[2, 3]\", style=rounded];"),
        "{dot}"
    );
    assert!(
        dot.contains("n3 [label=\"matmul\\n[2, 3]\", style=rounded];"),
        "{dot}"
    );
    assert!(
        dot.contains("n4 [label=\"W\\n[2, 2]\", style=filled"),
        "{dot}"
    );
    assert!(
        dot.contains("n5 [label=\"X\\n[2, 3]\", style=dashed"),
        "{dot}"
    );
    assert!(
        dot.contains("n6 [label=\"b\\n[2, 1]\", style=filled"),
        "{dot}"
    );
    // Every edge but the one from the constant carries a gradient.
    assert_eq!(lines_with(&dot, " -> n").len(), 6);
    assert_eq!(lines_with(&dot, "color=firebrick").len(), 5, "{dot}");
    assert_eq!(lines_with(&dot, "n5 -> n3 [style=dashed").len(), 1, "{dot}");
    // Same program, same text.
    assert_eq!(dot, small_graph().0.to_dot());
}

#[test]
fn path_to_highlights_only_the_routes_to_chosen_parameters() {
    let (loss, _, b) = small_graph();
    let dot = loss.to_dot_with(&DotOptions {
        path_to: vec![b],
        ..DotOptions::default()
    });
    let red: Vec<&str> = lines_with(&dot, "color=firebrick");
    assert_eq!(
        red,
        vec![
            "  n1 -> n0 [color=firebrick, penwidth=2];",
            "  n2 -> n1 [color=firebrick, penwidth=2];",
            "  n6 -> n2 [color=firebrick, penwidth=2];"
        ]
    );
    // W's edges stay plain (solid black): it needs a gradient, but is not on b's route.
    assert!(dot.contains("  n4 -> n3;\n"), "{dot}");
}

#[test]
fn constants_can_be_hidden_and_labels_annotated() {
    let (loss, _, _) = small_graph();
    let annotate = |t: &Tensor<f64>| Some(format!("numel {}", t.numel()));
    let dot = loss.to_dot_with(&DotOptions {
        show_constants: false,
        annotate: Some(&annotate),
        ..DotOptions::default()
    });
    assert!(!dot.contains("\"X"), "{dot}");
    assert_eq!(lines_with(&dot, " -> n").len(), 5);
    assert!(dot.contains("n4 [label=\"W\\n[2, 2]\\nnumel 4\""), "{dot}");
}

#[test]
fn operation_parameters_and_literal_scalars_appear_in_labels() {
    let x = Tensor::<f64>::parameter(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).named("say \"x\"");
    let y = (x.leaky_relu(0.01).sum_axis(0, true) * 2.5).softmax(1);
    let dot = y.to_dot();
    for label in [
        "softmax(axis=1)",
        "sum(axis=0, keepdim)",
        "leaky_relu(0.01)",
        "label=\"2.5\\n[]\"",
        "say \\\"x\\\"",
    ] {
        assert!(dot.contains(label), "{label} missing in\n{dot}");
    }
}
