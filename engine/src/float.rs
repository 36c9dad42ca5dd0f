//! The element types a tensor can hold (f32 and f64) and the per-type operations the engine
//! needs: scalar maths from `num_traits` and the matching `matrixmultiply` kernel.

use std::fmt::{Debug, Display, LowerExp};
use std::iter::Sum;

/// A floating-point element type: `f32` or `f64`.
///
/// Everything in the engine is generic over this trait so that one implementation serves both
/// precisions; `gemm` dispatches to `matrixmultiply::sgemm` or `dgemm`.
pub trait Float:
    num_traits::Float
    + num_traits::FloatConst
    + num_traits::NumAssign
    + Default
    + Debug
    + Display
    + LowerExp
    + Sum
    + Send
    + Sync
    + 'static
{
    /// Short name used in messages and reports ("f32" or "f64").
    const NAME: &'static str;

    /// Converts from f64, rounding to nearest for f32.
    fn from_f64(x: f64) -> Self;

    /// Widens to f64.
    fn as_f64(self) -> f64;

    /// `C = alpha·A·B + beta·C` on strided row/column layouts, as `matrixmultiply` defines it.
    ///
    /// # Safety
    /// The pointers and strides must describe valid `m×k`, `k×n` and `m×n` matrices; `c` must
    /// not alias `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

impl Float for f32 {
    const NAME: &'static str = "f32";
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
    }
}

impl Float for f64 {
    const NAME: &'static str = "f64";
    fn from_f64(x: f64) -> Self {
        x
    }
    fn as_f64(self) -> f64 {
        self
    }
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
    }
}
