//! Looking inside the graph: a backward trace, intermediate gradients, hooks, the memory a
//! graph holds, a DOT drawing annotated with gradient norms, and anomaly mode.
//!
//! `cargo run -p engine --example inside_the_graph` (add `> /dev/null` to see only the
//! anomaly report on stderr; the DOT text goes to `target/backward.dot`).

use engine::anomaly::{catch_anomaly, detect_anomaly};
use engine::memory::{graph_memory, graph_report};
use engine::{loss, Tensor};

fn main() {
    // A two-layer network in the course's layout: X is (3, 4), four examples as columns.
    let x = Tensor::<f64>::from_vec(
        vec![
            0.5, -1.0, 2.0, 0.1, 1.5, 0.3, -0.7, 0.9, -0.2, 0.8, 0.4, -1.1,
        ],
        &[3, 4],
    )
    .named("X");
    let y = Tensor::<f64>::from_vec(vec![1.0, 0.0, 1.0, 0.0], &[1, 4]).named("Y");
    let w1 = Tensor::<f64>::parameter((0..6).map(|i| (i as f64 * 0.9).sin()).collect(), &[2, 3])
        .named("W1");
    let b1 = Tensor::<f64>::parameter(vec![0.1, -0.1], &[2, 1]).named("b1");
    let w2 = Tensor::<f64>::parameter(vec![0.7, -0.4], &[1, 2]).named("W2");
    let b2 = Tensor::<f64>::parameter(vec![0.05], &[1, 1]).named("b2");

    let a1 = (w1.matmul(&x) + &b1).relu().named("A1");
    a1.retain_grad(); // keep the intermediate gradient dL/dA1
    a1.register_hook(|g| {
        println!("hook on A1: gradient of shape {:?} arrives", g.shape());
        None // observe only; Some(g2) would replace it
    });
    let z2 = (w2.matmul(&a1) + &b2).named("Z2");
    let cost = loss::binary_cross_entropy_with_logits(&z2, &y).named("cost");

    println!("{}", graph_memory());
    println!("{}", graph_report(&cost));

    let trace = cost.backward_traced();
    println!("{trace}");
    println!("dL/dA1 (retained) = {}", a1.grad().unwrap());
    println!("dL/db1 = {}", b1.grad().unwrap());

    let dot = trace.to_dot(&cost);
    std::fs::create_dir_all("target").ok();
    if std::fs::write("target/backward.dot", &dot).is_ok() {
        println!("wrote target/backward.dot ({} lines)", dot.lines().count());
    }

    drop((trace, cost, z2, a1));
    println!("after dropping the graph: {}", graph_memory());

    // Anomaly mode: log of a probability that saturated to exactly 0.
    let _on = detect_anomaly(true);
    let p = Tensor::<f64>::parameter(vec![0.5, 0.0], &[1, 2]);
    let anomaly = catch_anomaly(|| p.log().sum()).unwrap_err();
    eprintln!("{anomaly}");
}
