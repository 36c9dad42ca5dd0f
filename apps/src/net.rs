//! The course's fully connected network on the engine's autodiff: `L` dense layers,
//! ReLU on the hidden ones (optionally followed by inverted dropout with given 0/1 masks), and a
//! sigmoid or softmax output whose loss is computed from the logits.
//!
//! Parameters are graph leaves named `W1, b1, W2, b2, ...` as in the seeds' dictionaries, `W[l]`
//! of shape `(n_l, n_{l-1})`, `b[l]` of shape `(n_l, 1)`; examples are columns.

use engine::{no_grad, Tensor};

use crate::backprop::Output;

/// A course network: its parameters and its output layer.
#[derive(Clone, Debug)]
pub struct Mlp {
    /// `[W1, b1, W2, b2, ...]`, each a leaf that requires gradients.
    pub params: Vec<Tensor<f64>>,
    /// Sigmoid (binary) or softmax (classes are rows) output.
    pub output: Output,
}

impl Mlp {
    /// A network from `[W1, b1, ...]` values (copied into fresh named leaves).
    pub fn from_params(values: &[Tensor<f64>], output: Output) -> Self {
        assert!(
            values.len().is_multiple_of(2) && !values.is_empty(),
            "Mlp::from_params: need [W1, b1, ..., WL, bL], got {} tensors",
            values.len()
        );
        let params = values
            .iter()
            .zip(param_names(values.len() / 2))
            .map(|(v, name)| v.detach().contiguous().requires_grad().named(&name))
            .collect();
        Mlp { params, output }
    }

    /// Number of dense layers.
    pub fn layers(&self) -> usize {
        self.params.len() / 2
    }

    /// The parameter names `W1, b1, ...`.
    pub fn names(&self) -> Vec<String> {
        param_names(self.layers())
    }

    /// The output layer's pre-activations `Z[L]`, recorded for autodiff. `dropout` holds the
    /// 0/1 masks of the hidden layers and the keep probability: `A = A ⊙ D / keep_prob`, in that
    /// order, as the seed's code computes it.
    pub fn logits(&self, x: &Tensor<f64>, dropout: Option<(&[Tensor<f64>], f64)>) -> Tensor<f64> {
        logits_of(&self.params, x, dropout)
    }

    /// The mean cross-entropy of logits `z` against targets `y` (labels 0/1 for sigmoid,
    /// one-hot columns for softmax), from the logits so it stays finite.
    pub fn loss(&self, z: &Tensor<f64>, y: &Tensor<f64>) -> Tensor<f64> {
        cross_entropy(self.output, z, y)
    }

    /// The class of every example (the course's `predict`: probability > 0.5 for sigmoid,
    /// argmax over the rows for softmax).
    pub fn predict(&self, x: &Tensor<f64>) -> Vec<usize> {
        predict_with(&self.params, self.output, x)
    }

    /// Detached copies of the current parameter values.
    pub fn values(&self) -> Vec<Tensor<f64>> {
        self.params.iter().map(Tensor::detach).collect()
    }
}

/// `W1, b1, ..., WL, bL`.
pub fn param_names(layers: usize) -> Vec<String> {
    (1..=layers)
        .flat_map(|l| [format!("W{l}"), format!("b{l}")])
        .collect()
}

/// The forward pass of [`Mlp::logits`] for any parameter list (used by the numerical checks).
pub fn logits_of(
    params: &[Tensor<f64>],
    x: &Tensor<f64>,
    dropout: Option<(&[Tensor<f64>], f64)>,
) -> Tensor<f64> {
    let layers = params.len() / 2;
    let mut a = x.clone();
    for l in 0..layers {
        let z = params[2 * l].matmul(&a) + &params[2 * l + 1];
        if l + 1 == layers {
            return z;
        }
        a = z.relu();
        if let Some((masks, keep_prob)) = dropout {
            a = (a * &masks[l]) / keep_prob;
        }
    }
    unreachable!("a network has at least one layer")
}

