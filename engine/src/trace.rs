//! Backward traces for learners: what `backward` does, node by node.
//!
//! [`Tensor::backward_traced`] runs an ordinary backward pass (gradients accumulate as usual)
//! and returns a [`BackwardTrace`]: for every tensor in the order backward visits it (reverse
//! topological order, the output first), the operation that produced it and where in your code
//! it was called, its shape, the shape and norm of the gradient arriving at it, and for each of
//! the operation's inputs the gradient sent to it, its norm, and which axes were summed to undo
//! broadcasting (`b` of shape `(n, 1)` added to `(n, m)` receives the gradient summed over
//! axis 1). Leaves appear where their gradient is accumulated.
//!
//! [`BackwardTrace::to_dot`] draws the graph (with [`Tensor::to_dot_with`]) with every node
//! annotated by the norm of its gradient.
//!
//! ```
//! use engine::Tensor;
//!
//! let w = Tensor::<f64>::parameter(vec![0.5, -0.3, 0.8, 0.1], &[2, 2]).named("W");
//! let b = Tensor::<f64>::parameter(vec![0.1, -0.1], &[2, 1]).named("b");
//! let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, -1.0, 0.5, 2.0], &[2, 3]).named("X");
//! let loss = (w.matmul(&x) + &b).tanh().mean();
//! let trace = loss.backward_traced();
//! println!("{trace}");
//! let add = trace.steps.iter().find(|s| s.op.as_deref() == Some("add")).unwrap();
//! assert_eq!(add.inputs[1].label, "b");
//! assert_eq!(add.inputs[1].summed_axes, vec![1]); // b (2, 1) was broadcast over the columns
//! assert!(w.grad().is_some()); // an ordinary backward ran
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;

use crate::autograd::dot::DotOptions;
use crate::autograd::observer::{observe, Observer};
use crate::autograd::rules::{with_rule, Rule};
use crate::autograd::InputGrads;
use crate::autograd::{Node, Op};
use crate::tensor::TensorId;
use crate::{Float, Tensor};

thread_local! {
    static RECORDER: RefCell<Option<Vec<TraceStep>>> = const { RefCell::new(None) };
}

/// One input of a traced operation and the gradient backward sent to it.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceInput {
    /// The input's name, `%k` (the step where backward visits it), or `const` for unnamed
    /// inputs that need no gradient.
    pub label: String,
    /// Identity of the input tensor.
    pub id: TensorId,
    /// The input's shape.
    pub shape: Vec<usize>,
    /// Norm (Euclidean, over all elements) of the gradient sent to it; `None` when it gets
    /// none (a constant).
    pub grad_norm: Option<f64>,
    /// Axes of the operation's output that were summed away so the gradient has the input's
    /// shape: the reverse of broadcasting. Empty when the input was not broadcast.
    pub summed_axes: Vec<usize>,
}

/// One tensor visited by backward.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceStep {
    /// Position in the visiting order, from 0.
    pub step: usize,
    /// Identity of the tensor.
    pub id: TensorId,
    /// Its name, or `%step`.
    pub label: String,
    /// The operation that produced it; `None` for a leaf.
    pub op: Option<String>,
    /// Where in your code the operation was called.
    pub location: Option<&'static Location<'static>>,
    /// The tensor's shape (also the shape of the gradient arriving at it).
    pub shape: Vec<usize>,
    /// Shape of the arriving gradient.
    pub grad_shape: Vec<usize>,
    /// Norm of the arriving gradient (after any gradient hook).
    pub grad_norm: f64,
    /// The operation's inputs (empty for a leaf).
    pub inputs: Vec<TraceInput>,
}

/// Every tensor a backward pass visited, in order. `Display` prints it for reading.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BackwardTrace {
    /// The visits, in order. A trace over several backward passes lists them one after another.
    pub steps: Vec<TraceStep>,
}

fn norm<T: Float>(t: &Tensor<T>) -> f64 {
    t.with_data(|d| {
        d.iter()
            .map(|x| x.as_f64() * x.as_f64())
            .sum::<f64>()
            .sqrt()
    })
}

