//! Memory held by computation graphs, and a check that a training loop frees them.
//!
//! A graph lives as long as some handle to a tensor computed in it: each node keeps its inputs
//! (the values backward needs), so one stored loss tensor keeps the whole forward pass of its
//! step alive, buffers included. The classic leak is `losses.push(loss)` instead of
//! `losses.push(loss.item())`; another is a gradient computed with `create_graph` left in a
//! `.grad`.
//!
//! - [`graph_memory`] (re-exported from [`autograd`](crate::autograd)): nodes created on this
//!   thread that are still alive and the bytes of the results they keep, printable.
//! - [`graph_report`]: what one graph holds, op by op.
//! - [`check_graph_leak`] / [`LeakCheck`]: run training steps and fail if live nodes grow.
//! - [`pooled_bytes`] / [`release_pooled_buffers`]: the element buffers a thread keeps for reuse.
//!   When the last tensor using a buffer of 16 KiB or more is dropped, the buffer is kept (up to
//!   64 per element type and 256 MiB per thread) and the next operation that needs one of about
//!   its size takes it, so a training loop's steady state does not call the allocator for its
//!   large buffers (and the allocator does not hand memory back to the system and fault it in
//!   again every step). This memory is not a leak: it is bounded, and released on request.
//!
//! ```
//! use engine::memory::check_graph_leak;
//! use engine::Tensor;
//!
//! let w = Tensor::<f64>::parameter(vec![0.5; 4], &[2, 2]);
//! let x = Tensor::<f64>::ones(&[2, 3]);
//! let mut history = Vec::new();
//! // Keeping the loss *tensor* keeps every step's graph alive: detected.
//! let leak = check_graph_leak(4, |_| {
//!     let loss = w.matmul(&x).tanh().sum();
//!     loss.backward();
//!     history.push(loss);
//! });
//! assert!(leak.is_err());
//! println!("{}", leak.unwrap_err());
//! // Keeping its value frees the graph at the end of each step.
//! let mut values = Vec::new();
//! assert!(check_graph_leak(4, |_| {
//!     let loss = w.matmul(&x).tanh().sum();
//!     loss.backward();
//!     values.push(loss.item());
//! })
//! .is_ok());
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;

pub use crate::autograd::{graph_memory, live_nodes, GraphMemory};
pub use crate::buffers::{pooled_bytes, release as release_pooled_buffers};
use crate::{Float, Tensor};

/// Formats a byte count with a binary unit (`512 B`, `3.2 KiB`, `1.5 MiB`).
pub fn format_bytes(bytes: usize) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

impl fmt::Display for GraphMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} live graph nodes holding {} of intermediate results",
            self.live_nodes,
            format_bytes(self.live_bytes)
        )
    }
}

/// What one graph holds, as reachable from its output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphReport {
    /// Graph nodes (operations recorded) reachable from the root, the root's own included.
    pub nodes: usize,
    /// Bytes of the distinct buffers those operations produced (views count nothing).
    pub node_bytes: usize,
    /// Leaves and constants the graph refers to (parameters, data).
    pub leaves: usize,
    /// Bytes of their distinct buffers: memory the graph shares with them, not its own.
    pub leaf_bytes: usize,
    /// Per operation name: how many nodes, and the bytes they produced. Sorted by name.
    pub by_op: Vec<(String, usize, usize)>,
}

impl fmt::Display for GraphReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "graph: {} nodes holding {}; uses {} leaf or constant tensors ({})",
            self.nodes,
            format_bytes(self.node_bytes),
            self.leaves,
            format_bytes(self.leaf_bytes)
        )?;
        let mut rows = self.by_op.clone();
        rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        writeln!(f, "  {:<18} {:>6}  {:>10}", "op", "nodes", "bytes")?;
        for (op, count, bytes) in rows {
            writeln!(f, "  {op:<18} {count:>6}  {:>10}", format_bytes(bytes))?;
        }
        Ok(())
    }
}

