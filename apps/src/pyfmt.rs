//! Numbers printed the way the course's Python prints them, so that our output can be compared
//! with the seeds' by eye: `print(cost)` shows `repr(cost)`.

/// Python's `repr` of a float (also its `str`, and what `print` and `"{}".format` show): the
/// shortest digits that read back as the same `f64`, written positionally when the decimal
/// exponent is in `[-4, 16)` (`0.0001`, `1000000000000000.0`, always with a fractional part) and
/// in scientific notation otherwise, with a sign and at least two exponent digits (`1e-05`,
/// `2.919335883291695e-10`, `1e+16`). `inf`, `-inf` and `nan` as Python spells them.
///
/// Rust's `{}` gives the same digits but never switches to scientific notation
/// (`0.0000000002919335883291695`); `{:e}` always does (`1e-1`).
///
/// ```
/// use apps::pyfmt::py_float;
/// assert_eq!(py_float(2.919335883291695e-10), "2.919335883291695e-10");
/// assert_eq!(py_float(0.2850931567761624), "0.2850931567761624");
/// assert_eq!(py_float(100.0), "100.0");
/// ```
pub fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` without a precision prints the shortest round-trip digits: `d.ddde±x`.
    let scientific = format!("{:e}", x.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` output has an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x < 0.0 { "-" } else { "" };
    let body = if (-4..16).contains(&exponent) {
        // The decimal point goes after `exponent + 1` digits.
        let point = exponent + 1;
        let n = digits.len() as i32;
        if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point >= n {
            format!("{digits}{}.0", "0".repeat((point - n) as usize))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{exp_sign}{:02}", exponent.abs())
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each value with what `repr(value)` prints in CPython 3.11 (run on this machine).
    #[test]
    fn matches_python_repr() {
        let cases: [(f64, &str); 32] = [
            (2.919335883291695e-10, "2.919335883291695e-10"),
            (1.1890913024229996e-07, "1.1890913024229996e-07"),
            (0.2850931567761624, "0.2850931567761624"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1e-05, "1e-05"),
            (9.999999999999999e-05, "9.999999999999999e-05"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.1, "0.1"),
            (100.0, "100.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e-300, "1e-300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (std::f64::consts::LN_2, "0.6931471805599453"),
            (1773.5928, "1773.5928"),
            (-2.5e-7, "-2.5e-07"),
            (0.9241706161137441, "0.9241706161137441"),
            (0.935, "0.935"),
            (1.0, "1.0"),
            (-12345.678, "-12345.678"),
            (1e22, "1e+22"),
            (1.5e-5, "1.5e-05"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (0.07357895962677369, "0.07357895962677369"),
            (2f64.powi(60), "1.152921504606847e+18"),
        ];
        for (x, want) in cases {
            assert_eq!(py_float(x), want, "repr({x:e})");
        }
    }

    #[test]
    fn round_trips() {
        for x in [1.0 / 3.0, 2.0 / 3.0e-9, 6.02214076e23, -1e-5, 0.1 + 0.2] {
            assert_eq!(py_float(x).parse::<f64>().unwrap(), x);
        }
    }
}
