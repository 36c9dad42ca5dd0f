//! Weight initializers (the course's table of initializations), each drawing from any
//! [`Sampler`] in row-major order, so that with the NumPy-compatible generator they reproduce
//! the course's `np.random.randn(n_out, n_in) * ...` expressions bit for bit.
//!
//! Every random initializer computes in `f64` exactly as the NumPy expression it names (the
//! scale first, then one multiplication or division per element) and only then converts to the
//! tensor's element type. Which expression each variant reproduces:
//!
//! | variant | NumPy expression | where |
//! | --- | --- | --- |
//! | [`Init::Zeros`] | `np.zeros((n_out, n_in))` | course "zeros" |
//! | [`Init::ScaledNormal`]`(10.0)` | `np.random.randn(n_out, n_in) * 10` | course "random" |
//! | [`Init::HeNormal`] | `np.random.randn(n_out, n_in) * np.sqrt(2. / n_in)` | course He (variance `2 / n_in`) |
//! | [`Init::NormalFanInScaled`]`(k)` | `np.random.randn(n_out, n_in) * np.sqrt(k / n_in)` | `k = 1`: the course's remark on Xavier |
//! | [`Init::NormalDivided`]`(0.5)` | `np.random.randn(n_out, n_in) / np.sqrt(0.5 * n_in)` | the course's `regularization_dropout.ipynb` (He, written as a division) |
//! | [`Init::NormalDivided`]`(1.0)` | `np.random.randn(n_out, n_in) / np.sqrt(n_in)` | course regularization assignment |
//! | [`Init::XavierNormal`] | `randn * (gain * sqrt(2 / (n_in + n_out)))` | course Xavier for tanh; gain 4: for sigmoid (16x the variance) |
//! | [`Init::XavierUniform`] | `U[-a, a]`, `a = gain * sqrt(6 / (n_in + n_out))` | the course's table of initializations, uniform column |
//! | [`Init::HeUniform`] | `U[-a, a]`, `a = sqrt(6 / n_in)` | the course's table of initializations, uniform column |
//!
//! `HeNormal` and `NormalDivided(0.5)` have the same distribution (variance `2 / n_in`) but
//! round differently: `x * sqrt(2/n)` and `x / sqrt(n/2)` differ in the last bit for some `x`.
//! Uniform draws follow NumPy's `uniform(low, high)`: `low + (high - low) * u`.

use engine::random::Sampler;
use engine::{Float, Tensor};

/// How to fill a weight matrix `W` of shape `(n_out, n_in)`. Biases start at zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zeros: the symmetric start the course shows failing (no draw).
    Zeros,
    /// Every element equal to the value (no draw).
    Constant(f64),
    /// `randn * c`: the course's "random" initialization is `ScaledNormal(10.0)`.
    ScaledNormal(f64),
    /// `randn * sqrt(2 / n_in)`: He normal (variance `2 / n_in`), exactly the course's
    /// `np.random.randn(..) * np.sqrt(2. / layers_dims[l-1])`.
    HeNormal,
    /// `randn * sqrt(k / n_in)`: variance `k / n_in`. `k = 2` equals [`Init::HeNormal`].
    NormalFanInScaled(f64),
    /// `randn / sqrt(k * n_in)`: variance `1 / (k n_in)`. `k = 0.5` is the He initialization of
    /// the course's `regularization_dropout.ipynb`, `k = 1` the course regularization
    /// assignment's.
    NormalDivided(f64),
    /// `randn * (gain * sqrt(2 / (n_in + n_out)))`: Xavier normal, variance
    /// `2 / (n_in + n_out)` times `gain²`. Gain 1 for tanh, gain 4 for sigmoid (16x the
    /// variance, since the sigmoid's slope at 0 is 1/4).
    XavierNormal {
        /// 1 for tanh, 4 for sigmoid.
        gain: f64,
    },
    /// `U[-a, a]` with `a = gain * sqrt(6 / (n_in + n_out))`: Xavier uniform (variance `a²/3`).
    /// Gain 1 for tanh, 4 for sigmoid.
    XavierUniform {
        /// 1 for tanh, 4 for sigmoid.
        gain: f64,
    },
    /// `U[-a, a]` with `a = sqrt(6 / n_in)`: He uniform, variance `2 / n_in`.
    HeUniform,
    /// `U[low, high)`, computed as NumPy's `uniform`: `low + (high - low) * u`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
}

