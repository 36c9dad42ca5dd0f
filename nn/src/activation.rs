//! Activation functions as parameter-free layers (`A = g(Z)`).
//!
//! They are layers, not options of [`Dense`](crate::Dense), so that a network is the course's
//! alternation `Z1, A1, Z2, A2, ...` written as one list in a [`Sequential`](crate::Sequential),
//! and its [`forward_trace`](crate::Sequential::forward_trace) returns exactly the course's cache.

use engine::{Float, Tensor};

use crate::module::{Module, Visitor};

/// An elementwise (or, for softmax, per-example) nonlinearity `g` in `A = g(Z)`.
///
/// ```
/// use nn::{Activation, Module};
/// use engine::Tensor;
/// let z = Tensor::<f64>::from_vec(vec![-1.0, 2.0], &[2, 1]);
/// assert_eq!(Activation::Relu.apply(&z).to_vec(), [0.0, 2.0]);
/// let p = Activation::Softmax.apply(&z); // over the features of each example (axis 0)
/// assert!((p.to_vec().iter().sum::<f64>() - 1.0).abs() < 1e-15);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `max(0, z)`.
    Relu,
    /// `z` where positive, `slope · z` elsewhere.
    LeakyRelu(f64),
    /// `1 / (1 + e^-z)`, computed as the course's NumPy code does.
    Sigmoid,
    /// `tanh z`.
    Tanh,
    /// `e^z / Σ e^z` over axis 0 (the classes of each example, which is a column), shifted by
    /// the column maximum so it never overflows.
    Softmax,
    /// `z` unchanged (a linear output, e.g. logits for a loss computed from logits).
    Identity,
}

impl Activation {
    /// Applies the activation (recorded in the graph like any operation).
    #[track_caller]
    pub fn apply<T: Float>(&self, z: &Tensor<T>) -> Tensor<T> {
        match *self {
            Activation::Relu => z.relu(),
            Activation::LeakyRelu(slope) => z.leaky_relu(T::from_f64(slope)),
            Activation::Sigmoid => z.sigmoid(),
            Activation::Tanh => z.tanh(),
            Activation::Softmax => z.softmax(0),
            Activation::Identity => z.clone(),
        }
    }

    /// Lower-case name (`relu`, `sigmoid`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
            Activation::Identity => "identity",
        }
    }
}

impl<T: Float> Module<T> for Activation {
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        self.apply(x)
    }

    /// No parameters, no buffers, the same in training and evaluation.
    fn visit(&self, _v: &mut Visitor<'_, T>) {}

    fn describe(&self) -> String {
        match self {
            Activation::LeakyRelu(s) => format!("LeakyRelu({s})"),
            other => format!("{other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::gradcheck::{gradcheck, GradcheckConfig};

    #[test]
    fn values_match_their_definitions() {
        let z = Tensor::<f64>::from_vec(vec![-2.0, -0.5, 0.0, 1.5], &[2, 2]);
        let zs = z.to_vec();
        let check = |a: Activation, f: &dyn Fn(f64) -> f64| {
            let got = a.apply(&z).to_vec();
            for (g, &x) in got.iter().zip(&zs) {
                assert_eq!(*g, f(x), "{a:?} at {x}");
            }
        };
        check(Activation::Relu, &|x| x.max(0.0));
        check(Activation::LeakyRelu(0.01), &|x| {
            if x > 0.0 {
                x
            } else {
                0.01 * x
            }
        });
        check(Activation::Sigmoid, &|x| 1.0 / (1.0 + (-x).exp()));
        check(Activation::Tanh, &f64::tanh);
        check(Activation::Identity, &|x| x);
        // Softmax per column: column 0 holds -2 and 0, column 1 holds -0.5 and 1.5.
        let p = Activation::Softmax.apply(&z).to_vec2();
        let e = |a: f64, b: f64| a.exp() / (a.exp() + b.exp());
        assert!((p[0][0] - e(-2.0, 0.0)).abs() < 1e-15);
        assert!((p[1][1] - e(1.5, -0.5)).abs() < 1e-15);
    }

    #[test]
    fn gradients_pass_gradcheck() {
        let z = Tensor::<f64>::from_vec(vec![-1.3, 0.4, 2.1, -0.2, 0.7, 1.1], &[3, 2]).named("Z");
        let w = Tensor::<f64>::from_vec(vec![0.3, -1.0, 0.5, 2.0, -0.7, 0.9], &[3, 2]);
        for a in [
            Activation::Relu,
            Activation::LeakyRelu(0.1),
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Softmax,
            Activation::Identity,
        ] {
            let w = w.clone();
            let f = move |v: &[Tensor<f64>]| (a.apply(&v[0]) * &w).sum();
            let r = gradcheck(&f, std::slice::from_ref(&z), GradcheckConfig::default());
            assert!(r.passed(), "{a:?}: {r}");
        }
    }
}
