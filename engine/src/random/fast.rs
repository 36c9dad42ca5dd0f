//! [`FastRng`]: a small, fast generator (xoshiro256++) for draws that need not follow NumPy's
//! stream, such as dropout masks outside a reproduction of the course.
//!
//! Why a generator of our own: the NumPy-compatible [`NumpyRng`](super::NumpyRng) spends two
//! MT19937 outputs and a division per uniform draw, and dropout draws one per activation every
//! step. xoshiro256++ (Blackman and Vigna) produces 64 random bits in a handful of integer
//! operations, passes the usual statistical batteries, and with [`Sampler::fill_keep_mask`]
//! decides "keep" with one integer comparison per element. Its stream is fixed by the seed, so
//! runs stay reproducible; it is simply not NumPy's stream.

use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};

use super::Sampler;

/// xoshiro256++ seeded through SplitMix64 (so every `u64` seed gives a well-mixed state).
///
/// Uniform draws are `(x >> 11) · 2⁻⁵³` for the next 64-bit output `x`: 53 random bits in
/// `[0, 1)`. Normal draws use `rand_distr`'s ziggurat on the same stream.
///
/// ```
/// use engine::random::{FastRng, Sampler};
/// let mut a = FastRng::new(7);
/// let mut b = FastRng::new(7);
/// let mut mask = [false; 8];
/// a.fill_keep_mask(0.5, &mut mask);
/// for kept in mask {
///     assert_eq!(kept, b.uniform() < 0.5); // bulk masks are the one-by-one draws
/// }
/// ```
#[derive(Clone, Debug)]
pub struct FastRng {
    s: [u64; 4],
}

/// 2⁻⁵³: a 53-bit integer times this is a double in `[0, 1)`, exactly.
const UNIT: f64 = 1.0 / 9_007_199_254_740_992.0;

impl FastRng {
    /// A generator whose state is SplitMix64's first four outputs from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        };
        FastRng {
            s: [next(), next(), next(), next()],
        }
    }

    #[inline(always)]
    fn step(&mut self) -> u64 {
        let s = &mut self.s;
        let out = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }
}

impl Sampler for FastRng {
    fn uniform(&mut self) -> f64 {
        (self.step() >> 11) as f64 * UNIT
    }

    fn standard_normal(&mut self) -> f64 {
        StandardNormal.sample(self)
    }

    fn fill_uniform(&mut self, out: &mut [f64]) {
        for v in out {
            *v = (self.step() >> 11) as f64 * UNIT;
        }
    }

    /// `u < keep_prob` with `u = k · 2⁻⁵³` is `k < keep_prob · 2⁵³` (the product is exact, a
    /// power-of-two scaling), so the float comparison of [`Sampler::uniform`] becomes one
    /// integer comparison against `ceil(keep_prob · 2⁵³)`: the same decisions, faster.
    fn fill_keep_mask(&mut self, keep_prob: f64, out: &mut [bool]) {
        let scaled = keep_prob * 9_007_199_254_740_992.0;
        if scaled.is_nan() || scaled <= 0.0 {
            // No u is below keep_prob; still consume one draw per element, as uniform() would.
            for v in out {
                self.step();
                *v = false;
            }
            return;
        }
        if scaled >= 9_007_199_254_740_992.0 {
            // Every u in [0, 1) is below keep_prob; still consume one draw per element.
            for v in out {
                self.step();
                *v = true;
            }
            return;
        }
        let bound = scaled.ceil() as u64;
        for v in out {
            *v = (self.step() >> 11) < bound;
        }
    }
}

impl RngCore for FastRng {
    fn next_u32(&mut self) -> u32 {
        (self.step() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.step()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let word = self.step().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xoshiro256++ from the state (1, 2, 3, 4): the first outputs of the reference C code
    /// (`s[0] + s[3]` rotated by 23 plus `s[0]`), worked by hand for the first one:
    /// rotl(5, 23) + 1 = 41943041.
    #[test]
    fn matches_the_reference_algorithm() {
        let mut r = FastRng { s: [1, 2, 3, 4] };
        assert_eq!(r.next_u64(), 41_943_041);
        // Second output recomputed step by step from the reference update.
        let mut s: [u64; 4] = [1, 2, 3, 4];
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        let second = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        assert_eq!(r.next_u64(), second);
    }

    #[test]
    fn bulk_draws_equal_single_draws_and_masks_match_the_comparison() {
        for keep in [0.0, 1e-300, 0.2, 0.5, 0.86, 0.999_999, 1.0] {
            let (mut a, mut b) = (FastRng::new(3), FastRng::new(3));
            let mut mask = vec![false; 1000];
            a.fill_keep_mask(keep, &mut mask);
            for &kept in &mask {
                assert_eq!(kept, b.uniform() < keep, "keep_prob {keep}");
            }
            let mut bulk = vec![0.0; 10];
            a.fill_uniform(&mut bulk);
            let single: Vec<f64> = (0..10).map(|_| b.uniform()).collect();
            assert_eq!(bulk, single);
        }
    }

    /// 10⁶ draws with keep 0.3: the kept fraction has standard deviation
    /// sqrt(0.3 · 0.7 / 10⁶) ≈ 0.00046; 0.003 is over six of them.
    #[test]
    fn kept_fraction_is_keep_prob() {
        let mut r = FastRng::new(11);
        let mut mask = vec![false; 1_000_000];
        r.fill_keep_mask(0.3, &mut mask);
        let kept = mask.iter().filter(|&&k| k).count() as f64 / 1e6;
        assert!((kept - 0.3).abs() < 0.003, "kept fraction {kept}");
        assert_ne!(FastRng::new(1).next_u64(), FastRng::new(2).next_u64());
    }
}
