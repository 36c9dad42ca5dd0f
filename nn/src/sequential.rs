//! A chain of modules applied in order, with the course's parameter numbering (`W1`, `b1`, `W2`,
//! ...), so that parameter names, checkpoints and gradient reports use the keys of the course's
//! parameter dictionaries.

use engine::random::Sampler;
use engine::{Float, Tensor};

use crate::activation::Activation;
use crate::dense::Dense;
use crate::init::Init;
use crate::module::{Entry, Mode, Module, Param, ParamKind, Visitor};

/// Layers applied one after the other: `forward(x) = layer_n(... layer_1(x))`.
///
/// Parameter names follow the course's dictionaries: the layers that own a weight (dense
/// layers) are numbered 1, 2, ... in order, and each of their parameters gets that number, with
/// a dense layer's `weight` and `bias` written `W` and `b` (`W1`, `b1`, `W2`, `b2`, ...);
/// convolutions ([`Conv2d`](crate::conv::Conv2d)), [`Linear`](crate::attention::Linear) and
/// embeddings own a weight and are numbered the same way, so a CNN built as
/// `Sequential[Conv2d, Activation, MaxPool2d, Conv2d, ..., Flatten, Dense, ...]` has its filters
/// as `W1`, `b1`, `W2`, `b2` and its dense layers after them, as the course's convolutional
/// networks number them. Layers without parameters (activations, pools, `Flatten`, dropout)
/// take no number. A parameter-owning layer without a weight (batch norm, `BatchNorm2d`, layer
/// norm) takes the number of the last weighted layer before it (`gamma1`, `beta1` after `W1`;
/// `0` before any). A child that has children of its own (a custom block, a
/// [`TransformerBlock`](crate::attention::TransformerBlock)) keeps its names under its position
/// instead: `3.l1.weight`, `0.attn.q.weight`.
///
/// ```
/// use nn::{Activation, Module, Sequential};
/// use nn::init::Init;
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(3);
/// // The course's [2, 10, 5, 1] network: ReLU hidden layers, sigmoid output.
/// let net = Sequential::<f64>::mlp(&[2, 10, 5, 1], Activation::Relu, Activation::Sigmoid,
///                                  &Init::HeNormal, &mut rng);
/// let shapes: Vec<(String, Vec<usize>)> = net.parameters().into_iter()
///     .map(|p| (p.name, p.tensor.shape().to_vec())).collect();
/// assert_eq!(shapes[0], ("W1".to_string(), vec![10, 2]));
/// assert_eq!(shapes[5], ("b3".to_string(), vec![1, 1]));
/// ```
pub struct Sequential<T: Float> {
    layers: Vec<Box<dyn Module<T>>>,
    mode: Mode,
}

impl<T: Float> Sequential<T> {
    /// A chain of the given layers, in training mode.
    pub fn new(layers: Vec<Box<dyn Module<T>>>) -> Self {
        let net = Sequential {
            layers,
            mode: Mode::default(),
        };
        // Names the layers' tensors now, so that graphs show `W1` before any listing.
        net.parameters();
        net.buffers();
        net
    }

    /// The course's fully connected network: `Dense(dims[0] -> dims[1])`, `hidden`, ...,
    /// `Dense(dims[L-1] -> dims[L])`, `output`. Weights are drawn layer by layer (`W1`, then
    /// `W2`, ...) with `init`; biases are zeros and draw nothing, as in the course's
    /// `initialize_parameters_*`. Use `Activation::Identity` as `output` to get logits for a
    /// loss computed from logits.
    #[track_caller]
    pub fn mlp<S: Sampler + ?Sized>(
        dims: &[usize],
        hidden: Activation,
        output: Activation,
        init: &Init,
        sampler: &mut S,
    ) -> Self {
        assert!(
            dims.len() >= 2,
            "Sequential::mlp: needs at least input and output sizes, got {dims:?}"
        );
        let mut layers: Vec<Box<dyn Module<T>>> = Vec::new();
        for l in 1..dims.len() {
            layers.push(Box::new(Dense::new(dims[l - 1], dims[l], init, sampler)));
            let g = if l + 1 == dims.len() { output } else { hidden };
            layers.push(Box::new(g));
        }
        Self::new(layers)
    }

    /// Appends a layer.
    pub fn push(&mut self, layer: impl Module<T> + 'static) {
        self.layers.push(Box::new(layer));
        self.parameters();
        self.buffers();
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Box<dyn Module<T>>] {
        &self.layers
    }

