//! Inverted dropout (the course's `forward_propagation_with_dropout`).
//!
//! In training mode every forward pass draws a fresh mask `D = (rand(n, m) < keep_prob)`,
//! uniform draws filled row-major in the activation's shape (NumPy's
//! `np.random.rand(A.shape[0], A.shape[1])`), and returns `(A ⊙ D) / keep_prob` in that order.
//! Any shape works the same way: images `(m, C, H, W)` and sequences `(m, T, d)` get one draw
//! per element, row-major (element-wise dropout, PyTorch's `Dropout`, not `Dropout2d`).
//! The mask is a constant held by the graph's multiplication node, so the backward pass applies
//! the same mask: `dA = (dA_out ⊙ D) / keep_prob`, as the course's
//! `backward_propagation_with_dropout`. In evaluation mode, and when `keep_prob ≥ 1` (where the
//! course's code draws nothing), it is the identity.

use std::sync::{Arc, Mutex};

use engine::random::Sampler;
use engine::{Float, Tensor};

use crate::module::{Mode, Module, SharedSampler, Visitor};

/// The last mask a [`Dropout`] layer drew, readable after the layer has been moved into a
/// [`Sequential`](crate::Sequential) (keep a clone of the handle from [`Dropout::mask_handle`]).
pub type MaskHandle<T> = Arc<Mutex<Option<Tensor<T>>>>;

/// Draws a dropout mask of `shape`: 1 where a uniform draw (row-major) is `< keep_prob`, else 0.
///
/// The draws are made in bulk ([`Sampler::fill_keep_mask`]: one call to the generator per
/// mask, not per element); with [`NumpyRng`](engine::random::NumpyRng) they are NumPy's
/// `np.random.rand(*shape) < keep_prob`, and [`FastRng`](engine::random::FastRng) makes them
/// several times faster when the course's stream is not needed.
pub fn dropout_mask<T: Float, S: Sampler + ?Sized>(
    shape: &[usize],
    keep_prob: f64,
    sampler: &mut S,
) -> Tensor<T> {
    let n: usize = shape.iter().product();
    let mut keep = vec![false; n];
    sampler.fill_keep_mask(keep_prob, &mut keep);
    let data = keep
        .into_iter()
        .map(|k| if k { T::one() } else { T::zero() })
        .collect();
    Tensor::from_vec(data, shape)
}

/// `(x ⊙ mask) / keep_prob`, the course's `A = A * D; A = A / keep_prob`, recorded in the graph.
#[track_caller]
pub fn apply_mask<T: Float>(x: &Tensor<T>, mask: &Tensor<T>, keep_prob: f64) -> Tensor<T> {
    assert!(
        mask.shape() == x.shape(),
        "apply_mask: mask of shape {:?} for input of shape {:?}",
        mask.shape(),
        x.shape()
    );
    (x * mask) / T::from_f64(keep_prob)
}

/// Inverted dropout with retention probability `keep_prob`.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use engine::Tensor;
/// use nn::{Dropout, Module, SharedSampler};
/// use rand::SeedableRng;
///
/// let rng = Arc::new(Mutex::new(rand::rngs::StdRng::seed_from_u64(1)));
/// let drop = Dropout::<f64>::new(0.8, rng.clone() as SharedSampler);
/// let x = Tensor::<f64>::ones(&[3, 4]);
/// let y = drop.forward(&x);
/// let mask = drop.last_mask().unwrap();
/// for (yi, di) in y.to_vec().iter().zip(mask.to_vec()) {
///     assert_eq!(*yi, di / 0.8); // kept units are scaled up, dropped ones are zero
/// }
/// drop.set_training(false);
/// assert_eq!(drop.forward(&x).to_vec(), x.to_vec()); // identity at evaluation
/// ```
pub struct Dropout<T: Float> {
    keep_prob: f64,
    rng: SharedSampler,
    mode: Mode,
    last_mask: MaskHandle<T>,
}

impl<T: Float> Dropout<T> {
    /// Dropout keeping each unit with probability `keep_prob` in `(0, 1]`, drawing masks from
    /// the shared generator `rng` (reseed it between passes to reproduce the course's masks).
    #[track_caller]
    pub fn new(keep_prob: f64, rng: SharedSampler) -> Self {
        assert!(
            keep_prob > 0.0 && keep_prob <= 1.0,
            "Dropout::new: keep_prob must be in (0, 1], got {keep_prob}"
        );
        Dropout {
            keep_prob,
            rng,
            mode: Mode::default(),
            last_mask: Arc::new(Mutex::new(None)),
        }
    }

    /// The retention probability.
    pub fn keep_prob(&self) -> f64 {
        self.keep_prob
    }

    /// The mask `D` (0/1, shaped like the input) of the last training forward pass; `None`
    /// before any, and after a pass that applied no mask (evaluation, `keep_prob = 1`).
    pub fn last_mask(&self) -> Option<Tensor<T>> {
        self.last_mask.lock().unwrap().clone()
    }

    /// A shared handle to the last mask, which stays readable after the layer is boxed into a
    /// network.
    pub fn mask_handle(&self) -> MaskHandle<T> {
        self.last_mask.clone()
    }

    /// Whether the layer drops units (training mode).
    pub fn is_training(&self) -> bool {
        self.mode.is_training()
    }
}

