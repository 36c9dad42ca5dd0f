//! Elementwise operations: binary arithmetic with NumPy broadcasting in every direction, unary
//! maths and activations, comparisons giving constant 0/1 masks, and `where`.
//! Operators (`+ - * /` and unary `-`) work on tensors, references and scalars.

// The inherent `add`, `sub`, ... back the operator traits implemented below.
#![allow(clippy::should_implement_trait)]

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::autograd::{record, Op};
use crate::kernels::{self, broadcast_or_panic};
use crate::{Float, Tensor};

impl<T: Float> Tensor<T> {
    #[track_caller]
    fn binary(
        &self,
        other: &Tensor<T>,
        op: Op<T>,
        f: impl Fn(T, T) -> T + Sync + Send,
    ) -> Tensor<T> {
        let shape = broadcast_or_panic(op.name(), self.shape(), other.shape());
        let data = kernels::zip_map(self, other, &shape, f);
        record(op, &[self, other], data, &shape)
    }

    #[track_caller]
    fn unary(&self, op: Op<T>, f: impl Fn(T) -> T + Sync + Send) -> Tensor<T> {
        let data = kernels::map(self, f);
        record(op, &[self], data, self.shape())
    }

    /// `self + other`, broadcasting.
    #[track_caller]
    pub fn add(&self, other: &Tensor<T>) -> Tensor<T> {
        self.binary(other, Op::Add, |a, b| a + b)
    }

    /// `self - other`, broadcasting.
    #[track_caller]
    pub fn sub(&self, other: &Tensor<T>) -> Tensor<T> {
        self.binary(other, Op::Sub, |a, b| a - b)
    }

    /// `self * other` elementwise, broadcasting.
    #[track_caller]
    pub fn mul(&self, other: &Tensor<T>) -> Tensor<T> {
        self.binary(other, Op::Mul, |a, b| a * b)
    }

    /// `self / other` elementwise, broadcasting.
    #[track_caller]
    pub fn div(&self, other: &Tensor<T>) -> Tensor<T> {
        self.binary(other, Op::Div, |a, b| a / b)
    }

    /// `self ^ exponent` elementwise, broadcasting.
    #[track_caller]
    pub fn pow(&self, exponent: &Tensor<T>) -> Tensor<T> {
        self.binary(exponent, Op::Pow, |a, b| a.powf(b))
    }

    /// Elementwise maximum, broadcasting.
    ///
    /// NaN: propagates, as NumPy's `np.maximum`: where either operand is NaN the result is
    /// that NaN (use a comparison and [`Tensor::where_mask`] to ignore NaNs instead). Its
    /// gradient there goes, whole, to both operands, as PyTorch's does.
    #[track_caller]
    pub fn maximum(&self, other: &Tensor<T>) -> Tensor<T> {
        self.binary(
            other,
            Op::Maximum,
            |a, b| {
                if b > a || b.is_nan() {
                    b
                } else {
                    a
                }
            },
        )
    }

    /// Elementwise minimum, broadcasting.
    ///
    /// NaN: propagates, as NumPy's `np.minimum` (see [`Tensor::maximum`]).
    #[track_caller]
    pub fn minimum(&self, other: &Tensor<T>) -> Tensor<T> {
        self.binary(
            other,
            Op::Minimum,
            |a, b| {
                if b < a || b.is_nan() {
                    b
                } else {
                    a
                }
            },
        )
    }

    /// `-self`.
    #[track_caller]
    pub fn neg(&self) -> Tensor<T> {
        self.unary(Op::Neg, |x| -x)
    }

    /// `e^self`.
    #[track_caller]
    pub fn exp(&self) -> Tensor<T> {
        self.unary(Op::Exp, T::exp)
    }

    /// Natural logarithm.
    #[track_caller]
    pub fn log(&self) -> Tensor<T> {
        self.unary(Op::Log, T::ln)
    }

    /// Square root.
    #[track_caller]
    pub fn sqrt(&self) -> Tensor<T> {
        self.unary(Op::Sqrt, T::sqrt)
    }

    /// Absolute value.
    ///
    /// NaN: `|NaN|` is NaN. The gradient is `sign(x)·dy` with `sign(NaN) = 0`, as PyTorch's
    /// (the value is NaN, so whatever follows is NaN anyway).
    #[track_caller]
    pub fn abs(&self) -> Tensor<T> {
        self.unary(Op::Abs, T::abs)
    }