/// Axes of `output` (in its coordinates) that broadcasting stretched `input` along: leading
/// axes the input lacks, and axes where it has size 1 and the output does not.
pub fn broadcast_axes(input: &[usize], output: &[usize]) -> Vec<usize> {
    let lead = output.len().saturating_sub(input.len());
    (0..output.len())
        .filter(|&i| i < lead || (input[i - lead] == 1 && output[i] != 1))
        .collect()
}

/// Which axes of the output the gradient of input `index` (of shape `input`) was summed over,
/// for the operations whose backward rule undoes broadcasting: elementwise operations of two
/// operands (read from their rule, so new ones are covered), `broadcast_to`, the batch
/// dimensions of `matmul` and `matmul_add`, and `matmul_add`'s bias.
fn summed_axes<T: Float>(
    node: &Node<T>,
    output: &Tensor<T>,
    index: usize,
    input: &[usize],
) -> Vec<usize> {
    let out = output.shape();
    with_rule(node.op(), node.inputs(), output, |rule| {
        match (rule, node.op()) {
            (Rule::Elementwise2(..), _) | (_, Op::BroadcastTo { .. }) => broadcast_axes(input, out),
            // Only the batch dimensions broadcast; the matrix dimensions are contracted.
            // The bias of `matmul_add` broadcasts as an elementwise operand does.
            (_, Op::MatMulAdd) if index == 2 => broadcast_axes(input, out),
            (_, Op::MatMul | Op::MatMulAdd) => {
                let batch = |s: &[usize]| s[..s.len().saturating_sub(2)].to_vec();
                broadcast_axes(&batch(input), &batch(out))
            }
            _ => Vec::new(),
        }
    })
}

/// Records every tensor backward visits while a trace is being taken.
struct TraceObserver;

impl<T: Float> Observer<T> for TraceObserver {
    fn after_rule(&self, t: &Tensor<T>, g: &Tensor<T>, grads: Option<&InputGrads<T>>) {
        record_visit(t, g, grads);
    }
}

fn record_visit<T: Float>(t: &Tensor<T>, g: &Tensor<T>, grads: Option<&InputGrads<T>>) {
    RECORDER.with(|r| {
        let mut r = r.borrow_mut();
        let Some(steps) = r.as_mut() else { return };
        let node = t.grad_fn();
        let inputs = match (node, grads) {
            (Some(node), Some(grads)) => node
                .inputs()
                .iter()
                .zip(grads.iter())
                .enumerate()
                .map(|(index, (input, ig))| TraceInput {
                    label: input.name().map(|n| n.to_string()).unwrap_or_default(),
                    id: input.id(),
                    shape: input.shape().to_vec(),
                    grad_norm: ig.as_ref().map(norm),
                    summed_axes: if ig.is_some() {
                        summed_axes(node, t, index, input.shape())
                    } else {
                        Vec::new()
                    },
                })
                .collect(),
            _ => Vec::new(),
        };
        steps.push(TraceStep {
            step: steps.len(),
            id: t.id(),
            label: t.name().map(|n| n.to_string()).unwrap_or_default(),
            op: node.map(|n| n.op().name().to_string()),
            location: node.map(|n| n.location()),
            shape: t.shape().to_vec(),
            grad_shape: g.shape().to_vec(),
            grad_norm: norm(g),
            inputs,
        });
    });
}

/// Records every backward pass run inside `f` (including [`grad`](crate::grad)) and returns
/// `f`'s result with the trace. Traces do not nest: an inner call takes over until it returns.
pub fn trace_backward<R>(f: impl FnOnce() -> R) -> (R, BackwardTrace) {
    /// Puts the enclosing trace's recorder back, also when `f` panics.
    struct Restore(Option<Vec<TraceStep>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            RECORDER.with(|r| *r.borrow_mut() = previous);
        }
    }
    let _restore = Restore(RECORDER.with(|r| r.borrow_mut().replace(Vec::new())));
    let _observers = (
        observe::<f32>(Rc::new(TraceObserver)),
        observe::<f64>(Rc::new(TraceObserver)),
    );
    let result = f();
    let steps = RECORDER.with(|r| r.borrow_mut().take()).unwrap_or_default();
    (result, BackwardTrace::labelled(steps))
}

