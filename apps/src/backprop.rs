//! The seeds' hand-derived backpropagation for the course's networks, used to check the engine's
//! autodiff gradients formula by formula.
//!
//! Network (the course's `forward_propagation`): `L` layers,
//! `Z[l] = W[l]·A[l-1] + b[l]`, ReLU on hidden layers (optionally followed by inverted dropout
//! `A = A ⊙ D / keep_prob`), sigmoid or softmax on the output. Examples are columns.
//!
//! Backward (section 6.1.2 and the course's `backward_propagation*`), with `m` examples:
//!
//! ```text
//! dZ[L] = A[L] - Y                                   (sigmoid + BCE, softmax + CE)
//! dW[l] = 1/m · dZ[l]·A[l-1]ᵀ   (1/m · (dZ[l]·A[l-1]ᵀ + λ W[l]) with L2)
//! db[l] = 1/m · Σ_columns dZ[l]
//! dA[l-1] = W[l]ᵀ·dZ[l]   (then ⊙ D[l-1] / keep_prob with dropout)
//! dZ[l-1] = dA[l-1] ⊙ [A[l-1] > 0]                   (relu_backward)
//! ```
//!
//! The factor `1/m` is rounded once and multiplied in, as the seeds write it
//! (`dW3 = 1./m * np.dot(dZ3, A2.T)`, and `1./m * (np.dot(dZ3, A2.T) + lambda * W3)` in seed
//! 001's L2 version): dividing by `m` instead rounds differently in the last bit, and with these
//! forms the gradients of the gradient-check test case are NumPy's bit for bit.
//!
//! Everything here runs without recording a graph: it is the independent reference.

use engine::{no_grad, Float, Tensor};

/// Output activation of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// One unit, sigmoid, binary cross-entropy.
    Sigmoid,
    /// One unit per class (classes are rows), softmax, cross-entropy.
    Softmax,
}

/// Values kept by the forward pass for the backward pass (the course's `cache`).
pub struct Cache<T: Float> {
    /// Activations `A[0] = X, A[1], ..., A[L]` (hidden ones after dropout, as the seed keeps them).
    pub activations: Vec<Tensor<T>>,
    /// Dropout masks `D[1] .. D[L-1]` (0/1), when dropout was applied.
    pub masks: Option<Vec<Tensor<T>>>,
}

/// Parameters as the seeds' dictionaries hold them: `[W1, b1, W2, b2, ...]`.
pub type Params<T> = [Tensor<T>];

/// The course's forward propagation. `masks`, when given, are the 0/1 dropout masks of the
/// hidden layers (held fixed, so a gradient check sees a deterministic function).
pub fn forward<T: Float>(
    x: &Tensor<T>,
    params: &Params<T>,
    output: Output,
    masks: Option<&[Tensor<T>]>,
    keep_prob: f64,
) -> Cache<T> {
    no_grad(|| {
        let layers = params.len() / 2;
        let mut activations = vec![x.clone()];
        for l in 0..layers {
            let z = params[2 * l].matmul(&activations[l]) + &params[2 * l + 1];
            let a = if l + 1 < layers {
                let a = z.relu();
                match masks {
                    Some(d) => (a * &d[l]) / T::from_f64(keep_prob),
                    None => a,
                }
            } else {
                match output {
                    Output::Sigmoid => z.sigmoid(),
                    Output::Softmax => z.softmax(0),
                }
            };
            activations.push(a);
        }
        Cache {
            activations,
            masks: masks.map(<[Tensor<T>]>::to_vec),
        }
    })
}