    /// `self²`.
    #[track_caller]
    pub fn square(&self) -> Tensor<T> {
        self.unary(Op::Square, |x| x * x)
    }

    /// `self^p` for a constant exponent.
    #[track_caller]
    pub fn powf(&self, p: T) -> Tensor<T> {
        self.unary(Op::PowScalar(p), |x| x.powf(p))
    }

    /// Sine.
    #[track_caller]
    pub fn sin(&self) -> Tensor<T> {
        self.unary(Op::Sin, T::sin)
    }

    /// Cosine.
    #[track_caller]
    pub fn cos(&self) -> Tensor<T> {
        self.unary(Op::Cos, T::cos)
    }

    /// `max(self, 0)`.
    ///
    /// NaN: `relu(NaN)` is NaN, as NumPy's `np.maximum(Z, 0)` and PyTorch give. The gradient
    /// mask is `[not x <= 0]`, the course's `dZ[Z <= 0] = 0`: it is `[x > 0]` for every number
    /// (0 at `x = 0`) and passes the gradient on at NaN, as PyTorch does.
    #[track_caller]
    pub fn relu(&self) -> Tensor<T> {
        // `x <= 0`, not `!(x > 0)`: NaN is neither, and falls through to itself.
        self.unary(Op::Relu, |x| if x <= T::zero() { T::zero() } else { x })
    }

    /// `x` where positive, `slope·x` elsewhere.
    ///
    /// NaN: `slope·NaN` is NaN, so NaN propagates; the gradient at NaN is `slope·dy`, as
    /// PyTorch's.
    #[track_caller]
    pub fn leaky_relu(&self, slope: T) -> Tensor<T> {
        self.unary(Op::LeakyRelu(slope), move |x| {
            if x > T::zero() {
                x
            } else {
                slope * x
            }
        })
    }

    /// The logistic function `1 / (1 + e^-x)`. Written exactly as the course's NumPy code so the
    /// values agree to the last bit; it saturates to 0 or 1 without overflow warnings mattering
    /// (`1 / inf = 0`).
    #[track_caller]
    pub fn sigmoid(&self) -> Tensor<T> {
        self.unary(Op::Sigmoid, sigmoid)
    }

    /// Hyperbolic tangent.
    #[track_caller]
    pub fn tanh(&self) -> Tensor<T> {
        self.unary(Op::Tanh, T::tanh)
    }

    /// Limits every element to `[lo, hi]`.
    ///
    /// NaN: a NaN element stays NaN, as NumPy's `np.clip`; its gradient is 0, as PyTorch's
    /// (`[lo <= x <= hi]` is false). NaN bounds are refused.
    #[track_caller]
    pub fn clamp(&self, lo: T, hi: T) -> Tensor<T> {
        assert!(
            lo <= hi,
            "clamp: bounds must be ordered numbers, got lower {lo} and upper {hi}"
        );
        self.unary(Op::Clamp(lo, hi), move |x| {
            if x < lo {
                lo
            } else if x > hi {
                hi
            } else {
                x
            }
        })
    }

    // ----- comparisons: constant masks, never recorded ----------------------------------------
    // NaN compares false with everything (IEEE 754, as NumPy): `gt`, `lt`, `ge`, `le` and
    // `eq_mask` give 0 wherever an operand is NaN.

    #[track_caller]
    fn compare(
        &self,
        other: &Tensor<T>,
        name: &str,
        f: impl Fn(T, T) -> bool + Sync + Send,
    ) -> Tensor<T> {
        let shape = broadcast_or_panic(name, self.shape(), other.shape());
        let data = kernels::zip_map(self, other, &shape, |a, b| {
            if f(a, b) {
                T::one()
            } else {
                T::zero()
            }
        });
        Tensor::dense(data, &shape)
    }

    /// 1 where `self > other`, else 0 (a constant).
    #[track_caller]
    pub fn gt(&self, other: &Tensor<T>) -> Tensor<T> {
        self.compare(other, "gt", |a, b| a > b)
    }

    /// 1 where `self < other`, else 0 (a constant).
    #[track_caller]
    pub fn lt(&self, other: &Tensor<T>) -> Tensor<T> {
        self.compare(other, "lt", |a, b| a < b)
    }

    /// 1 where `self >= other`, else 0 (a constant).
    #[track_caller]
    pub fn ge(&self, other: &Tensor<T>) -> Tensor<T> {
        self.compare(other, "ge", |a, b| a >= b)
    }

