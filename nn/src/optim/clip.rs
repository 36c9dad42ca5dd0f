//! Gradient clipping, between `backward` and [`Optimizer::step`](super::Optimizer::step).

use engine::{Float, Tensor};

use crate::module::Param;

/// Scales the gradients of `params` together so that their global L2 norm (over every element
/// of every gradient, as if concatenated) is at most `max_norm`, and returns the norm before
/// clipping. Parameters without a gradient count as zero.
///
/// Gradients are scaled by `max_norm / (norm + 1e-6)` when `norm > max_norm` (PyTorch's
/// `clip_grad_norm_`). A NaN or infinite norm is returned as it is and the gradients are left
/// untouched: scaling would turn an overflow into NaN everywhere, or hide where it came from
/// (see [`engine::anomaly`]); check the returned norm.
///
/// ```
/// use engine::Tensor;
/// use nn::{optim::clip_grad_norm, Param};
/// let w = Tensor::<f64>::zeros(&[2, 1]).to_leaf();
/// w.set_grad(Some(Tensor::from_vec(vec![3.0, 4.0], &[2, 1])));
/// let norm = clip_grad_norm(&[Param::weight("w", w.clone())], 1.0);
/// assert_eq!(norm, 5.0);
/// let g = w.grad().unwrap().to_vec();
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// ```
#[track_caller]
pub fn clip_grad_norm<T: Float>(params: &[Param<T>], max_norm: f64) -> f64 {
    assert!(
        max_norm >= 0.0,
        "clip_grad_norm: max_norm must be non-negative, got {max_norm}"
    );
    let grads: Vec<(&Param<T>, Tensor<T>)> = params
        .iter()
        .filter_map(|p| p.tensor.grad().map(|g| (p, g)))
        .collect();
    // Accumulated in f64 whatever T is, so that f32 gradients do not overflow the sum.
    let norm = grads
        .iter()
        .map(|(_, g)| g.with_data(|d| d.iter().map(|v| v.as_f64() * v.as_f64()).sum::<f64>()))
        .sum::<f64>()
        .sqrt();
    if norm.is_finite() && norm > max_norm {
        let scale = T::from_f64(max_norm / (norm + 1e-6));
        for (p, g) in grads {
            p.tensor.set_grad(Some(&g * scale));
        }
    }
    norm
}

/// Clamps every gradient element of `params` to `[-clip, clip]`. NaN stays NaN.
///
/// ```
/// use engine::Tensor;
/// use nn::{optim::clip_grad_value, Param};
/// let w = Tensor::<f64>::zeros(&[3, 1]).to_leaf();
/// w.set_grad(Some(Tensor::from_vec(vec![-5.0, 0.25, 2.0], &[3, 1])));
/// clip_grad_value(&[Param::weight("w", w.clone())], 1.0);
/// assert_eq!(w.grad().unwrap().to_vec(), [-1.0, 0.25, 1.0]);
/// ```
#[track_caller]
pub fn clip_grad_value<T: Float>(params: &[Param<T>], clip: f64) {
    assert!(
        clip >= 0.0,
        "clip_grad_value: clip must be non-negative, got {clip}"
    );
    let (lo, hi) = (T::from_f64(-clip), T::from_f64(clip));
    for p in params {
        if let Some(g) = p.tensor.grad() {
            let clamped: Vec<T> = g.with_data(|d| {
                d.iter()
                    .map(|&v| {
                        if v < lo {
                            lo
                        } else if v > hi {
                            hi
                        } else {
                            v
                        }
                    })
                    .collect()
            });
            p.tensor
                .set_grad(Some(Tensor::from_vec(clamped, g.shape())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::*;

    #[test]
    fn global_norm_over_all_parameters_scales_every_gradient() {
        // Gradients (1, 2) and (2, 4, 0): norm sqrt(1 + 4 + 4 + 16) = 5.
        let a = param_with_grad("a", &[0.0, 0.0], &[1.0, 2.0]);
        let b = param_with_grad("b", &[0.0, 0.0, 0.0], &[2.0, 4.0, 0.0]);
        let none = crate::module::Param::weight("c", Tensor::<f64>::zeros(&[1, 1]));
        let norm = clip_grad_norm(&[a.clone(), b.clone(), none], 2.5);
        assert_eq!(norm, 5.0);
        let scale = 2.5 / (5.0 + 1e-6);
        assert_eq!(a.grad().unwrap().to_vec(), [scale, 2.0 * scale]);
        assert_eq!(b.grad().unwrap().to_vec(), [2.0 * scale, 4.0 * scale, 0.0]);
        // Below the limit: untouched, norm still reported.
        let c = param_with_grad("c", &[0.0], &[0.5]);
        assert_eq!(clip_grad_norm(std::slice::from_ref(&c), 1.0), 0.5);
        assert_eq!(c.grad().unwrap().to_vec(), [0.5]);
    }

    #[test]
    fn a_nan_or_infinite_norm_is_reported_not_hidden() {
        let a = param_with_grad("a", &[0.0, 0.0], &[f64::NAN, 1.0]);
        assert!(clip_grad_norm(std::slice::from_ref(&a), 1.0).is_nan());
        let g = a.grad().unwrap().to_vec();
        assert!(g[0].is_nan() && g[1] == 1.0, "{g:?}");
        let b = param_with_grad("b", &[0.0], &[f64::INFINITY]);
        assert_eq!(clip_grad_norm(std::slice::from_ref(&b), 1.0), f64::INFINITY);
    }

    #[test]
    fn values_are_clamped_elementwise_and_nan_survives() {
        let a = param_with_grad("a", &[0.0; 4], &[-3.0, 0.5, 7.0, f64::NAN]);
        clip_grad_value(std::slice::from_ref(&a), 2.0);
        let g = a.grad().unwrap().to_vec();
        assert_eq!(&g[..3], &[-2.0, 0.5, 2.0]);
        assert!(g[3].is_nan());
    }
}