impl<T: Float> Tensor<T> {
    /// Runs [`Tensor::backward`] (gradients accumulate as usual) and returns the trace of what
    /// it did (see the [module docs](crate::trace)).
    #[track_caller]
    pub fn backward_traced(&self) -> BackwardTrace {
        trace_backward(|| self.backward()).1
    }
}

impl BackwardTrace {
    /// Gives every unnamed tensor the label `%k`, `k` being the step where backward visited it,
    /// and every input that was never visited (needs no gradient) the label `const`.
    fn labelled(mut steps: Vec<TraceStep>) -> Self {
        let mut labels: HashMap<TensorId, String> = HashMap::new();
        for s in &mut steps {
            if s.label.is_empty() {
                s.label = format!("%{}", s.step);
            }
            labels.entry(s.id).or_insert_with(|| s.label.clone());
        }
        for s in &mut steps {
            for input in &mut s.inputs {
                if let Some(label) = labels.get(&input.id) {
                    input.label = label.clone();
                } else if input.label.is_empty() {
                    input.label = "const".to_string();
                }
            }
        }
        BackwardTrace { steps }
    }

    /// The norm of the gradient that reached tensor `id`, if backward visited it.
    pub fn grad_norm_of(&self, id: TensorId) -> Option<f64> {
        self.steps.iter().find(|s| s.id == id).map(|s| s.grad_norm)
    }

    /// The graph below `root` in Graphviz DOT, each node annotated with the norm of the
    /// gradient backward brought to it (`root` is the tensor the traced backward started from).
    pub fn to_dot<T: Float>(&self, root: &Tensor<T>) -> String {
        let norms: HashMap<TensorId, f64> =
            self.steps.iter().map(|s| (s.id, s.grad_norm)).collect();
        let annotate = move |t: &Tensor<T>| norms.get(&t.id()).map(|n| format!("‖grad‖ = {n:.3e}"));
        root.to_dot_with(&DotOptions {
            annotate: Some(&annotate),
            ..DotOptions::default()
        })
    }
}

fn shape(s: &[usize]) -> String {
    format!("{s:?}")
}

impl fmt::Display for BackwardTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "backward trace: {} tensors visited, output first (reverse topological order)",
            self.steps.len()
        )?;
        for s in &self.steps {
            match &s.op {
                Some(op) => {
                    let args: Vec<&str> = s.inputs.iter().map(|i| i.label.as_str()).collect();
                    write!(f, "#{:<3} {} = {op}({})", s.step, s.label, args.join(", "))?;
                    if let Some(loc) = s.location {
                        write!(f, "    at {loc}")?;
                    }
                    writeln!(f)?;
                    writeln!(
                        f,
                        "      output {:<12} incoming grad {:<12} ‖g‖ = {:.4e}",
                        shape(&s.shape),
                        shape(&s.grad_shape),
                        s.grad_norm
                    )?;
                    for i in &s.inputs {
                        write!(f, "      → {:<8} {:<12}", i.label, shape(&i.shape))?;
                        match i.grad_norm {
                            Some(n) => write!(f, " grad ‖·‖ = {n:.4e}")?,
                            None => write!(f, " no gradient")?,
                        }
                        if !i.summed_axes.is_empty() {
                            write!(
                                f,
                                "  summed over axes {:?} of {} to undo broadcasting",
                                i.summed_axes,
                                shape(&s.shape)
                            )?;
                        }
                        writeln!(f)?;
                    }
                }
                None => writeln!(
                    f,
                    "#{:<3} {} (leaf {}): gradient {} arrives, ‖g‖ = {:.4e}",
                    s.step,
                    s.label,
                    shape(&s.shape),
                    shape(&s.grad_shape),
                    s.grad_norm
                )?,
            }
        }
        Ok(())
    }
}