impl Init {
    /// Xavier normal for tanh layers: variance `2 / (n_in + n_out)`.
    pub const XAVIER_NORMAL_TANH: Init = Init::XavierNormal { gain: 1.0 };
    /// Xavier normal for sigmoid layers: variance `16 · 2 / (n_in + n_out)`.
    pub const XAVIER_NORMAL_SIGMOID: Init = Init::XavierNormal { gain: 4.0 };
    /// Xavier uniform for tanh layers: bound `sqrt(6 / (n_in + n_out))`.
    pub const XAVIER_UNIFORM_TANH: Init = Init::XavierUniform { gain: 1.0 };
    /// Xavier uniform for sigmoid layers: bound `4 sqrt(6 / (n_in + n_out))`.
    pub const XAVIER_UNIFORM_SIGMOID: Init = Init::XavierUniform { gain: 4.0 };

    /// A weight matrix of shape `(n_out, n_in)`, drawn row-major (NumPy's
    /// `randn(n_out, n_in)` order).
    ///
    /// ```
    /// use nn::init::Init;
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    /// let w = Init::HeNormal.weight::<f64, _>(4, 2, &mut rng);
    /// assert_eq!(w.shape(), &[4, 2]);
    /// ```
    pub fn weight<T: Float, S: Sampler + ?Sized>(
        &self,
        n_out: usize,
        n_in: usize,
        sampler: &mut S,
    ) -> Tensor<T> {
        self.sample(&[n_out, n_in], n_in, n_out, sampler)
    }

    /// A tensor of any shape, with the fans given explicitly. Draws `shape.product()` values
    /// in row-major order (none for [`Init::Zeros`] and [`Init::Constant`]).
    #[track_caller]
    pub fn sample<T: Float, S: Sampler + ?Sized>(
        &self,
        shape: &[usize],
        fan_in: usize,
        fan_out: usize,
        sampler: &mut S,
    ) -> Tensor<T> {
        let n: usize = shape.iter().product();
        let fan_in_f = fan_in as f64;
        let fans = (fan_in + fan_out) as f64;
        let needs_fan_in = matches!(
            self,
            Init::HeNormal | Init::NormalFanInScaled(_) | Init::NormalDivided(_) | Init::HeUniform
        );
        assert!(
            !needs_fan_in || fan_in > 0,
            "Init::sample: {self:?} needs a positive fan-in (shape {shape:?})"
        );
        let normal = |sampler: &mut S, f: &dyn Fn(f64) -> f64| -> Vec<T> {
            (0..n)
                .map(|_| T::from_f64(f(sampler.standard_normal())))
                .collect()
        };
        let uniform = |sampler: &mut S, low: f64, high: f64| -> Vec<T> {
            (0..n)
                .map(|_| T::from_f64(low + (high - low) * sampler.uniform()))
                .collect()
        };
        let data: Vec<T> = match *self {
            Init::Zeros => vec![T::zero(); n],
            Init::Constant(c) => vec![T::from_f64(c); n],
            Init::ScaledNormal(c) => normal(sampler, &|z| z * c),
            Init::HeNormal => {
                let scale = (2.0 / fan_in_f).sqrt();
                normal(sampler, &|z| z * scale)
            }
            Init::NormalFanInScaled(k) => {
                let scale = (k / fan_in_f).sqrt();
                normal(sampler, &|z| z * scale)
            }
            Init::NormalDivided(k) => {
                let divisor = (k * fan_in_f).sqrt();
                normal(sampler, &|z| z / divisor)
            }
            Init::XavierNormal { gain } => {
                let std = gain * (2.0 / fans).sqrt();
                normal(sampler, &|z| z * std)
            }
            Init::XavierUniform { gain } => {
                let a = gain * (6.0 / fans).sqrt();
                uniform(sampler, -a, a)
            }
            Init::HeUniform => {
                let a = (6.0 / fan_in_f).sqrt();
                uniform(sampler, -a, a)
            }
            Init::Uniform { low, high } => uniform(sampler, low, high),
        };
        Tensor::from_vec(data, shape)
    }

