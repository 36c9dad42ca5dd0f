//! Printing tensors the way NumPy prints arrays, so the course's outputs can be compared line by
//! line.
//!
//! - `{}` ([`fmt::Display`]) is NumPy's `str(array)` with default print options: up to 8
//!   fractional digits but no more than needed to tell the value apart (`floatmode='maxprec'`),
//!   columns aligned on the decimal point, scientific notation when the magnitudes call for it
//!   (largest ≥ 1e8, or 1e6 for f32; smallest nonzero < 1e-4; or a ratio above 1000), lines
//!   wrapped at 75
//!   characters, and arrays over 1000 elements summarized with `...` (3 items at each edge).
//!   A 0-dimensional tensor prints as Python prints a float (`3.0`, `1e-05`).
//! - `{:.4}` sets the precision, as `np.set_printoptions(precision=4)` would.
//! - `{:?}` ([`fmt::Debug`]) is the `repr` form with commas, wrapped in
//!   `tensor(..., shape=[..], f64)` and marked `requires_grad` for tensors that take part in
//!   autodiff.

use std::fmt;

use crate::{Float, Tensor};

const LINE_WIDTH: usize = 75;
const THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;
const DEFAULT_PRECISION: usize = 8;

impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let precision = f.precision().unwrap_or(DEFAULT_PRECISION);
        if self.ndim() == 0 {
            return f.write_str(&python_float(self.item()));
        }
        f.write_str(&array_to_string(self, precision, " ", 0))
    }
}

impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let precision = f.precision().unwrap_or(DEFAULT_PRECISION);
        const PREFIX: &str = "tensor(";
        let body = if self.ndim() == 0 {
            python_float(self.item())
        } else {
            array_to_string(self, precision, ", ", PREFIX.len())
        };
        write!(f, "{PREFIX}{body}, shape={:?}, {}", self.shape(), T::NAME)?;
        if self.requires_grad() {
            f.write_str(", requires_grad")?;
        }
        f.write_str(")")
    }
}

/// NumPy's `array2string` for a tensor of at least one dimension.
fn array_to_string<T: Float>(
    t: &Tensor<T>,
    precision: usize,
    separator: &str,
    prefix_len: usize,
) -> String {
    if t.numel() == 0 {
        return "[]".into();
    }
    let data = t.to_vec();
    let shape = t.shape();
    let summarize = data.len() > THRESHOLD;
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    // Column widths come from the elements actually printed, as in NumPy.
    let mut shown = Vec::new();
    collect_shown(&data, shape, &strides, 0, 0, summarize, &mut shown);
    let printer = Printer {
        data: &data,
        shape,
        strides: &strides,
        format: FloatFormat::new(&shown, precision),
        separator,
        summarize,
    };
    let hanging = " ".repeat(1 + prefix_len);
    printer.recurse(0, 0, &hanging, LINE_WIDTH)
}

/// Indices printed along an axis of length `len`: all, or the edges when summarizing.
fn shown_indices(len: usize, summarize: bool) -> Vec<usize> {
    if summarize && len > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS).chain(len - EDGE_ITEMS..len).collect()
    } else {
        (0..len).collect()
    }
}

fn collect_shown<T: Float>(
    data: &[T],
    shape: &[usize],
    strides: &[usize],
    axis: usize,
    base: usize,
    summarize: bool,
    out: &mut Vec<T>,
) {
    if axis == shape.len() {
        out.push(data[base]);
        return;
    }
    for i in shown_indices(shape[axis], summarize) {
        collect_shown(
            data,
            shape,
            strides,
            axis + 1,
            base + i * strides[axis],
            summarize,
            out,
        );
    }
}

struct Printer<'a, T: Float> {
    data: &'a [T],
    shape: &'a [usize],
    strides: &'a [usize],
    format: FloatFormat,
    separator: &'a str,
    summarize: bool,
}

