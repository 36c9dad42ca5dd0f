//! The fully connected layer `Z = W·A + b` (seed 001, (6.1.a)), with `W` of shape
//! `(n_out, n_in)` and `b` of shape `(n_out, 1)` broadcast along the examples (columns).

use engine::random::Sampler;
use engine::{Float, Tensor};

use crate::init::Init;
use crate::module::{Module, Param};

/// A dense (fully connected) layer: `Z = W·A + b`, as the course's `np.dot(W, A) + b`.
///
/// ```
/// use nn::{Dense, Module};
/// use nn::init::Init;
/// use engine::Tensor;
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let mut layer = Dense::<f64>::new(3, 2, &Init::HeNormal, &mut rng);
/// assert_eq!(layer.weight.shape(), &[2, 3]);
/// assert_eq!(layer.bias.shape(), &[2, 1]);
/// let z = layer.forward(&Tensor::ones(&[3, 4]));
/// assert_eq!(z.shape(), &[2, 4]);
/// ```
pub struct Dense<T: Float> {
    /// `W`, shape `(n_out, n_in)`, a leaf requiring gradients.
    pub weight: Tensor<T>,
    /// `b`, shape `(n_out, 1)`, a leaf requiring gradients.
    pub bias: Tensor<T>,
}

impl<T: Float> Dense<T> {
    /// A layer from `n_in` to `n_out` units: `W` drawn by `init` (row-major, as
    /// `randn(n_out, n_in)`), `b` zeros (no draw), as the course's `initialize_parameters_*`.
    pub fn new<S: Sampler + ?Sized>(
        n_in: usize,
        n_out: usize,
        init: &Init,
        sampler: &mut S,
    ) -> Self {
        let w = init.weight::<T, S>(n_out, n_in, sampler);
        Self::from_parameters(w, Tensor::zeros(&[n_out, 1]))
    }

    /// A layer holding copies of the given `W` `(n_out, n_in)` and `b` `(n_out, 1)` as fresh
    /// leaves that require gradients (e.g. the parameters printed by an assignment).
    #[track_caller]
    pub fn from_parameters(w: Tensor<T>, b: Tensor<T>) -> Self {
        assert!(
            w.ndim() == 2 && b.shape() == [w.shape()[0], 1],
            "Dense::from_parameters: W of shape {:?} needs b of shape [{}, 1], got {:?}",
            w.shape(),
            w.shape().first().copied().unwrap_or(0),
            b.shape()
        );
        Dense {
            weight: w.to_leaf().named("W"),
            bias: b.to_leaf().named("b"),
        }
    }

    /// Number of inputs `n_in`.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Number of outputs `n_out`.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

impl<T: Float> Module<T> for Dense<T> {
    #[track_caller]
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        assert!(
            x.ndim() == 2 && x.shape()[0] == self.in_features(),
            "Dense::forward: W of shape {:?} takes inputs of shape ({}, m) (examples are \
             columns), got shape {:?}",
            self.weight.shape(),
            self.in_features(),
            x.shape()
        );
        self.weight.matmul(x) + &self.bias
    }

    /// `W` (a weight) and `b` (a bias).
    fn parameters(&self) -> Vec<Param<T>> {
        vec![
            Param::weight("W", self.weight.clone()),
            Param::bias("b", self.bias.clone()),
        ]
    }

    fn set_training(&mut self, _training: bool) {}

    fn describe(&self) -> String {
        format!("Dense({} -> {})", self.in_features(), self.out_features())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::gradcheck::{gradcheck, GradcheckConfig};

    #[test]
    fn forward_is_w_dot_x_plus_b() {
        let w = Tensor::<f64>::from_vec2(vec![vec![1.0, 2.0], vec![-1.0, 0.5], vec![0.0, 3.0]]);
        let b = Tensor::<f64>::from_vec(vec![0.1, 0.2, 0.3], &[3, 1]);
        let mut d = Dense::from_parameters(w, b);
        let x = Tensor::<f64>::from_vec2(vec![vec![1.0, -2.0], vec![4.0, 0.0]]);
        let z = d.forward(&x).to_vec2();
        assert_eq!(z, vec![vec![9.1, -1.9], vec![1.2, 2.2], vec![12.3, 0.3]]);
    }

    #[test]
    fn gradients_pass_gradcheck() {
        let w = Tensor::<f64>::from_vec((0..6).map(|i| (i as f64).sin()).collect(), &[3, 2]);
        let b = Tensor::<f64>::from_vec(vec![0.1, -0.3, 0.2], &[3, 1]);
        let x = Tensor::<f64>::from_vec((0..8).map(|i| (i as f64 * 0.7).cos()).collect(), &[2, 4]);
        let f = |v: &[Tensor<f64>]| {
            let mut d = Dense::from_parameters(v[0].clone(), v[1].clone());
            // from_parameters copies: route the inputs through the layer's own leaves.
            d.weight = v[0].clone();
            d.bias = v[1].clone();
            d.forward(&v[2]).tanh().sum()
        };
        let r = gradcheck(&f, &[w, b, x], GradcheckConfig::default());
        assert!(r.passed(), "{r}");
    }

    #[test]
    #[should_panic(expected = "Dense::forward")]
    fn wrong_input_shape_names_the_layer() {
        let mut d = Dense::<f64>::from_parameters(Tensor::zeros(&[2, 3]), Tensor::zeros(&[2, 1]));
        d.forward(&Tensor::zeros(&[2, 3]));
    }

    #[test]
    #[should_panic(
        expected = "Dense::forward: W of shape [2, 3] takes inputs of shape (3, m) (examples are \
                    columns), got shape [2, 3]"
    )]
    fn wrong_input_shape_names_both_shapes_also_inside_a_sequential() {
        let dense = Dense::<f64>::from_parameters(Tensor::zeros(&[2, 3]), Tensor::zeros(&[2, 1]));
        let mut net = crate::Sequential::new(vec![Box::new(dense)]);
        net.forward(&Tensor::zeros(&[2, 3]));
    }
}