/// Walks the graph that produced `root` and reports what it holds.
pub fn graph_report<T: Float>(root: &Tensor<T>) -> GraphReport {
    let size = std::mem::size_of::<T>();
    let mut seen = HashSet::new();
    let mut leaf_buffers = HashSet::new();
    let mut by_op: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let mut report = GraphReport {
        nodes: 0,
        node_bytes: 0,
        leaves: 0,
        leaf_bytes: 0,
        by_op: Vec::new(),
    };
    let mut stack = vec![root.clone()];
    while let Some(t) = stack.pop() {
        if !seen.insert(t.id()) {
            continue;
        }
        let storage = t.storage();
        match t.node() {
            Some(node) => {
                // A view's buffer belongs to the tensor it views; a fresh buffer is the node's.
                let is_view = node.inputs().iter().any(|i| i.shares_storage(&storage));
                let bytes = if is_view { 0 } else { storage.len() * size };
                report.nodes += 1;
                report.node_bytes += bytes;
                let entry = by_op.entry(node.op().name()).or_default();
                entry.0 += 1;
                entry.1 += bytes;
                stack.extend(node.inputs().iter().cloned());
            }
            None => {
                report.leaves += 1;
                if leaf_buffers.insert(std::sync::Arc::as_ptr(&storage) as usize) {
                    report.leaf_bytes += storage.len() * size;
                }
            }
        }
    }
    report.by_op = by_op
        .into_iter()
        .map(|(op, (n, b))| (op.to_string(), n, b))
        .collect();
    report
}

impl<T: Float> Tensor<T> {
    /// What the graph that produced this tensor holds (see [`graph_report`]).
    pub fn graph_report(&self) -> GraphReport {
        graph_report(self)
    }
}

/// Live graph memory recorded after each step of a loop, to tell a loop that frees its graphs
/// from one that keeps them.
#[derive(Clone, Debug)]
pub struct LeakCheck {
    baseline: GraphMemory,
    after_step: Vec<GraphMemory>,
}

/// Live graph nodes grew from step to step.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphLeak {
    /// Live memory before the first step.
    pub baseline: GraphMemory,
    /// Live memory after each step.
    pub after_step: Vec<GraphMemory>,
    /// Average growth in live nodes per step, after the first.
    pub nodes_per_step: f64,
    /// Average growth in live bytes per step, after the first.
    pub bytes_per_step: f64,
}

impl fmt::Display for GraphLeak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "graph leak: live graph nodes grow by {:.1} ({}) per step",
            self.nodes_per_step,
            format_bytes(self.bytes_per_step.max(0.0) as usize)
        )?;
        writeln!(f, "  before the first step: {}", self.baseline)?;
        for (i, m) in self.after_step.iter().enumerate() {
            writeln!(f, "  after step {}: {m}", i + 1)?;
        }
        write!(
            f,
            "  something keeps each step's graph alive: a stored loss tensor (keep loss.item()), \
             a collection of activations, or a .grad computed with create_graph"
        )
    }
}

impl std::error::Error for GraphLeak {}

impl Default for LeakCheck {
    fn default() -> Self {
        Self::start()
    }
}

impl LeakCheck {
    /// Records the live graph memory now, before the first step.
    pub fn start() -> Self {
        LeakCheck {
            baseline: graph_memory(),
            after_step: Vec::new(),
        }
    }

    /// Records the live graph memory at the end of a step.
    pub fn end_step(&mut self) {
        self.after_step.push(graph_memory());
    }

    /// `Err` when live nodes after the last step exceed those after the first: each step left
    /// something behind. (What one step keeps, say the last loss, is not a leak: only growth is.)
    pub fn verdict(&self) -> Result<GraphMemory, GraphLeak> {
        let (Some(first), Some(last)) = (self.after_step.first(), self.after_step.last()) else {
            return Ok(graph_memory());
        };
        if last.live_nodes <= first.live_nodes {
            return Ok(*last);
        }
        let steps = (self.after_step.len() - 1) as f64;
        Err(GraphLeak {
            baseline: self.baseline,
            after_step: self.after_step.clone(),
            nodes_per_step: (last.live_nodes - first.live_nodes) as f64 / steps,
            bytes_per_step: (last.live_bytes as f64 - first.live_bytes as f64) / steps,
        })
    }
}

/// Runs `step(i)` for `i in 0..steps` (at least 2) and fails if live graph nodes grow from step
/// to step. Returns the live memory after the last step otherwise. Counts are per thread, so
/// tests running in parallel do not disturb each other.
#[track_caller]
pub fn check_graph_leak(
    steps: usize,
    mut step: impl FnMut(usize),
) -> Result<GraphMemory, GraphLeak> {
    assert!(
        steps >= 2,
        "check_graph_leak: needs at least 2 steps, got {steps}"
    );
    let mut check = LeakCheck::start();
    for i in 0..steps {
        step(i);
        check.end_step();
    }
    check.verdict()
}
