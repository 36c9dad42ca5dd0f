//! The one way two gradients are compared: an [`Agreement`] (the relative difference
//! `‖a − b‖₂ / (‖a‖₂ + ‖b‖₂)` and the largest absolute error) judged against a [`Tolerance`].
//!
//! One rule everywhere: a comparison passes when its relative difference is below the relative
//! tolerance, or its largest absolute error is within the absolute one, and a NaN anywhere
//! (in either gradient) fails it.

use crate::Float;

/// How close two gradients must be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// A comparison passes when its relative difference is below this ...
    pub relative: f64,
    /// ... or when its largest absolute error is at most this: a gradient whose true value is
    /// zero gets numerical values that are pure rounding noise (about `1e-16·|f|/ε`), and noise
    /// against zero has a relative difference of 1.
    pub absolute: f64,
}

impl Default for Tolerance {
    /// For f64 with central differences: relative 1e-7 (the usual gradient-check criterion),
    /// absolute 1e-8.
    fn default() -> Self {
        Tolerance {
            relative: 1e-7,
            absolute: 1e-8,
        }
    }
}

impl Tolerance {
    /// Relative tolerance only (the absolute one is 0, so only exact zeros pass by it).
    pub fn relative(relative: f64) -> Self {
        Tolerance {
            relative,
            absolute: 0.0,
        }
    }

    /// Whether the element type has single precision (a 24-bit mantissa), judged by its
    /// machine epsilon.
    pub(crate) fn single_precision<T: Float>() -> bool {
        T::epsilon().as_f64() > 1e-10
    }

    /// [`Tolerance::default`] for f64; for f32, whose central differences agree to about 1e-3
    /// at best, relative 1e-2 and absolute 1e-3.
    pub fn for_type<T: Float>() -> Self {
        if Self::single_precision::<T>() {
            Tolerance {
                relative: 1e-2,
                absolute: 1e-3,
            }
        } else {
            Tolerance::default()
        }
    }

    /// Whether `agreement` passes (see the [module docs](self)); NaN never passes.
    pub fn passes(&self, agreement: &Agreement) -> bool {
        let Agreement {
            relative_difference: r,
            max_abs_error: e,
        } = *agreement;
        !r.is_nan() && !e.is_nan() && (r < self.relative || e <= self.absolute)
    }
}

/// How well two gradients agree.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Agreement {
    /// `‖a − b‖ / (‖a‖ + ‖b‖)`; 0 when both are zero; NaN when either holds a NaN.
    pub relative_difference: f64,
    /// `max |aᵢ − bᵢ|`; NaN when any difference is NaN.
    pub max_abs_error: f64,
}

impl Agreement {
    /// Compares two gradients given as flat vectors of the same length.
    #[track_caller]
    pub fn between(a: &[f64], b: &[f64]) -> Self {
        let max_abs_error = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, |m: f64, e| {
                if m.is_nan() || e.is_nan() {
                    f64::NAN
                } else {
                    m.max(e)
                }
            });
        Agreement {
            relative_difference: relative_difference(a, b),
            max_abs_error,
        }
    }

    /// Whether it passes `tolerance` (see [`Tolerance::passes`]).
    pub fn passes(&self, tolerance: &Tolerance) -> bool {
        tolerance.passes(self)
    }
}

/// `‖a − b‖₂ / (‖a‖₂ + ‖b‖₂)`, the relative difference of two vectors; 0 when both are zero.
#[track_caller]
pub fn relative_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(
        a.len(),
        b.len(),
        "relative_difference: lengths {} and {} differ",
        a.len(),
        b.len()
    );
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let num = norm(&mut a.iter().zip(b).map(|(x, y)| x - y));
    let den = norm(&mut a.iter().copied()) + norm(&mut b.iter().copied());
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// The multi-index of row-major position `flat` in `shape` (reports name components by it).
pub(crate) fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            index[i] = flat % d;
            flat /= d;
        }
    }
    index
}
