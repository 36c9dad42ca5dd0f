//! Smooth elementwise functions for modern architectures: `erf`, `erfc`, `gelu` (exact and the
//! tanh approximation), `silu`, `softplus`, `log1p`, `expm1` and `rsqrt`.
//!
//! Each is one graph node whose kernel is written for accuracy at large `|x|`:
//! - `erf`/`erfc` come from `libm` (FreeBSD/musl's rational approximations, below 1 ulp in
//!   f64); f32 tensors evaluate them in f64 and round once.
//! - `gelu(x) = x·Φ(x)` uses `Φ(x) = erfc(-x/√2)/2`, not `(1 + erf(x/√2))/2`, so the tiny
//!   values at very negative `x` keep their relative accuracy instead of cancelling to 0.
//! - `gelu_tanh(x) = x/2·(1 + tanh u)` is evaluated as `x·σ(2u)` (the same number, since
//!   `1 + tanh u = 2σ(2u)`) for the same reason; `σ` saturates without overflow.
//! - `softplus(x) = max(x, 0) + log1p(e^-|x|)`: exactly `x` for large `x`, `e^x` for very
//!   negative `x`, never an overflowing `e^x`.
//!
//! The derivative of every one of them is written once, in `derivative`, with engine
//! operations: the backward rule (`g·f'(x)`) and the forward-mode rule (`f'(x)·dx`) both call
//! it, and because it is recorded when backward runs with `create_graph`, these functions are
//! differentiable to any order.

use crate::autograd::Op;
use crate::{Float, Tensor};

const FRAC_2_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;
const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// `1/√(2π)`, the standard normal density at 0.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
/// `√(2/π)`, the scale inside the tanh approximation of GELU.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of the tanh approximation of GELU (Hendrycks and Gimpel).
const GELU_TANH_CUBIC: f64 = 0.044_715;

/// The error function of one value, to f64 precision (f32 rounds the f64 result once).
pub fn erf_scalar<T: Float>(x: T) -> T {
    T::from_f64(libm::erf(x.as_f64()))
}

/// The complementary error function `1 - erf(x)` of one value, accurate where it is tiny.
pub fn erfc_scalar<T: Float>(x: T) -> T {
    T::from_f64(libm::erfc(x.as_f64()))
}

/// `x·Φ(x)` with `Φ(x) = erfc(-x/√2)/2`, accurate for very negative `x`.
pub fn gelu_scalar<T: Float>(x: T) -> T {
    let v = x.as_f64();
    T::from_f64(0.5 * v * libm::erfc(-v * FRAC_1_SQRT_2))
}

/// Logistic function without overflow: `1/(1 + e^-z)` for `z ≥ 0`, `e^z/(1 + e^z)` otherwise.
fn stable_sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// The tanh approximation of GELU, `x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))`, as `x·σ(2u)`.
pub fn gelu_tanh_scalar<T: Float>(x: T) -> T {
    let v = x.as_f64();
    let u = SQRT_2_OVER_PI * (v + GELU_TANH_CUBIC * v * v * v);
    T::from_f64(v * stable_sigmoid(2.0 * u))
}

/// `x·σ(x)` (SiLU, also called swish).
pub fn silu_scalar<T: Float>(x: T) -> T {
    let v = x.as_f64();
    T::from_f64(v * stable_sigmoid(v))
}

/// `log(1 + e^x)` as `max(x, 0) + log1p(e^-|x|)`: no overflow, exact limits at both ends.
pub fn softplus_scalar<T: Float>(x: T) -> T {
    if x.is_nan() {
        return x;
    }
    x.max(T::zero()) + (-x.abs()).exp().ln_1p()
}

impl<T: Float> Tensor<T> {
    /// The error function `erf(x) = 2/√π ∫₀ˣ e^(-t²) dt`, to f64 precision.
    #[track_caller]
    pub fn erf(&self) -> Tensor<T> {
        self.unary_ext(Op::Erf, erf_scalar)
    }

    /// The complementary error function `erfc(x) = 1 - erf(x)`, accurate where it is tiny
    /// (large positive `x`) instead of cancelling to 0.
    #[track_caller]
    pub fn erfc(&self) -> Tensor<T> {
        self.unary_ext(Op::Erfc, erfc_scalar)
    }

    /// `log(1 + x)`, accurate for `|x|` far below 1.
    #[track_caller]
    pub fn log1p(&self) -> Tensor<T> {
        self.unary_ext(Op::Log1p, T::ln_1p)
    }

