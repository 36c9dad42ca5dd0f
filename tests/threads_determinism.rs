//! Training gives the same bits whatever the number of threads.
//!
//! The network is big enough that every parallel path runs: products above the threading
//! threshold split by rows (forward, `W1·X`) and by columns (`dZ1·Xᵀ`), elementwise maps over
//! more than 2^15 elements (ReLU, bias broadcast, gradients), and the pairwise sum of the L2
//! penalty over `W1`'s 401,408 elements. Its own test binary, because the thread count is
//! process-wide.

use ferrograd::engine::random::NumpyRng;
use ferrograd::engine::set_num_threads;
use ferrograd::nn::data::{one_hot, MiniBatches};
use ferrograd::nn::init::Init;
use ferrograd::nn::optim::Gd;
use ferrograd::nn::train::Trainer;
use ferrograd::nn::{loss, Activation, Module, Sequential};

/// Every parameter's bits and every cost after two epochs of 2 batches of 256 at `threads`.
fn train(threads: usize) -> (Vec<u32>, Vec<u64>) {
    set_num_threads(threads);
    let (n0, m) = (784, 512);
    let mut rng = NumpyRng::new(5);
    let x = rng.rand::<f32>(&[n0, m]);
    let labels: Vec<usize> = (0..m).map(|i| (i * 7) % 10).collect();
    let data = MiniBatches::new(x, one_hot(&labels, 10), 256);
    let net = Sequential::<f32>::mlp(
        &[n0, 512, 10],
        Activation::Relu,
        Activation::Identity,
        &Init::HeUniform,
        &mut rng,
    );
    let mut shuffle = NumpyRng::new(6);
    let history = Trainer::new(2).shuffle_with(&mut shuffle).fit(
        &net,
        &mut Gd::new(0.1),
        &data,
        |out, y, params| loss::softmax_cross_entropy(out, y) + loss::l2_penalty(params, 0.5, 256),
    );
    let bits = net
        .parameters()
        .iter()
        .flat_map(|p| p.tensor.to_vec())
        .map(f32::to_bits)
        .collect();
    let costs = history
        .epochs
        .iter()
        .map(|e| e.mean_cost.to_bits())
        .collect();
    (bits, costs)
}

#[test]
fn one_two_and_three_threads_train_to_the_same_bits() {
    let one = train(1);
    // The run must have trained (a broken step could be "deterministic" by doing nothing).
    let start = {
        let mut rng = NumpyRng::new(5);
        let _ = rng.rand::<f32>(&[784, 512]);
        Init::HeUniform
            .weight::<f32, _>(512, 784, &mut rng)
            .to_vec()
    };
    let moved = one.0[..start.len()]
        .iter()
        .zip(&start)
        .filter(|(a, b)| **a != b.to_bits())
        .count();
    assert!(moved > start.len() / 2, "only {moved} weights changed");
    for threads in [2, 3] {
        let other = train(threads);
        assert_eq!(one.1, other.1, "costs differ at {threads} threads");
        let differing = one.0.iter().zip(&other.0).filter(|(a, b)| a != b).count();
        assert_eq!(
            differing, 0,
            "{differing} parameter values differ at {threads} threads"
        );
    }
}
