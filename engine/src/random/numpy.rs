//! [`NumpyRng`]: NumPy's legacy global generator (`np.random.seed`, `rand`, `randn`, `normal`,
//! `permutation`, `shuffle`) reproduced bit for bit.
//!
//! Why this lives next to tensor creation: the course's numbers (initial weights, dropout masks,
//! shuffled mini-batches, the circles and moons data sets) are all "the next draws of NumPy's
//! global stream, written into an array in row-major order". Landing on the same numbers needs
//! the same stream *and* the same fill order, so the generator sits beside
//! [`Tensor::sample_uniform`]/[`Tensor::sample_normal`] and builds tensors through them; every
//! consumer (initializers in `nn`, data generators, apps) then takes a [`Sampler`] and can be
//! driven by this generator or by any `rand` generator.
//!
//! What NumPy does, and therefore what this does:
//! - **Seeding.** `np.random.seed(s)` with an integer `s` in `0..2^32` runs MT19937's
//!   `init_genrand(s)` (NumPy's `_legacy_seeding` calls `mt19937_seed` for anything
//!   `operator.index` accepts; `init_by_array` is only used for array seeds), then clears the
//!   cached normal. Checked against `np.random.get_state()` for several seeds while writing this.
//! - **Uniform doubles** (`rand`, `random_sample`): two 32-bit outputs `a`, `b` give
//!   `((a >> 5) * 2^26 + (b >> 6)) / 2^53`, a double with 53 random bits.
//! - **Normals** (`randn`, `standard_normal`, `normal`): the legacy polar (Marsaglia) method. Each
//!   accepted pair `(x1, x2)` yields two normals; the second is returned now, the first is cached
//!   and returned by the next call. `seed` drops the cache, so a half-used pair never leaks
//!   across seeds.
//! - **Bounded integers** for `shuffle`/`permutation`: NumPy's legacy `random_interval(max)`
//!   masks 32-bit draws with the smallest all-ones mask covering `max` and rejects values above
//!   `max`. `shuffle` walks `i` from `n - 1` down to `1`, swapping `i` with
//!   `random_interval(i)`; `permutation(n)` shuffles `0..n`.
//!
//! The MT19937 core is `rand_mt`'s reference implementation; the parts above are NumPy's and
//! are written here.

use rand::RngCore;
use rand_mt::Mt;

use super::Sampler;
use crate::{Float, Tensor};

/// NumPy's legacy global `RandomState`: seed it like `np.random.seed(s)` and it yields the same
/// `rand`, `randn`, `normal`, `permutation` and `shuffle` results as NumPy, bit for bit.
///
/// Tensors are filled in row-major order, as NumPy fills arrays. Draw NumPy's numbers through
/// these methods or through [`Sampler`] (`Tensor::sample_normal`, initializers): `rand`'s own
/// distributions applied through the [`RngCore`] impl (`Tensor::randn(shape, &mut rng)`,
/// `rng.random::<f64>()`) consume the same raw stream but compute different values.
///
/// ```
/// use engine::random::NumpyRng;
/// let mut rng = NumpyRng::new(0);
/// // np.random.seed(0); np.random.rand()
/// assert_eq!(rng.random_f64(), 0.5488135039273248);
/// ```
#[derive(Clone, Debug)]
pub struct NumpyRng {
    mt: Mt,
    /// The first value of the last polar pair, returned by the next normal draw.
    cached_normal: Option<f64>,
}

impl NumpyRng {
    /// A generator in the state `np.random.seed(seed)` leaves the global one in.
    pub fn new(seed: u32) -> Self {
        NumpyRng {
            mt: Mt::new(seed),
            cached_normal: None,
        }
    }

    /// Reseeds exactly as `np.random.seed(seed)`: MT19937 `init_genrand` and no cached normal.
    pub fn seed(&mut self, seed: u32) {
        self.mt.reseed(seed);
        self.cached_normal = None;
    }

    /// The next raw 32-bit MT19937 output.
    pub fn next_raw_u32(&mut self) -> u32 {
        self.mt.next_u32()
    }

