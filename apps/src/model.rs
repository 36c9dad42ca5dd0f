//! The course's fully connected network, built from `nn` layers: `Dense` layers with ReLU on the
//! hidden ones (each optionally followed by inverted `Dropout`) and a linear output whose loss is
//! computed from the logits (`nn::loss::bce_with_logits` for a sigmoid output,
//! `nn::loss::softmax_cross_entropy` for softmax), plus `nn::loss::l2_penalty` with L2.
//!
//! Parameters are named `W1, b1, W2, b2, ...` as in the seeds' dictionaries; `W[l]` has shape
//! `(n_l, n_{l-1})`, `b[l]` shape `(n_l, 1)`; examples are columns.

use std::sync::{Arc, Mutex};

use engine::check::NamedTensors;
use engine::random::NumpyRng;
use engine::{no_grad, Tensor};
use nn::{Activation, Dense, Dropout, Init, Module, Param, Sequential, SharedSampler};

pub use crate::backprop::Output;

/// How dropout masks are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutConfig {
    /// Probability of keeping a hidden unit.
    pub keep_prob: f64,
    /// Seed of the mask draws.
    pub seed: u32,
    /// `false`: reseed before every forward pass, as the seed's code does (the same masks every
    /// iteration); `true`: seed once and draw new masks every iteration.
    pub fresh: bool,
}

/// A course network's architecture and cost, everything but its parameter values: layer sizes,
/// output, L2 strength, dropout, and the NumPy-compatible generator its dropout layers share.
pub struct CourseNet {
    /// Layer sizes `[n_x, n_1, ..., n_L]`.
    pub dims: Vec<usize>,
    /// Sigmoid (binary labels) or softmax (one-hot columns) output.
    pub output: Output,
    /// L2 strength λ (0: none).
    pub lambd: f64,
    /// Dropout after every hidden ReLU, if any.
    pub dropout: Option<DropoutConfig>,
    masks: Arc<Mutex<NumpyRng>>,
}

impl CourseNet {
    /// A network of layer sizes `dims`.
    pub fn new(dims: &[usize], output: Output, lambd: f64, dropout: Option<DropoutConfig>) -> Self {
        assert!(
            dims.len() >= 2,
            "CourseNet::new: need input and output sizes, got {dims:?}"
        );
        CourseNet {
            dims: dims.to_vec(),
            output,
            lambd,
            dropout,
            masks: Arc::new(Mutex::new(NumpyRng::new(dropout.map_or(0, |d| d.seed)))),
        }
    }

    /// The network with its weights drawn as the course's `initialize_parameters_*`:
    /// `np.random.seed(seed)`, then `W[l]` layer by layer with `init`, biases zero.
    pub fn init(&self, init: Init, seed: u32) -> Sequential<f64> {
        let mut rng = NumpyRng::new(seed);
        if self.dropout.is_none() {
            return Sequential::mlp(
                &self.dims,
                Activation::Relu,
                Activation::Identity,
                &init,
                &mut rng,
            );
        }
        let dense = self
            .dims
            .windows(2)
            .map(|d| Dense::new(d[0], d[1], &init, &mut rng))
            .collect();
        self.assemble(dense, self.masks.clone())
    }

    fn assemble(&self, dense: Vec<Dense<f64>>, masks: SharedSampler) -> Sequential<f64> {
        let hidden = dense.len() - 1;
        let mut layers: Vec<Box<dyn Module<f64>>> = vec![];
        for (l, d) in dense.into_iter().enumerate() {
            layers.push(Box::new(d));
            if l < hidden {
                layers.push(Box::new(Activation::Relu));
                if let Some(d) = self.dropout {
                    layers.push(Box::new(Dropout::new(d.keep_prob, masks.clone())));
                }
            }
        }
        Sequential::new(layers)
    }

    /// The seed's cost of `logits` against `y`: mean cross-entropy (from the logits, so it stays
    /// finite) plus, with L2, `λ/2m Σ‖W‖²` over the weights among `params`.
    ///
    /// The penalty is `nn::loss::squared_weights` scaled by `λ/(2m)` rounded once, rather than
    /// `nn::loss::l2_penalty`'s `(1/m)·(λ/2)`: its gradient is then `round(λ/m)·W`, the course
    /// notebook's `lambd / m * W` bit for bit. The book's λ = 0.1 run is chaotic, and with the
    /// other rounding it leaves NumPy's costs (1e-9) at iteration 14000 instead of after its
    /// stable prefix (16000), and ends at another accuracy.
    pub fn cost(
        &self,
        logits: &Tensor<f64>,
        y: &Tensor<f64>,
        params: &[Param<f64>],
    ) -> Tensor<f64> {
        let cross_entropy = match self.output {
            Output::Sigmoid => nn::loss::bce_with_logits(logits, y),
            Output::Softmax => nn::loss::softmax_cross_entropy(logits, y),
        };
        if self.lambd > 0.0 {
            let m = y.shape()[1] as f64;
            cross_entropy + nn::loss::squared_weights(params) * (self.lambd / (2.0 * m))
        } else {
            cross_entropy
        }
    }