impl<T: Float> Printer<'_, T> {
    /// NumPy's `_formatArray` recursion: `hanging` is the indentation of continuation lines,
    /// `width` the room left before the closing brackets.
    fn recurse(&self, axis: usize, base: usize, hanging: &str, width: usize) -> String {
        if axis == self.shape.len() {
            return self.format.format(self.data[base]);
        }
        let next_hanging = format!("{hanging} ");
        let next_width = width.saturating_sub(1);
        let len = self.shape[axis];
        let show_summary = self.summarize && 2 * EDGE_ITEMS < len;
        let (leading, trailing) = if show_summary {
            (EDGE_ITEMS, EDGE_ITEMS)
        } else {
            (0, len)
        };
        let at = |i: usize| base + i * self.strides[axis];
        let axes_left = self.shape.len() - axis;
        let mut s = String::new();
        if axes_left == 1 {
            let elem_width = width.saturating_sub(self.separator.trim_end().len().max(1));
            let mut line = hanging.to_string();
            let push = |s: &mut String, line: &mut String, word: &str, sep: bool| {
                extend_line(s, line, word, elem_width, hanging);
                if sep {
                    line.push_str(self.separator);
                }
            };
            for i in 0..leading {
                let word = self.recurse(axis + 1, at(i), &next_hanging, next_width);
                push(&mut s, &mut line, &word, true);
            }
            if show_summary {
                push(&mut s, &mut line, "...", true);
            }
            for i in (2..=trailing).rev() {
                let word = self.recurse(axis + 1, at(len - i), &next_hanging, next_width);
                push(&mut s, &mut line, &word, true);
            }
            let word = self.recurse(axis + 1, at(len - 1), &next_hanging, next_width);
            push(&mut s, &mut line, &word, false);
            s.push_str(&line);
        } else {
            let line_sep = format!(
                "{}{}",
                self.separator.trim_end(),
                "\n".repeat(axes_left - 1)
            );
            let nested = |i: usize, s: &mut String, last: bool| {
                s.push_str(hanging);
                s.push_str(&self.recurse(axis + 1, at(i), &next_hanging, next_width));
                if !last {
                    s.push_str(&line_sep);
                }
            };
            for i in 0..leading {
                nested(i, &mut s, false);
            }
            if show_summary {
                s.push_str(hanging);
                s.push_str("...");
                s.push_str(&line_sep);
            }
            for i in (2..=trailing).rev() {
                nested(len - i, &mut s, false);
            }
            nested(len - 1, &mut s, true);
        }
        format!("[{}]", &s[hanging.len()..])
    }
}

/// Appends `word` to `line`, first moving to a new line when it would pass `width` (unless the
/// line holds nothing but indentation, where wrapping would not help).
fn extend_line(s: &mut String, line: &mut String, word: &str, width: usize, next_prefix: &str) {
    let needs_wrap = line.len() + word.len() > width && line.len() > next_prefix.len();
    if needs_wrap {
        s.push_str(line.trim_end());
        s.push('\n');
        line.clear();
        line.push_str(next_prefix);
    }
    line.push_str(word);
}

/// NumPy's `FloatingFormat` (default options): one layout shared by every printed element.
struct FloatFormat {
    scientific: bool,
    /// Fractional digits: a cap in positional mode, the exact count in scientific mode.
    precision: usize,
    pad_left: usize,
    pad_right: usize,
    exp_digits: usize,
}

impl FloatFormat {
    fn new<T: Float>(values: &[T], precision: usize) -> Self {
        let finite: Vec<T> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let nonzero: Vec<T> = finite
            .iter()
            .map(|x| x.abs())
            .filter(|&x| x != T::zero())
            .collect();
        let mut scientific = false;
        if let (Some(&max), Some(&min)) = (
            nonzero.iter().max_by(|a, b| a.partial_cmp(b).unwrap()),
            nonzero.iter().min_by(|a, b| a.partial_cmp(b).unwrap()),
        ) {
            // NumPy 2's cutoff depends on the type's decimal precision (`finfo.precision`: 6
            // for f32, 15 for f64), capped at 1e8. The ratio is taken in the element type.
            let decimal_digits = (-T::epsilon().as_f64().log10()).floor().min(8.0);
            scientific = max.as_f64() >= 10f64.powf(decimal_digits)
                || min.as_f64() < 1e-4
                || (max / min).as_f64() > 1000.0;
        }
        let mut format = FloatFormat {
            scientific,
            precision,
            pad_left: 0,
            pad_right: 0,
            exp_digits: 0,
        };
        if !finite.is_empty() {
            if scientific {
                let parts: Vec<(String, String, i32)> = finite
                    .iter()
                    .map(|&x| scientific_digits(x, precision))
                    .collect();
                format.precision = parts.iter().map(|p| p.1.len()).max().unwrap_or(0);
                format.pad_left = parts.iter().map(|p| p.0.len()).max().unwrap_or(0);
                format.exp_digits = parts
                    .iter()
                    .map(|p| exponent_digits(p.2).len())
                    .max()
                    .unwrap_or(2);
                format.pad_right = format.exp_digits + 2 + format.precision;
            } else {
                for &x in &finite {
                    let (int, frac) = positional_digits(x, precision);
                    format.pad_left = format.pad_left.max(int.len());
                    format.pad_right = format.pad_right.max(frac.len());
                }
            }
        }
        if finite.len() != values.len() {
            let neg_inf = values.iter().any(|x| x.is_infinite() && *x < T::zero());
            let offset = format.pad_right + 1;
            let inf_len = 3 + usize::from(neg_inf);
            format.pad_left = format
                .pad_left
                .max(3usize.saturating_sub(offset))
                .max(inf_len.saturating_sub(offset));
        }
        format
    }

