//! Looking at a graph: export to Graphviz DOT and count its nodes.
//!
//! Every tensor reachable from the output through recorded nodes becomes one DOT node:
//!
//! - **operation results** (rounded boxes): the operation with its parameters (`sum(axis=0)`,
//!   `leaky_relu(0.01)`) and the output shape, plus the tensor's name if it has one;
//! - **parameters** (filled boxes, blue): leaves that require gradients, the tensors `backward`
//!   fills in;
//! - **constants** (dashed, grey): inputs that need no gradient (data, targets, literals).
//!
//! Edges run forward, from each input to the result computed from it. Edges along which
//! `backward` sends a gradient (the gradient path) are solid and red; edges from constants are
//! dashed and grey: nothing flows back along them. [`DotOptions::path_to`] narrows the red path
//! to the routes that reach chosen parameters ("how does the loss reach `W1`?").
//!
//! Node numbering follows a depth-first walk from the output with inputs in order, so the same
//! program always produces the same text. Render with `dot -Tsvg graph.dot -o graph.svg`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use crate::autograd::Op;
use crate::tensor::TensorId;
use crate::{Float, Tensor};

/// How many pieces a graph has; see [`Tensor::graph_summary`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GraphSummary {
    /// Recorded operations (tensors with a graph node), the output included.
    pub operations: usize,
    /// Leaves that require gradients.
    pub parameters: usize,
    /// Inputs that need no gradient.
    pub constants: usize,
    /// Input-to-result connections (an input used twice by one operation counts twice).
    pub edges: usize,
}

impl GraphSummary {
    /// Every tensor in the graph: operations, parameters and constants.
    pub fn total(&self) -> usize {
        self.operations + self.parameters + self.constants
    }
}

/// An extra line for a tensor's DOT label, or `None` for nothing.
pub type DotAnnotation<'a, T> = &'a dyn Fn(&Tensor<T>) -> Option<String>;

/// Settings for [`Tensor::to_dot_with`].
pub struct DotOptions<'a, T: Float> {
    /// Draw constant inputs (data, targets, literal scalars). On by default; turning it off
    /// leaves only the part of the graph that gradients flow through.
    pub show_constants: bool,
    /// Highlight only the gradient routes from the output to these tensors (usually
    /// parameters). Empty: highlight every edge that carries a gradient.
    pub path_to: Vec<Tensor<T>>,
    /// Adds a line to each node's label (for example the norm of its gradient).
    pub annotate: Option<DotAnnotation<'a, T>>,
}

impl<T: Float> Default for DotOptions<'_, T> {
    fn default() -> Self {
        DotOptions {
            show_constants: true,
            path_to: Vec::new(),
            annotate: None,
        }
    }
}

/// The graph below `root` in discovery order: tensors, and for each its inputs as positions in
/// that list.
struct Walk<T: Float> {
    tensors: Vec<Tensor<T>>,
    inputs: Vec<Vec<usize>>,
}

fn walk<T: Float>(root: &Tensor<T>) -> Walk<T> {
    let mut position: HashMap<TensorId, usize> = HashMap::new();
    let mut tensors = vec![root.clone()];
    position.insert(root.id(), 0);
    let mut inputs = vec![Vec::new()];
    // Depth-first with inputs visited in order: a stack of (tensor position, next input).
    let mut stack = vec![(0usize, 0usize)];
    while let Some((at, next)) = stack.pop() {
        let Some(node) = tensors[at].node() else {
            continue;
        };
        let Some(input) = node.inputs().get(next).cloned() else {
            continue;
        };
        stack.push((at, next + 1));
        let p = match position.get(&input.id()) {
            Some(&p) => p,
            None => {
                let p = tensors.len();
                position.insert(input.id(), p);
                tensors.push(input);
                inputs.push(Vec::new());
                stack.push((p, 0));
                p
            }
        };
        inputs[at].push(p);
    }
    Walk { tensors, inputs }
}

impl<T: Float> Tensor<T> {
    /// Counts the operations, parameters, constants and edges of the graph that produced this
    /// tensor. A constant or a parameter is a graph of one tensor and no operation.
    pub fn graph_summary(&self) -> GraphSummary {
        let w = walk(self);
        let mut s = GraphSummary::default();
        for (t, ins) in w.tensors.iter().zip(&w.inputs) {
            if t.node().is_some() {
                s.operations += 1;
            } else if t.requires_grad() {
                s.parameters += 1;
            } else {
                s.constants += 1;
            }
            s.edges += ins.len();
        }
        s
    }

    /// The number of recorded operations in the graph that produced this tensor (shorthand for
    /// `graph_summary().operations`).
    pub fn graph_node_count(&self) -> usize {
        self.graph_summary().operations
    }

    /// The graph that produced this tensor in Graphviz DOT (see the [module docs](self) for the
    /// drawing conventions).
    ///
    /// ```
    /// use engine::Tensor;
    /// let w = Tensor::<f64>::parameter(vec![1.0, 2.0], &[1, 2]).named("W");
    /// let x = Tensor::<f64>::from_vec(vec![3.0, 4.0], &[2, 1]).named("X");
    /// let loss = w.matmul(&x).relu().sum();
    /// let dot = loss.to_dot();
    /// assert!(dot.starts_with("digraph"));
    /// assert!(dot.contains("matmul"));
    /// assert_eq!(loss.graph_node_count(), 3);
    /// ```
    pub fn to_dot(&self) -> String {
        self.to_dot_with(&DotOptions::default())
    }