    /// Call before every training forward pass: the seed's forward propagation calls
    /// `np.random.seed(s)` before drawing its masks (unless masks are fresh).
    pub fn before_forward(&self) {
        if let Some(d) = self.dropout {
            if !d.fresh {
                self.masks.lock().expect("mask generator").seed(d.seed);
            }
        }
    }

    /// The state of the mask generator: the next forward pass draws its masks from it.
    pub fn mask_state(&self) -> NumpyRng {
        self.masks.lock().expect("mask generator").clone()
    }

    /// Puts the mask generator back in `state` (a check replays the masks of the pass it
    /// checks, then leaves the generator where training expects it).
    pub fn set_mask_state(&self, state: &NumpyRng) {
        *self.masks.lock().expect("mask generator") = state.clone();
    }

    /// The classes `model` predicts for `x` (the course's `predict`: probability > 0.5 for a
    /// sigmoid output, the most probable row for softmax), in evaluation mode (no dropout).
    pub fn predict(&self, model: &Sequential<f64>, x: &Tensor<f64>) -> Vec<usize> {
        predict(model, self.output, x)
    }
}

/// See [`CourseNet::predict`]; the model is left in evaluation mode.
pub fn predict(model: &Sequential<f64>, output: Output, x: &Tensor<f64>) -> Vec<usize> {
    model.set_training(false);
    let z = no_grad(|| model.forward(x));
    match output {
        Output::Sigmoid => z
            .sigmoid()
            .to_vec()
            .into_iter()
            .map(|p| usize::from(p > 0.5))
            .collect(),
        Output::Softmax => z.argmax_axis(0),
    }
}

/// The output layer that matches targets `y`: one row is sigmoid, several are softmax.
pub fn output_for(y: &Tensor<f64>) -> Output {
    if y.shape()[0] == 1 {
        Output::Sigmoid
    } else {
        Output::Softmax
    }
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

/// The parameters' current values under their names, detached.
pub fn values_of(params: &[Param<f64>]) -> NamedTensors<f64> {
    params
        .iter()
        .map(|p| (p.name.clone(), p.tensor.detach()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backprop;

    #[test]
    fn forward_matches_the_hand_written_forward_with_and_without_dropout() {
        let x = Tensor::from_vec((0..15).map(|k| (k as f64 * 0.7).cos()).collect(), &[3, 5]);
        for dropout in [
            None,
            Some(DropoutConfig {
                keep_prob: 0.7,
                seed: 4,
                fresh: false,
            }),
        ] {
            let net = CourseNet::new(&[3, 4, 2, 1], Output::Sigmoid, 0.0, dropout);
            let model = net.init(Init::HeNormal, 3);
            let params = model.parameters();
            let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, ["W1", "b1", "W2", "b2", "W3", "b3"]);
            let values: Vec<Tensor<f64>> = params.iter().map(|p| p.tensor.detach()).collect();
            // The course's masks: np.random.seed(4); D1 = rand(4, 5) < 0.7; D2 = rand(2, 5) < 0.7.
            let mut rng = NumpyRng::new(4);
            let masks: Vec<Tensor<f64>> = [4, 2]
                .iter()
                .map(|&n| rng.rand::<f64>(&[n, 5]).lt_scalar(0.7))
                .collect();
            net.before_forward();
            let logits = model.forward(&x);
            let hand = backprop::forward(
                &x,
                &values,
                Output::Sigmoid,
                dropout.map(|_| masks.as_slice()),
                dropout.map_or(1.0, |d| d.keep_prob),
            );
            let probs = logits.sigmoid().to_vec();
            assert_eq!(probs, hand.activations[3].to_vec(), "{dropout:?}");
            // Replaying the generator replays the masks.
            net.set_mask_state(&{
                let mut r = NumpyRng::new(0);
                r.seed(4);
                r
            });
            assert_eq!(model.forward(&x).to_vec(), logits.to_vec());
        }
    }

    #[test]
    fn accuracy_and_labels() {
        assert_eq!(accuracy(&[1, 0, 1, 1], &[1, 1, 1, 0]), 0.5);
        let y = nn::data::one_hot::<f64>(&[2, 0, 1], 3);
        assert_eq!(labels_of(&y), [2, 0, 1]);
        assert_eq!(
            labels_of(&Tensor::from_vec(vec![1., 0., 1.], &[1, 3])),
            [1, 0, 1]
        );
    }
}
