//! The three-way check against the seeds' hand-derived backprop (apps/src/backprop.rs): autodiff
//! of the course's cost, the seeds' formulas, and central differences agree for every
//! parameter, with sigmoid and softmax outputs, L2 regularization and (fixed) dropout masks.

use apps::backprop::{self, Output};
use engine::check::{check_gradients, CheckConfig, NamedTensors};
use engine::{loss, Tensor};

fn wave(n: usize, k: f64) -> Vec<f64> {
    (0..n).map(|i| ((i as f64 + k) * 0.731).sin()).collect()
}

fn layers(dims: &[usize]) -> NamedTensors<f64> {
    let mut list = Vec::new();
    for l in 1..dims.len() {
        list.push(Tensor::from_vec(
            wave(dims[l] * dims[l - 1], l as f64),
            &[dims[l], dims[l - 1]],
        ));
        list.push(
            Tensor::from_vec(wave(dims[l], 10.0 + l as f64), &[dims[l], 1])
                .mul(&Tensor::scalar(0.1)),
        );
    }
    NamedTensors::from_layers(&list)
}

/// The course's cost written with engine operations (autodiff differentiates this).
fn cost(
    p: &NamedTensors<f64>,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    output: Output,
    masks: Option<&[Tensor<f64>]>,
    keep_prob: f64,
    lambd: f64,
) -> Tensor<f64> {
    let layers = p.len() / 2;
    let m = x.shape()[1] as f64;
    let mut a = x.clone();
    for l in 1..=layers {
        let z = p[&format!("W{l}")].matmul(&a) + &p[&format!("b{l}")];
        if l < layers {
            a = z.relu();
            if let Some(d) = masks {
                a = a * &d[l - 1] / keep_prob;
            }
        } else {
            a = z;
        }
    }
    let ce = match output {
        Output::Sigmoid => loss::binary_cross_entropy_with_logits(&a, y),
        Output::Softmax => loss::softmax_cross_entropy(&a, y, 0),
    };
    let mut l2 = Tensor::scalar(0.0);
    for l in 1..=layers {
        l2 = l2 + p[&format!("W{l}")].square().sum();
    }
    ce + l2 * (lambd / (2.0 * m))
}

fn check(output: Output, y: Tensor<f64>, lambd: f64, keep_prob: f64) {
    let m = y.shape()[1];
    let x = Tensor::from_vec(wave(3 * m, 0.5), &[3, m]);
    let dims = [3, 4, 3, y.shape()[0]];
    let masks: Option<Vec<Tensor<f64>>> = (keep_prob < 1.0).then(|| {
        (1..dims.len() - 1)
            .map(|l| {
                let bits = (0..dims[l] * m)
                    .map(|i| f64::from((i * 7 + l) % 5 != 0))
                    .collect();
                Tensor::from_vec(bits, &[dims[l], m])
            })
            .collect()
    });
    let masks = masks.as_deref();
    let loss = |p: &NamedTensors<f64>| cost(p, &x, &y, output, masks, keep_prob, lambd);
    let seeds = |p: &NamedTensors<f64>| {
        let list: Vec<Tensor<f64>> = p.tensors().cloned().collect();
        let cache = backprop::forward(&x, &list, output, masks, keep_prob);
        NamedTensors::from_layers(&backprop::backward(&y, &cache, &list, lambd, keep_prob))
    };
    let report = check_gradients(&layers(&dims), &loss, Some(&seeds), CheckConfig::default());
    println!("{output:?} λ={lambd} keep_prob={keep_prob}\n{report}");
    report.assert_passed();
    for p in &report.params {
        let d = p.autodiff_vs_hand.unwrap().relative_difference;
        assert!(
            d < 1e-13,
            "{}: autodiff and the seeds' formulas differ by {d:e}",
            p.name
        );
    }
}

#[test]
fn sigmoid_output() {
    check(
        Output::Sigmoid,
        Tensor::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0], &[1, 5]),
        0.0,
        1.0,
    );
}

#[test]
fn sigmoid_output_with_l2() {
    check(
        Output::Sigmoid,
        Tensor::from_vec(vec![0.0, 0.0, 1.0, 1.0, 0.0], &[1, 5]),
        0.7,
        1.0,
    );
}

#[test]
fn sigmoid_output_with_dropout_masks() {
    check(
        Output::Sigmoid,
        Tensor::from_vec(vec![1.0, 0.0, 1.0, 0.0, 1.0], &[1, 5]),
        0.0,
        0.8,
    );
}

#[test]
fn softmax_output() {
    let y = Tensor::from_vec(
        vec![
            1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0,
        ],
        &[3, 5],
    );
    check(Output::Softmax, y, 0.0, 1.0);
}
