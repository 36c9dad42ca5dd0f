//! Graph memory accounting and leak detection. Node counts and byte sizes below are counted by
//! hand from the operations each test records (f64: 8 bytes per element). Counts are per
//! thread, so each test sees only its own graphs.

use engine::memory::{check_graph_leak, graph_memory, graph_report, LeakCheck};
use engine::{no_grad, BackwardOptions, Tensor};

fn grown_since(before: engine::memory::GraphMemory) -> (usize, usize) {
    let now = graph_memory();
    (
        now.live_nodes - before.live_nodes,
        now.live_bytes - before.live_bytes,
    )
}

#[test]
fn nodes_and_bytes_are_counted_while_the_graph_lives_and_freed_with_it() {
    let before = graph_memory();
    let w = Tensor::<f64>::parameter(vec![0.1; 6], &[3, 2]);
    let b = Tensor::<f64>::parameter(vec![0.0; 3], &[3, 1]);
    let x = Tensor::<f64>::ones(&[2, 4]);
    {
        // matmul (3×4), add (3×4), relu (3×4), sum (1): 4 nodes, (12+12+12+1)·8 bytes.
        let loss = (w.matmul(&x) + &b).relu().sum();
        assert_eq!(grown_since(before), (4, 37 * 8));
        let report = graph_report(&loss);
        assert_eq!((report.nodes, report.node_bytes), (4, 37 * 8));
        // Leaves: w (6), b (3), x (8) elements.
        assert_eq!((report.leaves, report.leaf_bytes), (3, 17 * 8));
        assert!(report.by_op.contains(&("matmul".to_string(), 1, 96)));
        loss.backward();
        // Backward does not consume the graph; the gradients it stores are plain values.
        assert_eq!(grown_since(before).0, 4);
    }
    assert_eq!(
        grown_since(before),
        (0, 0),
        "dropping the loss frees its graph"
    );
    assert!(w.grad().is_some());
}

#[test]
fn views_hold_no_bytes_of_their_own() {
    let before = graph_memory();
    let x = Tensor::<f64>::parameter(vec![1.0; 6], &[2, 3]);
    let t = x.t();
    let r = x.reshape(&[3, 2]);
    let n = x.narrow(1, 0, 2);
    assert_eq!(grown_since(before), (3, 0));
    let c = t.contiguous(); // a real copy: 6 elements
    assert_eq!(grown_since(before), (4, 48));
    drop((t, r, n, c));
    assert_eq!(grown_since(before), (0, 0));
}

#[test]
fn operations_under_no_grad_record_nothing() {
    let before = graph_memory();
    let w = Tensor::<f64>::parameter(vec![1.0; 4], &[2, 2]);
    let y = no_grad(|| w.matmul(&w).exp().sum());
    assert_eq!(grown_since(before), (0, 0));
    assert!(y.is_leaf());
}

/// A two-layer network trained by gradient descent, in the course's layout: X is (2, 4).
struct Net {
    params: Vec<Tensor<f64>>,
    x: Tensor<f64>,
    y: Tensor<f64>,
}

impl Net {
    fn new() -> Self {
        let p = |n: usize, shape: &[usize], k: f64| {
            Tensor::parameter(
                (0..n).map(|i| ((i as f64 + k) * 0.77).sin()).collect(),
                shape,
            )
        };
        Net {
            params: vec![
                p(6, &[3, 2], 1.0),
                p(3, &[3, 1], 2.0),
                p(3, &[1, 3], 3.0),
                p(1, &[1, 1], 4.0),
            ],
            x: Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.1, 1.5, 0.3, -0.7, 0.9], &[2, 4]),
            y: Tensor::from_vec(vec![1.0, 0.0, 1.0, 0.0], &[1, 4]),
        }
    }

    /// Records 7 nodes: matmul, add, relu, matmul, add, bce_with_logits, mean.
    fn loss(&self) -> Tensor<f64> {
        let p = &self.params;
        let a1 = (p[0].matmul(&self.x) + &p[1]).relu();
        let z2 = p[2].matmul(&a1) + &p[3];
        z2.bce_with_logits(&self.y).mean()
    }

    fn descend(&self) {
        for p in &self.params {
            let g = p.grad().unwrap().to_vec();
            p.update_data(|d| d.iter_mut().zip(&g).for_each(|(v, g)| *v -= 0.1 * g));
            p.zero_grad();
        }
    }
}

#[test]
fn a_training_loop_that_keeps_loss_values_frees_every_graph() {
    let net = Net::new();
    let mut costs = Vec::new();
    let result = check_graph_leak(5, |_| {
        let loss = net.loss();
        loss.backward();
        net.descend();
        costs.push(loss.item());
    });
    let after = result.unwrap_or_else(|leak| panic!("{leak}"));
    assert_eq!(after.live_nodes, graph_memory().live_nodes);
    assert!(costs[4] < costs[0], "the loop trains: {costs:?}");
}

#[test]
fn a_training_loop_that_keeps_loss_tensors_is_caught() {
    let net = Net::new();
    let mut costs = Vec::new();
    let leak = check_graph_leak(5, |_| {
        let loss = net.loss();
        loss.backward();
        net.descend();
        costs.push(loss); // the mistake: the tensor keeps its 7-node graph alive
    })
    .unwrap_err();
    assert_eq!(leak.nodes_per_step, 7.0);
    let message = leak.to_string();
    assert!(message.contains("grow by 7.0"), "{message}");
    assert!(message.contains("loss.item()"), "{message}");
    drop(costs);
}

#[test]
fn keeping_only_the_latest_graph_is_not_growth() {
    let net = Net::new();
    let mut last = None;
    let mut check = LeakCheck::start();
    for _ in 0..4 {
        let loss = net.loss();
        loss.backward();
        net.descend();
        last = Some(loss);
        check.end_step();
    }
    assert!(check.verdict().is_ok());
    assert!(last.is_some());
}

#[test]
fn a_create_graph_gradient_left_in_grad_keeps_a_graph_alive_until_zero_grad() {
    let before = graph_memory();
    let w = Tensor::<f64>::parameter(vec![0.3, -0.2], &[2]);
    let loss = w.sin().sum();
    engine::backward_with(
        &loss,
        &Tensor::ones(&[]),
        BackwardOptions { create_graph: true },
    );
    drop(loss);
    // w.grad = cos(w) · 1 was recorded: the cos node and the product keep their graph.
    assert!(grown_since(before).0 > 0);
    w.zero_grad();
    assert_eq!(grown_since(before), (0, 0));
}

#[test]
fn reports_print_their_numbers() {
    let w = Tensor::<f64>::parameter(vec![1.0; 512], &[16, 32]);
    let loss = w.matmul(&w.t()).sum();
    let text = graph_report(&loss).to_string();
    // matmul 16×16 = 2 KiB; the transpose is a view.
    assert!(text.contains("3 nodes holding 2.0 KiB"), "{text}");
    assert!(text.contains("matmul"), "{text}");
    let live = graph_memory().to_string();
    assert!(live.contains("live graph nodes"), "{live}");
}