    fn format<T: Float>(&self, x: T) -> String {
        if !x.is_finite() {
            let text = if x.is_nan() {
                "nan"
            } else if x < T::zero() {
                "-inf"
            } else {
                "inf"
            };
            let width = self.pad_left + self.pad_right + 1;
            return format!("{text:>width$}");
        }
        if self.scientific {
            // Every element shows exactly `precision` digits; digits past the shortest unique
            // ones are the exact value's (Dragon4's `min_digits`), not padding zeros, which
            // matters for f32.
            let text = format!("{x:.p$e}", p = self.precision);
            let (mantissa, exp) = text
                .split_once('e')
                .expect("scientific format has an exponent");
            let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
            let exp: i32 = exp.parse().expect("exponent is an integer");
            let digits = format!("{:0>w$}", exponent_digits(exp), w = self.exp_digits);
            let sign = if exp < 0 { '-' } else { '+' };
            format!("{int:>pl$}.{frac}e{sign}{digits}", pl = self.pad_left)
        } else {
            let (int, frac) = positional_digits(x, self.precision);
            format!(
                "{int:>pl$}.{frac:<pr$}",
                pl = self.pad_left,
                pr = self.pad_right
            )
        }
    }
}

fn exponent_digits(exp: i32) -> String {
    format!("{:02}", exp.unsigned_abs())
}

/// The shortest digits that identify `x` among values of its type, or `x` rounded to
/// `precision` fractional digits when that is shorter (Dragon4's unique mode with a cutoff);
/// trailing zeros trimmed. Returns the integer part (with sign) and the fractional digits.
fn positional_digits<T: Float>(x: T, precision: usize) -> (String, String) {
    let shortest = format!("{x}");
    let frac_len = shortest.split_once('.').map_or(0, |(_, f)| f.len());
    let text = if frac_len > precision {
        format!("{x:.precision$}")
    } else {
        shortest
    };
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    (int.to_string(), frac.trim_end_matches('0').to_string())
}

/// As [`positional_digits`] in scientific notation: integer digit (with sign), fractional
/// digits (trailing zeros trimmed), decimal exponent.
fn scientific_digits<T: Float>(x: T, precision: usize) -> (String, String, i32) {
    let shortest = format!("{x:e}");
    let frac_len = |s: &str| {
        let mantissa = s.split_once('e').map_or(s, |(m, _)| m);
        mantissa.split_once('.').map_or(0, |(_, f)| f.len())
    };
    let text = if frac_len(&shortest) > precision {
        format!("{x:.precision$e}")
    } else {
        shortest
    };
    let (mantissa, exp) = text
        .split_once('e')
        .expect("scientific format has an exponent");
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    (
        int.to_string(),
        frac.trim_end_matches('0').to_string(),
        exp.parse().expect("exponent is an integer"),
    )
}

/// How Python prints a float (`repr`): the shortest round-trip digits, positional for decimal
/// exponents from -4 to 15 (with `.0` on whole numbers), scientific otherwise (`1e-05`).
fn python_float<T: Float>(x: T) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x < T::zero() { "-inf" } else { "inf" }.into();
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("scientific format has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    if x == T::zero() || (-4..16).contains(&exp) {
        let s = format!("{x}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{}", exponent_digits(exp))
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn matrices_print_as_numpy_str_does() {
        // Expected strings typed from NumPy 2.x: print(np.array([[1.0, -2.5], [10.0, 0.25]])).
        let t = Tensor::<f64>::from_vec2(vec![vec![1.0, -2.5], vec![10.0, 0.25]]);
        assert_eq!(format!("{t}"), "[[ 1.   -2.5 ]\n [10.    0.25]]");
        assert_eq!(format!("{}", Tensor::<f32>::scalar(3.0)), "3.0");
        assert_eq!(format!("{}", Tensor::<f64>::scalar(1e-5)), "1e-05");
        assert_eq!(
            format!("{:?}", Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2])),
            "tensor([1., 2.], shape=[2], f64)"
        );
    }
}
