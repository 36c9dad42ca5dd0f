//! The fully connected layer `Z = W·A + b`, with `W` of shape `(n_out, n_in)` and `b` of shape
//! `(n_out, 1)` broadcast along the examples (columns). Its parameters are named `weight` and
//! `bias` within the layer's scope (`encoder.l1.weight`); a [`Sequential`](crate::Sequential)
//! renames them to the course's `W1`, `b1`, ....

use engine::random::Sampler;
use engine::{Float, Tensor};

use crate::init::Init;
use crate::module::{Module, ParamKind, Visitor};

/// A dense (fully connected) layer: `Z = W·A + b`, as the course's `np.dot(W, A) + b`.
///
/// ```
/// use nn::{Dense, Module};
/// use nn::init::Init;
/// use engine::Tensor;
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let layer = Dense::<f64>::new(3, 2, &Init::HeNormal, &mut rng);
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

    /// A layer around the given `W` `(n_out, n_in)` and `b` `(n_out, 1)` (e.g. the parameters
    /// printed by an assignment). Leaves that already require gradients are used as they are
    /// (shared, so gradients reach the caller's handles); anything else is copied into a fresh
    /// leaf that requires gradients.
    #[track_caller]
    pub fn from_parameters(w: Tensor<T>, b: Tensor<T>) -> Self {
        assert!(
            w.ndim() == 2 && b.shape() == [w.shape()[0], 1],
            "Dense::from_parameters: W of shape {:?} needs b of shape [{}, 1], got {:?}",
            w.shape(),
            w.shape().first().copied().unwrap_or(0),
            b.shape()
        );
        let leaf = |t: Tensor<T>, name: &str| {
            let t = if t.is_leaf() && t.requires_grad() {
                t
            } else {
                t.to_leaf()
            };
            if t.name().is_none() {
                t.set_name(name);
            }
            t
        };
        Dense {
            weight: leaf(w, "weight"),
            bias: leaf(b, "bias"),
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
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        assert!(
            x.ndim() == 2 && x.shape()[0] == self.in_features(),
            "Dense::forward: W of shape {:?} takes inputs of shape ({}, m) (examples are \
             columns), got shape {:?}",
            self.weight.shape(),
            self.in_features(),
            x.shape()
        );
        self.weight.matmul_add(x, &self.bias)
    }

    /// `weight` (a weight) and `bias` (a bias).
    fn visit(&self, v: &mut Visitor<'_, T>) {
        v.param("weight", &self.weight, ParamKind::Weight);
        v.param("bias", &self.bias, ParamKind::Bias);
    }

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
        let d = Dense::from_parameters(w, b);
        let x = Tensor::<f64>::from_vec2(vec![vec![1.0, -2.0], vec![4.0, 0.0]]);
        let z = d.forward(&x).to_vec2();
        assert_eq!(z, vec![vec![9.1, -1.9], vec![1.2, 2.2], vec![12.3, 0.3]]);
    }

    #[test]
    fn gradients_pass_gradcheck() {
        let w = Tensor::<f64>::from_vec((0..6).map(|i| (i as f64).sin()).collect(), &[3, 2]);
        let b = Tensor::<f64>::from_vec(vec![0.1, -0.3, 0.2], &[3, 1]);
        let x = Tensor::<f64>::from_vec((0..8).map(|i| (i as f64 * 0.7).cos()).collect(), &[2, 4]);
        // gradcheck hands leaves that require gradients: the layer uses them as they are.
        let f = |v: &[Tensor<f64>]| {
            Dense::from_parameters(v[0].clone(), v[1].clone())
                .forward(&v[2])
                .tanh()
                .sum()
        };
        let r = gradcheck(&f, &[w, b, x], GradcheckConfig::default());
        assert!(r.passed(), "{r}");
    }

    #[test]
    #[should_panic(expected = "Dense::forward")]
    fn wrong_input_shape_names_the_layer() {
        let d = Dense::<f64>::from_parameters(Tensor::zeros(&[2, 3]), Tensor::zeros(&[2, 1]));
        d.forward(&Tensor::zeros(&[2, 3]));
    }

    #[test]
    #[should_panic(
        expected = "Dense::forward: W of shape [2, 3] takes inputs of shape (3, m) (examples are \
                    columns), got shape [2, 3]"
    )]
    fn wrong_input_shape_names_both_shapes_also_inside_a_sequential() {
        let dense = Dense::<f64>::from_parameters(Tensor::zeros(&[2, 3]), Tensor::zeros(&[2, 1]));
        let net = crate::Sequential::new(vec![Box::new(dense)]);
        net.forward(&Tensor::zeros(&[2, 3]));
    }
}