    /// One uniform double in `[0, 1)` with 53 random bits, as `np.random.rand()`.
    pub fn random_f64(&mut self) -> f64 {
        let high = f64::from(self.mt.next_u32() >> 5);
        let low = f64::from(self.mt.next_u32() >> 6);
        (high * 67_108_864.0 + low) / 9_007_199_254_740_992.0
    }

    /// One standard normal draw, as `np.random.randn()` (legacy polar method, cached pair).
    pub fn standard_normal(&mut self) -> f64 {
        if let Some(cached) = self.cached_normal.take() {
            return cached;
        }
        loop {
            let x1 = 2.0 * self.random_f64() - 1.0;
            let x2 = 2.0 * self.random_f64() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.cached_normal = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// `loc + scale * z` for one standard normal `z`, as `np.random.normal(loc, scale)`.
    pub fn normal_f64(&mut self, loc: f64, scale: f64) -> f64 {
        loc + scale * self.standard_normal()
    }

    /// `np.random.rand(*shape)`: uniform draws in `[0, 1)`, row-major.
    #[track_caller]
    pub fn rand<T: Float>(&mut self, shape: &[usize]) -> Tensor<T> {
        Tensor::sample_uniform(shape, self)
    }

    /// `np.random.randn(*shape)`: standard normal draws, row-major.
    #[track_caller]
    pub fn randn<T: Float>(&mut self, shape: &[usize]) -> Tensor<T> {
        Tensor::sample_normal(shape, self)
    }

    /// `np.random.normal(loc, scale, size=shape)`: each element `loc + scale * z`, computed in
    /// f64 and then converted to `T`, row-major.
    #[track_caller]
    pub fn normal<T: Float>(&mut self, loc: f64, scale: f64, shape: &[usize]) -> Tensor<T> {
        let n = crate::layout::alloc_numel_or_panic::<T>("normal", shape);
        let data = (0..n)
            .map(|_| T::from_f64(self.normal_f64(loc, scale)))
            .collect();
        Tensor::from_vec(data, shape)
    }

    /// A uniform integer in `0..=max`, as NumPy's legacy `random_interval`: mask 32-bit (or,
    /// above `u32::MAX`, 64-bit) draws down to the smallest covering all-ones mask and reject
    /// values above `max`.
    pub fn random_interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        if max <= u64::from(u32::MAX) {
            loop {
                let value = u64::from(self.mt.next_u32()) & mask;
                if value <= max {
                    return value;
                }
            }
        } else {
            loop {
                let value = self.next_u64() & mask;
                if value <= max {
                    return value;
                }
            }
        }
    }

    /// Shuffles `items` in place as `np.random.shuffle` does for a 1-D array: for `i` from
    /// `len - 1` down to `1`, swap `items[i]` with `items[random_interval(i)]`.
    pub fn shuffle<X>(&mut self, items: &mut [X]) {
        for i in (1..items.len()).rev() {
            // random_interval(i) <= i < len, so the cast back to usize cannot truncate.
            let j = self.random_interval(i as u64) as usize;
            items.swap(i, j);
        }
    }

    /// `np.random.permutation(n)`: `0..n` shuffled with [`NumpyRng::shuffle`].
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        self.shuffle(&mut order);
        order
    }
}

impl Sampler for NumpyRng {
    fn uniform(&mut self) -> f64 {
        self.random_f64()
    }

    fn standard_normal(&mut self) -> f64 {
        NumpyRng::standard_normal(self)
    }

    fn permutation(&mut self, n: usize) -> Vec<usize> {
        NumpyRng::permutation(self, n)
    }
}

/// Raw MT19937 output, so the generator can drive anything that takes a `rand` generator.
/// These draws bypass the cached normal, as NumPy's bit generator does.
impl RngCore for NumpyRng {
    fn next_u32(&mut self) -> u32 {
        self.mt.next_u32()
    }

    /// Two 32-bit outputs, the first in the high half (NumPy's MT19937 `next_uint64`).
    fn next_u64(&mut self) -> u64 {
        let high = u64::from(self.mt.next_u32());
        let low = u64::from(self.mt.next_u32());
        (high << 32) | low
    }

    /// 32-bit outputs in order, each little-endian, the last one cut short: the bytes
    /// `np.random.bytes(len)` returns.
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(4) {
            let word = self.mt.next_u32().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}