impl<T: Float> Module<T> for Dropout<T> {
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        if !self.mode.is_training() || self.keep_prob >= 1.0 {
            *self.last_mask.lock().unwrap() = None;
            return x.clone();
        }
        let mask = {
            let mut rng = self.rng.lock().unwrap();
            dropout_mask::<T, _>(x.shape(), self.keep_prob, &mut *rng)
        };
        let out = apply_mask(x, &mask, self.keep_prob);
        *self.last_mask.lock().unwrap() = Some(mask);
        out
    }

    /// No parameters; the train/eval switch.
    fn visit(&self, v: &mut Visitor<'_, T>) {
        v.mode(&self.mode);
    }

    fn describe(&self) -> String {
        format!("Dropout(keep_prob = {})", self.keep_prob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::gradcheck::{gradcheck, GradcheckConfig};
    use rand::SeedableRng;

    fn shared_rng(seed: u64) -> Arc<Mutex<rand::rngs::StdRng>> {
        Arc::new(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)))
    }

    #[test]
    fn mask_is_row_major_uniform_draws_below_keep_prob() {
        let rng = shared_rng(9);
        let mut reference = rand::rngs::StdRng::seed_from_u64(9);
        let d = Dropout::<f64>::new(0.6, rng.clone());
        let x = Tensor::<f64>::from_vec((1..=12).map(f64::from).collect(), &[3, 4]);
        let y = d.forward(&x).to_vec();
        let draws: Vec<f64> = (0..12).map(|_| reference.uniform()).collect();
        let mask = d.last_mask().unwrap().to_vec();
        for (k, &u) in draws.iter().enumerate() {
            let kept = u < 0.6;
            assert_eq!(mask[k], if kept { 1.0 } else { 0.0 });
            // (x * d) / keep_prob, in that order.
            let expected = if kept { x.to_vec()[k] / 0.6 } else { 0.0 };
            assert_eq!(y[k], expected);
        }
    }

    #[test]
    fn reseeding_the_shared_generator_reproduces_the_mask() {
        let rng = shared_rng(4);
        let d = Dropout::<f64>::new(0.5, rng.clone());
        let x = Tensor::<f64>::ones(&[5, 7]);
        let first = d.forward(&x).to_vec();
        let second = d.forward(&x).to_vec();
        assert_ne!(first, second, "a new pass draws a new mask");
        *rng.lock().unwrap() = rand::rngs::StdRng::seed_from_u64(4);
        assert_eq!(d.forward(&x).to_vec(), first);
    }

    /// Over 200 000 units with keep_prob 0.8 the kept fraction has standard deviation
    /// sqrt(0.8 · 0.2 / 200000) ≈ 0.0009; 0.005 is over five of them. The mean of the output
    /// of an all-ones input is then 1 within 0.005 / 0.8 (inverted dropout preserves it).
    #[test]
    fn kept_fraction_and_mean_are_preserved() {
        let d = Dropout::<f64>::new(0.8, shared_rng(11));
        let x = Tensor::<f64>::ones(&[200, 1000]);
        let y = d.forward(&x);
        let kept = d.last_mask().unwrap().to_vec().iter().sum::<f64>() / 200000.0;
        assert!((kept - 0.8).abs() < 0.005, "kept fraction {kept}");
        assert!((y.mean().item() - 1.0).abs() < 0.00625);
    }

    #[test]
    fn backward_applies_the_same_mask_scaled() {
        let d = Dropout::<f64>::new(0.7, shared_rng(2));
        let x =
            Tensor::<f64>::from_vec((0..20).map(|i| i as f64 - 7.5).collect(), &[4, 5]).to_leaf();
        let upstream =
            Tensor::<f64>::from_vec((0..20).map(|i| (i as f64).sin()).collect(), &[4, 5]);
        let y = d.forward(&x);
        (&y * &upstream).sum().backward();
        let mask = d.last_mask().unwrap().to_vec();
        let g = x.grad().unwrap().to_vec();
        for k in 0..20 {
            // The course's backward_propagation_with_dropout: dA = dA * D; dA = dA / keep_prob.
            assert_eq!(g[k], upstream.to_vec()[k] * mask[k] / 0.7);
        }
        // With the mask fixed, the layer is linear in x: gradcheck through apply_mask.
        let mask = d.last_mask().unwrap();
        let f = move |v: &[Tensor<f64>]| (apply_mask(&v[0], &mask, 0.7).tanh()).sum();
        let r = gradcheck(&f, &[x.detach()], GradcheckConfig::default());
        assert!(r.passed(), "{r}");
    }

    #[test]
    #[should_panic(expected = "apply_mask: mask of shape [2, 3] for input of shape [3, 2]")]
    fn a_mask_of_another_shape_names_both_shapes() {
        apply_mask(&Tensor::<f64>::ones(&[3, 2]), &Tensor::ones(&[2, 3]), 0.5);
    }

    #[test]
    fn evaluation_and_keep_prob_one_draw_nothing() {
        let rng = shared_rng(3);
        let d = Dropout::<f64>::new(0.5, rng.clone());
        d.set_training(false);
        let x = Tensor::<f64>::ones(&[2, 2]);
        assert_eq!(d.forward(&x).to_vec(), [1.0; 4]);
        let full = Dropout::<f64>::new(1.0, rng.clone());
        assert_eq!(full.forward(&x).to_vec(), [1.0; 4]);
        assert!(full.last_mask().is_none());
        let mut reference = rand::rngs::StdRng::seed_from_u64(3);
        assert_eq!(rng.lock().unwrap().uniform(), reference.uniform());
    }
}