    /// [`Tensor::to_dot`] with options: hide constants, highlight the routes to chosen
    /// parameters, add a line to every label.
    pub fn to_dot_with(&self, options: &DotOptions<'_, T>) -> String {
        let w = walk(self);
        let n = w.tensors.len();
        // Which tensors lie on a highlighted route: all that carry gradients, or only those
        // from which a chosen tensor can be reached going towards the inputs.
        let on_path: Vec<bool> = if options.path_to.is_empty() {
            w.tensors.iter().map(Tensor::requires_grad).collect()
        } else {
            let targets: HashSet<TensorId> = options.path_to.iter().map(Tensor::id).collect();
            // Discovery order puts every tensor before its inputs' first discovery only for
            // trees, so iterate to a fixed point (graphs here are small).
            let mut reach: Vec<bool> = w
                .tensors
                .iter()
                .map(|t| targets.contains(&t.id()))
                .collect();
            let mut changed = true;
            while changed {
                changed = false;
                for i in 0..n {
                    if !reach[i]
                        && w.tensors[i].requires_grad()
                        && w.inputs[i].iter().any(|&j| reach[j])
                    {
                        reach[i] = true;
                        changed = true;
                    }
                }
            }
            reach
        };
        let shown = |i: usize| options.show_constants || w.tensors[i].requires_grad();

        let mut out = String::new();
        out.push_str("digraph ferrograd {\n");
        out.push_str("  // Edges run forward (input -> result). Red: the gradient path; dashed grey: constants.\n");
        out.push_str("  rankdir=BT;\n");
        out.push_str("  node [fontname=\"Helvetica\", fontsize=10, shape=box];\n");
        out.push_str("  edge [arrowsize=0.6];\n");
        for (i, t) in w.tensors.iter().enumerate() {
            if !shown(i) {
                continue;
            }
            let mut lines = Vec::new();
            let style = if let Some(node) = t.node() {
                lines.push(op_label(node.op()));
                if let Some(name) = t.name() {
                    lines.push(name.to_string());
                }
                lines.push(format!("{:?}", t.shape()));
                if i == 0 {
                    "style=\"rounded,bold\", peripheries=2"
                } else {
                    "style=rounded"
                }
            } else if t.requires_grad() {
                lines.push(
                    t.name()
                        .map_or_else(|| "parameter".into(), |n| n.to_string()),
                );
                lines.push(format!("{:?}", t.shape()));
                "style=filled, fillcolor=\"#cfe2ff\""
            } else {
                lines.push(constant_label(t));
                lines.push(format!("{:?}", t.shape()));
                "style=dashed, color=gray50, fontcolor=gray35"
            };
            if let Some(extra) = options.annotate.and_then(|f| f(t)) {
                lines.push(extra);
            }
            let label: Vec<String> = lines.iter().map(|l| escape(l)).collect();
            let _ = writeln!(out, "  n{i} [label=\"{}\", {style}];", label.join("\\n"));
        }
        for (i, ins) in w.inputs.iter().enumerate() {
            for &j in ins {
                if !shown(j) {
                    continue;
                }
                let style = if on_path[j] && on_path[i] {
                    " [color=firebrick, penwidth=2]"
                } else if w.tensors[j].requires_grad() {
                    ""
                } else {
                    " [style=dashed, color=gray60]"
                };
                let _ = writeln!(out, "  n{j} -> n{i}{style};");
            }
        }
        out.push_str("}\n");
        out
    }
}

/// A constant's label: its name, its value if it is a single number, or "constant".
fn constant_label<T: Float>(t: &Tensor<T>) -> String {
    match (t.name(), t.numel()) {
        (Some(name), _) => name.to_string(),
        (None, 1) => Tensor::scalar(t.item()).to_string(),
        (None, _) => "constant".into(),
    }
}

/// The operation with the parameters a reader needs to tell nodes apart.
fn op_label<T: Float>(op: &Op<T>) -> String {
    let axis = |a: &Option<usize>, keepdim: bool| match a {
        Some(a) if keepdim => format!("(axis={a}, keepdim)"),
        Some(a) => format!("(axis={a})"),
        None => String::new(),
    };
    let name = op.name();
    match op {
        Op::PowScalar(p) => format!("{name}({p})"),
        Op::LeakyRelu(s) => format!("{name}({s})"),
        Op::Clamp(lo, hi) => format!("{name}({lo}, {hi})"),
        Op::Permute { dims } => format!("{name}{:?}", dims.as_slice()),
        Op::Sum { axis: a, keepdim }
        | Op::Mean { axis: a, keepdim }
        | Op::Max { axis: a, keepdim }
        | Op::Min { axis: a, keepdim } => format!("{name}{}", axis(a, *keepdim)),
        Op::Softmax { axis: a }
        | Op::LogSoftmax { axis: a }
        | Op::Concat { axis: a }
        | Op::SoftmaxCrossEntropy { axis: a, .. } => {
            format!("{name}(axis={a})")
        }
        Op::Narrow { axis: a, start } => format!("{name}(axis={a}, start={start})"),
        Op::IndexSelect { axis: a, .. }
        | Op::IndexAdd { axis: a, .. }
        | Op::Gather { axis: a, .. }
        | Op::ScatterAdd { axis: a, .. } => format!("{name}(axis={a})"),
        _ => name.to_string(),
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