    /// 1 where `self <= other`, else 0 (a constant).
    #[track_caller]
    pub fn le(&self, other: &Tensor<T>) -> Tensor<T> {
        self.compare(other, "le", |a, b| a <= b)
    }

    /// 1 where `self == other`, else 0 (a constant).
    #[track_caller]
    pub fn eq_mask(&self, other: &Tensor<T>) -> Tensor<T> {
        self.compare(other, "eq", |a, b| a == b)
    }

    /// 1 where `self > value`, else 0.
    #[track_caller]
    pub fn gt_scalar(&self, value: T) -> Tensor<T> {
        self.gt(&Tensor::scalar(value))
    }

    /// 1 where `self < value`, else 0.
    #[track_caller]
    pub fn lt_scalar(&self, value: T) -> Tensor<T> {
        self.lt(&Tensor::scalar(value))
    }

    /// 1 where `self >= value`, else 0.
    #[track_caller]
    pub fn ge_scalar(&self, value: T) -> Tensor<T> {
        self.ge(&Tensor::scalar(value))
    }

    /// 1 where `self <= value`, else 0.
    #[track_caller]
    pub fn le_scalar(&self, value: T) -> Tensor<T> {
        self.le(&Tensor::scalar(value))
    }

    /// `mask ? a : b` elementwise, with all three broadcast together. `mask` is a constant
    /// (nonzero selects `a`, so a NaN mask selects `a`, as NumPy's truthiness); gradients flow
    /// to `a` and `b` only. NaN in the unselected operand does not reach the result.
    #[track_caller]
    pub fn where_mask(mask: &Tensor<T>, a: &Tensor<T>, b: &Tensor<T>) -> Tensor<T> {
        let ab = broadcast_or_panic("where", a.shape(), b.shape());
        let shape = broadcast_or_panic("where", mask.shape(), &ab);
        let m = mask.detach().broadcast_to(&shape).to_vec();
        let va = a.detach().broadcast_to(&shape).to_vec();
        let vb = b.detach().broadcast_to(&shape).to_vec();
        let data = m
            .iter()
            .zip(va.iter().zip(&vb))
            .map(|(&s, (&x, &y))| if s != T::zero() { x } else { y })
            .collect();
        record(
            Op::Where {
                mask: mask.detach(),
            },
            &[a, b],
            data,
            &shape,
        )
    }
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident) => {
        impl<T: Float> $trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                Tensor::$method(self, rhs)
            }
        }
        impl<T: Float> $trait<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                Tensor::$method(&self, &rhs)
            }
        }
        impl<T: Float> $trait<&Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                Tensor::$method(&self, rhs)
            }
        }
        impl<T: Float> $trait<Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                Tensor::$method(self, &rhs)
            }
        }
        impl<T: Float> $trait<T> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: T) -> Tensor<T> {
                Tensor::$method(self, &Tensor::scalar(rhs))
            }
        }
        impl<T: Float> $trait<T> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: T) -> Tensor<T> {
                Tensor::$method(&self, &Tensor::scalar(rhs))
            }
        }
        binary_operator!(@scalar_lhs $trait, $method, f32);
        binary_operator!(@scalar_lhs $trait, $method, f64);
    };
    (@scalar_lhs $trait:ident, $method:ident, $t:ty) => {
        impl $trait<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                Tensor::$method(&Tensor::scalar(self), rhs)
            }
        }
        impl $trait<Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            #[track_caller]
            fn $method(self, rhs: Tensor<$t>) -> Tensor<$t> {
                Tensor::$method(&Tensor::scalar(self), &rhs)
            }
        }
    };
}

binary_operator!(Add, add);
binary_operator!(Sub, sub);
binary_operator!(Mul, mul);
binary_operator!(Div, div);

impl<T: Float> Neg for &Tensor<T> {
    type Output = Tensor<T>;
    #[track_caller]
    fn neg(self) -> Tensor<T> {
        Tensor::neg(self)
    }
}

impl<T: Float> Neg for Tensor<T> {
    type Output = Tensor<T>;
    #[track_caller]
    fn neg(self) -> Tensor<T> {
        Tensor::neg(&self)
    }
}

/// `σ(x) = 1/(1 + e^-x)` of one element: the sigmoid kernel, shared with the fused gradient of
/// the losses from logits so that both round alike.
pub(crate) fn sigmoid<T: Float>(x: T) -> T {
    T::one() / (T::one() + (-x).exp())
}
