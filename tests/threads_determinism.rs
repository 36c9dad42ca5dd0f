//! Training gives the same bits whatever the number of threads.
//!
//! The network is big enough that every parallel path runs: products above the threading
//! threshold split by rows (forward, `W1·X`) and by columns (`dZ1·Xᵀ`), elementwise maps over
//! more than 2^15 elements (ReLU, bias broadcast, gradients), and the pairwise sum of the L2
//! penalty over `W1`'s 401,408 elements. A second test drives the split kernels directly, on
//! layouts the network does not produce, against plain loops. Its own test binary, because the
//! thread count is process-wide (and the two tests take turns: `TURN`).

use std::sync::Mutex;

use ferrograd::engine::random::NumpyRng;
use ferrograd::engine::{set_num_threads, Tensor};
use ferrograd::nn::data::{one_hot, MiniBatches};
use ferrograd::nn::init::Init;
use ferrograd::nn::optim::Gd;
use ferrograd::nn::train::Trainer;
use ferrograd::nn::{loss, Activation, Module, Sequential};

/// Held by each test for its whole run, so that neither changes the other's thread count.
static TURN: Mutex<()> = Mutex::new(());

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
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
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

/// Broadcasting arithmetic, `sum_to`, maps and large sums, split across threads by rows or
/// chunks, against the same values computed by plain loops (in f64, with an exact reference:
/// every value is a small integer multiple of a power of two, so sums are exact in any order
/// and a wrong split, a skipped or repeated row, shows as a wrong value, not as rounding).
#[test]
fn split_kernels_match_plain_loops_at_any_thread_count() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (r, c) = (300, 257);
    let a_data: Vec<f64> = (0..r * c).map(|i| ((i * 37) % 101) as f64 * 0.25).collect();
    let col: Vec<f64> = (0..r).map(|i| (i % 7) as f64 - 3.0).collect();
    let row: Vec<f64> = (0..c).map(|j| (j % 5) as f64 * 0.5).collect();
    let a = Tensor::from_vec(a_data.clone(), &[r, c]);
    let at = |i: usize, j: usize| a_data[i * c + j];
    for threads in [1, 2, 3] {
        set_num_threads(threads);
        // A column broadcast along the rows, and a row broadcast down the columns.
        let plus_col = (&a + &Tensor::from_vec(col.clone(), &[r, 1])).to_vec();
        let times_row = (&a * &Tensor::from_vec(row.clone(), &[c])).to_vec();
        // A transposed (strided) operand plus a column.
        let t_plus = (&a.t() + &Tensor::from_vec(row.clone(), &[c, 1])).to_vec();
        for i in 0..r {
            for j in 0..c {
                assert_eq!(plus_col[i * c + j], at(i, j) + col[i], "{threads} threads");
                assert_eq!(times_row[i * c + j], at(i, j) * row[j], "{threads} threads");
                assert_eq!(t_plus[j * r + i], at(i, j) + row[j], "{threads} threads");
            }
        }
        // sum_to keeping the outer axis (split by rows), summing it away (one thread), and
        // in three dimensions from a transposed view.
        let rows_kept = a.sum_to(&[r, 1]).to_vec();
        let rows_summed = a.sum_to(&[1, c]).to_vec();
        for (i, &v) in rows_kept.iter().enumerate() {
            assert_eq!(v, (0..c).map(|j| at(i, j)).sum::<f64>(), "row {i}");
        }
        for (j, &v) in rows_summed.iter().enumerate() {
            assert_eq!(v, (0..r).map(|i| at(i, j)).sum::<f64>(), "column {j}");
        }
        assert_eq!((rows_kept.len(), rows_summed.len()), (r, c));
        let cube = a.reshape(&[3, 100, c]).permute(&[1, 0, 2]);
        let kept = cube.sum_to(&[100, 1, 1]).to_vec();
        for (p, &v) in kept.iter().enumerate() {
            let expected: f64 = (0..3)
                .flat_map(|q| (0..c).map(move |j| (q * 100 + p, j)))
                .map(|(i, j)| at(i, j))
                .sum();
            assert_eq!(v, expected, "{threads} threads, row {p}");
        }
        // A map and a whole sum over 77,100 elements.
        let relu = (&a - 12.0).relu().to_vec();
        assert!(relu
            .iter()
            .zip(&a_data)
            .all(|(&y, &x)| y == (x - 12.0).max(0.0)));
        assert_eq!(a.sum().item(), a_data.iter().sum::<f64>());
    }
    set_num_threads(0);
}