    /// The variance of the distribution each element is drawn from (0 for the constants), as
    /// the course's table of initializations states it.
    pub fn variance(&self, n_in: usize, n_out: usize) -> f64 {
        let n_in = n_in as f64;
        let fans = n_in + n_out as f64;
        match *self {
            Init::Zeros | Init::Constant(_) => 0.0,
            Init::ScaledNormal(c) => c * c,
            Init::HeNormal | Init::HeUniform => 2.0 / n_in,
            Init::NormalFanInScaled(k) => k / n_in,
            Init::NormalDivided(k) => 1.0 / (k * n_in),
            Init::XavierNormal { gain } | Init::XavierUniform { gain } => gain * gain * 2.0 / fans,
            Init::Uniform { low, high } => (high - low) * (high - low) / 12.0,
        }
    }

    /// The mean of the distribution (the constant for [`Init::Constant`]).
    pub fn mean(&self) -> f64 {
        match *self {
            Init::Constant(c) => c,
            Init::Uniform { low, high } => (low + high) / 2.0,
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Replays fixed normal draws, to check the arithmetic against NumPy without depending on
    /// the NumPy-compatible generator.
    struct Replay(Vec<f64>, usize);

    impl Sampler for Replay {
        fn uniform(&mut self) -> f64 {
            self.standard_normal()
        }
        fn standard_normal(&mut self) -> f64 {
            self.1 += 1;
            self.0[self.1 - 1]
        }
    }

    // `np.random.seed(3); np.random.randn(12)` with NumPy 2.4.6 (the first seven also appear
    // in data/reference/numpy_random_vectors.json under seed 3, randn7).
    const SEED3_RANDN: [f64; 12] = [
        1.7886284734303186,
        0.43650985051198943,
        0.09649746807200862,
        -1.8634927033644908,
        -0.27738820251439905,
        -0.35475897926898675,
        -0.08274148148245977,
        -0.6270006768238473,
        -0.04381816897592824,
        -0.47721803035950267,
        -1.3138647533626822,
        0.8846223804995846,
    ];

    /// The course's `initialize_parameters_*(layer_dims)` after `np.random.seed(3)`: every
    /// layer's `W`, drawn one layer after the other (biases draw nothing).
    fn seed3_weights(init: Init, layer_dims: &[usize]) -> Vec<Vec<f64>> {
        let mut s = Replay(SEED3_RANDN.to_vec(), 0);
        layer_dims
            .windows(2)
            .map(|d| init.weight::<f64, _>(d[1], d[0], &mut s).to_vec())
            .collect()
    }

    #[test]
    fn he_reproduces_the_assignment_expected_output_bit_for_bit() {
        // data/reference/seed_numbers.json, init.expected_init.he_2_4_1: the course's
        // initialize_parameters_he([2, 4, 1]) after np.random.seed(3).
        let w = seed3_weights(Init::HeNormal, &[2, 4, 1]);
        // With n_in = 2 the scale sqrt(2 / 2) is exactly 1: the Expected Output's W1 is the
        // first eight draws unchanged.
        let expected_w1 = &SEED3_RANDN[..8];
        let expected_w2 = [
            -0.030984124422056857,
            -0.33744410537169206,
            -0.9290426766647434,
            0.6255224840406426,
        ];
        assert_eq!(w, [expected_w1.to_vec(), expected_w2.to_vec()]);
    }

    #[test]
    fn random_times_ten_reproduces_the_assignment_expected_output() {
        // init.expected_init.random_3_2_1: randn * 10 for [3, 2, 1], seed 3.
        let w = seed3_weights(Init::ScaledNormal(10.0), &[3, 2, 1]);
        let expected_w1 = [
            17.886284734303185,
            4.365098505119894,
            0.9649746807200863,
            -18.634927033644907,
            -2.7738820251439904,
            -3.5475897926898674,
        ];
        let expected_w2 = [-0.8274148148245977, -6.270006768238473];
        assert_eq!(w, [expected_w1.to_vec(), expected_w2.to_vec()]);
    }

    #[test]
    fn divided_variants_match_numpy_divisions() {
        // NumPy 2.4.6: np.random.seed(3); r = np.random.randn(5, 3)
        //   (r / np.sqrt(0.5 * 3)).ravel()[:3] and (r / np.sqrt(3)).ravel()[:3]
        let book = [1.4604090331058333, 0.3564088004843122, 0.07878985274897746];
        let course = [1.032665130615224, 0.2520190796970204, 0.0557128391674915];
        assert_eq!(seed3_weights(Init::NormalDivided(0.5), &[3, 1]), [book]);
        assert_eq!(seed3_weights(Init::NormalDivided(1.0), &[3, 1]), [course]);
    }

    #[test]
    fn constants_draw_nothing() {
        let mut s = Replay(vec![], 0);
        assert_eq!(
            Init::Zeros.weight::<f64, _>(2, 3, &mut s).to_vec(),
            [0.0; 6]
        );
        assert_eq!(
            Init::Constant(0.5).weight::<f32, _>(1, 2, &mut s).to_vec(),
            [0.5; 2]
        );
        assert_eq!(s.1, 0);
    }

    /// Sample mean and variance of a large layer against the table's values. With N draws the
    /// sample variance has relative standard error sqrt(2/N) (normal) or smaller (uniform), so
    /// a 5% band is more than 10 standard errors wide for N = 250 000: it cannot fail by
    /// chance, but a wrong scale (even sqrt 2 off) fails.
    #[test]
    fn variances_on_large_layers_match_the_table() {
        let (n_out, n_in) = (500, 500);
        let n = (n_in * n_out) as f64;
        let cases = [
            Init::ScaledNormal(10.0),
            Init::HeNormal,
            Init::NormalFanInScaled(1.0),
            Init::NormalDivided(0.5),
            Init::NormalDivided(1.0),
            Init::XAVIER_NORMAL_TANH,
            Init::XAVIER_NORMAL_SIGMOID,
            Init::XAVIER_UNIFORM_TANH,
            Init::XAVIER_UNIFORM_SIGMOID,
            Init::HeUniform,
            Init::Uniform {
                low: -1.0,
                high: 3.0,
            },
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        for init in cases {
            let w = init.weight::<f64, _>(n_out, n_in, &mut rng).to_vec();
            let mean = w.iter().sum::<f64>() / n;
            let var = w.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
            let expected = init.variance(n_in, n_out);
            assert!(
                (var / expected - 1.0).abs() < 0.05,
                "{init:?}: variance {var} vs {expected}"
            );
            // Standard error of the mean is sqrt(var / N); allow 6 of them.
            assert!(
                (mean - init.mean()).abs() < 6.0 * (expected / n).sqrt(),
                "{init:?}: mean {mean}"
            );
        }
    }

    #[test]
    fn uniform_bounds_hold() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let w = Init::XAVIER_UNIFORM_SIGMOID
            .weight::<f64, _>(30, 20, &mut rng)
            .to_vec();
        let a = 4.0 * (6.0f64 / 50.0).sqrt();
        assert!(w.iter().all(|x| (-a..a).contains(x)));
        assert!(w.iter().any(|&x| x > 0.8 * a) && w.iter().any(|&x| x < -0.8 * a));
    }
}