    /// `e^x - 1`, accurate for `|x|` far below 1.
    #[track_caller]
    pub fn expm1(&self) -> Tensor<T> {
        self.unary_ext(Op::Expm1, T::exp_m1)
    }

    /// `1/√x`.
    #[track_caller]
    pub fn rsqrt(&self) -> Tensor<T> {
        self.unary_ext(Op::Rsqrt, |x| x.sqrt().recip())
    }

    /// `log(1 + e^x)`, computed as `max(x, 0) + log1p(e^-|x|)` so it never overflows and is
    /// exactly `x` for large `x`.
    #[track_caller]
    pub fn softplus(&self) -> Tensor<T> {
        self.unary_ext(Op::Softplus, softplus_scalar)
    }

    /// `x·σ(x)` (SiLU / swish).
    #[track_caller]
    pub fn silu(&self) -> Tensor<T> {
        self.unary_ext(Op::Silu, silu_scalar)
    }

    /// GELU, exact form: `x·Φ(x)` with `Φ` the standard normal distribution function.
    #[track_caller]
    pub fn gelu(&self) -> Tensor<T> {
        self.unary_ext(Op::Gelu, gelu_scalar)
    }

    /// GELU, tanh approximation: `x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))` (PyTorch's
    /// `approximate="tanh"`).
    #[track_caller]
    pub fn gelu_tanh(&self) -> Tensor<T> {
        self.unary_ext(Op::GeluTanh, gelu_tanh_scalar)
    }

    #[track_caller]
    fn unary_ext(&self, op: Op<T>, f: impl Fn(T) -> T) -> Tensor<T> {
        let data = self.with_data(|d| d.iter().map(|&v| f(v)).collect());
        crate::autograd::record(op, &[self], data, self.shape())
    }
}

/// `f'(x)` of the elementwise ops of this module, written with engine operations (so it is
/// itself differentiable); `y = f(x)` is the recorded output. The backward rule multiplies it by
/// the incoming gradient, the forward-mode rule by the tangent.
///
/// - `erf'(x) = 2/√π·e^(-x²)`, `erfc'(x) = -erf'(x)`
/// - `log1p'(x) = 1/(1 + x)`, `expm1'(x) = e^x`, `rsqrt'(x) = -y³/2`
/// - `softplus'(x) = σ(x)`, `silu'(x) = σ(x)·(1 + x·(1 - σ(x)))`
/// - `gelu'(x) = Φ(x) + x·φ(x)` with `φ(x) = e^(-x²/2)/√(2π)` and `Φ(x) = erfc(-x/√2)/2`
/// - `gelu_tanh'(x) = s + 2x·s·(1 - s)·u'(x)`, `s = σ(2u)`, `u' = √(2/π)(1 + 3·0.044715x²)`
///
/// Panics for any other op (a programming error in the caller).
pub(crate) fn derivative<T: Float>(op: &Op<T>, x: &Tensor<T>, y: &Tensor<T>) -> Tensor<T> {
    let c = |v: f64| T::from_f64(v);
    match op {
        Op::Erf => (-x.square()).exp() * c(FRAC_2_SQRT_PI),
        Op::Erfc => (-x.square()).exp() * c(-FRAC_2_SQRT_PI),
        Op::Log1p => (x + c(1.0)).powf(c(-1.0)),
        Op::Expm1 => x.exp(),
        Op::Rsqrt => y.powf(c(3.0)) * c(-0.5),
        Op::Softplus => x.sigmoid(),
        Op::Silu => {
            let s = x.sigmoid();
            &s * ((-&s + c(1.0)) * x + c(1.0))
        }
        Op::Gelu => {
            let cdf = (x * c(-FRAC_1_SQRT_2)).erfc() * c(0.5);
            let pdf = (x.square() * c(-0.5)).exp() * c(FRAC_1_SQRT_2PI);
            cdf + x * pdf
        }
        Op::GeluTanh => {
            let u = (x + x.powf(c(3.0)) * c(GELU_TANH_CUBIC)) * c(SQRT_2_OVER_PI);
            let du = (x.square() * c(3.0 * GELU_TANH_CUBIC) + c(1.0)) * c(SQRT_2_OVER_PI);
            let s = (u * c(2.0)).sigmoid();
            &s + x * &s * (-&s + c(1.0)) * du * c(2.0)
        }
        other => panic!(
            "activation_ext::derivative: {} is not one of this module's ops",
            other.name()
        ),
    }
}