/// The seeds' backward propagation: gradients `[dW1, db1, dW2, db2, ...]` of the mean
/// cross-entropy (plus the L2 penalty `λ/2m Σ‖W‖²` when `lambd > 0`).
pub fn backward<T: Float>(
    y: &Tensor<T>,
    cache: &Cache<T>,
    params: &Params<T>,
    lambd: f64,
    keep_prob: f64,
) -> Vec<Tensor<T>> {
    no_grad(|| {
        let layers = params.len() / 2;
        let a = &cache.activations;
        let one_over_m = T::from_f64(1.0 / y.shape()[1] as f64);
        let mut grads = vec![Tensor::zeros(&[]); 2 * layers];
        let mut dz = &a[layers] - y;
        for l in (0..layers).rev() {
            let w = &params[2 * l];
            let mut dw = dz.matmul(&a[l].t());
            if lambd > 0.0 {
                dw = dw + w * T::from_f64(lambd);
            }
            grads[2 * l] = dw * one_over_m;
            grads[2 * l + 1] = dz.sum_axis(1, true) * one_over_m;
            if l > 0 {
                let mut da = w.t().matmul(&dz);
                if let Some(masks) = &cache.masks {
                    da = (da * &masks[l - 1]) / T::from_f64(keep_prob);
                }
                dz = da * a[l].gt_scalar(T::zero());
            }
        }
        grads
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::gradcheck::{relative_difference, GradcheckConfig};

    fn params(dims: &[usize]) -> Vec<Tensor<f64>> {
        let mut out = vec![];
        for l in 1..dims.len() {
            let w: Vec<f64> = (0..dims[l] * dims[l - 1])
                .map(|k| ((k * 37 + l * 11) as f64 * 0.7123).sin() * 0.8)
                .collect();
            let b: Vec<f64> = (0..dims[l])
                .map(|k| (k as f64 * 0.3 + l as f64).cos() * 0.1)
                .collect();
            out.push(Tensor::from_vec(w, &[dims[l], dims[l - 1]]));
            out.push(Tensor::from_vec(b, &[dims[l], 1]));
        }
        out
    }

    /// The hand-derived formulas against central differences of the seed's cost, computed here
    /// from probabilities exactly as the course does: agreement shows the formulas are right,
    /// independently of the engine's autodiff.
    #[test]
    fn hand_backprop_matches_numerical_gradients() {
        let x = Tensor::from_vec((0..12).map(|k| (k as f64 * 1.3).sin()).collect(), &[3, 4]);
        for (output, y, lambd) in [
            (
                Output::Sigmoid,
                Tensor::from_vec(vec![1.0, 0.0, 1.0, 1.0], &[1, 4]),
                0.0,
            ),
            (
                Output::Sigmoid,
                Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[1, 4]),
                0.7,
            ),
            (
                Output::Softmax,
                Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0], &[2, 4]),
                0.0,
            ),
        ] {
            let dims = [3, 5, 3, y.shape()[0]];
            let p = params(&dims);
            let cost = |p: &[Tensor<f64>]| -> f64 {
                let a = forward(&x, p, output, None, 1.0).activations[3].to_vec();
                let yv = y.to_vec();
                let m = 4.0;
                let ce: f64 = match output {
                    Output::Sigmoid => a
                        .iter()
                        .zip(&yv)
                        .map(|(a, y)| -(y * a.ln() + (1.0 - y) * (1.0 - a).ln()))
                        .sum(),
                    Output::Softmax => a.iter().zip(&yv).map(|(a, y)| -(y * a.ln())).sum(),
                };
                let l2: f64 = p
                    .iter()
                    .step_by(2)
                    .flat_map(|w| w.to_vec())
                    .map(|w| w * w)
                    .sum();
                ce / m + lambd / (2.0 * m) * l2
            };
            let cache = forward(&x, &p, output, None, 1.0);
            let hand: Vec<f64> = backward(&y, &cache, &p, lambd, 1.0)
                .iter()
                .flat_map(|g| g.to_vec())
                .collect();
            let eps = GradcheckConfig::default().epsilon;
            let mut numeric = vec![];
            for i in 0..p.len() {
                for k in 0..p[i].numel() {
                    let shifted = |delta: f64| {
                        let mut q = p.clone();
                        let mut v = q[i].to_vec();
                        v[k] += delta;
                        q[i] = Tensor::from_vec(v, q[i].shape());
                        cost(&q)
                    };
                    numeric.push((shifted(eps) - shifted(-eps)) / (2.0 * eps));
                }
            }
            let diff = relative_difference(&hand, &numeric);
            assert!(
                diff < 1e-7,
                "{output:?} λ={lambd}: relative difference {diff:e}"
            );
        }
    }
}