/// Mean cross-entropy from logits for the given output layer.
pub fn cross_entropy(output: Output, z: &Tensor<f64>, y: &Tensor<f64>) -> Tensor<f64> {
    match output {
        Output::Sigmoid => engine::loss::binary_cross_entropy_with_logits(z, y),
        Output::Softmax => engine::loss::softmax_cross_entropy(z, y, 0),
    }
}

/// The L2 penalty `λ/(2m) Σ_l ‖W[l]‖²` of the seed's `compute_cost_with_regularization`.
pub fn l2_penalty(params: &[Tensor<f64>], lambd: f64, m: usize) -> Tensor<f64> {
    let mut squares = params[0].square().sum();
    for w in params.iter().step_by(2).skip(1) {
        squares = squares + w.square().sum();
    }
    squares * (lambd / (2.0 * m as f64))
}

/// Classes predicted by parameters `params` (see [`Mlp::predict`]).
pub fn predict_with(params: &[Tensor<f64>], output: Output, x: &Tensor<f64>) -> Vec<usize> {
    no_grad(|| {
        let z = logits_of(params, x, None);
        match output {
            Output::Sigmoid => z
                .sigmoid()
                .to_vec()
                .into_iter()
                .map(|p| usize::from(p > 0.5))
                .collect(),
            Output::Softmax => z.argmax_axis(0),
        }
    })
}

/// The course's accuracy: the mean of `predictions == labels`.
pub fn accuracy(predictions: &[usize], labels: &[usize]) -> f64 {
    assert_eq!(predictions.len(), labels.len(), "accuracy: lengths differ");
    let hits = predictions
        .iter()
        .zip(labels)
        .filter(|(p, l)| p == l)
        .count();
    hits as f64 / labels.len() as f64
}

/// Labels `0/1` of a `(1, m)` target row, or the row index of the 1 in each one-hot column.
pub fn labels_of(y: &Tensor<f64>) -> Vec<usize> {
    if y.shape()[0] == 1 {
        y.to_vec()
            .into_iter()
            .map(|v| usize::from(v > 0.5))
            .collect()
    } else {
        y.argmax_axis(0)
    }
}

/// One-hot columns `(classes, m)` from labels.
pub fn one_hot(labels: &[usize], classes: usize) -> Tensor<f64> {
    let m = labels.len();
    let mut data = vec![0.0; classes * m];
    for (j, &c) in labels.iter().enumerate() {
        data[c * m + j] = 1.0;
    }
    Tensor::from_vec(data, &[classes, m])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backprop;

    fn sample_params() -> Vec<Tensor<f64>> {
        let dims = [3, 4, 2, 1];
        let mut out = vec![];
        for l in 1..dims.len() {
            let w = (0..dims[l] * dims[l - 1])
                .map(|k| ((k * 13 + l) as f64 * 0.37).sin())
                .collect();
            out.push(Tensor::from_vec(w, &[dims[l], dims[l - 1]]));
            out.push(Tensor::from_vec(
                vec![0.1 * l as f64; dims[l]],
                &[dims[l], 1],
            ));
        }
        out
    }

    #[test]
    fn forward_matches_the_hand_written_forward() {
        let x = Tensor::from_vec((0..15).map(|k| (k as f64 * 0.7).cos()).collect(), &[3, 5]);
        let p = sample_params();
        let net = Mlp::from_params(&p, Output::Sigmoid);
        assert_eq!(net.names(), ["W1", "b1", "W2", "b2", "W3", "b3"]);
        let probs = net.logits(&x, None).sigmoid().to_vec();
        let hand = backprop::forward(&x, &p, Output::Sigmoid, None, 1.0);
        assert_eq!(probs, hand.activations[3].to_vec());
    }

    #[test]
    fn accuracy_and_labels() {
        assert_eq!(accuracy(&[1, 0, 1, 1], &[1, 1, 1, 0]), 0.5);
        let y = one_hot(&[2, 0, 1], 3);
        assert_eq!(y.to_vec(), [0., 1., 0., 0., 0., 1., 1., 0., 0.]);
        assert_eq!(labels_of(&y), [2, 0, 1]);
        assert_eq!(
            labels_of(&Tensor::from_vec(vec![1., 0., 1.], &[1, 3])),
            [1, 0, 1]
        );
    }
}
