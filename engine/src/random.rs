//! Random draws for tensors: the [`Sampler`] trait that initializers, dropout masks and data
//! generators draw from, so one call site can be driven either by any `rand` generator or by
//! the NumPy-compatible generator that reproduces the course's streams bit for bit.
//!
//! Why a trait of our own: NumPy's legacy `randn` (polar method with a cached second value) is
//! not what `rand_distr::StandardNormal` computes, so "the next normal draw" must be a method of
//! the generator, not a distribution applied to raw bits.
//!
//! [`NumpyRng`] (in [`numpy`]) is that generator: NumPy's legacy global stream, bit for bit.
//! [`FastRng`] (in [`fast`]) is the generator to use when the course's stream is not needed
//! (dropout masks in ordinary training): xoshiro256++, several times faster per draw.
//!
//! Bulk draws ([`Sampler::fill_uniform`], [`Sampler::fill_keep_mask`]) exist so that a
//! generator behind a `dyn Sampler` (a shared, locked dropout generator) is called once per
//! tensor rather than once per element; their defaults make the same draws as repeated
//! [`Sampler::uniform`] calls, so NumPy's stream is unchanged.

pub mod fast;
pub mod numpy;

pub use fast::FastRng;
pub use numpy::NumpyRng;

use rand::RngCore;
use rand_distr::{Distribution, StandardNormal, StandardUniform};

use crate::{Float, Tensor};

/// A source of the two draws the library needs: uniform on `[0, 1)` and standard normal.
pub trait Sampler {
    /// A uniform draw from `[0, 1)`.
    fn uniform(&mut self) -> f64;
    /// A standard normal draw.
    fn standard_normal(&mut self) -> f64;

    /// Fills `out` with uniform draws in order: the values of `out.len()` calls of
    /// [`Sampler::uniform`] (generators override it only to go faster).
    fn fill_uniform(&mut self, out: &mut [f64]) {
        for v in out {
            *v = self.uniform();
        }
    }

    /// A dropout mask: `out[i] = uniform() < keep_prob` for one uniform draw per element, in
    /// order (NumPy's `np.random.rand(n, m) < keep_prob`, row-major). Overrides must make the
    /// same decisions as that comparison on the same draws.
    fn fill_keep_mask(&mut self, keep_prob: f64, out: &mut [bool]) {
        for v in out {
            *v = self.uniform() < keep_prob;
        }
    }

    /// A uniformly random permutation of `0..n`. The default is a Fisher-Yates shuffle driven by
    /// [`Sampler::uniform`]; the NumPy-compatible generator overrides it with NumPy's own
    /// algorithm so that shuffled mini-batches match the course's.
    fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            // floor(u * (i + 1)) is in 0..=i for u in [0, 1); min guards the rounding edge.
            let j = ((self.uniform() * (i + 1) as f64) as usize).min(i);
            order.swap(i, j);
        }
        order
    }
}

/// Adapts any `rand` generator to [`Sampler`] (uniform and normal from `rand_distr`).
#[derive(Clone, Debug)]
pub struct RandSampler<R>(pub R);

impl<R: RngCore> Sampler for RandSampler<R> {
    fn uniform(&mut self) -> f64 {
        StandardUniform.sample(&mut self.0)
    }

    fn standard_normal(&mut self) -> f64 {
        StandardNormal.sample(&mut self.0)
    }
}

impl Sampler for rand::rngs::StdRng {
    fn uniform(&mut self) -> f64 {
        StandardUniform.sample(self)
    }

    fn standard_normal(&mut self) -> f64 {
        StandardNormal.sample(self)
    }
}

impl<T: Float> Tensor<T> {
    /// Uniform draws in `[0, 1)` from `sampler`, filled in row-major order (NumPy's order).
    #[track_caller]
    pub fn sample_uniform<S: Sampler + ?Sized>(shape: &[usize], sampler: &mut S) -> Self {
        let n = crate::layout::alloc_numel_or_panic::<T>("sample_uniform", shape);
        let data = (0..n).map(|_| T::from_f64(sampler.uniform())).collect();
        Tensor::from_vec(data, shape)
    }

    /// Standard normal draws from `sampler`, filled in row-major order (NumPy's order).
    #[track_caller]
    pub fn sample_normal<S: Sampler + ?Sized>(shape: &[usize], sampler: &mut S) -> Self {
        let n = crate::layout::alloc_numel_or_panic::<T>("sample_normal", shape);
        let data = (0..n)
            .map(|_| T::from_f64(sampler.standard_normal()))
            .collect();
        Tensor::from_vec(data, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn same_seed_same_draws_in_row_major_order() {
        let mut a = rand::rngs::StdRng::seed_from_u64(7);
        let mut b = RandSampler(rand::rngs::StdRng::seed_from_u64(7));
        let t = Tensor::<f64>::sample_normal(&[2, 3], &mut a);
        let expected: Vec<f64> = (0..6).map(|_| b.standard_normal()).collect();
        assert_eq!(t.to_vec(), expected);
        let u = Tensor::<f64>::sample_uniform(&[4], &mut a);
        assert!(u.to_vec().iter().all(|&x| (0.0..1.0).contains(&x)));
    }

    #[test]
    fn default_permutation_is_a_permutation_and_depends_on_the_seed() {
        let mut a = rand::rngs::StdRng::seed_from_u64(1);
        let p = a.permutation(50);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(p, (0..50).collect::<Vec<_>>());
        assert_ne!(p, a.permutation(50));
    }
}