    /// The layers, mutably.
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Module<T>>] {
        &mut self.layers
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The output of every layer for input `x`, in order (the course's forward `cache`: for
    /// an MLP, `[Z1, A1, Z2, A2, ...]`). The last element is [`Module::forward`]'s result.
    #[track_caller]
    pub fn forward_trace(&self, x: &Tensor<T>) -> Vec<Tensor<T>> {
        let mut outputs = Vec::with_capacity(self.layers.len());
        let mut current = x.clone();
        for layer in &self.layers {
            current = layer.forward(&current);
            outputs.push(current.clone());
        }
        outputs
    }
}

/// The course's name of a layer's parameter `name` for layer number `number`: a dense or
/// convolution layer's `weight` and `bias` become `W` and `b`, and the number is appended
/// (`W1`, `gamma1`). Only a penalised weight and a bias are abbreviated: a layer norm's scale
/// and shift (PyTorch's `weight` and `bias`, never penalised) stay `weight1`, `bias1`, apart
/// from the `W1`, `b1` of the layer before it.
fn course_name(name: &str, kind: ParamKind, number: usize) -> String {
    let stem = match (name, kind) {
        ("weight", ParamKind::Weight) => "W",
        ("bias", ParamKind::Bias) => "b",
        (other, _) => other,
    };
    format!("{stem}{number}")
}

impl<T: Float> Module<T> for Sequential<T> {
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let mut current = x.clone();
        for layer in &self.layers {
            current = layer.forward(&current);
        }
        current
    }

    /// Every layer's parameters and buffers under the course's numbering (see [`Sequential`]),
    /// and every layer's train/eval switch.
    fn visit(&self, v: &mut Visitor<'_, T>) {
        v.mode(&self.mode);
        if v.modes_only() {
            // Nothing is named: the layers report their switches straight to `v`.
            for layer in &self.layers {
                layer.visit(v);
            }
            return;
        }
        let mut number = 0;
        for (position, layer) in self.layers.iter().enumerate() {
            let mut entries: Vec<(Param<T>, bool)> = Vec::new();
            {
                let mut sink = |e: Entry<'_, T>| match e {
                    Entry::Param(p) => entries.push((p, false)),
                    Entry::Buffer(p) => entries.push((p, true)),
                    Entry::Mode(m) => v.mode(m),
                };
                layer.visit(&mut Visitor::new(&mut sink));
            }
            if entries
                .iter()
                .any(|(p, buffer)| !buffer && p.kind == ParamKind::Weight)
            {
                number += 1;
            }
            for (p, buffer) in entries {
                let name = if p.name.contains('.') {
                    format!("{position}.{}", p.name)
                } else {
                    course_name(&p.name, p.kind, number)
                };
                v.forward_entry(&name, p, buffer);
            }
        }
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self.layers.iter().map(|l| l.describe()).collect();
        format!("Sequential[{}]", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn mlp_draws_weights_layer_by_layer_and_numbers_them() {
        let mut a = rand::rngs::StdRng::seed_from_u64(5);
        let mut b = rand::rngs::StdRng::seed_from_u64(5);
        let net = Sequential::<f64>::mlp(
            &[3, 4, 2],
            Activation::Relu,
            Activation::Identity,
            &Init::HeNormal,
            &mut a,
        );
        let w1 = Init::HeNormal.weight::<f64, _>(4, 3, &mut b);
        let w2 = Init::HeNormal.weight::<f64, _>(2, 4, &mut b);
        let p = net.parameters();
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["W1", "b1", "W2", "b2"]);
        assert_eq!(p[0].tensor.to_vec(), w1.to_vec());
        assert_eq!(p[2].tensor.to_vec(), w2.to_vec());
        assert_eq!(p[1].tensor.to_vec(), [0.0; 4]);
        assert_eq!(p[1].kind, ParamKind::Bias);
        assert!(p.iter().all(|p| p.tensor.requires_grad()));
    }

    #[test]
    fn forward_composes_layers_and_trace_keeps_each_output() {
        let w1 = Tensor::<f64>::from_vec2(vec![vec![1.0, -1.0], vec![2.0, 0.0]]);
        let w2 = Tensor::<f64>::from_vec2(vec![vec![1.0, 1.0]]);
        let net = Sequential::new(vec![
            Box::new(Dense::from_parameters(w1, Tensor::zeros(&[2, 1]))),
            Box::new(Activation::Relu),
            Box::new(Dense::from_parameters(w2, Tensor::full(&[1, 1], 0.5))),
        ]);
        let x = Tensor::<f64>::from_vec2(vec![vec![1.0, 0.0], vec![3.0, -1.0]]);
        // The tensors carry the course's names from construction on (no listing needed).
        let dot = net.forward(&x).to_dot();
        assert!(
            dot.contains("W1") && dot.contains("W2") && dot.contains("b2"),
            "{dot}"
        );
        // Z1 = [[-2, 1], [2, 0]], A1 = [[0, 1], [2, 0]], Z2 = [2.5, 1.5]
        let trace = net.forward_trace(&x);
        assert_eq!(trace.len(), 3);
        assert_eq!(trace[1].to_vec(), [0.0, 1.0, 2.0, 0.0]);
        assert_eq!(trace[2].to_vec(), [2.5, 1.5]);
        assert_eq!(net.forward(&x).to_vec(), [2.5, 1.5]);
    }

    #[test]
    fn parameters_share_storage_with_the_layers() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let net = Sequential::<f64>::mlp(
            &[2, 1],
            Activation::Relu,
            Activation::Identity,
            &Init::Constant(1.0),
            &mut rng,
        );
        let p = net.parameters();
        p[1].tensor.update_data(|d| d[0] = 10.0);
        let y = net.forward(&Tensor::from_vec(vec![1.0, 2.0], &[2, 1]));
        assert_eq!(y.to_vec(), [13.0]);
    }

    #[test]
    fn batch_norm_takes_the_number_of_the_dense_layer_before_it_and_modes_propagate() {
        use crate::{BatchNorm, Dropout};
        use std::sync::{Arc, Mutex};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let shared = Arc::new(Mutex::new(rand::rngs::StdRng::seed_from_u64(1)));
        let net = Sequential::<f64>::new(vec![
            Box::new(Dense::new(2, 3, &Init::HeNormal, &mut rng)),
            Box::new(BatchNorm::new(3, 1e-5, 0.9)),
            Box::new(Activation::Relu),
            Box::new(Dropout::new(0.5, shared)),
            Box::new(Dense::new(3, 1, &Init::HeNormal, &mut rng)),
        ]);
        let names: Vec<String> = net.parameters().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["W1", "b1", "gamma1", "beta1", "W2", "b2"]);
        let buffers: Vec<String> = net.buffers().into_iter().map(|p| p.name).collect();
        assert_eq!(buffers, ["running_mean1", "running_var1"]);
        let x = Tensor::<f64>::from_vec((0..8).map(|i| i as f64).collect(), &[2, 4]);
        net.set_training(false);
        assert!(!net.is_training());
        // Evaluation is deterministic: dropout off, running statistics.
        assert_eq!(net.forward(&x).to_vec(), net.forward(&x).to_vec());
    }

    #[test]
    fn whole_network_with_penalty_passes_gradcheck() {
        use engine::gradcheck::{gradcheck, GradcheckConfig};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let init = |n_out, n_in, rng: &mut rand::rngs::StdRng| {
            Init::HeNormal.weight::<f64, _>(n_out, n_in, rng)
        };
        let inputs = [
            init(4, 3, &mut rng).named("W1"),
            Tensor::from_vec(vec![0.1, -0.2, 0.3, 0.05], &[4, 1]).named("b1"),
            init(1, 4, &mut rng).named("W2"),
            Tensor::from_vec(vec![0.2], &[1, 1]).named("b2"),
        ];
        let x =
            Tensor::<f64>::from_vec((0..15).map(|i| (i as f64 * 0.77).sin()).collect(), &[3, 5]);
        let y = Tensor::<f64>::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0], &[1, 5]);
        let f = move |v: &[Tensor<f64>]| {
            let net = Sequential::new(vec![
                Box::new(Dense::from_parameters(v[0].clone(), v[1].clone())),
                Box::new(Activation::Tanh),
                Box::new(Dense::from_parameters(v[2].clone(), v[3].clone())),
            ]);
            let params = net.parameters();
            crate::loss::bce_with_logits(&net.forward(&x), &y)
                + crate::loss::l2_penalty(&params, 0.7, 5)
        };
        let r = gradcheck(&f, &inputs, GradcheckConfig::default());
        assert!(r.passed(), "{r}");
    }
}
